"""Ground truth on a real Prometheus for the metric conventions services actually expose.

The scenarios of :mod:`tests.convention_scenarios` (client-library default with the
service in ``job``, OpenTelemetry current and older conventions, ``job="<ns>/<name>"``,
ingress-nginx with one Ingress name in two namespaces, Micrometer) are backfilled into a
Prometheus of their own, read through each convention's preset with no PromQL in the
config, analysed, and compared with the truth of their declaration: every instant within
one step, ratios within 0.01, availability within 0.001, the p99 in the true bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Evidence, Window
from tests.analysis.test_scenarios import _increments, parse_openmetrics
from tests.convention_scenarios import CONVENTION_SCENARIOS, preset_of
from tests.infra.prom_fixtures import BackfilledPrometheus, backfilled_prometheus
from tests.scenarios import Scenario

pytestmark = pytest.mark.prometheus

ALL = sorted(CONVENTION_SCENARIOS)


@pytest.fixture(scope="module")
def conventions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """A Prometheus holding every convention scenario (backfilled once)."""
    root = Path(tmp_path_factory.mktemp("prometheus-conventions"))
    with backfilled_prometheus(root, [make() for make in CONVENTION_SCENARIOS.values()]) as p:
        yield p


@pytest.fixture(scope="module")
def built(conventions: BackfilledPrometheus):  # noqa: ANN201
    """``built(name, **settings)``: (scenario, evidence, findings), read through the preset."""
    cache: dict[str, tuple[Scenario, Evidence, dict[str, Any]]] = {}

    def get(name: str, **settings: Any) -> tuple[Scenario, Evidence, dict[str, Any]]:
        key = f"{name}{sorted(settings.items())}"
        if key not in cache:
            sc = conventions.scenarios[name]
            source = PrometheusSource(
                "prom",
                {"url": conventions.url, "preset": preset_of(sc), **settings},
                SourceContext(),
            )
            ev = source.collect(
                CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
            )
            cache[key] = (sc, ev, findings_to_json(analyse(ev, {})))
        return cache[key]

    return get


def _off(got: str | None, want: dt.datetime | None) -> float:
    assert got is not None and want is not None, (got, want)
    return abs((dt.datetime.fromisoformat(got) - want).total_seconds())


def _assert_figures_match_truth(sc: Scenario, ev: Evidence, findings: dict[str, Any]) -> None:
    """Services, instants, max error rate, p99 and availability against the truth."""
    tr = sc.truth
    step = sc.scrape_interval
    assert sorted(ev.sources[0].settings["services"]) == sorted(tr["services"])
    inc = findings["incident"]
    (want,) = tr["incidents"]
    assert [s["name"] for s in inc["services"]] == tr["impacted_services"]
    assert _off(inc["impact_start"], want["impact_start"]) <= step
    assert _off(inc["first_alert"], want["first_alert"]) <= step
    assert _off(inc["resolution"], want["resolution"]) <= step
    top = inc["max_error_rate"]
    assert top["service"] == tr["max_error_ratio"]["service"]
    assert top["value"] == pytest.approx(tr["max_error_ratio"]["value"], abs=0.01)
    assert inc["availability"]["value"] == pytest.approx(tr["availability"], abs=0.001)
    worst = inc["max_latency_seconds"]
    p99 = tr["p99"][worst["service"]]
    assert worst["quantile"] == 0.99 and p99["lo"] < worst["value"] <= p99["hi"], (worst, p99)
    alerts = {a["name"]: a for a in findings["alerts"]}
    assert alerts["HighErrorRate"]["service"] == tr["alerts"][0]["service"]
    assert alerts["HighErrorRate"]["in_incident"]


@pytest.mark.parametrize("name", ALL)
def test_each_convention_through_its_preset_matches_truth(built, name: str) -> None:
    sc, ev, findings = built(name)
    _assert_figures_match_truth(sc, ev, findings)
    # no query came back empty: every selector matched the convention's labels
    assert not [w.message for w in ev.warnings if w.code == "metric_missing"]
    assert {s.unit for s in ev.series if s.kind == "latency"} == {"s"}


def test_client_library_default_with_service_label_job(built) -> None:
    """The issue's case: ``service_label: job`` with the built-in preset, no PromQL edited."""
    sc, ev, findings = built("client_default", service_label="job")
    _assert_figures_match_truth(sc, ev, findings)
    assert ev.sources[0].settings["service_label"] == "job"
    assert not [w for w in ev.warnings if w.code in ("metric_missing", "service_label_fallback")]
    # one grouped query per period, by job, every service's job in its matcher
    queries = [q.query for q in ev.sources[0].queries if q.sli == "error_ratio"]
    assert len(queries) == 2, queries
    assert "sum by (job) (" in queries[0] and 'code=~"5.."}' in queries[0]
    assert all(f"{s.name}" in queries[0].split('job=~"')[1].split('"')[0] for s in sc.services)
    assert not [q for q in queries if "service=" in q]


def test_client_library_default_found_through_job_when_the_preset_label_is_absent(built) -> None:
    sc, ev, _ = built("client_default")
    assert ev.sources[0].settings["service_label"] == "job"
    (note,) = [w for w in ev.warnings if w.code == "service_label_fallback"]
    assert "service_label: job" in note.message


