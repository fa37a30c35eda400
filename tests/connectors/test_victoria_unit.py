"""What a Prometheus-compatible server lacks, with scripted answers: the server's config YAML
read through pmrecon.safeyaml (bounded), and the scrape interval measured from raw samples.

The real VictoriaMetrics runs in tests/connectors/test_victoria.py; here a tiny HTTP server
on 127.0.0.1 answers what a real one would not (a hostile config, jittered samples, a
wrong-shaped answer).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource
from connectors.prometheus.server import (
    SPACING_MAX_SAMPLES,
    sample_spacing,
    server_info,
    settle_scrape_interval,
)
from pmrecon.errors import ConnectorError
from pmrecon.model import Warning, Window
from tests.infra.prometheus import FakeHTTPServer, FakeRequest

UTC = dt.timezone.utc
WINDOW = Window(
    dt.datetime(2026, 5, 1, 10, 0, tzinfo=UTC), dt.datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
)
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def ok(data: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"status": "success", "data": data}


def vector(labels: dict[str, str], value: float) -> tuple[int, dict[str, Any]]:
    return ok({"resultType": "vector", "result": [{"metric": labels, "value": [0, str(value)]}]})


def matrix(times: list[float]) -> tuple[int, dict[str, Any]]:
    values = [[t, "1"] for t in times]
    return ok({"resultType": "matrix", "result": [{"metric": {"service": "a"}, "values": values}]})


def server(config_yaml: str = "", count: float = 240, times: list[float] | None = None):  # noqa: ANN201
    """A VictoriaMetrics-like server: empty buildinfo and rules, the given config and samples."""
    end = WINDOW.end.timestamp()
    raw = times if times is not None else [end - 15 * i for i in range(int(count))][::-1]

    def handler(req: FakeRequest) -> tuple[int, Any]:
        if req.path == "/api/v1/status/buildinfo":
            return ok({})
        if req.path == "/api/v1/status/config":
            return ok({"yaml": config_yaml})
        if req.path == "/api/v1/rules":
            return ok({"groups": []})
        q = req.params.get("query", "")
        if q.startswith("topk(1, count_over_time("):
            return vector({"service": "a", "code": "200"}, count)
        if q.startswith('http_requests_total{code="200",service="a"}['):
            return matrix(raw)
        return 400, {"status": "error", "errorType": "bad_data", "error": f"unexpected {q}"}

    return FakeHTTPServer(handler)


def source(url: str, **settings: object) -> PrometheusSource:
    return PrometheusSource("vm", {"url": url, "retries": 0, **settings}, SourceContext())


def info_and_warnings(url: str, **settings: object) -> tuple[dict[str, Any], list[Warning]]:
    src = source(url, **settings)
    warnings: list[Warning] = []
    info = server_info(src.api, src.settings, warnings)
    settle_scrape_interval(src.api, info, "http_requests_total", WINDOW, warnings)
    return info, warnings


def by_code(warnings: list[Warning]) -> dict[str, str]:
    return {w.code or "": w.message for w in warnings}


def test_served_config_gives_the_intervals_without_a_warning() -> None:
    conf = "global:\n  scrape_interval: 1m30s\n  evaluation_interval: 20s\n"
    with server(conf) as fake:
        info, warnings = info_and_warnings(fake.url)
    assert info["scrape_interval"] == 90 and info["evaluation_interval"] == 20
    assert "no_server_config" not in by_code(warnings)
    assert not [r for r in fake.requests if r.params.get("query", "").startswith("topk")]


@pytest.mark.parametrize(
    ("conf", "why"),
    [
        (BILLION_LAUGHS, "more than 100,000 values once its aliases are expanded"),
        ("global:\n  scrape_interval: 15s\n  scrape_interval: 1m\n", "duplicate key"),
        ("global: [unclosed\n", "is not valid YAML"),
    ],
    ids=["billion-laughs", "duplicate-key", "invalid"],
)
def test_hostile_or_broken_config_is_refused_fast_and_the_interval_measured(
    conf: str, why: str
) -> None:
    with server(conf) as fake:
        t0 = time.monotonic()
        info, warnings = info_and_warnings(fake.url)
        took = time.monotonic() - t0
    assert took < 2
    message = by_code(warnings)["no_server_config"]
    assert "server configuration not available" in message and why in message
    assert info["scrape_interval"] == 15 and "scrape interval taken as 15s" in message


def test_oversized_config_is_refused_before_parsing() -> None:
    with server("global: {}\n" + "#" * (1 << 20)) as fake:
        info, warnings = info_and_warnings(fake.url)
    assert "more than 1048576 characters" in by_code(warnings)["no_server_config"]


def test_empty_config_measures_the_interval_from_the_densest_series() -> None:
    with server("") as fake:
        info, warnings = info_and_warnings(fake.url)
    assert info["scrape_interval"] == 15
    message = by_code(warnings)["no_server_config"]
    assert message.startswith("source 'vm': the server serves an empty configuration")
    assert 'raw samples of http_requests_total{code="200",service="a"}' in message
    assert "set scrape_interval in the settings" in message
    # the version is unknown and said so; no rules is said too
    assert "buildinfo is empty" in by_code(warnings)["unknown_server_version"]
    assert "vmalert" in by_code(warnings)["no_rules_listed"]


def test_jittered_samples_round_to_whole_seconds() -> None:
    end = WINDOW.end.timestamp()
    jittered = [end - 3600 + 30 * i + (0.004 if i % 2 else -0.003) for i in range(100)]
    with server("", count=len(jittered), times=jittered) as fake:
        info, _ = info_and_warnings(fake.url)
    assert info["scrape_interval"] == 30


def test_a_gap_does_not_stretch_the_measured_interval() -> None:
    end = WINDOW.end.timestamp()
    times = [end - 3600 + 10 * i for i in range(100)] + [end - 60 + 10 * i for i in range(6)]
    with server("", count=len(times), times=times) as fake:
        info, _ = info_and_warnings(fake.url)
    assert info["scrape_interval"] == 10  # the median spacing, not the window over the count


def test_too_many_samples_are_not_read_raw() -> None:
    count = SPACING_MAX_SAMPLES * 2
    with server("", count=count) as fake:
        src = source(fake.url)
        found = sample_spacing(src.api, "http_requests_total", WINDOW)
    assert found == (round(3600 / count, 3), 'http_requests_total{code="200",service="a"}')
    raw_reads = [r for r in fake.requests if r.params.get("query", "").startswith("http_")]
    assert not raw_reads  # one request: the count, no raw samples


@pytest.mark.parametrize("count", [0, 2])
def test_too_few_samples_fall_back_to_the_default_and_say_so(count: int) -> None:
    with server("", count=count) as fake:
        info, warnings = info_and_warnings(fake.url)
    assert "scrape_interval" not in info
    message = by_code(warnings)["no_server_config"]
    assert "too few raw samples of http_requests_total in the window" in message
    assert "assuming a 60s scrape interval: set scrape_interval in the settings" in message


def test_a_wrong_shaped_answer_fails_the_source_rather_than_give_a_measure() -> None:
    """The transport checks every answer's shape (tests/connectors/test_source_answers.py):
    a server that answers so is not a Prometheus, and the source says it in one line."""

    def handler(req: FakeRequest) -> tuple[int, Any]:
        return ok({"resultType": "vector", "result": [{"metric": "not a mapping", "value": 7}]})

    with FakeHTTPServer(handler) as fake, pytest.raises(ConnectorError) as failed:
        sample_spacing(source(fake.url).api, "http_requests_total", WINDOW)
    assert "not a Prometheus response" in str(failed.value)


def test_the_setting_wins_and_nothing_is_measured() -> None:
    with server("") as fake:
        info, warnings = info_and_warnings(fake.url, scrape_interval=20)
    assert info["scrape_interval"] == 20 and "no_server_config" not in by_code(warnings)
    assert not [r for r in fake.requests if r.params.get("query", "").startswith("topk")]


def test_label_values_are_literals_in_the_raw_read() -> None:
    """A value that looks like an operator (``~…``, ``!…``) still selects by equality."""
    seen: list[str] = []

    def handler(req: FakeRequest) -> tuple[int, Any]:
        q = req.params.get("query", "")
        seen.append(q)
        if q.startswith("topk("):
            return vector({"path": '~/a"b', "code": "!5"}, 10)
        return matrix([WINDOW.end.timestamp() - 20 * i for i in range(10)][::-1])

    with FakeHTTPServer(handler) as fake:
        found = sample_spacing(source(fake.url).api, "http_requests_total", WINDOW)
    series = 'http_requests_total{code="!5",path="~/a\\"b"}'
    assert found == (20, series) and seen[1] == f"{series}[3600s]"
