"""Every error the Prometheus connector can meet: one line, naming source, SLI and query, no secret.

Servers that misbehave (401, sleeping, 404, HTML) are tiny local HTTP servers; bad PromQL,
missing metrics and NaN samples come from the real, backfilled Prometheus.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.errors import EXIT_SOURCE, ConfigError, ConnectorError
from pmrecon.model import Window, to_jsonable
from tests.clihelp import run_cli
from tests.infra.prometheus import FakeHTTPServer
from tests.scenarios import SCENARIOS

TOKEN = "tok-S3CRET-4711"
PASSWORD = "pw-S3CRET-0815"
SC = SCENARIOS["clean_single"]()
REQ = CollectRequest(window=Window(*SC.window), baseline=Window(*SC.baseline))


def source(url: str, **settings: object) -> PrometheusSource:
    return PrometheusSource(
        "prom", {"url": url, "retry_backoff": 0.01, **settings}, SourceContext()
    )


def collect_error(url: str, **settings: object) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        source(url, **settings).collect(REQ)
    exc = info.value
    message = exc.format_message()
    assert "\n" not in message
    assert exc.exit_code == EXIT_SOURCE
    assert message.startswith("source 'prom' (")
    for secret in (TOKEN, PASSWORD):
        assert secret not in message
    return exc


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server() -> None:
    port = closed_port()
    exc = collect_error(f"http://127.0.0.1:{port}", retries=1)
    msg = exc.format_message()
    assert f"(http://127.0.0.1:{port}): unreachable: cannot connect (Connection refused)" in msg
    assert "check the URL" in msg


def test_unreachable_server_with_credentials_in_the_url_never_shows_them() -> None:
    port = closed_port()
    exc = collect_error(
        f"http://admin:{PASSWORD}@127.0.0.1:{port}/prom", retries=0, bearer_token=TOKEN
    )
    assert f"(http://***@127.0.0.1:{port}/prom)" in exc.format_message()


def test_dns_failure() -> None:
    exc = collect_error("http://pmrecon-no-such-host.invalid:9090", retries=0, timeout=5)
    assert "DNS: cannot resolve host 'pmrecon-no-such-host.invalid'" in exc.format_message()


def test_tls_failure() -> None:
    with FakeHTTPServer(lambda req: (200, {})) as fake:  # plain HTTP: the TLS handshake fails
        exc = collect_error(fake.url.replace("http://", "https://"), retries=0)
    assert "TLS handshake failed" in exc.format_message()
    assert "tls.ca_file" in exc.format_message()


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "authentication failed (HTTP 401)"), (403, "access denied (HTTP 403)")],
)
def test_auth_failure(status: int, words: str) -> None:
    body = {"status": "error", "errorType": "unauthorized", "error": f"bad token {TOKEN}"}
    with FakeHTTPServer(lambda req: (status, body)) as fake:
        exc = collect_error(fake.url, bearer_token=TOKEN)
        assert len(fake.requests) == 1, "4xx must not be retried"
        assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert words in exc.format_message()
    assert "bearer_token" in exc.format_message()


def test_timeout_is_not_retried_and_says_so() -> None:
    def slow(req):  # noqa: ANN001, ANN202
        time.sleep(2)
        return 200, {"status": "success", "data": {}}

    with FakeHTTPServer(slow) as fake:
        started = time.monotonic()
        exc = collect_error(fake.url, timeout=0.3, retries=3)
        elapsed = time.monotonic() - started
        assert len(fake.requests) == 1
    assert elapsed < 1.5
    assert "timeout: no answer within 0.3s" in exc.format_message()


def test_wrong_path_prefix_is_a_404_with_a_hint() -> None:
    with FakeHTTPServer(lambda req: (404, "404 page not found")) as fake:
        exc = collect_error(fake.url + "/prometheus")
    assert "HTTP 404 for /api/v1/query; check the URL's path prefix" in exc.format_message()


def test_not_a_prometheus_api() -> None:
    with FakeHTTPServer(lambda req: (200, "<html><body>Grafana login</body></html>")) as fake:
        exc = collect_error(fake.url)
    assert "is not the Prometheus API (Grafana login)" in exc.format_message()


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="url must start with http:// or https://"):
        source("prometheus:9090")


def test_check_command_reports_unreachable_with_exit_code(tmp_path) -> None:
    port = closed_port()
    cfg = tmp_path / "pmrecon.yaml"
    cfg.write_text(
        "sources:\n  prom:\n    type: prometheus\n"
        f"    url: http://127.0.0.1:{port}\n    retries: 0\n    bearer_token: ${{PROM_TOKEN}}\n"
    )
    run = run_cli("check", "--config", str(cfg), env={"PROM_TOKEN": TOKEN})
    assert run.code == EXIT_SOURCE, run.err
    line = next(x for x in run.out.splitlines() if "prom reachable" in x)
    assert "FAIL" in line and "unreachable: cannot connect (Connection refused)" in line
    assert TOKEN not in run.out + run.err


# --------------------------------------------------------------------------- real server


@pytest.mark.prometheus
def test_bad_promql_is_a_warning_with_the_servers_text_and_other_slis_survive(prometheus) -> None:
    src = source(
        prometheus.url,
        services=["checkout"],
        slis={"error_ratio": "sum(rate(http_requests_total{service=$service}[$window]"},
    )
    ev = src.collect(CollectRequest(window=Window(*SC.window)))
    (warning,) = [w for w in ev.warnings if w.code == "sli_bad_query"]
    msg = warning.message
    assert "\n" not in msg
    assert "source 'prom'" in msg and "bad query (HTTP 400)" in msg
    assert "parse error: unclosed left parenthesis" in msg  # the server's own text
    assert "SLI error_ratio for service 'checkout'" in msg
    assert 'query: sum(rate(http_requests_total{service="checkout"}[60s]' in msg
    kinds = {s.kind for s in ev.series}
    assert "error_ratio" not in kinds and {"latency", "throughput", "requests_total"} <= kinds
    failed = [q for q in ev.sources[0].queries if q.warnings and "bad query" in q.warnings[0]]
    assert len(failed) == 1


@pytest.mark.prometheus
def test_missing_metric_is_a_warning_naming_it(prometheus) -> None:
    src = source(
        prometheus.url,
        services=["checkout"],
        extra={
            "restarts": "sum(increase(kube_pod_container_status_restarts_total{pod=~$service}[$window]))"
        },
    )
    ev = src.collect(CollectRequest(window=Window(*SC.window)))
    (warning,) = [w for w in ev.warnings if w.code == "metric_missing"]
    assert "SLI restarts for service 'checkout'" in warning.message
    assert "metric kube_pod_container_status_restarts_total has no series" in warning.message
    assert "run `pmrecon check`" in warning.message
    assert 'pod=~"checkout"' in warning.message


@pytest.mark.prometheus
def test_nan_samples_are_dropped_and_counted(prometheus) -> None:
    tpl = (
        'sum(rate(http_requests_total{service=$service,code=~"5.."}[$window]))'
        ' / sum(rate(http_requests_total{service=$service,code=~"5.."}[$window]))'
    )
    # cart fails one request in a thousand: many 60-s windows hold no failure at all (0/0)
    src = source(prometheus.url, services=["cart"], extra={"errors_share": tpl})
    ev = src.collect(CollectRequest(window=Window(*SC.window)))
    (series,) = [s for s in ev.series if s.name == "errors_share"]
    assert series.values and set(series.values) == {1.0}
    # count the NaNs the server really returned for the same query
    rec = next(q for q in ev.sources[0].queries if q.id == series.query_ref)
    params = urllib.parse.urlencode(
        {
            "query": rec.query,
            "start": rec.start.timestamp(),
            "end": rec.end.timestamp(),
            "step": rec.step_seconds,
        }
    )
    with urllib.request.urlopen(f"{prometheus.url}/api/v1/query_range?{params}") as resp:
        values = json.load(resp)["data"]["result"][0]["values"]
    nans = sum(1 for _, v in values if v == "NaN")
    assert nans > 0 and len(series.values) == len(values) - nans
    (warning,) = [w for w in ev.warnings if w.code == "nan_samples"]
    assert f": {nans} NaN/Inf sample(s) ignored" in warning.message
    assert "SLI errors_share for service 'cart'" in warning.message


@pytest.mark.prometheus
def test_evidence_never_holds_secrets(prometheus) -> None:
    url = prometheus.url.replace("http://", f"http://admin:{PASSWORD}@")
    src = source(
        url, services=["checkout"], bearer_token=TOKEN, headers={"X-Scope-OrgID": "tenant-1"}
    )
    ev = src.collect(REQ)
    text = json.dumps(to_jsonable(ev))
    assert TOKEN not in text and PASSWORD not in text
    assert ev.sources[0].url == prometheus.url.replace("http://", "http://***@")
    assert ev.sources[0].settings["headers"] == ["X-Scope-OrgID"]
