"""Unit tests of the Elasticsearch connector: the message normaliser, helpers, settings, and a
whole collect replayed from recorded 8.19 and 9.x answers (recorded/ beside this file).

The replaying server checks every request against the recording (method, path, media type,
body), so a change to a query shows up here as a failure, and answers can be altered to
exercise shard failures and server timeouts without a real server.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import (
    ApiError,
    ApiResponseMeta,
    ConnectionTimeout,
    HttpHeaders,
    NodeConfig,
    SerializationError,
    TlsError,
    TransportError,
)
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import UnsupportedProductError
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import CollectRequest, SourceContext
from connectors.elasticsearch import (
    SETTINGS_SCHEMA,
    ElasticsearchSource,
    RequestFailed,
    _change_kind,
    _error_detail,
    _get_path,
    _major_from_media_error,
    _ms,
    _ms_to_dt,
)
from connectors.signatures import EMPTY, MAX_INPUT, normalise, truncate
from pmrecon.config import document_keys, validate
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.model import Window, to_jsonable
from pmrecon.redact import Redactor
from tests.connectors.elasticsearch.test_elasticsearch_live import baseline_sightings
from tests.infra.httpserver import BackgroundServer, send_json
from tests.scenarios import SCENARIOS

REC = Path(__file__).parent / "recorded"
UTC = dt.timezone.utc


# --------------------------------------------------------------------------- normaliser


@pytest.mark.parametrize(
    ("a", "b", "folded"),
    [
        ("timeout after 3012ms", "timeout after 2981ms", "timeout after <n>ms"),
        (
            "order 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed failed",
            "order 6f1c2e3a-0000-4b2d-8a5d-123456789abc failed",
            "order <uuid> failed",
        ),
        ("handle 0x0000ffab busy", "handle 0xDEADBEEF busy", "handle <hex> busy"),
        (
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 dropped",
            "trace 00f067aa0ba902b7a3ce929d0e0e4736 dropped",
            "trace <hex> dropped",
        ),
        ("user12345 locked", "user98765 locked", "user<n> locked"),
        ("from 10.0.0.1:8080", "from 192.168.1.20", "from <ip>"),
        (
            "at 2026-01-12T10:00:00.123Z retry",
            "at 2026-03-01 23:59:59+02:00 retry",
            "at <time> retry",
        ),
        ("clock 10:00:00 late", "clock 9:05:33.120 late", "clock <time> late"),
        (
            "session aGVsbG8gd29ybGQ0NTY3ODk= gone",
            "session Zm9vYmFyMTIzNDU2Nzg5MA gone",
            "session <id> gone",
        ),
        ("mail bob@example.com bounced", "mail a.b@c.example.org bounced", "mail <email> bounced"),
        ("took 1.5 s, 1,000 rows", "took 22.75 s, 3 rows", "took <n> s, <n> rows"),
        ("Stack:\n  at foo(Bar.java:12)", "Stack:\n  at baz(Qux.java:99)", "Stack:"),
    ],
)
def test_normaliser_folds_variable_parts(a: str, b: str, folded: str) -> None:
    assert normalise(a) == normalise(b) == folded


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("GET /v1/cart failed", "GET /v2/cart failed"),  # short codes name which thing failed
        ("ERR42 on disk", "ERR43 on disk"),
        ("timeout on checkout", "timeout on payment"),
    ],
)
def test_normaliser_keeps_what_tells_errors_apart(a: str, b: str) -> None:
    assert normalise(a) != normalise(b)


def test_normaliser_edges() -> None:
    assert normalise("") == normalise("   \n\t ") == normalise(None) == EMPTY
    assert normalise(12345) == "<n>"
    long = "x" * 5000
    assert len(normalise(long)) == 200 and normalise(long).endswith("…")
    assert len(normalise(long, max_length=50)) == 50
    assert truncate("abc", 0) == "abc" and truncate("abcdef", 4) == "abc…"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_normaliser_never_crashes_on_arbitrary_unicode(text: str) -> None:
    out = normalise(text)
    assert isinstance(out, str) and out
    assert len(out) <= 200
    assert "\n" not in out and "\r" not in out
    assert out == out.strip()
    # folding is stable: a signature folds to itself
    assert normalise(out) == out


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.integers(min_value=0, max_value=10**12),
    st.uuids(),
)
def test_numbers_and_uuids_never_split_a_signature(prefix: str, n: int, u: Any) -> None:
    prefix = prefix.replace("\n", " ")
    a = f"{prefix} failed after {n}ms for {u}"
    b = f"{prefix} failed after {n + 7}ms for {u.hex[::-1][:8]}-0000-4000-8000-000000000000"
    assert normalise(a) == normalise(b)


def test_normaliser_reads_a_bounded_prefix() -> None:
    head = "a" * (MAX_INPUT - 5)
    assert normalise(head + " 1234 tail") == normalise(head + " 9999 other")


# --------------------------------------------------------------------------- helpers


def test_get_path_reads_nested_flat_and_mixed_sources() -> None:
    assert _get_path({"log": {"level": "error"}}, "log.level") == "error"
    assert _get_path({"log.level": "warn"}, "log.level") == "warn"
    assert _get_path({"error": {"type.name": "X"}}, "error.type.name") == "X"
    assert _get_path({"a": {"b": 1}}, "a.c") is None
    assert _get_path(None, "a") is None and _get_path({"a": 1}, "") is None


def test_change_kind() -> None:
    assert _change_kind("rollback", None, "") == "rollback"
    assert _change_kind("deploy", ["deployment"], "") == "deploy"
    assert _change_kind(None, ["config_change"], "") == "config_change"
    assert _change_kind(None, None, "Rolled back checkout to 2.3.9") == "rollback"
    assert _change_kind(None, None, "restarted") == "change"


def test_error_detail_and_media_type_error() -> None:
    body = {
        "error": {
            "root_cause": [{"type": "media_type_header_exception", "reason": "Invalid media-type"}],
            "type": "media_type_header_exception",
            "reason": "Invalid media-type",
            "caused_by": {
                "type": "status_exception",
                "reason": "Accept version must be either version 8 or 7, but found 9.",
            },
        },
        "status": 400,
    }
    detail = _error_detail(body)
    assert detail.startswith("media_type_header_exception: Invalid media-type")
    assert _major_from_media_error(detail) == 8
    assert _error_detail("plain\ntext") == "plain text"
    assert _error_detail({"error": "simple"}) == "simple"
    failed = {
        "error": {
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "failed_shards": [
                {
                    "reason": {
                        "type": "query_shard_exception",
                        "reason": "failed to create query",
                        "caused_by": {"reason": 'For input string: "x7"'},
                    }
                }
            ],
        }
    }
    assert "query_shard_exception: failed to create query (For input string" in _error_detail(
        failed
    )


def _meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(status, "1.1", HttpHeaders(), 0.1, NodeConfig("http", "h", 9200))


def _api(status: int, body: Any) -> ApiError:
    return ApiError("msg", _meta(status), body)


def _caused(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


NOT_RESOLVED = "Failed to resolve 'nohost.invalid' ([Errno -2] Name or service not known)"
MEDIA = {
    "error": {
        "type": "media_type_header_exception",
        "reason": "Invalid media-type value on headers [Accept]",
    }
}


@pytest.mark.parametrize(
    ("exc", "kind", "fatal", "status", "says"),
    [
        (TlsError("TLS", errors=(OSError("[SSL: WRONG_VERSION_NUMBER] wrong version (x)"),)),
         "tls", True, None, "TLS handshake failed (wrong version)"),
        (ConnectionTimeout("slow"), "timeout", True, None, "no answer within 2.5s"),
        (TransportConnectionError("Connection error", errors=(OSError("Read timed out."),)),
         "timeout", True, None, "no answer within 2.5s"),
        (TransportConnectionError("Connection error", errors=(OSError(NOT_RESOLVED),)),
         "dns", True, None, "DNS: cannot resolve host 'nohost.invalid'; check hosts"),
        (_caused(TransportConnectionError("x"), ConnectionRefusedError("Connection refused")),
         "unreachable", True, None, "cannot connect (Connection refused)"),
        # an API error by type, but the product check comes first: no status kept
        (UnsupportedProductError("no header", _meta(200), {}), "not_elasticsearch", True, None,
         "is not Elasticsearch"),
        (SerializationError("not JSON"), "not_elasticsearch", True, None, "is not JSON"),
        (_api(401, {}), "auth", True, 401, "authentication failed (HTTP 401)"),
        (_api(403, {"error": {"type": "security_exception", "reason": "no"}}), "auth", True, 403,
         "privileges on logs-*"),
        (_api(404, {"error": {"type": "index_not_found_exception", "reason": "x"}}),
         "no_index", True, 404, "index pattern 'logs-*' matches no index"),
        (_api(404, {"error": "plain"}), "http", False, 404, "server error (HTTP 404): plain"),
        (_api(400, MEDIA), "version", True, 400, "set server_major"),
        (_api(400, {"error": {"type": "parsing_exception", "reason": "bad"}}),
         "bad_query", False, 400, "bad query (HTTP 400): parsing_exception: bad"),
        (_api(422, "text"), "bad_query", False, 422, "bad query (HTTP 422): text"),
        (_api(429, {}), "busy", False, 429, "too many requests (HTTP 429) after 2 retries"),
        (_api(504, {}), "timeout", True, 504, "the server gave up (HTTP 504)"),
        (_api(500, {"error": {"type": "x", "reason": "Timeout waiting"}}), "timeout", True, 500,
         "the server gave up (HTTP 500)"),
        (_api(503, {}), "server", False, 503, "server error (HTTP 503)"),
        (TransportError("odd"), "unreachable", True, None, "request failed (odd)"),
        (ValueError("bad  {value}"), "internal", True, None, "request failed (ValueError: bad {value})"),
    ],
)  # fmt: skip
def test_failures_table(exc: BaseException, kind: str, fatal: bool, status: Any, says: str) -> None:
    """The first row that matches wins: a narrower case above the broader one it belongs to."""
    src = ElasticsearchSource("es", {"hosts": ["http://u:pa55word@127.0.0.1:9"]}, SourceContext())
    failed = src.connection.failure(exc, "running query es:q3: pa55word", 2.5)
    assert (failed.kind, failed.fatal, failed.status) == (kind, fatal, status)
    message = str(failed)
    assert message.startswith("source 'es' (http://***@127.0.0.1:9): ") and says in message
    assert message.endswith("(while running query es:q3: ***)") and "pa55word" not in message
    assert src.connection.failure(failed, "", 1.0) is failed  # already mapped


def test_milliseconds_are_exact() -> None:
    t = dt.datetime(2026, 1, 12, 11, 0, 3, 750000, tzinfo=UTC)
    assert _ms(t) == 1768215603750 and _ms_to_dt(_ms(t)) == t
    assert _ms(dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == -1000


# --------------------------------------------------------------------------- settings


def test_schema_documents_every_key_and_validates() -> None:
    for dotted, key in document_keys(SETTINGS_SCHEMA):
        assert key.doc, dotted
    secret = {d for d, k in document_keys(SETTINGS_SCHEMA) if k.secret}
    assert secret == {"api_key", "password"}
    cfg = validate(
        {
            "sources": {
                "es": {
                    "type": "elasticsearch",
                    "hosts": "https://es.example:9200",
                    "index": ["app-*", "nginx-*"],
                    "timeout": "1m",
                    "filter": {"term": {"env": "prod"}},
                    "fields": {"service": "kubernetes.labels.app", "user_id": "off"},
                    "signatures": {"top": 10},
                    "changes": {"query": {"term": {"event.action": "deploy"}}},
                }
            }
        }
    )
    es = cfg["sources"]["es"]
    assert es["hosts"] == ["https://es.example:9200"] and es["timeout"] == 60.0
    assert es["fields_preset"] == "ecs" and es["fields"]["user_id"] == "off"
    assert es["fields"]["timestamp"] is None  # the preset's: @timestamp
    assert es["fields"]["host"] is None  # ECS default, used only when mapped
    with pytest.raises(ConfigError, match="did you mean"):
        validate({"sources": {"es": {"type": "elasticsearch", "indexes": "x"}}})


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        ElasticsearchSource("es", {"hosts": ["es.example:9200"]}, SourceContext())
    with pytest.raises(ConfigError, match="set hosts .* or cloud_id"):
        ElasticsearchSource("es", {"hosts": []}, SourceContext())
    with pytest.raises(ConfigError, match="index: give at least one"):
        ElasticsearchSource("es", {"index": [" "]}, SourceContext())
    with pytest.raises(ConfigError, match=r"sources.es.timeout: not a duration"):
        ElasticsearchSource("es", {"timeout": "soon"}, SourceContext())
    with pytest.raises(ConfigError, match="invalid connection settings"):
        ElasticsearchSource(
            "es", {"cloud_id": "not-a-cloud-id", "hosts": []}, SourceContext()
        )._client()


def test_secrets_are_known_for_scrubbing() -> None:
    import base64

    key = base64.b64encode(b"keyid123:verysecretpart").decode()
    src = ElasticsearchSource(
        "es",
        {"hosts": ["http://u:pa55word@127.0.0.1:9"], "api_key": key, "password": "hunter22"},
        SourceContext(),
    )
    text = f"x {key} verysecretpart hunter22 http://u:pa55word@127.0.0.1:9 y"
    scrubbed = src.scrub(text)
    for s in (key, "verysecretpart", "hunter22", "pa55word"):
        assert s not in scrubbed
    assert src.shown_url == "http://***@127.0.0.1:9"


# --------------------------------------------------------------------------- replay


class ReplayServer(BackgroundServer):
    """Answers each request with the first unanswered recorded exchange it matches (method,
    path, media type, body): the connector's parts run at once, so requests arrive in any
    order; ``alter(i, exchange)`` gets the exchange's place in the recording."""

    def __init__(
        self,
        exchanges: list[dict[str, Any]],
        alter: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.exchanges = exchanges
        self.alter = alter
        self.seen: list[dict[str, Any]] = []
        self.answered: list[int] = []  # the exchange each request matched, in arrival order
        self.mismatches: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                req = {
                    "method": self.command,
                    "path": self.path,
                    "accept": self.headers.get("Accept"),
                    "body": json.loads(data) if data else None,
                }
                got = _request_key(req)
                with server._lock:
                    server.seen.append(req)
                    i = next(
                        (
                            j
                            for j, ex in enumerate(server.exchanges)
                            if j not in server.answered and _request_key(ex) == got
                        ),
                        None,
                    )
                    if i is None:
                        server.mismatches.append(
                            f"request {len(server.seen) - 1}: {got!r} matches no recorded "
                            f"exchange left"
                        )
                    else:
                        server.answered.append(i)
                status, answer = 599, {"error": "no recorded exchange left"}
                if i is not None:
                    ex = server.exchanges[i]
                    ex = server.alter(i, copy.deepcopy(ex)) if server.alter else ex
                    status, answer = ex["status"], ex["response"]
                send_json(self, status, answer, {"X-Elastic-Product": "Elasticsearch"})

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return

        super().__init__(Handler)


def _request_key(ex: dict[str, Any]) -> tuple[Any, ...]:
    return (ex["method"], urllib.parse.urlsplit(ex["path"]).path, ex["accept"], ex["body"])


def recording(major: int) -> dict[str, Any]:
    return json.loads((REC / f"collect_es{major}.json").read_text(encoding="utf-8"))


FLAPPING = SCENARIOS["flapping"]()


def replay(
    major: int,
    alter: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None,
    redactor: Any = None,
) -> tuple[Any, ReplayServer]:
    rec = recording(major)
    with ReplayServer(rec["exchanges"], alter) as server:
        src = ElasticsearchSource(
            "logs",
            {"hosts": [server.url], "index": "pmrecon-rec-logs", "retries": 0},
            SourceContext(redactor=redactor),
        )
        ev = src.collect(
            CollectRequest(window=Window(*FLAPPING.window), baseline=Window(*FLAPPING.baseline))
        )
    assert not server.mismatches, server.mismatches
    assert len(server.seen) == len(rec["exchanges"])
    return ev, server


@pytest.mark.parametrize("major", [8, 9])
def test_recorded_collect_matches_truth(major: int) -> None:
    ev, server = replay(major, redactor=Redactor())
    truth = FLAPPING.truth
    logs = ev.logs
    assert logs is not None
    assert {k: sum(v) for k, v in logs.volume_by_level.counts.items()} == truth["logs"]["by_level"]
    assert logs.error_documents == truth["logs"]["errors"]
    assert logs.impacted_users == truth["logs"]["distinct_users"]
    new = {s.signature for s in logs.signatures if s.new_since_baseline}
    assert new == {"UpstreamTimeoutError", "PoolExhaustedError"}
    # each signature's first and last sighting in the baseline, as the documents say
    sightings = {
        s.signature: (s.baseline_first_seen, s.baseline_last_seen) for s in logs.signatures
    }
    assert sightings == baseline_sightings(FLAPPING, {s.signature for s in logs.signatures})
    assert ev.sources[0].version == recording(major)["version"]
    assert ev.sources[0].settings["compatible_with"] == major
    assert ev.warnings == []
    json.dumps(to_jsonable(ev))
    # compatibility headers: plain JSON while detecting the version, then the server's major
    accepts = [r["accept"] for r in server.seen]
    assert accepts[:2] == ["application/json", "application/json"]
    assert set(accepts[2:]) == {f"application/vnd.elasticsearch+json; compatible-with={major}"}


def _with_shard_failure(i: int, ex: dict[str, Any]) -> dict[str, Any]:
    if ex["path"].endswith("/_search") and i == 4:  # the error histogram
        ex["response"]["_shards"].update(
            {
                "total": 3,
                "successful": 2,
                "failed": 1,
                "failures": [
                    {
                        "shard": 0,
                        "index": "pmrecon-rec-logs-old",
                        "reason": {
                            "type": "illegal_argument_exception",
                            "reason": "Fielddata is disabled",
                        },
                    }
                ],
            }
        )
    if ex["path"].endswith("/_search") and i == 5:  # the users cardinality
        ex["response"]["timed_out"] = True
    return ex


def test_shard_failures_and_timed_out_answers_become_warnings() -> None:
    ev, _ = replay(9, _with_shard_failure)
    codes = [w.code for w in ev.warnings]
    assert codes == ["shard_failures", "timed_out"]
    shard = ev.warnings[0].message
    assert shard == (
        "source 'logs': partial results: 1 of 3 shards failed for error logs per service over "
        "time (query logs:q5): illegal_argument_exception: Fielddata is disabled"
    )
    assert (
        "cut distinct users with an error (cardinality) short (query logs:q6)"
        in ev.warnings[1].message
    )
    recs = {q.id: q for q in ev.sources[0].queries}
    assert recs["logs:q5"].warnings == [shard] and recs["logs:q6"].warnings
    assert ev.logs is not None and ev.logs.error_documents == FLAPPING.truth["logs"]["errors"]


def _bad_cardinality(i: int, ex: dict[str, Any]) -> dict[str, Any]:
    if i == 5:
        ex["status"] = 400
        ex["response"] = {
            "error": {
                "type": "illegal_argument_exception",
                "reason": "Field [user.id] of type [text] is not supported",
            },
            "status": 400,
        }
    return ex


def test_a_failing_optional_query_is_a_warning() -> None:
    ev, _ = replay(8, _bad_cardinality)
    assert ev.logs is not None and ev.logs.impacted_users is None
    (warn,) = ev.warnings
    assert warn.code == "users_failed"
    assert "bad query (HTTP 400): illegal_argument_exception: Field [user.id]" in warn.message
    assert (
        "(while running query logs:q6: distinct users with an error (cardinality))" in warn.message
    )


DENIED = {
    "error": {
        "type": "security_exception",
        "reason": "action [cluster:monitor/main] is unauthorized for API key id [k1]",
    },
    "status": 403,
}


def test_version_probe_when_root_and_nodes_are_refused() -> None:
    """An 8.x server and an API key without 'monitor': the compatibility probe names the major."""
    rec = recording(8)
    media = {
        "error": {
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept]",
            "caused_by": {
                "type": "status_exception",
                "reason": "Accept version must be either version 8 or 7, but found 9.",
            },
        },
        "status": 400,
    }
    probe = {
        "method": "GET",
        "path": "/pmrecon-rec-logs/_field_caps",
        "accept": "application/vnd.elasticsearch+json; compatible-with=9",
        "body": None,
        "status": 400,
        "response": media,
    }
    exchanges = [
        {**rec["exchanges"][0], "status": 403, "response": DENIED},
        {**rec["exchanges"][1], "status": 403, "response": DENIED},
        probe,
        *rec["exchanges"][2:],
    ]
    with ReplayServer(exchanges) as server:
        src = ElasticsearchSource(
            "logs",
            {"hosts": [server.url], "index": "pmrecon-rec-logs", "retries": 0},
            SourceContext(),
        )
        ev = src.collect(
            CollectRequest(window=Window(*FLAPPING.window), baseline=Window(*FLAPPING.baseline))
        )
    assert not server.mismatches, server.mismatches
    assert ev.sources[0].version == "8.x"
    assert ev.sources[0].settings["compatible_with"] == 8
    assert ev.logs is not None and ev.logs.error_documents == FLAPPING.truth["logs"]["errors"]