def test_old_service_placeholder_in_user_templates_still_works(built) -> None:
    """A user's ``slis`` written with ``$service`` before ``$selector`` existed."""
    sc, ev, _ = built(
        "client_default",
        service_label="job",
        slis={
            "error_ratio": '(sum(rate(http_requests_total{job=$service,code=~"5.."}[$window]))'
            " or vector(0)) / sum(rate(http_requests_total{job=$service}[$window]))"
        },
    )
    (ratio,) = [
        s
        for s in ev.series
        if s.kind == "error_ratio" and not s.baseline and s.service == "checkout"
    ]
    assert max(ratio.values) == pytest.approx(sc.truth["max_error_ratio"]["value"], abs=0.01)


def test_opentelemetry_legacy_latency_is_converted_to_seconds(built) -> None:
    sc, ev, findings = built("opentelemetry_legacy")
    latency = [q.query for q in ev.sources[0].queries if q.sli == "latency_p99"]
    assert latency and all(q.rstrip().endswith("/ 1000") for q in latency)
    worst = findings["incident"]["max_latency_seconds"]
    assert 1.0 < worst["value"] <= 2.5  # 1.2 s, in seconds: never 1200
    assert findings["thresholds"]


def test_opentelemetry_job_names_the_service_namespace_and_name(built) -> None:
    sc, ev, _ = built("opentelemetry_job")
    assert ev.sources[0].settings["service_label"] == "job"
    assert sorted(ev.sources[0].settings["services"]) == ["shop/catalog", "shop/checkout"]


def test_same_ingress_in_two_namespaces_is_two_services(built) -> None:
    sc, ev, findings = built("ingress_two_namespaces")
    assert ev.sources[0].settings["service_label"] == ["namespace", "ingress"]
    inc = findings["incident"]
    assert [s["name"] for s in inc["services"]] == ["prod/web"]
    # staging is three times busier and fine: its figures are its own, not prod's
    staging = [s for s in ev.series if s.service == "staging/web" and s.kind == "error_ratio"]
    assert staging and max(staging[0].values) < 0.01


def test_identity_without_namespace_splits_instead_of_merging(built) -> None:
    """``service_label: ingress`` alone: the name ``web`` is split by namespace, with a warning."""
    sc, ev, findings = built("ingress_two_namespaces", service_label="ingress")
    assert ev.sources[0].settings["service_label"] == ["namespace", "ingress"]
    assert sorted(ev.sources[0].settings["services"]) == ["prod/web", "staging/web"]
    (split,) = [w for w in ev.warnings if w.code == "services_split"]
    assert "'web' in namespace prod, staging" in split.message
    assert "service_label: [namespace, ingress]" in split.message
    _assert_figures_match_truth(sc, ev, findings)


#: Per convention scenario: the request counter and its status label, as written.
COUNTERS = {
    "client_default": ("http_requests_total", "code"),
    "opentelemetry": ("http_server_request_duration_seconds_count", "http_response_status_code"),
    "opentelemetry_job": (
        "http_server_request_duration_seconds_count",
        "http_response_status_code",
    ),
    "opentelemetry_legacy": ("http_server_duration_milliseconds_count", "http_status_code"),
    "ingress_two_namespaces": ("nginx_ingress_controller_requests", "status"),
    "micrometer": ("http_server_requests_seconds_count", "status"),
}


@pytest.mark.parametrize("name", ALL)
def test_rewritten_series_keep_the_truth(name: str) -> None:
    """The generator's own check, on the rewritten text: counts add up to the truth, and
    an older-conventions histogram is in milliseconds (buckets and sum)."""
    sc = CONVENTION_SCENARIOS[name]()
    series = parse_openmetrics(sc.openmetrics())
    counter, status = COUNTERS[name]
    a, b = (x.timestamp() for x in sc.truth["availability_interval"])
    total = bad = 0.0
    for (metric, labels), samples in series.items():
        if metric == counter:
            n = _increments(samples, a, b)
            total += n
            bad += n if dict(labels)[status].startswith("5") else 0
    assert total == sc.truth["requests_total_all_services"]
    assert bad == sc.truth["failed_requests_all_services"]
    les = {dict(labels).get("le") for (metric, labels) in series if metric.endswith("_bucket")}
    if name == "opentelemetry_legacy":
        assert {"50.0", "1000.0", "10000.0", "+Inf"} <= les
        (sum_, count) = (
            next(s for (m, _), s in series.items() if m.endswith(suffix))
            for suffix in ("_sum", "_count")
        )
        # mean 80 ms healthy, 1200 ms degraded: in seconds it would be under 2
        assert 80 <= sum_[-1][1] / count[-1][1] <= 1200


def test_configured_services_follow_the_identity_discovery_finds(built) -> None:
    """``services: [checkout]`` on the client-library default: found through ``job``."""
    sc, ev, findings = built("client_default", services=["checkout", "catalog"])
    assert ev.sources[0].settings["service_label"] == "job"
    _assert_figures_match_truth(sc, ev, findings)


def test_a_configured_name_standing_for_two_services_is_each_of_them(built) -> None:
    sc, ev, findings = built("ingress_two_namespaces", service_label="ingress", services=["web"])
    assert sorted(ev.sources[0].settings["services"]) == ["prod/web", "staging/web"]
    assert any(
        w.code == "services_split" and "'web' is several services" in w.message for w in ev.warnings
    )
    assert [s["name"] for s in findings["incident"]["services"]] == ["prod/web"]
