"""Every error the Elasticsearch connector can meet: one line, naming the source, no secret.

Servers that misbehave (401, 403, slow, not Elasticsearch, plain HTTP for TLS) are tiny local
HTTP servers on 127.0.0.1; an index pattern matching nothing and a missing field come from the
real nodes (test_elasticsearch_live.py::test_real_errors_index_and_field beside this file, and below).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.elasticsearch import ElasticsearchSource
from pmrecon.errors import EXIT_SOURCE, ConnectorError
from pmrecon.model import Window, to_jsonable
from tests.clihelp import run_cli
from tests.connectors.elasticsearch.es_answers import CAPS, search_answer
from tests.connectors.elasticsearch.es_answers import ROOT as ROOT_9
from tests.infra.es import ElasticsearchNode
from tests.infra.httpserver import BackgroundServer, send_json
from tests.scenarios import SCENARIOS

PASSWORD = "pw-S3CRET-0815"
API_KEY = base64.b64encode(b"key-id-42:api-S3CRET-4711").decode()
SC = SCENARIOS["flapping"]()
REQ = CollectRequest(window=Window(*SC.window), baseline=Window(*SC.baseline))

Handler = Callable[[str, str, Any], "tuple[int, Any] | None"]


class FakeES(BackgroundServer):
    """A local HTTP server scripted by ``handler(method, path, body) -> (status, json)``.

    ``product=False`` leaves out the ``X-Elastic-Product`` header (not Elasticsearch);
    ``delay`` seconds pass before each answer (a slow server).
    """

    def __init__(self, handler: Handler, *, product: bool = True, delay: float = 0.0) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers.items())))
                if delay:
                    time.sleep(delay)
                answer = handler(self.command, self.path, json.loads(data) if data else None)
                status, body = answer if answer is not None else (404, {"error": "not scripted"})
                headers = {"X-Elastic-Product": "Elasticsearch"} if product else {}
                if status == 401:
                    headers["WWW-Authenticate"] = 'ApiKey, Basic realm="security"'
                send_json(self, status, body, headers)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return

        super().__init__(H)


def es_like(search: Callable[[Any], tuple[int, Any]]) -> Handler:
    """An Elasticsearch 9 whose searches answer ``search(body)``."""

    def handler(method: str, path: str, body: Any) -> tuple[int, Any] | None:
        if path == "/":
            return 200, ROOT_9
        if "/_field_caps" in path:
            return 200, CAPS
        if path.endswith("/_search"):
            return search(body)
        return None

    return handler


def source(url: str, **settings: Any) -> ElasticsearchSource:
    return ElasticsearchSource("logs", {"hosts": [url], **settings}, SourceContext())


def collect_error(url: str, request: CollectRequest = REQ, **settings: Any) -> str:
    with pytest.raises(ConnectorError) as info:
        source(url, **settings).collect(request)
    exc = info.value
    message = exc.format_message()
    assert "\n" not in message
    assert exc.exit_code == EXIT_SOURCE
    assert message.startswith("source 'logs' (")
    for secret in (PASSWORD, API_KEY, "api-S3CRET-4711"):
        assert secret not in message
    return message


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable() -> None:
    port = closed_port()
    msg = collect_error(f"http://127.0.0.1:{port}", retries=1)
    assert msg == (
        f"source 'logs' (http://127.0.0.1:{port}): unreachable: cannot connect (Connection refused); "
        "check hosts and that Elasticsearch is running (while asking the server version: GET /)"
    )


def test_unreachable_with_credentials_in_the_url_never_shows_them() -> None:
    port = closed_port()
    msg = collect_error(f"http://elastic:{PASSWORD}@127.0.0.1:{port}", retries=0, api_key=API_KEY)
    assert f"(http://***@127.0.0.1:{port})" in msg


def test_dns_failure() -> None:
    msg = collect_error("http://pmrecon-no-such-host.invalid:9200", retries=0, timeout=5)
    assert "DNS: cannot resolve host 'pmrecon-no-such-host.invalid'; check hosts" in msg


def test_tls_failure() -> None:
    with FakeES(es_like(lambda b: (200, {}))) as fake:  # plain HTTP: the TLS handshake fails
        msg = collect_error(fake.url.replace("http://", "https://"), retries=0)
    assert "TLS handshake failed" in msg
    assert "check tls.ca_file, tls.cert_file or tls.verify" in msg


@pytest.mark.parametrize(
    "auth", [{"api_key": API_KEY}, {"username": "elastic", "password": PASSWORD}]
)
def test_401_authentication_failed(auth: dict[str, str]) -> None:
    unauthorized = {
        "error": {
            "type": "security_exception",
            "reason": "unable to authenticate with provided credentials",
        },
        "status": 401,
    }
    with FakeES(lambda m, p, b: (401, unauthorized)) as fake:
        msg = collect_error(fake.url, retries=2, **auth)
        assert len(fake.requests) == 1  # a 401 is never retried
        sent = {k.lower(): v for k, v in fake.requests[0][2].items()}.get("authorization", "")
    assert msg == (
        f"source 'logs' ({fake.url}): authentication failed (HTTP 401); check api_key or "
        "username/password (while asking the server version: GET /)"
    )
    assert sent.startswith("ApiKey " if "api_key" in auth else "Basic ")


#: The credentials of each way to authenticate, and what each request then carries.
ECHOED_AUTH = {
    "basic": {"username": "elastic", "password": PASSWORD},
    "api-key-id-and-key": {"api_key": "key-id-42:api-S3CRET-4711"},
    "api-key-base64": {"api_key": API_KEY},
}


def echoing_es(status: int, *, on: Callable[[Any], bool]) -> FakeES:
    """An Elasticsearch 9 whose searches matching ``on`` fail with ``status``, quoting the
    request's ``Authorization`` header in the error (a misconfigured proxy or plugin)."""

    def search(body: Any) -> tuple[int, Any]:
        if not on(body):
            return 200, search_answer(body)
        headers = {k.lower(): v for k, v in fake.requests[-1][2].items()}
        reason = f"cannot run the request with headers [Authorization: {headers['authorization']}]"
        return status, {"error": {"type": "illegal_argument_exception", "reason": reason}}

    fake = FakeES(es_like(search))
    return fake


