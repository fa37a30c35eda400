"""Where the errors concentrate, through a real Prometheus: three scenarios with known answers.

``http_requests_total{service, instance, route, method, code}`` is backfilled for three
services on three days (15 s ticks, two hours of baseline before each window):

- ``checkout`` on five instances: from 11:00 to 11:30 one instance, ``10.1.0.3:8080``,
  answers 60 % of its requests with a 500, on every route: the lead names that instance
  and says it is one node of five;
- ``payments`` on three instances: from 11:00 to 11:30 the route ``/api/pay`` answers half
  its requests with a 503, on every instance alike: the lead names the route and the
  status, and says the errors were spread over the three instances (not a node);
- ``search`` on four instances: about 1 % of errors everywhere, all day (flat noise), read
  with an error-ratio threshold under that level so that the noise makes an incident: no
  lead above 0.5, and no concentration lead at all.

The connector reads them with the ``http_requests_total`` preset; the analysis decides.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.bundle import bundle_files, evidence_from_files
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Evidence, Window
from tests.infra.prometheus import PrometheusServer, promtool_backfill

pytestmark = pytest.mark.prometheus

TICK = 15
#: Requests per tick of each instance on each route.
PER_TICK = 30
ROUTES = {"/api/pay": "POST", "/api/cart": "GET", "/api/list": "GET"}


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


@dataclass(frozen=True)
class Case:
    """One service on one day: its instances, and the share of errors of each (instance, route)."""

    name: str
    day: str
    service: str
    instances: tuple[str, ...]
    code: str

    @property
    def window(self) -> Window:
        return Window(at(self.day, "10:00"), at(self.day, "12:00"))

    @property
    def baseline(self) -> Window:
        return Window(at(self.day, "08:00"), at(self.day, "10:00"))

    def bad(self, rng: random.Random, t: int, instance: str, route: str) -> int:
        """Bad requests of one (instance, route) in the tick ending at ``t``."""
        incident = at(self.day, "11:00").timestamp() <= t < at(self.day, "11:30").timestamp()
        if self.name == "one_node":
            return PER_TICK * 6 // 10 if incident and instance == self.instances[2] else 0
        if self.name == "one_route":
            return PER_TICK // 2 if incident and route == "/api/pay" else 0
        return 1 if rng.random() < 0.3 else 0  # flat noise: about 1 % everywhere

    def openmetrics(self) -> list[str]:
        """The service's counters, series after series, each in time order."""
        rng = random.Random(f"{self.name}-noise")
        start = int(self.baseline.start.timestamp())
        ticks = range(start, int(self.window.end.timestamp()) + 1, TICK)
        lines = []
        for instance in self.instances:
            for route, method in ROUTES.items():
                bad = [self.bad(rng, t, instance, route) for t in ticks]
                labels = f'service="{self.service}",instance="{instance}",route="{route}",method="{method}"'
                for code, incs in (("200", [PER_TICK - b for b in bad]), (self.code, bad)):
                    total = 0
                    for t, n in zip(ticks, incs):
                        total += n
                        lines.append(f'http_requests_total{{{labels},code="{code}"}} {total} {t}')
        return lines


