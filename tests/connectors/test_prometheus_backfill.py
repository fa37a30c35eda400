"""The Prometheus connector against a real Prometheus holding every backfilled scenario.

Every figure is compared with the scenario's truth (computed from its declaration),
never with the connector's own output. The test configs hold no PromQL: each
scenario is read through the preset of its metric convention.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.model import Evidence, Series, Window, to_jsonable
from tests.scenarios import SCENARIOS, Scenario

pytestmark = pytest.mark.prometheus

PRESET = {
    "http_requests_total": "http_requests_total",
    "micrometer": "micrometer",
    "ingress_nginx": "ingress_nginx",
}
#: The generator's ingress-nginx scenario names the service by its Ingress alone (its
#: alerts carry no namespace): read it with that one-label identity. The preset's
#: default, [namespace, ingress], is tested in test_prometheus_conventions.py.
SETTINGS: dict[str, dict[str, object]] = {"ingress_nginx": {"service_label": "ingress"}}
ALL = sorted(SCENARIOS)


@pytest.fixture(scope="module", autouse=True)
def _start_live_early(live_prometheus):  # noqa: ANN001, ANN202
    """Start the live Prometheus now: its ~25 s timeline then plays while these tests run."""
    return live_prometheus


@pytest.fixture(scope="module")
def collected(prometheus):  # noqa: ANN001, ANN201
    cache: dict[tuple[str, str], tuple[Scenario, Evidence]] = {}

    def get(name: str, **settings: object) -> tuple[Scenario, Evidence]:
        key = (name, json.dumps(settings, sort_keys=True, default=str))
        if key not in cache:
            sc = prometheus.scenarios[name]
            src = PrometheusSource(
                "prom",
                {
                    "url": prometheus.url,
                    "preset": PRESET[sc.convention],
                    **SETTINGS.get(sc.convention, {}),
                    **settings,
                },
                SourceContext(),
            )
            ev = src.collect(
                CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
            )
            cache[key] = (sc, ev)
        return cache[key]

    return get


def _main(
    ev: Evidence, kind: str, service: str | None = None, name: str | None = None
) -> list[Series]:
    return [
        s
        for s in ev.series
        if s.kind == kind
        and not s.baseline
        and (service is None or s.service == service)
        and (name is None or s.name == name)
    ]


def _close(a: dt.datetime, b: dt.datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


@pytest.mark.parametrize("name", ALL)
def test_alert_intervals_match_truth(collected, name: str) -> None:
    sc, ev = collected(name)
    tr = sc.truth
    e = tr["eval_interval"]
    got = {(a.name, a.labels.get("service")): a for a in ev.alerts}
    assert set(got) == {(a["name"], a["service"]) for a in tr["alerts"]}
    for want in tr["alerts"]:
        alert = got[(want["name"], want["service"])]
        assert alert.severity == want["severity"]
        assert alert.labels == want["labels"]
        for state in ("firing", "pending"):
            ivs = getattr(alert, state)
            assert len(ivs) == len(want[state]), (state, ivs, want[state])
            for iv, (s0, s1) in zip(ivs, want[state]):
                assert _close(iv.start, s0, e) and _close(iv.end, s1, e), (state, iv, s0, s1)
        assert [iv.open_end for iv in alert.firing] == want.get("firing_open_end", [])
        assert alert.active_at is not None and _close(alert.active_at, want["active_at"][0], e)
        # annotations come from the rule, with {{ $labels.service }} filled in
        assert alert.annotations["runbook_url"] == want["annotations"]["runbook_url"]
        assert want["service"] in alert.annotations["summary"]


@pytest.mark.parametrize("name", ALL)
def test_max_error_ratio_matches_truth(collected, name: str) -> None:
    sc, ev = collected(name)
    want = sc.truth["max_error_ratio"]
    best = max(
        ((max(s.values), s.service) for s in _main(ev, "error_ratio") if s.values),
        key=lambda x: x[0],
    )
    assert best[0] == pytest.approx(want["value"], abs=0.01)
    if want["value"] > 0.01:
        assert best[1] == want["service"]


@pytest.mark.parametrize("name", ALL)
def test_p99_lies_in_the_true_bucket_on_the_plateau(collected, name: str) -> None:
    sc, ev = collected(name)
    rate_window = ev.sources[0].settings["rate_window"]
    for svc, p in sc.truth["p99"].items():
        (series,) = _main(ev, "latency", svc, "latency_p99")
        assert series.quantile == 0.99
        lo_t = p["t0"].timestamp() + rate_window + sc.scrape_interval
        hi_t = p["t1"].timestamp()
        gaps = [(g0.timestamp(), g1.timestamp() + rate_window) for g0, g1, s in sc.gaps if s == svc]
        inside = [
            v
            for x, v in zip(series.timestamps, series.values)
            if lo_t <= x <= hi_t and not any(g0 <= x <= g1 for g0, g1 in gaps)
        ]
        assert len(inside) >= 3, (svc, p)
        for v in inside:
            assert p["lo"] < v <= p["hi"], (svc, v, p)


@pytest.mark.parametrize("name", ALL)
def test_availability_as_ratio_of_sums_matches_truth(collected, name: str) -> None:
    sc, ev = collected(name)
    tr = sc.truth
    a, b = (x.timestamp() for x in tr["availability_interval"])

    def total(kind: str) -> float:
        return sum(v for s in _main(ev, kind) for x, v in zip(s.timestamps, s.values) if a < x <= b)

    bad, all_ = total("requests_bad"), total("requests_total")
    assert all_ > 0
    # every service's counts: the truth's all-services figures (the headline is the impacted ones')
    assert 1 - bad / all_ == pytest.approx(tr["availability_all_services"], abs=0.001)
    step = ev.sources[0].settings["count_step"]
    # a scrape gap hides its requests from any Prometheus query; an interval end between two
    # count steps (busy_neighbour) leaves part of a step out: exact only on the count grid
    if not sc.gaps and a % step == 0 and b % step == 0:
        assert all_ == pytest.approx(tr["requests_total_all_services"], rel=1e-9)
        assert bad == pytest.approx(tr["failed_requests_all_services"], rel=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_series_shape_and_query_records(collected, name: str) -> None:
    sc, ev = collected(name)
    (src,) = ev.sources
    assert src.kind == "prometheus" and src.version and src.version.startswith("2.42")
    assert src.settings["scrape_interval"] == 15 and src.settings["evaluation_interval"] == 15
    assert sorted(src.settings["services"]) == sorted(sc.truth["services"])
    refs = {q.id for q in src.queries}
    assert len(refs) == len(src.queries)
    for s in ev.series:
        assert s.query_ref in refs
        assert len(s.timestamps) == len(s.values) <= 11_000
        assert all(math.isfinite(v) for v in s.values)
        assert list(s.timestamps) == sorted(s.timestamps)
    for q in src.queries:
        assert q.query or q.endpoint
        assert q.duration_seconds is not None and q.bytes_received
        if q.endpoint == "/api/v1/query_range":
            assert q.step_seconds and q.start and q.end and q.result_count is not None
    kinds = {(s.kind, s.baseline) for s in ev.series}
    for kind in ("error_ratio", "latency", "throughput", "requests_total", "requests_bad"):
        assert (kind, False) in kinds and (kind, True) in kinds
    # the baseline is healthy in every scenario
    for s in ev.series:
        if s.baseline and s.kind == "error_ratio":
            assert max(s.values) < 0.01
    assert Evidence is type(ev)
    json.dumps(to_jsonable(ev))


def test_scrape_gap_is_a_hole_in_the_series_and_zero_uptime(collected) -> None:
    sc, ev = collected("scrape_gap")
    g0, g1, svc = sc.gaps[0]
    (ratio,) = _main(ev, "error_ratio", svc)
    # rate() over 60 s needs two samples: no point from 60 s after the gap starts to its end
    assert not [x for x in ratio.timestamps if g0.timestamp() + 60 < x < g1.timestamp()]
    (up,) = _main(ev, "uptime", svc)
    during = [v for x, v in zip(up.timestamps, up.values) if g0.timestamp() <= x < g1.timestamp()]
    assert during and set(during) == {0.0}
    assert max(up.values) == 1.0


def test_counter_reset_does_not_show_as_negative_or_lost_requests(collected) -> None:
    sc, ev = collected("counter_reset")
    reset_at = sc.counter_resets[0][0].timestamp()
    (tot,) = _main(ev, "requests_total")
    near = [v for x, v in zip(tot.timestamps, tot.values) if reset_at - 60 <= x <= reset_at + 60]
    assert near and all(v == 600 for v in near)  # 20 rps × 30 s, reset included
    (ratio,) = _main(ev, "error_ratio")
    assert all(0 <= v <= 1 for v in ratio.values)


def test_in_progress_alert_is_open_at_the_window_end(collected) -> None:
    sc, ev = collected("in_progress")
    (alert,) = ev.alerts
    assert alert.firing[-1].open_end and alert.firing[-1].end == sc.end
    assert not alert.pending[-1].open_end


def test_flapping_alert_has_one_interval_per_flap(collected) -> None:
    sc, ev = collected("flapping")
    (alert,) = ev.alerts
    assert len(alert.firing) == 4 and len(alert.pending) == 4
    for a, b in zip(alert.firing, alert.firing[1:]):
        assert (b.start - a.end).total_seconds() >= 60


def test_alert_filters(prometheus) -> None:
    sc = prometheus.scenarios["clean_single"]
    req = CollectRequest(window=Window(*sc.window))

    def names(**alerts: object) -> list[str]:
        src = PrometheusSource(
            "prom",
            {"url": prometheus.url, "alerts": alerts, "services": ["checkout"]},
            SourceContext(),
        )
        return sorted(a.name for a in src.collect(req).alerts)

    assert names() == ["HighErrorRate", "HighLatency"]
    assert names(severities=["warning"]) == ["HighLatency"]
    assert names(alertname="High.*Rate") == ["HighErrorRate"]
    assert names(matchers={"service": "cart"}) == []
    assert names(matchers={"severity": "!=warning"}) == ["HighErrorRate"]
    assert names(matchers={"service": "=~check.*"}) == ["HighErrorRate", "HighLatency"]


def test_chunked_alert_reads_give_the_same_intervals(collected) -> None:
    sc, ev = collected("flapping", alerts={"chunk": "10m"})
    _, plain = collected("flapping")
    raw_reads = [
        q
        for q in ev.sources[0].queries
        if str(q.query).startswith("ALERTS{") or str(q.query).startswith("ALERTS[")
    ]
    assert len(raw_reads) >= sc.window[1].hour - sc.window[0].hour + 6  # 2 h in 10-minute chunks
    assert [(a.name, a.firing, a.pending) for a in ev.alerts] == [
        (a.name, a.firing, a.pending) for a in plain.alerts
    ]


def test_configured_services_and_request_services(prometheus) -> None:
    sc = prometheus.scenarios["two_services"]
    src = PrometheusSource("prom", {"url": prometheus.url, "services": ["orders"]}, SourceContext())
    ev = src.collect(CollectRequest(window=Window(*sc.window)))
    assert {s.service for s in ev.series} == {"orders"}
    ev2 = src.collect(CollectRequest(window=Window(*sc.window), services=("inventory",)))
    assert {s.service for s in ev2.series} == {"inventory"}
    assert {a.labels["service"] for a in ev2.alerts} == {"inventory"}


def test_service_names_cannot_inject_promql(prometheus) -> None:
    """A hostile service name is a value: it matches nothing, it does not widen the query."""
    sc = prometheus.scenarios["clean_single"]
    evil = 'checkout"}) or vector(1) or sum(x{a="'
    src = PrometheusSource(
        "prom", {"url": prometheus.url, "services": [evil, "cart"]}, SourceContext()
    )
    ev = src.collect(CollectRequest(window=Window(*sc.window)))
    assert {s.service for s in ev.series} == {"cart"}
    assert any(w.code == "metric_missing" and "pmrecon check" in w.message for w in ev.warnings)
    assert not any(w.code.startswith("sli_bad_query") for w in ev.warnings)


def test_long_window_adapts_the_step(prometheus) -> None:
    sc = prometheus.scenarios["clean_single"]
    end = sc.end
    src = PrometheusSource(
        "prom", {"url": prometheus.url, "services": ["checkout"]}, SourceContext()
    )
    ev = src.collect(CollectRequest(window=Window(end - dt.timedelta(days=7), end)))
    step = ev.sources[0].settings["step"]
    assert step == 60  # 7 days / 11,000 points = 55 s → the next nice step
    for q in ev.sources[0].queries:
        if q.step_seconds:
            assert (q.end - q.start).total_seconds() / q.step_seconds <= 11_000
    # the incident is still found at the coarser step
    (ratio,) = _main(ev, "error_ratio", "checkout")
    assert max(ratio.values) == pytest.approx(0.25, abs=0.01)


def test_coarse_scan_is_cheaper(prometheus) -> None:
    sc = prometheus.scenarios["clean_single"]
    src = PrometheusSource("prom", {"url": prometheus.url}, SourceContext())
    fine = src.collect(CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline)))
    coarse = src.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline), coarse=True)
    )
    assert len(coarse.sources[0].queries) < len(fine.sources[0].queries)
    assert not any(s.baseline for s in coarse.series)
    assert {s.quantile for s in coarse.series if s.kind == "latency"} == {0.99}


def test_check_on_backfilled_server_reports_stale_metrics(prometheus) -> None:
    src = PrometheusSource("prom", {"url": prometheus.url}, SourceContext())
    results = {r.check: r for r in src.check()}
    assert results["reachable"].ok and results["authenticated"].ok
    assert results["version"].ok and "2.42" in results["version"].detail
    assert "scrape 15s" in results["intervals"].detail
    metric = results["metric http_requests_total"]
    # backfilled data is months old: nothing in the last hour, and check says how to fix it
    assert not metric.ok and "0 series" in metric.detail and "preset" in metric.fix
