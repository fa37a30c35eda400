"""A credential a server quotes where pmrecon cuts its text shows in no part.

Issue 14 ("truncated before scrubbed"): the Elasticsearch connector cut a server's error
text (300 characters of the error body, 200 of a client's message) before it scrubbed the
secrets, so a credential straddling the cut kept its first characters in the message.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.connectors.elasticsearch.es_answers import search_answer
from tests.connectors.elasticsearch.test_elasticsearch_errors import (
    REQ,
    FakeES,
    collect_error,
    es_like,
    source,
)

SECRET = "api-S3CRET-4711-0123456789abcdef"
API_KEY = f"key-id-42:{SECRET}"
ENCODED = base64.b64encode(API_KEY.encode()).decode()
TYPE = "illegal_argument_exception"


def _pieces(secret: str) -> list[str]:
    """The secret's prefixes and suffixes of 6 characters or more: what a cut leaves."""
    return [secret[:n] for n in range(6, len(secret))] + [
        secret[-n:] for n in range(6, len(secret))
    ]


#: How a server's error body quotes a text, and where the connector cuts the detail:
#: (id, cut, characters before the text in the detail, body around ``text``).
BODIES: list[tuple[str, int, int, Any]] = [
    ("error-object", 400, len(TYPE) + 2, lambda text: {"error": {"type": TYPE, "reason": text}}),
    ("error-text", 300, 0, lambda text: {"error": text}),
]


@pytest.mark.parametrize("secret", [SECRET, ENCODED], ids=["key", "authorization-header"])
@pytest.mark.parametrize("before", [10, 20], ids=["10-before-the-cut", "20-before-the-cut"])
@pytest.mark.parametrize(
    ("cut", "lead", "body"), [b[1:] for b in BODIES], ids=[b[0] for b in BODIES]
)
def test_a_secret_quoted_across_the_cut_of_an_error_body_shows_in_no_part(
    secret: str, before: int, cut: int, lead: int, body: Any
) -> None:
    """The secret starts ``before`` characters before the connector cuts the detail."""
    text = "x" * (cut - before - lead) + secret + " was refused"

    def search(_: Any) -> tuple[int, Any]:
        return 400, body(text)

    with FakeES(es_like(search)) as fake:
        message = collect_error(fake.url, retries=0, api_key=API_KEY)
    assert "bad query (HTTP 400)" in message and "x" * 50 in message, message
    assert [p for p in _pieces(secret) if p in message] == [], message


@pytest.mark.parametrize("at", [140, 150, 160])
def test_a_secret_in_an_answer_that_is_not_json_shows_in_no_part(at: int) -> None:
    """The client's message quoting the body is cut at 200 characters."""
    body = ("y" * at + ENCODED + " " + "z" * 300).encode()
    with FakeES(
        lambda m, p, b: (200, {"version": {"number": "9.5.4"}}) if p == "/" else (200, body)
    ) as fake:
        message = collect_error(fake.url, retries=0, api_key=API_KEY)
    assert "the answer is not JSON" in message, message
    assert [p for p in _pieces(ENCODED) if p in message] == [], message


@pytest.mark.parametrize("secret", [SECRET, ENCODED], ids=["key", "authorization-header"])
@pytest.mark.parametrize("before", [10, 20], ids=["10-before-the-cut", "20-before-the-cut"])
def test_a_secret_a_shard_failure_quotes_across_the_cut_shows_in_no_part(
    secret: str, before: int
) -> None:
    """Shard-failure reasons are cut to 300 characters in the warning: scrubbed first."""
    lead = len("circuit_breaking_exception: ")
    text = "x" * (300 - before - lead) + secret + " was refused"

    def search(body: Any) -> tuple[int, Any]:
        return 200, {
            "timed_out": False,
            "_shards": {
                "total": 2,
                "successful": 1,
                "failed": 1,
                "failures": [{"reason": {"type": "circuit_breaking_exception", "reason": text}}],
            },
            "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
            "aggregations": search_answer(body).get("aggregations"),
        }

    with FakeES(es_like(search)) as fake:
        ev = source(fake.url, api_key=API_KEY).collect(REQ)
    warns = [w.message for w in ev.warnings if w.code == "shard_failures"]
    assert warns and all("x" * 50 in m for m in warns), warns
    assert [p for m in warns for p in _pieces(secret) if p in m] == [], warns
