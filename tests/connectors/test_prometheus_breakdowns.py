"""The breakdown queries: which templates can be grouped, which labels are read, the answers' shape."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource
from connectors.prometheus.concentration import (
    TOP_VALUES,
    _Job,
    _job,
    chosen_labels,
    collect_breakdowns,
    plan,
    services_selector,
    to_breakdowns,
)
from connectors.prometheus.identity import ServiceId
from connectors.prometheus.settings import load_preset
from connectors.prometheus.slis import Span
from pmrecon.model import Window, utc
from tests.infra.prometheus import FakeHTTPServer

SPAN = Span(1_000_000.0, 1_003_600.0, False, 15.0, 30.0, 60.0)


@pytest.mark.parametrize(
    "preset", ["http_requests_total", "micrometer", "ingress_nginx", "opentelemetry"]
)
def test_every_preset_can_be_grouped(preset: str) -> None:
    grouped = plan(load_preset(preset)["slis"])
    assert grouped is not None and grouped.problems == [] and grouped.metric
    assert "sum(" not in grouped.bad.replace(" ", "") and "sum by ($by)" in grouped.total


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ('sum(increase(x{job=$service,code=~"5.."}[$step]))', "names one service"),
        ('sum by (route) (increase(x{$selector,code=~"5.."}[$step]))', "otherwise than with sum"),
        ('max(increase(x{$selector,code=~"5.."}[$step]))', "otherwise than with sum"),
        ('increase(x{$selector,code=~"5.."}[$step])', "otherwise than with sum"),
    ],
)
def test_a_template_that_cannot_be_grouped_says_why(bad: str, problem: str) -> None:
    grouped = plan({"requests_bad": bad, "requests_total": "sum(increase(x{$selector}[$step]))"})
    assert grouped is not None and any(problem in p for p in grouped.problems)


def test_no_request_counts_no_plan() -> None:
    assert plan({"error_ratio": "sum(rate(x[1m]))"}) is None


def test_one_label_per_role_that_the_metric_has_and_the_status_label() -> None:
    present = ["__name__", "code", "handler", "instance", "pod", "method", "service", "le"]
    assert chosen_labels(present, "code") == [
        ("instance", "location"),
        ("handler", "route"),
        ("method", "method"),
        ("code", "status"),
    ]
    assert chosen_labels(["service"], "code") == []


def test_one_selector_for_every_service_with_values_quoted() -> None:
    services = [
        ServiceId((("namespace", "prod"), ("ingress", "web.v2"))),
        ServiceId((("namespace", "prod"), ("ingress", 'a"b'))),
    ]
    assert services_selector(("namespace", "ingress"), services) == (
        'namespace=~"prod",ingress=~"a\\"b|web\\\\.v2"'
    )


def test_the_query_keeps_the_busiest_values_of_each_service_and_part() -> None:
    grouped = plan(load_preset("ingress_nginx")["slis"])
    assert grouped is not None
    svc = ServiceId((("namespace", "web"), ("ingress", "shop")))
    job = _job(grouped, ("namespace", "ingress"), [svc], "status", "status", "status", SPAN)
    assert job is not None
    assert job.query.startswith(f"topk by (namespace, ingress, pmrecon_part) ({TOP_VALUES}, ")
    assert "sum by (namespace, ingress, status) (increase(" in job.query
    assert "[30s]" in job.query and "$" not in job.query
    assert job.start == 1_000_020.0 and job.end == 1_003_590.0  # whole counting steps


def answer(*series: tuple[dict[str, str], list[list[Any]]]) -> dict[str, Any]:
    return {"resultType": "matrix", "result": [{"metric": m, "values": v} for m, v in series]}


def test_the_answer_becomes_one_record_per_service_and_value() -> None:
    job = _Job("instance", "location", SPAN, "q", 0, 0)
    data = answer(
        ({"service": "api", "instance": "a", "pmrecon_part": "total"}, [[30, "10"], [60, "12"]]),
        ({"service": "api", "instance": "a", "pmrecon_part": "bad"}, [[60, "3"]]),
        ({"service": "api", "instance": "b", "pmrecon_part": "total"}, [[30, "5"], [60, "NaN"]]),
        ({"service": "", "instance": "c", "pmrecon_part": "total"}, [[30, "1"]]),  # no service
        ({"service": "api", "instance": "d"}, [[30, "1"]]),  # not one of the parts
    )
    out = to_breakdowns(data, job, ("service",))
    assert [(b.service, b.value) for b in out] == [("api", "a"), ("api", "b")]
    a, b = out
    assert (a.timestamps, a.bad, a.total) == ([30.0, 60.0], [0.0, 3.0], [10.0, 12.0])
    assert (b.timestamps, b.bad, b.total) == ([30.0], [0.0], [5.0])
    assert a.step_seconds == 30.0 and not a.baseline and a.role == "location"


def test_an_answer_of_another_shape_gives_nothing() -> None:
    job = _Job("instance", "location", SPAN, "q", 0, 0)
    assert to_breakdowns({"resultType": "vector", "result": []}, job, ("service",)) == []
    assert to_breakdowns(None, job, ("service",)) == []


def serving(labels: list[str]) -> Any:
    """A fake server: ``labels`` for the label names, one service's instance ``a`` for queries."""
    matrix = [
        {"metric": {"service": "api", "instance": "a", "pmrecon_part": p}, "values": [[60, "4"]]}
        for p in ("bad", "total")
    ]

    def handler(req: Any) -> tuple[int, Any]:
        if req.path == "/api/v1/labels":
            return 200, {"status": "success", "data": labels}
        if req.path == "/api/v1/query_range":
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": matrix}}
        return 404, "404 page not found"

    return FakeHTTPServer(handler)


def breakdowns_from(fake: Any) -> tuple[list[Any], list[Any]]:
    source = PrometheusSource("p", {"url": fake.url, "retry_backoff": 0.01}, SourceContext())
    warnings: list[Any] = []
    spans = [SPAN, Span(900_000.0, 1_000_000.0, True, 60.0, 60.0, 60.0)]
    svc = ServiceId((("service", "api"),))
    window = Window(utc(SPAN.start), utc(SPAN.end))
    out = collect_breakdowns(
        source.api, TEMPLATES, ("service",), [svc], "code", spans, window, 2, warnings
    )
    return out, warnings


TEMPLATES = load_preset("http_requests_total")["slis"]


def test_a_metric_with_only_the_status_label_costs_one_call_and_gives_nothing() -> None:
    with serving(["__name__", "code", "service"]) as fake:
        out, warnings = breakdowns_from(fake)
    assert out == [] and warnings == []
    assert [r.path for r in fake.requests] == ["/api/v1/labels"]
    assert fake.requests[0].params["match[]"] == '{__name__="http_requests_total"}'


def test_each_label_the_metric_has_is_read_over_the_window_and_the_baseline() -> None:
    with serving(["__name__", "code", "instance", "service"]) as fake:
        out, warnings = breakdowns_from(fake)
    assert warnings == []
    ranges = [r for r in fake.requests if r.path == "/api/v1/query_range"]
    assert len(ranges) == 4  # instance and code, each over the window and the baseline
    assert {b.label for b in out} == {"instance", "code"}
    assert {b.baseline for b in out} == {False, True}
    assert all(b.bad == [4.0] and b.total == [4.0] and b.service == "api" for b in out)
