"""The connector toolkit: secrets and scrubbing, the retry policy, the check-failure table,
the query recorder, and how the config reaches the connectors (public functions only)."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path

import pytest

import connectors
from connectors.alertmanager import AlertmanagerSource
from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource
from connectors.toolkit.credentials import MASK, collect_secrets, scrub
from connectors.toolkit.failures import RequestFailed, check_failure, is_dns_error, major, short
from connectors.toolkit.recording import QueryRecorder
from connectors.toolkit.retry import TRANSIENT_STATUS, RetryPolicy
from pmrecon.config import validate
from pmrecon.errors import ConnectorNotFound
from pmrecon.settings_schema import Key
from tests.infra.prometheus import FakeHTTPServer

ROOT = Path(__file__).resolve().parents[2]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------- secrets


def test_collect_secrets_finds_every_form_a_credential_is_sent_in() -> None:
    settings = {
        "url": "https://viewer:p%40ss-url-9@prom.example.com/prometheus",
        "headers": {"X-Api-Key": "hdr-value-31", "X-Scope-OrgID": "tenant-7"},
        "bearer_token": "tok-abcdef",
        "username": "admin",
        "password": "pw-123456",
        "api_key": "key-id-42:api-secret-4711",
        "nested": {"token": "deep-token-1"},
    }
    schema = {"nested": {"token": Key("str", None, "a credential", secret=True)}}
    found = collect_secrets(settings, schema)
    expected = {
        "tok-abcdef",  # bearer token
        "hdr-value-31",  # header values: an API key ...
        "tenant-7",  # ... and a tenant, which selects whose data is read
        "pw-123456",
        b64("admin:pw-123456"),  # the Basic header built from username/password
        "p%40ss-url-9",  # the URL's password as written (in messages quoting the URL) ...
        "p@ss-url-9",  # ... and decoded
        b64("viewer:p@ss-url-9"),  # the Basic header requests builds from the URL
        "key-id-42:api-secret-4711",
        b64("key-id-42:api-secret-4711"),  # an id:key API key is sent in base64
        "key-id-42",
        "api-secret-4711",
        "deep-token-1",  # marked secret by the connector's schema
    }
    assert set(found) == expected
    assert [len(s) for s in found] == sorted((len(s) for s in found), reverse=True)


def test_a_base64_api_key_gives_its_parts() -> None:
    key = b64("key-id-42:api-secret-4711")
    assert {key, "key-id-42", "api-secret-4711"} <= set(collect_secrets({"api_key": key}))


def test_scrub_replaces_the_longest_secret_first_and_keeps_short_values() -> None:
    text = "a tok-abcdef-longer b tok-abcdef c pw d https://u:p@h:9/x e //x:y@h"
    got = scrub(text, ["tok-abcdef", "tok-abcdef-longer", "pw"])
    assert got == f"a {MASK} b {MASK} c pw d https://***@h:9/x e //***@h"
    assert scrub("x tok-abcdef y", ["tok-abcdef"], mask="[REDACTED]") == "x [REDACTED] y"


def _echo_headers(req):  # noqa: ANN001, ANN202
    """A proxy that refuses the request and quotes the credentials it got."""
    return 400, f"bad request: key={req.headers['X-Api-Key']} auth={req.headers['Authorization']}"


@pytest.mark.parametrize("kind", ["prometheus", "alertmanager"])
def test_a_server_quoting_the_request_leaks_no_credential(kind: str) -> None:
    """Header values and the base64 Basic header were quoted back before they were collected."""
    settings = {
        "headers": {"X-Api-Key": "hdr-value-31"},
        "username": "admin",
        "password": "pw-123456",
        "retries": 0,
    }
    with FakeHTTPServer(_echo_headers) as fake:
        factory = PrometheusSource if kind == "prometheus" else AlertmanagerSource
        source = factory("src", {"url": fake.url, **settings}, SourceContext())
        with pytest.raises(RequestFailed) as caught:
            source.http.call("/api/v1/status/buildinfo")
        sent = fake.requests[0].headers
    assert sent["X-Api-Key"] == "hdr-value-31" and b64("admin:pw-123456") in sent["Authorization"]
    message = str(caught.value)
    assert "bad request" in message and MASK in message
    assert "hdr-value-31" not in message and b64("admin:pw-123456") not in message


def test_config_secrets_come_from_the_same_collector() -> None:
    cfg = validate(
        {
            "sources": {
                "prom": {
                    "type": "prometheus",
                    "url": "http://u:url-pass-1@h:9090",
                    "headers": {"X-Api-Key": "hdr-value-31"},
                },
                "es": {"type": "elasticsearch", "api_key": "key-id-42:api-secret-4711"},
            }
        }
    )
    from pmrecon.config import Config

    secrets = Config(cfg).secrets
    assert {"url-pass-1", b64("u:url-pass-1"), "hdr-value-31"} <= set(secrets)
    assert {b64("key-id-42:api-secret-4711"), "api-secret-4711"} <= set(secrets)


def test_a_secret_quoted_where_the_message_is_cut_shows_in_no_part() -> None:
    """The server's text is cut to 200 characters: it is scrubbed before, not after."""
    token = "tok-0123456789abcdef"
    body = "x" * 185 + f" {token} was refused"  # the token runs over character 200
    with FakeHTTPServer(lambda req: (400, body)) as fake:
        source = PrometheusSource("p", {"url": fake.url, "bearer_token": token}, SourceContext())
        with pytest.raises(RequestFailed) as caught:
            source.http.call("/api/v1/query")
    message = str(caught.value)
    assert f"{'x' * 185} ***" in message and "tok-0" not in message, message


