"""Grouped SLI queries against a real Prometheus: one query per SLI and period, whatever the
number of services, and each service's series exactly what its own query gives (issue 19).

Two incidents are backfilled into one server, hours apart: one among 3 services, one among
30. Both are collected with the preset; the query count must be the same, and a collect
with grouping turned off (every template run once per service, as before) must give the
very same series, point for point; so must a collect whose grouped queries are split in
batches of services (a small points budget).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from connectors.prometheus import slis as slis_module
from pmrecon.model import Evidence, Window
from tests.infra.prom_fixtures import BackfilledPrometheus, backfilled_prometheus
from tests.scenarios import Phase, Scenario, ServiceProfile, t

pytestmark = pytest.mark.prometheus


def _incident(name: str, day: str, count: int) -> Scenario:
    """``count`` services, the first failing for 20 minutes in a 1 h window."""
    start, end = t(f"{day} 10:00"), t(f"{day} 11:00")
    bad = Phase(t(f"{day} 10:20"), t(f"{day} 10:40"), error_ratio=0.2, latency_seconds=1.5)
    services = [
        ServiceProfile(f"svc-{i:02d}", rps=5.0 + i, phases=(bad,) if i == 0 else ())
        for i in range(count)
    ]
    # a name needing regex quoting in the grouped matcher
    services[-1] = ServiceProfile("api.v2+x", rps=7.0)
    return Scenario(name, start, end, services=services, tail=dt.timedelta(minutes=5))


FEW = _incident("grouped_few", "2026-04-01", 3)
MANY = _incident("grouped_many", "2026-04-03", 30)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    root = Path(tmp_path_factory.mktemp("prometheus-grouped"))
    with backfilled_prometheus(root, [FEW, MANY]) as p:
        yield p


def collect(url: str, sc: Scenario, **settings: object) -> Evidence:
    source = PrometheusSource(
        "prom",
        {"url": url, "preset": "http_requests_total", "quantiles": [0.5, 0.99], **settings},
        SourceContext(),
    )
    request = CollectRequest(
        window=Window(*sc.window),
        baseline=Window(*sc.baseline),
        deadline=time.monotonic() + 120,
    )
    return source.collect(request)


def assert_same_series(got: Evidence, expected: Evidence) -> None:
    """Same series, same order, same points, same warnings: the findings cannot differ."""

    def table(ev: Evidence) -> list[tuple[object, ...]]:
        return [
            (s.service, s.name, s.kind, s.baseline, s.quantile, s.labels, s.timestamps, s.values)
            for s in ev.series
        ]

    assert table(got) == table(expected)
    assert [(w.code, w.message.split(" (query")[0]) for w in got.warnings] == [
        (w.code, w.message.split(" (query")[0]) for w in expected.warnings
    ]


def test_query_count_is_the_same_for_3_and_30_services(prom: BackfilledPrometheus) -> None:
    few, many = collect(prom.url, FEW), collect(prom.url, MANY)
    assert len(few.sources[0].settings["services"]) == 3
    assert len(many.sources[0].settings["services"]) == 30
    assert len(few.sources[0].queries) == len(many.sources[0].queries)
    ranged = [q for q in many.sources[0].queries if q.endpoint == "/api/v1/query_range"]
    # error_ratio, latency p50 and p99, throughput, requests_total/bad, uptime; window + baseline
    assert len(ranged) == 2 * 7, [q.query for q in ranged]
    assert all(" by (" in q.query for q in ranged)
    # every service has its series, from the grouped query that names it
    assert {s.service for s in many.series} == {p.name for p in MANY.services}
    assert not [w for w in many.warnings if w.code in ("metric_missing", "bad_template")]


def test_grouped_series_are_the_per_service_series(
    prom: BackfilledPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    grouped = collect(prom.url, FEW)
    monkeypatch.setattr(slis_module, "_grouped_job", lambda *a, **k: None)
    single = collect(prom.url, FEW)
    assert len(single.sources[0].queries) > len(grouped.sources[0].queries)

    assert_same_series(grouped, single)
    by_id = {q.id: q for q in grouped.sources[0].queries}
    for s in grouped.series:
        record = by_id[s.query_ref]
        assert record.sli == s.name and record.baseline == s.baseline
        assert " by (service" in record.query or " by (job" in record.query


def test_batched_series_are_the_grouped_series(
    prom: BackfilledPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = collect(prom.url, MANY)
    # 241 points per 15 s series: 30 services in batches of 7 or 8 (4 queries per template)
    monkeypatch.setattr(slis_module, "POINTS_BUDGET", 241 * 8)
    batched = collect(prom.url, MANY)
    ranged = [q for q in batched.sources[0].queries if q.endpoint == "/api/v1/query_range"]
    latency = [q for q in ranged if q.sli == "latency_p99" and not q.baseline]
    assert len(latency) == 4 and len(ranged) > 2 * 7
    assert all(q.service is None and " by (" in q.query for q in ranged)
    assert {s.query_ref for s in batched.series if s.name == "latency_p99"} >= {
        q.id for q in latency
    }

    assert_same_series(batched, whole)


def test_a_service_without_data_has_the_same_warning_as_before(
    prom: BackfilledPrometheus,
) -> None:
    names = [p.name for p in FEW.services] + ["ghost"]
    ev = collect(prom.url, FEW, services=names)
    missing = [w for w in ev.warnings if w.code == "metric_missing"]
    assert {w.params["service"] for w in missing} == {"ghost"}
    assert any("SLI error_ratio for service 'ghost': no data" in w.message for w in missing)
    assert {s.service for s in ev.series} == {p.name for p in FEW.services}