CASES = {
    c.name: c
    for c in (
        Case(
            "one_node",
            "2026-05-20",
            "checkout",
            tuple(f"10.1.0.{i}:8080" for i in range(1, 6)),
            "500",
        ),
        Case(
            "one_route",
            "2026-05-21",
            "payments",
            tuple(f"10.2.0.{i}:8080" for i in range(1, 4)),
            "503",
        ),
        Case(
            "flat_noise",
            "2026-05-22",
            "search",
            tuple(f"10.3.0.{i}:8080" for i in range(1, 5)),
            "500",
        ),
    )
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("concentration-prometheus")
    text = root / "requests.om"
    lines = [line for case in CASES.values() for line in case.openmetrics()]
    text.write_text("\n".join([*lines, "# EOF"]) + "\n", encoding="utf-8")
    promtool_backfill(text, root / "data", what="concentration scenarios")
    prometheus = PrometheusServer(root, root / "data")
    prometheus.start()
    try:
        yield prometheus.url
    finally:
        prometheus.stop()


def collected(url: str, case: Case) -> Evidence:
    source = PrometheusSource(
        "prom", {"url": url, "preset": "http_requests_total"}, SourceContext()
    )
    return source.collect(CollectRequest(window=case.window, baseline=case.baseline))


def findings(evidence: Evidence, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    data = findings_to_json(analyse(evidence, settings or {}))
    ids = {q["id"] for s in data["sources"] for q in s["queries"]}
    for suspect in data["suspects"]:
        assert suspect["evidence"] and set(suspect["evidence"]) <= ids, suspect
    return data


def concentration(data: dict[str, Any]) -> dict[str, Any]:
    (lead,) = [s for s in data["suspects"] if s["kind"] == "concentration"]
    return lead


def test_one_instance_of_five_failing_is_named_as_one_node(server: str) -> None:
    case = CASES["one_node"]
    evidence = collected(server, case)
    lead = concentration(findings(evidence))
    assert lead["service"] == "checkout" and lead["score"] > 0.5
    assert lead["summary"] == 'instance="10.1.0.3:8080", code="500"'
    figures = lead["concentration"]
    assert figures["node"] and figures["label"] == "instance" and figures["locations"] == 5
    assert figures["share"] == 1.0 and figures["traffic_share"] == pytest.approx(0.2, abs=0.01)
    assert abs(dt.datetime.fromisoformat(lead["at"]) - at(case.day, "11:00")) <= dt.timedelta(
        minutes=1
    )
    # the bundle keeps what the lead rests on: a rebuild finds the same lead
    assert concentration(findings(evidence_from_files(bundle_files(evidence)))) == lead


def test_one_route_failing_on_every_instance_is_named_and_not_a_node(server: str) -> None:
    lead = concentration(findings(collected(server, CASES["one_route"])))
    assert lead["service"] == "payments" and lead["score"] > 0.5
    assert lead["summary"] == 'route="/api/pay", method="POST", code="503"'
    figures = lead["concentration"]
    assert (
        not figures["node"] and figures["spread"] == 3 and figures["location_label"] == "instance"
    )
    assert figures["traffic_share"] == pytest.approx(1 / 3, abs=0.01)


def test_flat_noise_names_no_lead_above_one_half(server: str) -> None:
    evidence = collected(server, CASES["flat_noise"])
    assert {b.label for b in evidence.breakdowns} == {"instance", "route", "method", "code"}
    # a threshold under the noise's own level: the noise itself makes an incident
    data = findings(evidence, {"error_ratio_threshold": 0.005, "consecutive_steps": 2})
    assert data["incident"]["found"] and data["incident"]["impact_start"] is not None
    assert all(s["score"] <= 0.5 for s in data["suspects"]), data["suspects"]
    assert all(s["kind"] != "concentration" for s in data["suspects"])


def test_the_breakdowns_cost_two_queries_per_label_whatever_the_services(server: str) -> None:
    evidence = collected(server, CASES["one_node"])
    queries = [q for s in evidence.sources for q in s.queries if "pmrecon_part" in str(q.query)]
    assert len(queries) == 2 * 4  # instance, route, method, code; window and baseline
    assert all("topk by (service, pmrecon_part) (10," in str(q.query) for q in queries)
    refs = {b.query_ref for b in evidence.breakdowns}
    assert refs == {q.id for q in queries}


def test_a_template_naming_one_service_gives_no_breakdown(server: str) -> None:
    case = CASES["one_node"]
    slis = {
        "requests_bad": 'sum(increase(http_requests_total{service=$service,code=~"5.."}[$step]))',
        "requests_total": "sum(increase(http_requests_total{service=$service}[$step]))",
    }
    settings = {"url": server, "preset": "http_requests_total", "slis": slis}
    source = PrometheusSource("prom", settings, SourceContext())
    evidence = source.collect(CollectRequest(window=case.window, baseline=case.baseline))
    assert evidence.breakdowns == []
    sent = [str(q.query) for s in evidence.sources for q in s.queries]
    # (the label-names lookup matches the metric exactly; the changes lookup's `=~` is not it)
    assert not any("pmrecon_part" in q or q.startswith('{__name__="') for q in sent)
    assert evidence.series and all("breakdown" not in w.code for w in evidence.warnings)
