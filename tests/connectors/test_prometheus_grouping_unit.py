"""Grouped SLI queries without a server: the PromQL rewrite, when it is refused, and how a
grouped answer is split back into one answer per service (issue 19)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource
from connectors.prometheus import slis as slis_module
from connectors.prometheus.identity import ServiceId
from connectors.prometheus.settings import SLI_KINDS, load_preset
from connectors.prometheus.slis import SliJob, Span, run_jobs, span_jobs, to_series
from connectors.prometheus.transport import PrometheusApi
from connectors.promql import TemplateError, group_by
from pmrecon.model import Warning

PRESETS = [
    "http_requests_total",
    "ingress_nginx",
    "micrometer",
    "opentelemetry",
    "opentelemetry-legacy",
]
SPAN = Span(3600.0, 7200.0, False, 15.0, 30.0, 60.0)


def svc(*pairs: tuple[str, str]) -> ServiceId:
    return ServiceId(tuple(pairs))


def jobs_of(
    templates: dict[str, str], services: list[ServiceId]
) -> tuple[list[SliJob], list[Warning]]:
    warnings: list[Warning] = []
    jobs = span_jobs("prom", templates, {}, services, "code", SPAN, [0.99], warnings)
    return jobs, warnings


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_template_is_one_grouped_query(preset: str) -> None:
    data = load_preset(preset)
    identity = (
        data["service_label"]
        if isinstance(data["service_label"], list)
        else [data["service_label"]]
    )
    services = [svc(*((k, f"{k}-{i}") for k in identity)) for i in range(5)]
    templates = {k: " ".join(str(v).split()) for k, v in data["slis"].items() if k in SLI_KINDS}
    jobs, warnings = jobs_of(templates, services)
    assert not warnings
    assert len(jobs) == len(templates)
    for job in jobs:
        assert len(job.members) == 5, job.query
        assert "vector(" not in job.query
        assert not re.search(r"\b(sum|avg)\s*\(", job.query), job.query  # each has its by


def test_aggregations_get_the_labels_first_in_their_by() -> None:
    q, added = group_by(
        'histogram_quantile(0.9, sum by (le) (rate(h_bucket{a=~"x"}[1m]))) / 1000', ("ns", "svc")
    )
    assert q == 'histogram_quantile(0.9, sum by (ns, svc, le) (rate(h_bucket{a=~"x"}[1m]))) / 1000'
    assert added == {"ns", "svc"}
    q, added = group_by('sum(rate(x{s="a"}[5m])) by (svc)', ("svc",))
    assert q == 'sum(rate(x{s="a"}[5m])) by (svc)' and added == set()
    q, _ = group_by('max_over_time(avg(x{s="a"})[1h:1m] offset 5m) > bool 0', ("svc",))
    assert q == 'max_over_time(avg by (svc) (x{s="a"})[1h:1m] offset 5m) > bool 0'
    # aggregations are keywords, in any case
    q, _ = group_by("SUM BY (le) (x{s='a'})", ("svc",))
    assert q == "SUM BY (svc, le) (x{s='a'})"
    # a "sum" inside a string or a matcher is not an aggregation
    q, _ = group_by('sum(x{path="sum(y)", le="0.5"})', ("svc",))
    assert q == 'sum by (svc) (x{path="sum(y)", le="0.5"})'


@pytest.mark.parametrize(
    "query",
    [
        "(sum(rate(x[1m])) or vector(0)) / sum(rate(x[1m]))",  # a series out of nothing
        "rate(x[1m])",  # no aggregation: every series' labels come back
        "sum(x) + y",  # y outside any aggregation
        "sum without (pod) (x)",
        "sum(x) without (pod)",
        "sum(x) / on() group_left sum(y)",
        "sum(x) / ignoring(svc) sum(y)",
        "sum(topk(3, x))",
        "sum(topk by (pod) (3, x))",
        'sum(label_replace(x, "svc", "$1", "a", "(.*)"))',
        "sum(rate(x[1m])",  # unbalanced: the server's error comes from the per-service query
    ],
)
def test_what_cannot_be_grouped_is_refused(query: str) -> None:
    with pytest.raises(TemplateError):
        group_by(query, ("svc",))


def test_templates_that_cannot_be_grouped_run_once_per_service() -> None:
    services = [svc(("service", "a")), svc(("service", "b"))]
    jobs, _ = jobs_of(
        {
            "error_ratio": '(sum(rate(x{$selector,code=~"5.."}[$window])) or vector(0)) / sum(rate(x{$selector}[$window]))',
            "throughput": 'sum(rate(x{job="$service-web"}[$window]))',  # $service inside a longer string
            "uptime": "avg(up{job=$service})",
        },
        services,
    )
    per_service = [(j.name, j.service, bool(j.members)) for j in jobs]
    assert per_service == [
        ("error_ratio", "a", False),
        ("error_ratio", "b", False),
        ("throughput", "a", False),
        ("throughput", "b", False),
        ("uptime", "2 services (a, b)", True),
    ]
    uptime = jobs[-1]
    assert uptime.query == 'avg by (job) (up{job=~"a|b"})' and uptime.by == ("job",)


def test_service_placeholder_is_not_grouped_when_two_services_share_its_value() -> None:
    services = [
        svc(("namespace", "prod"), ("ingress", "web")),
        svc(("namespace", "dev"), ("ingress", "web")),
    ]
    jobs, _ = jobs_of(
        {"uptime": "avg(up{job=$service})", "throughput": "sum(rate(x{$selector}[$window]))"},
        services,
    )
    assert [(j.name, bool(j.members)) for j in jobs] == [
        ("throughput", True),
        ("uptime", False),
        ("uptime", False),
    ]
    assert 'namespace=~"dev|prod",ingress=~"web"' in jobs[0].query
    assert "sum by (namespace, ingress) (" in jobs[0].query


def test_values_are_regex_quoted_and_escaped_in_the_matcher() -> None:
    services = [svc(("service", "api.v2+x")), svc(("service", 'we"ird\\'))]
    (job,), _ = jobs_of({"throughput": "sum(rate(x{$selector}[$window]))"}, services)
    assert 'service=~"api\\\\.v2\\\\+x|we\\"ird\\\\\\\\"' in job.query


class _Api:
    """What :func:`to_series` needs of a :class:`PrometheusApi`: the per-service cut."""

    def __init__(self, limit: int) -> None:
        self.real = PrometheusApi("prom", http=None, max_series=limit)  # type: ignore[arg-type]

    def cap(self, data: Any, record: Any, context: str) -> None:
        self.real.cap(data, record, context)


def _answer(rows: list[tuple[dict[str, str], int]]) -> dict[str, Any]:
    return {
        "resultType": "matrix",
        "result": [
            {"metric": labels, "values": [[3600 + 15 * k, "0.5"] for k in range(n)]}
            for labels, n in rows
        ],
    }


def test_a_grouped_answer_is_split_by_service_and_cut_service_by_service() -> None:
    prod_web = svc(("namespace", "prod"), ("ingress", "web"))
    bare_api = svc(("namespace", ""), ("ingress", "api"))  # no namespace label on its series
    gone = svc(("namespace", "prod"), ("ingress", "gone"))
    (job,), _ = jobs_of(
        {"throughput": "sum by (pod) (rate(x{$selector}[$window]))"}, [prod_web, bare_api, gone]
    )
    api = _Api(limit=3)
    job.record = api.real.recorder.record(job.purpose, job.query)
    job.result = _answer(
        [({"namespace": "prod", "ingress": "web", "pod": f"p{i}"}, 4) for i in range(5)]
        + [({"ingress": "api", "pod": "p0"}, 2)]
        + [({"namespace": "prod", "ingress": "api", "pod": "p0"}, 2)]  # a combination not asked for
    )
    series = to_series("prom", job, api)  # type: ignore[arg-type]
    assert [(s.service, s.name) for s in series] == [
        ("prod/web", 'throughput{pod="p0"}'),
        ("prod/web", 'throughput{pod="p1"}'),
        ("prod/web", 'throughput{pod="p2"}'),
        ("api", "throughput"),
    ]
    # the labels the grouping added are not the series' own: as from a per-service query
    assert series[0].labels == {"pod": "p0"} and series[-1].labels == {"pod": "p0"}
    (capped,) = api.real.capped
    assert "5 series, more than max_series (3)" in capped.message and "'prod/web'" in capped.message
    codes = [(w.code, w.params.get("service")) for w in job.warnings]
    assert ("metric_missing", "prod/gone") in codes
    assert ("server_warning", "prod/web") in codes and ("server_warning", "api") not in codes


def _named(count: int) -> list[ServiceId]:
    return [svc(("service", f"svc{i:03d}")) for i in range(count)]


def test_a_grouped_query_is_split_in_even_batches_only_over_the_points_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates = {
        "latency": "histogram_quantile($quantile, sum by (le) (rate(h_bucket{$selector}[$window])))",
        "requests_total": "sum(increase(x{$selector}[$step]))",
    }
    services = _named(10)
    # SPAN: 241 points per latency series (15 s step), 120 per count (30 s step)
    monkeypatch.setattr(slis_module, "POINTS_BUDGET", 2410)
    jobs, _ = jobs_of(templates, services)
    assert [(j.name, len(j.members)) for j in jobs] == [("latency_p99", 10), ("requests_total", 10)]
    monkeypatch.setattr(slis_module, "POINTS_BUDGET", 2409)
    jobs, _ = jobs_of(templates, services[:9])
    assert [(j.name, len(j.members)) for j in jobs] == [("latency_p99", 9), ("requests_total", 9)]
    jobs, _ = jobs_of(templates, services)
    assert [(j.name, len(j.members)) for j in jobs] == [
        ("latency_p99", 5),
        ("latency_p99", 5),
        ("requests_total", 10),
    ]
    monkeypatch.setattr(slis_module, "POINTS_BUDGET", 700)  # 2 latency or 5 count series
    jobs, _ = jobs_of(templates, services)
    sizes = [(j.name, len(j.members)) for j in jobs]
    assert sizes == [("latency_p99", 2)] * 5 + [("requests_total", 5)] * 2
    # every service in exactly one batch, each batch's query naming only its own services
    latency = [j for j in jobs if j.name == "latency_p99"]
    assert [s for j in latency for s in j.members.values()] == services
    assert 'service=~"svc000|svc001"' in latency[0].query and "svc002" not in latency[0].query


def test_the_default_budget_keeps_1h_and_19_services_over_24h_at_one_query() -> None:
    day = Span(0.0, 86400.0, False, 15.0, 30.0, 60.0)
    week = Span(0.0, 7 * 86400.0, False, 60.0, 60.0, 60.0)
    hour_baseline = Span(0.0, 86400.0 * 7, True, 86400.0 * 7 / 1500, 420.0, 420.0)
    for span, count in ((SPAN, 200), (hour_baseline, 200), (day, 19), (week, 19)):
        s0, s1, st = slis_module._bounds(span, "latency")
        assert len(slis_module.batches(_named(count), int((s1 - s0) // st) + 1)) == 1
    s0, s1, st = slis_module._bounds(day, "latency")
    assert [len(b) for b in slis_module.batches(_named(200), int((s1 - s0) // st) + 1)] == [
        67,
        67,
        66,
    ]


def test_a_failed_grouped_query_says_how_many_services_in_short() -> None:
    services = _named(200)
    (job,), _ = jobs_of({"throughput": "sum(rate(x{$selector}[$window]))"}, services)
    source = PrometheusSource("prom", {"url": "http://127.0.0.1:9"}, SourceContext())
    run_jobs(source.api, [job], 1)
    assert job.error is not None
    text = str(job.error)
    assert "SLI throughput for 200 services (svc000, svc001, svc002, …)" in text
    assert "svc199" not in text  # neither in the services named nor in the query shown
    assert f"query {job.record.id}: sum by (service) (rate(x{{service=~" in text  # type: ignore[union-attr]
    assert len(text) < 500, text
    assert job.record is not None and "svc199" in job.record.query  # the record keeps it whole


def test_batches_differ_by_one_service_at_most() -> None:
    sizes = [len(b) for b in slis_module.batches(_named(10), slis_module.POINTS_BUDGET // 3)]
    assert sizes == [3, 3, 2, 2]
    assert slis_module.batches([], 100) == []