def test_server_major_setting_when_the_version_cannot_be_read() -> None:
    rec = recording(8)
    compat8 = "application/vnd.elasticsearch+json; compatible-with=8"
    exchanges = [  # with server_major set, even the first requests carry its header
        {**rec["exchanges"][0], "status": 403, "response": DENIED, "accept": compat8},
        {**rec["exchanges"][1], "status": 403, "response": DENIED, "accept": compat8},
        *rec["exchanges"][2:],
    ]
    with ReplayServer(exchanges) as server:
        src = ElasticsearchSource(
            "logs",
            {"hosts": [server.url], "index": "pmrecon-rec-logs", "retries": 0, "server_major": 8},
            SourceContext(),
        )
        ev = src.collect(
            CollectRequest(window=Window(*FLAPPING.window), baseline=Window(*FLAPPING.baseline))
        )
    assert not server.mismatches, server.mismatches
    assert ev.sources[0].version == "8.x" and ev.sources[0].settings["compatible_with"] == 8
    assert ev.warnings == []


def test_cloud_id_wins_over_hosts_and_shows_only_the_deployment_name() -> None:
    import base64

    cloud = "prod-logs:" + base64.b64encode(b"eu-west-1.aws.found.io:443$abc123$def456").decode()
    src = ElasticsearchSource(
        "es", {"cloud_id": cloud, "api_key": "id1:secret-value"}, SourceContext()
    )
    assert src.hosts == []
    assert src.shown_url == "Elastic Cloud deployment 'prod-logs'"
    client = src._client()
    try:
        node = client.transport.node_pool.all()[0]
        assert node.base_url.startswith("https://abc123.eu-west-1.aws.found.io")
    finally:
        src.close()