# --------------------------------------------------------------------------- retries


def test_one_retry_policy_differs_only_on_http_500() -> None:
    plain = RetryPolicy(retries=2)
    assert plain.statuses == TRANSIENT_STATUS == (429, 502, 503, 504)
    assert RetryPolicy(retries=2, internal_errors=True).statuses == (429, 500, 502, 503, 504)
    retry = RetryPolicy.from_settings({"retries": 3, "retry_backoff": 0.25}).urllib3()
    assert (retry.total, retry.connect, retry.status, retry.read, retry.backoff_factor) == (
        3,
        3,
        3,
        0,  # a read timeout is never repeated
        0.25,
    )
    # the Prometheus family repeats a 500 (a store behind a querier failing for a moment)
    prom = PrometheusSource("p", {"url": "http://127.0.0.1:9"}, SourceContext())
    am = AlertmanagerSource("a", {"url": "http://127.0.0.1:9"}, SourceContext())
    assert 500 in prom.http.retry.statuses and 500 in am.http.retry.statuses


def test_alertmanager_repeats_an_internal_error() -> None:
    answers = iter([(500, "internal error"), (200, {"versionInfo": {"version": "0.25.0"}})])
    with FakeHTTPServer(lambda req: next(answers)) as fake:
        am = AlertmanagerSource("am", {"url": fake.url, "retry_backoff": 0.01}, SourceContext())
        assert am.http.call("/api/v2/status").data == {"versionInfo": {"version": "0.25.0"}}
        assert len(fake.requests) == 2


# --------------------------------------------------------------------------- failures


def test_check_failure_tells_reachable_from_unreachable() -> None:
    fixes = {"auth": "set the token", "unreachable": "start the server"}
    down = check_failure("s", RequestFailed("down", "unreachable", True), fixes, ("auth",))
    assert [(c.check, c.ok, c.detail, c.fix) for c in down] == [
        ("reachable", False, "down", "start the server")
    ]
    refused = check_failure("s", RequestFailed("401", "auth", True), fixes, ("auth",))
    assert [(c.check, c.ok, c.fix) for c in refused] == [
        ("reachable", True, ""),
        ("authenticated", False, "set the token"),
    ]
    tls = check_failure("s", RequestFailed("tls", "tls", True), fixes, ("auth",))
    assert "tls.ca_file" in tls[0].fix  # the toolkit's common fixes fill in the table


def test_small_helpers() -> None:
    assert is_dns_error("NameResolutionError(...)") and not is_dns_error("Connection refused")
    assert (
        major("v2.42.0") == 2 and major("9.1") == 9 and major(None) is None and major("x") is None
    )
    assert short("a\n  b " * 100, 10) == "a b a b a " and len(short("x" * 500)) == 200


def test_recorder_numbers_records_and_keeps_failures() -> None:
    rec = QueryRecorder("prom")
    first = rec.record("server version", endpoint="/api/v1/status/buildinfo")
    second = rec.record("SLI error_ratio for a", "q", sli="error_ratio", service="a")
    assert [first.id, second.id] == ["prom:q1", "prom:q2"]
    assert (second.sli, second.service, second.baseline) == ("error_ratio", "a", False)
    rec.reset(renumber=False)
    assert rec.records == [] and rec.record("x").id == "prom:q3"
    rec.reset()
    assert rec.record("x").id == "prom:q1"


# --------------------------------------------------------------------------- config ↔ connectors


def test_config_reaches_connectors_through_public_functions(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(connectors, "_REGISTRY", dict(connectors._REGISTRY))
    assert connectors.settings_schema("prometheus")["url"].default == "http://127.0.0.1:9090"
    with pytest.raises(ConnectorNotFound, match="did you mean 'prometheus'"):
        connectors.settings_schema("prometeus")
    connectors.register("quoting", "tests.test_secrets:QuotingSource")
    assert "quoting" in connectors.available()
    data = validate({"sources": {"logs": {"type": "quoting", "token": "abcdefgh"}}})
    assert data["sources"]["logs"]["token"] == "abcdefgh"
    with pytest.raises(Exception, match=re.escape("unknown key sources.logs.'tokn'")):
        validate({"sources": {"logs": {"type": "quoting", "tokn": "x"}}})
    assert connectors.source_secrets("quoting", {"token": "abcdefgh"}) == ["abcdefgh"]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_connectors_do_not_import_the_config_and_the_schema_module_is_a_leaf() -> None:
    for path in sorted((ROOT / "connectors").rglob("*.py")):
        if "elasticsearch" in path.parts[-1] or "elasticsearch" in path.parts:
            continue  # moves to the toolkit in its own change
        assert "pmrecon.config" not in _imports(path), path
    config_source = (ROOT / "pmrecon" / "config.py").read_text(encoding="utf-8")
    assert "_REGISTRY" not in config_source
    ours = {"pmrecon", "connectors"}
    leaf = _imports(ROOT / "pmrecon" / "settings_schema.py")
    assert not {m for m in leaf if m.split(".")[0] in ours}, leaf
