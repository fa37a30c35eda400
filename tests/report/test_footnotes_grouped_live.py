"""Footnotes of figures read from a grouped SLI query name the service they rest on (issue 19).

Two services are backfilled into a real Prometheus, only ``checkout`` failing. Its SLIs are
collected with one grouped query per SLI (``sum by (service) (… {service=~"cart|checkout"} …)``):
the footnote of max error rate and of impact start must cite that query and say it was read
for ``checkout``, and for ``checkout`` only, in English and in French; so must the load
lead's (checkout's traffic surges with the errors). With grouping turned off
(one query per service), the footnote is what it was: the per-service query, no service added.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from connectors.prometheus import slis as slis_module
from pmrecon.analysis import analyse
from pmrecon.findings import findings_document, findings_to_json, validate_findings
from pmrecon.model import Window
from pmrecon.report.formatting import md_inline
from pmrecon.report.markdown import footnotes
from tests.infra.prom_fixtures import BackfilledPrometheus, backfilled_prometheus
from tests.scenarios import Phase, Scenario, ServiceProfile, t

pytestmark = pytest.mark.prometheus

BAD = Phase(
    t("2026-05-02 10:20"), t("2026-05-02 10:40"), error_ratio=0.3, latency_seconds=1.5, rps=40.0
)
TWO = Scenario(
    "footnote_two_services",
    t("2026-05-02 10:00"),
    t("2026-05-02 11:00"),
    services=[
        ServiceProfile("cart", rps=20.0),
        ServiceProfile("checkout", rps=8.0, phases=(BAD,)),
    ],
)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    with backfilled_prometheus(Path(tmp_path_factory.mktemp("prometheus-footnotes")), [TWO]) as p:
        yield p


def findings_of(url: str) -> dict[str, Any]:
    source = PrometheusSource(
        "prom", {"url": url, "preset": "http_requests_total"}, SourceContext()
    )
    evidence = source.collect(
        CollectRequest(
            window=Window(*TWO.window),
            baseline=Window(*TWO.baseline),
            deadline=time.monotonic() + 120,
        )
    )
    data = findings_document(
        findings_to_json(analyse(evidence, {})), title="t", generated_at="2026-05-02T12:00:00Z"
    )
    validate_findings(data)
    return data


def prose(note: str) -> str:
    """A footnote without its code spans (the queries, which name every service)."""
    return re.sub(r"(`+).*?\1", "", note)


def note(data: dict[str, Any], key: str, lang: str) -> str:
    return next(n["text"] for n in footnotes(data, lang) if n["key"] == key)


def test_grouped_query_footnotes_name_the_service_they_rest_on(prom: BackfilledPrometheus) -> None:
    data = findings_of(prom.url)
    queries = {q["id"]: q for s in data["sources"] for q in s["queries"]}
    figure, instant = data["figures"]["max_error_rate"], data["instants"]["impact_start"]
    assert data["incident"]["max_error_rate"]["service"] == "checkout"
    for refs, read in ((figure["query_refs"], figure), ([instant["ref"]], instant)):
        (ref,) = refs
        grouped = queries[ref]  # the reference still names a recorded query
        assert "service" not in grouped and "sum by (service" in grouped["query"]
        assert 'service=~"cart|checkout"' in grouped["query"]
        assert read["query_services"] == {ref: ["checkout"]}
    first = queries[instant["ref"]]["purpose"].split()[1]  # the SLI that breached first
    for key, sli in (("max_error_rate", "error_ratio"), ("impact_start", first)):
        en, fr = prose(note(data, key, "en")), prose(note(data, key, "fr"))
        shown = md_inline(sli)  # as the Markdown footnote writes it
        assert f"(SLI {shown} grouped by service, service checkout)" in en, en
        assert f"(SLI {shown} groupée par service, service checkout)" in fr, fr
        assert "cart" not in en and "cart" not in fr
    (load,) = [x for x in data["suspects"] if x["kind"] == "load"]
    assert load["evidence"] and all(
        queries[r]["query"].startswith("sum by") for r in load["evidence"]
    )
    assert load["query_services"] == {ref: ["checkout"] for ref in load["evidence"]}
    lead = prose(note(data, f"lead_{load['rank']}", "fr"))
    assert "groupée par service, service checkout)" in lead and "cart" not in lead, lead
    # the headline availability rests on the impacted service only, the other one on both
    headline = data["figures"]["availability"]["query_services"]
    assert headline and all(v == ["checkout"] for v in headline.values())
    every = data["figures"]["availability_all_services"]["query_services"]
    assert every and all(v == ["cart", "checkout"] for v in every.values())
    assert "services cart, checkout" in prose(note(data, "availability_all_services", "en"))


def test_per_service_queries_keep_their_footnote(
    prom: BackfilledPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slis_module, "_grouped_job", lambda *a, **k: None)
    data = findings_of(prom.url)
    figure = data["figures"]["max_error_rate"]
    (ref,) = figure["query_refs"]
    query = next(q for s in data["sources"] for q in s["queries"] if q["id"] == ref)
    assert query["service"] == "checkout"
    assert "query_services" not in figure
    assert "query_services" not in data["instants"]["impact_start"]
    assert "service checkout" not in prose(note(data, "max_error_rate", "en"))