def _run(
    exchanges: list[dict[str, Any]],
    alter: Callable[[int, dict[str, Any]], dict[str, Any]] | None,
    **settings: Any,
) -> tuple[Any, ReplayServer]:
    """A collect against the replaying server: its evidence, or the exception it raised."""
    with ReplayServer(exchanges, alter) as server:
        src = ElasticsearchSource(
            "logs",
            {"hosts": [server.url], "index": "pmrecon-rec-logs", "retries": 0, **settings},
            SourceContext(),
        )
        try:
            out: Any = src.collect(
                CollectRequest(window=Window(*FLAPPING.window), baseline=Window(*FLAPPING.baseline))
            )
        except ConnectorError as exc:
            out = exc
        workers = [t for t in threading.enumerate() if t.name.startswith("pmrecon-logs")]
        assert workers == []  # no part left running once collect is over
    assert not server.mismatches, server.mismatches
    return out, server


def _denied_at(*failing: int) -> Callable[[int, dict[str, Any]], dict[str, Any]]:
    def alter(i: int, ex: dict[str, Any]) -> dict[str, Any]:
        if i in failing:
            ex["status"], ex["response"] = 403, DENIED
        return ex

    return alter


@pytest.mark.parametrize(
    ("failing", "query"),
    [
        ((12,), "logs:q13: change events"),  # the last part, after the samples
        ((3, 12), "logs:q4: log volume per level"),  # the first failure in sequential order wins
        ((8,), "logs:q9: error signatures by normalised message"),  # before the samples
    ],
)
def test_a_fatal_error_is_the_sequential_runs_at_any_concurrency(
    failing: tuple[int, ...], query: str
) -> None:
    rec = recording(9)["exchanges"]
    one, seq = _run(rec, _denied_at(*failing), max_concurrency=1)
    four, par = _run(rec, _denied_at(*failing), max_concurrency=4)
    assert isinstance(one, ConnectorError) and type(four) is type(one)
    assert four.format_message().replace(par.url, seq.url) == one.format_message()
    assert f"(while running query {query}" in one.format_message()
    assert isinstance(one.__cause__, RequestFailed) and isinstance(four.__cause__, RequestFailed)
    assert (four.__cause__.kind, four.__cause__.fatal) == ("auth", True)
    # sequentially nothing is asked after the failure
    assert len(seq.seen) == min(failing) + 1


def test_bytes_received_are_the_bodies_received() -> None:
    rec = recording(8)["exchanges"]
    ev, server = _run(rec, None)
    queries = ev.sources[0].queries
    searches = [q for q in queries if q.endpoint and q.endpoint.endswith("/_search")]
    assert all(isinstance(q.bytes_received, int) and q.bytes_received > 0 for q in searches)
    # the replaying server sends each answer as compact JSON; 8.x refuses GET / (HTTP 405),
    # and a refused request records no size
    sent = [len(json.dumps(rec[i]["response"]).encode()) for i in server.answered]
    ok = [n for i, n in zip(server.answered, sent) if rec[i]["status"] == 200]
    assert sum(q.bytes_received or 0 for q in queries) == sum(ok)


def test_redactions_are_counted_per_collect() -> None:
    redactor = Redactor()
    redactor.counts["email"] += 7  # masked earlier in the build, by someone else
    ev, _ = replay(9, redactor=redactor)
    assert ev.logs is not None
    assert ev.logs.redactions.get("email", 0) == 0  # the flapping logs hold no e-mail
    assert redactor.counts["email"] == 7