def sent_credentials(fake: FakeES) -> list[str]:
    """The credential of every ``Authorization`` header the server received (base64)."""
    sent = {{k.lower(): v for k, v in h.items()}["authorization"] for _, _, h in fake.requests}
    return sorted({value.split(" ", 1)[1] for value in sent})


@pytest.mark.parametrize("auth", list(ECHOED_AUTH.values()), ids=list(ECHOED_AUTH))
def test_an_echoed_authorization_header_is_scrubbed_from_the_error(auth: dict[str, str]) -> None:
    with echoing_es(400, on=lambda body: True) as fake:
        msg = collect_error(fake.url, **auth)
    (credential,) = sent_credentials(fake)
    assert "bad query (HTTP 400): illegal_argument_exception" in msg
    assert "[Authorization: Basic ***]" in msg or "[Authorization: ApiKey ***]" in msg
    for secret in (credential, PASSWORD, "api-S3CRET-4711", API_KEY):
        assert secret not in msg


@pytest.mark.parametrize("auth", list(ECHOED_AUTH.values()), ids=list(ECHOED_AUTH))
def test_an_echoed_authorization_header_is_scrubbed_from_the_evidence(auth: dict[str, str]) -> None:
    """A failed part (the signature scan, HTTP 500) is a warning kept in the evidence."""
    with echoing_es(500, on=lambda body: "composite" in json.dumps(body)) as fake:
        ev = source(fake.url, **auth).collect(REQ)
    (credential,) = sent_credentials(fake)
    (warning,) = [w.message for w in ev.warnings if w.code == "signatures_failed"]
    assert "server error (HTTP 500): illegal_argument_exception" in warning
    assert "Authorization: Basic ***" in warning or "Authorization: ApiKey ***" in warning
    (kept,) = [w for q in ev.sources[0].queries for w in q.warnings]  # the scan's record
    assert kept in warning
    saved = json.dumps(to_jsonable(ev))
    for secret in (credential, PASSWORD, "api-S3CRET-4711", API_KEY):
        assert secret not in saved


def test_403_on_the_index_names_the_privileges() -> None:
    denied = {
        "error": {
            "type": "security_exception",
            "reason": "action [indices:data/read/search] is unauthorized for API key id [key-id-42] "
            "of user [pmrecon] on indices [logs-1]",
        },
        "status": 403,
    }
    with FakeES(es_like(lambda b: (403, denied))) as fake:
        msg = collect_error(fake.url, api_key=API_KEY, index="logs-*")
    assert (
        "access denied (HTTP 403): security_exception: action [indices:data/read/search] is unauthorized"
        in msg
    )
    assert (
        "grant the API key or user the 'read' and 'view_index_metadata' privileges on logs-*" in msg
    )
    assert "(while running query logs:q3: log volume per level over time)" in msg


def test_timeout_of_a_slow_server() -> None:
    with FakeES(es_like(lambda b: (200, {})), delay=2.0) as fake:
        started = time.monotonic()
        msg = collect_error(fake.url, timeout=0.5, retries=2)
        elapsed = time.monotonic() - started
        assert len(fake.requests) == 1  # a slow query is not repeated
    assert msg == (
        f"source 'logs' ({fake.url}): timeout: no answer within 0.5s; raise 'timeout' or "
        "shorten the window (while asking the server version: GET /)"
    )
    assert elapsed < 2.0


