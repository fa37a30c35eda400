"""The OpenSearch flavour without a server: its client's failures read by the shared table,
its settings, and a server that is not OpenSearch refused with the type to use."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy.exceptions import (
    AuthenticationException,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    SerializationError,
    SSLError,
    TransportError,
)

import connectors
from connectors.base import SourceContext
from connectors.opensearch import SETTINGS_SCHEMA, OpenSearchSource
from pmrecon.config import validate
from pmrecon.errors import ConfigError
from tests.infra.prometheus import FakeHTTPServer, FakeRequest

NO_INDEX = {"error": {"type": "index_not_found_exception", "reason": "no such index [x]"}}


@pytest.mark.parametrize(
    ("exc", "kind", "status", "says"),
    [
        (SSLError("N/A", "[SSL: WRONG_VERSION_NUMBER] wrong version (x)", OSError()), "tls", None,
         "TLS handshake failed"),
        (ConnectionTimeout("TIMEOUT", "timed out", OSError()), "timeout", None, "no answer within"),
        (ConnectionError("N/A", "Connection refused", ConnectionRefusedError("Connection refused")),
         "unreachable", None, "check hosts and that OpenSearch is running"),
        (SerializationError("not JSON"), "not_elasticsearch", None, "is not JSON"),
        (AuthenticationException(401, "unauthorized", {}), "auth", 401, "authentication failed"),
        (NotFoundError(404, "index_not_found_exception", NO_INDEX), "no_index", 404,
         "index pattern 'logs-*' matches no index"),
        (TransportError(429, "busy", {}), "busy", 429, "too many requests (HTTP 429)"),
        (TransportError(503, "unavailable", {}), "server", 503, "server error (HTTP 503)"),
    ],
)  # fmt: skip
def test_client_failures_read_by_the_shared_table(
    exc: BaseException, kind: str, status: Any, says: str
) -> None:
    src = OpenSearchSource("os", {"hosts": ["http://u:pa55word@127.0.0.1:9"]}, SourceContext())
    failed = src.connection.failure(exc, "running query os:q1", 2.5)
    assert (failed.kind, failed.status) == (kind, status)
    assert str(failed).startswith("source 'os' (http://***@127.0.0.1:9): ") and says in str(failed)


def test_settings_are_the_elasticsearch_ones_without_elastic_s_own() -> None:
    assert not {"cloud_id", "api_key", "server_major"} & set(SETTINGS_SCHEMA)
    assert {"hosts", "index", "fields", "signatures", "samples", "changes"} <= set(SETTINGS_SCHEMA)
    assert "opensearch" in connectors.available()
    cfg = validate({"sources": {"logs": {"type": "opensearch", "hosts": "http://os:9200"}}})
    assert cfg["sources"]["logs"]["index"] == ["logs-*"]
    with pytest.raises(ConfigError, match="cloud_id"):
        validate({"sources": {"logs": {"type": "opensearch", "cloud_id": "x:y"}}})


def elasticsearch_root(req: FakeRequest) -> tuple[int, dict[str, Any]]:
    return 200, {"version": {"number": "9.5.4", "build_flavor": "default"}, "tagline": "Search"}


def test_a_server_that_is_not_opensearch_is_refused_with_the_type_to_use() -> None:
    with FakeHTTPServer(elasticsearch_root) as server:
        src = OpenSearchSource("logs", {"hosts": [server.url], "retries": 0}, SourceContext())
        lines = {r.check: r for r in src.check()}
    assert not lines["reachable"].ok
    assert "the server is not OpenSearch" in lines["reachable"].detail
    assert "use type: elasticsearch" in lines["reachable"].detail
    assert lines["reachable"].fix == "hosts does not point at OpenSearch"
