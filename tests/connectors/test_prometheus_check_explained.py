"""``pmrecon check`` explains why SLI queries would be empty, against a real Prometheus.

The target exposes the client libraries' default shape: ``http_requests_total{code,handler}``
(the service is the scrape ``job``), and the request duration as a summary (quantiles,
``_count``, ``_sum``: no ``_bucket`` series), scraped every second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.prometheus import PrometheusSource
from connectors.prometheus.check import SliQuery, explain_queries
from connectors.prometheus.selectors import selectors
from tests.clihelp import run_cli
from tests.infra.prometheus import MetricsTarget, PrometheusServer

pytestmark = pytest.mark.prometheus

METRICS = """\
# TYPE http_requests_total counter
http_requests_total{code="200",handler="/cart"} 120
http_requests_total{code="500",handler="/cart"} 3
# TYPE http_request_duration_seconds summary
http_request_duration_seconds{quantile="0.5"} 0.04
http_request_duration_seconds{quantile="0.99"} 0.2
http_request_duration_seconds_count 123
http_request_duration_seconds_sum 6.1
"""


class StaticTarget(MetricsTarget):
    """A /metrics endpoint serving ``METRICS``."""

    def render(self) -> str:
        return METRICS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = Path(tmp_path_factory.mktemp("prom-check"))
    target = StaticTarget().start()
    prom = PrometheusServer(
        root,
        root / "data",
        scrape_interval="1s",
        scrape_configs=[
            {"job_name": "checkout", "static_configs": [{"targets": [target.address]}]}
        ],
    )
    prom.start()
    try:
        limit = time.monotonic() + 30
        while not prom.query("http_request_duration_seconds_count") and time.monotonic() < limit:
            time.sleep(0.2)
        yield prom
    finally:
        prom.stop()
        target.stop()


def check(server: PrometheusServer, **settings: Any) -> dict[str, list[Any]]:
    src = PrometheusSource("prom", {"url": server.url, **settings})
    out: dict[str, list[Any]] = {}
    for r in src.check():
        out.setdefault(r.check, []).append(r)
    return out


def test_a_service_label_the_metric_lacks_is_named_with_the_label_to_set(
    server: PrometheusServer,
) -> None:
    lines = check(server, preset="http_requests_total", service_label="service")
    (line,) = lines["labels of http_requests_total"]
    assert not line.ok
    assert line.detail.startswith("`http_requests_total` has no label `service` (read by ")
    assert line.detail.endswith("; it has code, handler, instance, job")
    assert "error_ratio" in line.detail and "throughput" in line.detail
    assert line.fix == "set `service_label: job`"
    # the metric itself is there: its line says so
    assert lines["metric http_requests_total"][0].ok


def test_a_histogram_without_buckets_is_explained(server: PrometheusServer) -> None:
    lines = check(server, preset="http_requests_total", service_label="service")
    (line,) = lines["metric http_request_duration_seconds_bucket"]
    assert not line.ok
    assert line.detail.startswith(
        "latency needs http_request_duration_seconds_bucket; only http_request_duration_seconds, "
        "http_request_duration_seconds_count, http_request_duration_seconds_sum exist"
    )
    assert "looks like a summary" in line.detail
    assert "slis.latency" in line.fix and "quantile" in line.fix


def test_a_template_label_is_named_with_the_template_to_fix(server: PrometheusServer) -> None:
    lines = check(
        server,
        preset="http_requests_total",
        slis={
            "error_ratio": 'sum(rate(http_requests_total{job=$service,status=~"5.."}[$window]))'
            " / sum(rate(http_requests_total{job=$service}[$window]))",
            "latency": "off",
            "throughput": "off",
            "requests_total": "off",
            "requests_bad": "off",
            "uptime": "off",
        },
    )
    (line,) = lines["labels of http_requests_total"]
    assert "has no label `status` (read by error_ratio)" in line.detail
    assert line.fix == "set slis.error_ratio to a query on labels the metric has"


def test_status_label_setting_is_named_when_it_names_a_missing_label(
    server: PrometheusServer,
) -> None:
    src = PrometheusSource("prom", {"url": server.url})
    query = 'sum(rate(http_requests_total{job="x",status=~"5.."}[1m]))'
    (line,) = [
        r
        for r in explain_queries(
            src.api,
            [SliQuery("error_ratio", query, "slis.error_ratio")],
            "http_requests_total",
            {"status_label": ["status"], "service_label": ["job"]},
        )
        if r.check.startswith("labels")
    ]
    assert line.fix == "set `status_label: code`"


def test_matchers_that_accept_a_missing_label_are_not_reported(server: PrometheusServer) -> None:
    src = PrometheusSource("prom", {"url": server.url})
    query = 'sum(rate(http_requests_total{job="checkout",env="",uri!~"/actuator.*"}[1m]))'
    assert [m.matches_empty() for m in selectors(query)[0].matchers] == [False, True, True]
    results = explain_queries(
        src.api, [SliQuery("throughput", query, "slis.throughput")], "http_requests_total", {}
    )
    assert [r.check for r in results] == ["metric http_requests_total"]
    assert results[0].ok


def test_an_unreadable_query_names_its_setting(server: PrometheusServer) -> None:
    src = PrometheusSource("prom", {"url": server.url})
    (line,) = explain_queries(
        src.api, [SliQuery("latency", "sum(rate(x[5m])", "slis.latency")], "x", {}
    )
    assert (line.check, line.ok, line.fix) == ("query latency", False, "fix slis.latency")
    assert "unclosed '('" in line.detail


def test_the_check_command_prints_the_explanation_and_fails(
    server: PrometheusServer, tmp_path: Path
) -> None:
    config = tmp_path / "pmrecon.yaml"
    config.write_text(
        "sources:\n"
        "  prom:\n"
        "    type: prometheus\n"
        f"    url: {server.url}\n"
        "    service_label: service\n",
        encoding="utf-8",
    )
    run = run_cli("check", "--config", str(config), env={"NO_COLOR": "1"})
    assert run.code == 3, run.err
    (line,) = [x for x in run.out.splitlines() if "labels of http_requests_total" in x]
    assert line.startswith("FAIL ")
    assert "  `http_requests_total` has no label `service` (read by error_ratio, " in line
    assert line.endswith("); it has code, handler, instance, job — fix: set `service_label: job`")