def test_timeout_on_the_server_side() -> None:
    boom = {
        "error": {"type": "search_timeout_exception", "reason": "Time exceeded"},
        "status": 504,
    }
    with FakeES(es_like(lambda b: (504, boom))) as fake:
        msg = collect_error(fake.url, retries=0)
    assert "timeout: the server gave up (HTTP 504): search_timeout_exception: Time exceeded" in msg


def test_build_deadline() -> None:
    with FakeES(es_like(lambda b: (200, {}))) as fake:
        late = CollectRequest(window=REQ.window, deadline=time.monotonic() - 1)
        msg = collect_error(fake.url, late)
    assert "time limit reached before all queries ran; raise 'timeout' or shorten the window" in msg


def test_not_elasticsearch() -> None:
    with FakeES(lambda m, p, b: (200, {"hello": "world"}), product=False) as fake:
        msg = collect_error(fake.url)
    assert "the server is not Elasticsearch (no 'X-Elastic-Product: Elasticsearch' header)" in msg


def test_server_refusing_our_api_version() -> None:
    media = {
        "error": {
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept]",
        },
        "status": 400,
    }

    def handler(method: str, path: str, body: Any) -> tuple[int, Any]:
        return (200, ROOT_9) if path == "/" else (400, media)

    with FakeES(handler) as fake:
        msg = collect_error(fake.url)
    assert "the server refuses the client's API version" in msg
    assert "set server_major to the server's major version" in msg


@pytest.mark.elasticsearch
def test_index_pattern_matching_nothing_on_a_real_node(es_node: ElasticsearchNode) -> None:
    msg = collect_error(es_node.url, index="pmrecon-none-*")
    assert msg == (
        f"source 'logs' ({es_node.url}): index pattern 'pmrecon-none-*' matches no index; "
        "check 'index' (GET _cat/indices lists them)"
    )


def test_missing_field_names_the_field_and_the_config_key() -> None:
    with FakeES(es_like(lambda b: (200, {}))) as fake:
        msg = collect_error(fake.url, fields={"level": "severity", "service": "app"})
    assert (
        "field 'severity' (sources.logs.fields.level) is not in the mapping of 'logs-*'; "
        "set sources.logs.fields.level to the field holding the log level "
        "(and 1 more field problem(s))"
    ) in msg


def test_check_reports_the_failure_and_its_fix(tmp_path: Path) -> None:
    port = closed_port()
    results = source(f"http://127.0.0.1:{port}", retries=0).check()
    assert [(r.check, r.ok) for r in results] == [("reachable", False)]
    assert "Connection refused" in results[0].detail and "check hosts" in results[0].fix

    config = tmp_path / "pmrecon.yaml"
    config.write_text(
        "sources:\n"
        "  logs:\n"
        "    type: elasticsearch\n"
        f"    hosts: [http://127.0.0.1:{port}]\n"
        "    api_key: ${ES_TEST_KEY}\n"
        "    retries: 0\n",
        encoding="utf-8",
    )
    run = run_cli("check", "--config", str(config), env={"ES_TEST_KEY": API_KEY})
    assert run.code != 0
    assert API_KEY not in run.out + run.err and "api-S3CRET-4711" not in run.out + run.err
    assert "Connection refused" in run.out + run.err


def test_shard_failures_are_warnings_not_errors() -> None:
    def search(body: Any) -> tuple[int, Any]:
        return 200, {
            "timed_out": False,
            "_shards": {
                "total": 2,
                "successful": 1,
                "failed": 1,
                "failures": [
                    {
                        "reason": {
                            "type": "circuit_breaking_exception",
                            "reason": "[parent] Data too large",
                        }
                    }
                ],
            },
            "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
            "aggregations": search_answer(body).get("aggregations"),
        }

    with FakeES(es_like(search)) as fake:
        ev = source(fake.url).collect(REQ)
    warns = [w for w in ev.warnings if w.code == "shard_failures"]
    assert warns and all("\n" not in w.message for w in warns)
    assert (
        "partial results: 1 of 2 shards failed for log volume per level over time"
        in warns[0].message
    )
    assert "circuit_breaking_exception: [parent] Data too large" in warns[0].message
    assert ev.logs is not None and ev.logs.total_documents == 0


def test_window_in_the_far_past_is_fine() -> None:
    def search(body: Any) -> tuple[int, Any]:
        return 200, {
            "timed_out": False,
            "_shards": {"total": 1, "failed": 0},
            "hits": {"total": {"value": 0}, "hits": []},
            "aggregations": search_answer(body).get("aggregations"),
        }

    old = Window(
        dt.datetime(1969, 12, 31, 23, tzinfo=dt.timezone.utc),
        dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone.utc),
    )
    with FakeES(es_like(search)) as fake:
        ev = source(fake.url).collect(CollectRequest(window=old))
    assert ev.logs is not None and len(ev.logs.volume_by_level.timestamps) == 120
    assert ev.logs.volume_by_level.timestamps[0] == old.start.timestamp()
