"""A server that answers valid JSON of the wrong shape fails the source cleanly: "answered
something that is not an Elasticsearch response (what is wrong, where)", exit 3, one line,
never "internal error in the elasticsearch connector".

Issue 14. The fake server answers every request kind the connector makes (root, nodes,
field capabilities, each search of a collect, the composite scan's pages, a point in time's
opening and pages) as the API does, except the kind under test, which gets one part
changed (see :func:`es_answers.put`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SourceContext
from connectors.elasticsearch import ElasticsearchSource
from connectors.elasticsearch.shapes import answer_problem
from connectors.opensearch import OpenSearchSource
from pmrecon.errors import EXIT_SOURCE, ConnectorError
from tests.connectors.elasticsearch.es_answers import (
    CAPS,
    DROP,
    OPENSEARCH_ROOT,
    ROOT,
    put,
    search_answer,
)
from tests.connectors.elasticsearch.test_elasticsearch_errors import REQ, FakeES
from tests.connectors.test_source_answers import build_error_line

Request = tuple[str, str, Any]  # method, path without its query, body


def _search(path: str, body: Any) -> dict[str, Any] | None:
    """The body of a search (None: the request is not one)."""
    return body if path.endswith("/_search") and isinstance(body, dict) else None


def _aggs(path: str, body: Any) -> dict[str, Any]:
    return (_search(path, body) or {}).get("aggs") or {}


#: The request kinds of the connector, by what tells them apart.
KINDS: dict[str, Callable[[str, str, Any], bool]] = {
    "root": lambda m, p, b: p == "/",
    "nodes": lambda m, p, b: p.startswith("/_nodes"),
    "field_caps": lambda m, p, b: p.endswith("/_field_caps"),
    "volume": lambda m, p, b: "levels" in _aggs(p, b),
    "errors": lambda m, p, b: "services" in _aggs(p, b),
    "users": lambda m, p, b: "users" in _aggs(p, b),
    "count": lambda m, p, b: (_search(p, b) or {}).get("size") == 0 and not _aggs(p, b),
    "composite": lambda m, p, b: "sig" in _aggs(p, b),
    "hits": lambda m, p, b: (_search(p, b) or {}).get("size", 0) > 0 and "pit" not in b,
    "pit_open": lambda m, p, b: m == "POST" and p.endswith(("/_pit", "/_search/point_in_time")),
    "pit_page": lambda m, p, b: "pit" in (_search(p, b) or {}),
}


def valid_answer(method: str, path: str, body: Any, opensearch: bool) -> tuple[int, Any]:
    """What the API answers ``method path``: the server of a collect that goes to its end."""
    if path == "/":
        return 200, OPENSEARCH_ROOT if opensearch else ROOT
    if path.startswith("/_nodes"):
        return 200, {"nodes": {"n1": {"version": "9.5.4"}}}
    if path.endswith("/_field_caps"):
        return 200, CAPS
    if method == "DELETE":
        return 200, {"succeeded": True, "num_freed": 1}
    if path.endswith(("/_pit", "/_search/point_in_time")):
        return 200, {"pit_id" if opensearch else "id": "pit-1"}
    return 200, search_answer(body)


def shaped_es(
    kind: str,
    path: tuple[Any, ...],
    value: Any,
    *,
    opensearch: bool = False,
    seen: set[str] | None = None,
) -> FakeES:
    """A fake server whose answers to the requests of ``kind`` hold ``value`` at ``path``;
    ``seen`` collects the kinds of the requests it answers."""

    def handler(method: str, target: str, body: Any) -> tuple[int, Any]:
        where = target.split("?", 1)[0]
        if kind == "nodes" and where == "/":
            return 403, {"error": {"type": "security_exception", "reason": "no monitor"}}
        status, answer = valid_answer(method, where, body, opensearch)
        kinds = {k for k, is_kind in KINDS.items() if is_kind(method, where, body)}
        if seen is not None:
            seen.update(kinds)
        if method != "DELETE" and kind in kinds:
            answer = put(answer, path, value)
        return status, answer

    return FakeES(handler)


#: A point in time is opened when more change events are asked than one page holds.
PIT_SETTINGS = {"changes": {"max_events": 600}}
#: The settings of a collect asking each kind: the change events on one page for "hits".
SETTINGS = {kind: {"retries": 0, **PIT_SETTINGS} for kind in KINDS}
SETTINGS["hits"] = {"retries": 0, "changes": {"max_events": 50}}

#: (id, request kind, where in its answer, the value put there, words of the error)
WRONG_SHAPES: list[tuple[str, str, tuple[Any, ...], Any, str]] = [
    ("root-list", "root", (), [1, 2], "the answer is a list, not an object"),
    ("root-version-text", "root", ("version",), "9.5.4", "version is text, not an object"),
    ("root-number-number", "root", ("version", "number"), 9, "version.number is a number, not text"),
    ("nodes-list", "nodes", ("nodes",), ["n1"], "nodes is a list, not an object"),
    ("nodes-version", "nodes", ("nodes", "n1"), "9.5.4", "nodes.n1 is text, not an object"),
    ("caps-text", "field_caps", (), json.dumps("fields"), "the answer is text, not an object"),
    ("caps-fields-list", "field_caps", ("fields",), [], "fields is a list, not an object"),
    ("caps-fields-missing", "field_caps", ("fields",), DROP, "fields is null, not an object"),
    ("caps-field-list", "field_caps", ("fields", "log.level"), ["keyword"], "fields.log.level is a list"),
    ("caps-type-text", "field_caps", ("fields", "message", "text"), "text", "fields.message.text is text"),
    ("caps-indices-text", "field_caps", ("indices",), "logs-1", "indices is text, not a list"),
    ("search-list", "volume", (), [], "the answer is a list, not an object"),
    ("hits-list", "volume", ("hits",), [], "hits is a list, not an object"),
    ("hits-missing", "volume", ("hits",), DROP, "hits is null, not an object"),
    ("total-text", "volume", ("hits", "total"), "many", "hits.total is text, not a number"),
    ("total-value-text", "volume", ("hits", "total", "value"), "1", "hits.total.value is text, not a number"),
    ("aggregations-missing", "volume", ("aggregations",), DROP, "aggregations is missing"),
    ("aggregations-text", "volume", ("aggregations",), "levels", "aggregations is text, not an object"),
    ("agg-missing", "volume", ("aggregations", "levels"), DROP, "aggregations.levels is missing"),
    ("buckets-mapping", "volume", ("aggregations", "levels", "buckets"), {"info": {}}, "aggregations.levels.buckets is an object, not a list"),
    ("bucket-number", "volume", ("aggregations", "levels", "buckets", 0), 3, "aggregations.levels.buckets[0] is a number, not an object"),
    ("doc-count-text", "volume", ("aggregations", "levels", "buckets", 0, "doc_count"), "3", "buckets[0].doc_count is text, not a number"),
    ("sub-agg-missing", "volume", ("aggregations", "levels", "buckets", 0, "t"), DROP, "aggregations.levels.buckets[0].t is missing"),
    ("histogram-key-text", "volume", ("aggregations", "levels", "buckets", 0, "t", "buckets", 0, "key"), "noon", "aggregations.levels.buckets[0].t.buckets[0].key is text, not a number"),
    ("histogram-key-infinite", "volume", ("aggregations", "levels", "buckets", 0, "t", "buckets", 0, "key"), float("inf"), "t.buckets[0].key is inf, not a finite number"),
    ("histogram-key-far", "volume", ("aggregations", "levels", "buckets", 0, "t", "buckets", 0, "key"), 1e20, "t.buckets[0].key is 1e+20, not a time between 1900 and 9000"),
    ("doc-count-nan", "volume", ("aggregations", "levels", "buckets", 0, "doc_count"), float("nan"), "buckets[0].doc_count is nan, not a finite number"),
    ("doc-count-huge", "volume", ("aggregations", "levels", "buckets", 0, "t", "buckets", 0, "doc_count"), 1e308, "t.buckets[0].doc_count is 1e+308, not a count"),
    ("doc-count-negative", "volume", ("aggregations", "levels", "buckets", 0, "doc_count"), -3, "buckets[0].doc_count is -3, not a count"),
    ("total-fraction", "volume", ("hits", "total", "value"), 2.5, "hits.total.value is 2.5, not a count"),
    ("other-count-list", "volume", ("aggregations", "levels", "sum_other_doc_count"), [1], "sum_other_doc_count is a list, not a number"),
    ("shards-list", "volume", ("_shards",), [], "_shards is a list, not an object"),
    ("shards-failed-text", "volume", ("_shards", "failed"), "one", "_shards.failed is text, not a number"),
    ("shard-failures-text", "volume", ("_shards", "failures"), "boom", "_shards.failures is text, not a list"),
    ("timed-out-text", "volume", ("timed_out",), "no", "timed_out is text, not a boolean"),
    ("services-buckets-text", "errors", ("aggregations", "services", "buckets"), "x", "aggregations.services.buckets is text"),
    ("min-text", "errors", ("aggregations", "first", "value"), "soon", "aggregations.first.value is text, not a number"),
    ("min-far", "errors", ("aggregations", "first", "value"), -1e20, "aggregations.first.value is -1e+20, not a time between 1900 and 9000"),
    ("cardinality-infinite", "users", ("aggregations", "users", "value"), float("inf"), "aggregations.users.value is inf, not a finite number"),
    ("cardinality-list", "users", ("aggregations", "users", "value"), [7], "aggregations.users.value is a list"),
    ("cardinality-text", "users", ("aggregations", "users"), "7", "aggregations.users is text, not an object"),
    ("count-text", "count", ("hits", "total", "value"), "12", "hits.total.value is text, not a number"),
    ("count-hits-list", "count", ("hits",), [12], "hits is a list, not an object"),
    ("composite-key-text", "composite", ("aggregations", "sig", "buckets", 0, "key"), "boom", "aggregations.sig.buckets[0].key is text, not an object"),
    ("composite-last-far", "composite", ("aggregations", "sig", "buckets", 0, "w", "last", "value"), 1e300, "w.last.value is 1e+300, not a time between 1900 and 9000"),
    ("composite-after-list", "composite", ("aggregations", "sig", "after_key"), ["boom"], "aggregations.sig.after_key is a list, not an object"),
    ("composite-filter-missing", "composite", ("aggregations", "sig", "buckets", 0, "w"), DROP, "aggregations.sig.buckets[0].w is missing"),
    ("composite-filter-count", "composite", ("aggregations", "sig", "buckets", 0, "b", "doc_count"), None, "buckets[0].b.doc_count is null, not a number"),
    ("top-hits-source", "composite", ("aggregations", "sig", "buckets", 0, "w", "example", "hits", "hits", 0, "_source"), ["boom"], "w.example.hits.hits[0]._source is a list, not an object"),
    ("hits-hits-object", "hits", ("hits", "hits"), {"1": {}}, "hits.hits is an object, not a list"),
    ("hit-text", "hits", ("hits", "hits"), ["boom"], "hits.hits[0] is text, not an object"),
    ("hit-source-list", "hits", ("hits", "hits"), [{"_source": ["boom"]}], "hits.hits[0]._source is a list, not an object"),
    ("hit-time-far", "hits", ("hits", "hits"), [{"_source": {}, "sort": ["1e20"]}], "hits.hits[0].sort[0] is 1e20, not a time between 1900 and 9000"),
    ("hit-time-words", "hits", ("hits", "hits"), [{"_source": {}, "sort": ["noon"]}], "hits.hits[0].sort[0] is 'noon', not a time"),
    ("hit-sort-text", "hits", ("hits", "hits"), [{"_source": {}, "sort": "1"}], "hits.hits[0].sort is text, not a list"),
    ("pit-list", "pit_open", (), ["pit-1"], "the answer is a list, not an object"),
    ("pit-id-number", "pit_open", ("id",), 42, "id is a number, not text"),
    ("pit-page-id-number", "pit_page", ("pit_id",), 42, "pit_id is a number, not text"),
    ("pit-page-time-infinite", "pit_page", ("hits", "hits"), [{"_id": "1", "sort": [float("inf"), 1]}], "hits.hits[0].sort[0] is inf, not a finite number"),
    ("pit-page-hits-text", "pit_page", ("hits",), "none", "hits is text, not an object"),
]  # fmt: skip


def collect_message(source: ElasticsearchSource) -> str:
    """The one-line error of a collect that fails, checked to be a clean source error."""
    with pytest.raises(ConnectorError) as info:
        source.collect(REQ)
    message = info.value.format_message()
    assert info.value.exit_code == EXIT_SOURCE
    assert "\n" not in message
    assert "internal error" not in message and "Error" not in message, message
    return message


#: The same path serves OpenSearch: a few shapes through its client.
OPENSEARCH_SHAPES = [
    ("root-version-text", "root", ("version",), "2.19.1", "version is text, not an object"),
    ("caps-fields-list", "field_caps", ("fields",), [], "fields is a list, not an object"),
    ("buckets-mapping", "volume", ("aggregations", "levels", "buckets"), {}, "aggregations.levels.buckets is an object, not a list"),
    ("count-text", "count", ("hits", "total"), "12", "hits.total is text, not a number"),
    ("composite-key-text", "composite", ("aggregations", "sig", "buckets", 0, "key"), "x", "aggregations.sig.buckets[0].key is text"),
    ("pit-id-number", "pit_open", ("pit_id",), 42, "pit_id is a number, not text"),
    ("pit-page-hits-list", "pit_page", ("hits", "hits"), {}, "hits.hits is an object, not a list"),
]  # fmt: skip


#: Every case of each product: (id, product, kind, path, value, words).
CASES = [("elasticsearch-" + w[0], "Elasticsearch", *w[1:]) for w in WRONG_SHAPES] + [
    ("opensearch-" + w[0], "OpenSearch", *w[1:]) for w in OPENSEARCH_SHAPES
]
SOURCES = {"Elasticsearch": ElasticsearchSource, "OpenSearch": OpenSearchSource}


@pytest.mark.parametrize(
    ("product", "kind", "path", "value", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_answer_of_the_wrong_shape_is_a_source_error(
    product: str, kind: str, path: tuple[Any, ...], value: Any, words: str
) -> None:
    with shaped_es(kind, path, value, opensearch=product == "OpenSearch") as fake:
        settings = {"hosts": [fake.url], **SETTINGS[kind]}
        message = collect_message(SOURCES[product]("logs", settings, SourceContext()))
    assert message.startswith(
        f"source 'logs' ({fake.url}) answered something that is not an {product} response ("
    ), message
    assert words in message, message


@pytest.mark.parametrize("opensearch", [False, True], ids=["elasticsearch", "opensearch"])
def test_the_fake_server_of_the_api_shape_serves_a_whole_collect(opensearch: bool) -> None:
    """Unchanged, the fake's answers let a collect end, and it asks every request kind the
    tests above change (so each of them changes a request that is made)."""
    seen: set[str] = set()
    with shaped_es("root", ("tagline",), "unchanged", opensearch=opensearch, seen=seen) as fake:
        cls = OpenSearchSource if opensearch else ElasticsearchSource
        cls("logs", {"hosts": [fake.url], **PIT_SETTINGS}, SourceContext()).collect(REQ)
    with shaped_es("nodes", ("nodes",), {}, opensearch=opensearch, seen=seen) as fake:
        cls("logs", {"hosts": [fake.url], **SETTINGS["hits"]}, SourceContext()).collect(REQ)
    assert seen == set(KINDS)


def test_a_build_against_it_exits_3_with_one_line(tmp_path: Path) -> None:
    with shaped_es("volume", ("hits",), []) as fake:
        source = {"type": "elasticsearch", "hosts": [fake.url], "retries": 0}
        line = build_error_line(tmp_path, source)
    assert "answered something that is not an Elasticsearch response (hits is a list" in line


@pytest.mark.parametrize(
    ("method", "path", "body", "answer"),
    [
        ("GET", "/", None, {"name": "n", "version": {"number": "8.19.0", "build_flavor": "default"}}),
        ("GET", "/", None, {"tagline": "no version"}),
        ("GET", "/_nodes/_local", None, {"nodes": {}}),
        ("POST", "/logs-*/_search", {"size": 0}, {"hits": {"total": 3, "hits": []}}),
        ("POST", "/_search", {"size": 5, "pit": {"id": "p"}}, {"hits": {"hits": [{"_id": "1", "sort": [1, 2]}]}, "pit_id": "p2"}),
        ("POST", "/logs-*/_search", {"aggs": {"u": {"cardinality": {}}}}, {"hits": {"hits": []}, "aggregations": {"u": {"value": None}}}),
        ("POST", "/logs-*/_search", {"aggs": {"t": {"terms": {}}}}, {"hits": {"hits": []}, "aggregations": {"t": {"buckets": [{"key": 5, "doc_count": 1}, {"key": True, "doc_count": 2}]}}}),
        ("POST", "/logs-*/_pit", None, {"id": "p"}),
        ("POST", "/logs-*/_pit", None, {}),  # no id: the caller says so (not a shape error)
        ("DELETE", "/_pit", {"id": "p"}, ["not read"]),
        ("GET", "/logs-*/_field_caps", None, {"fields": {}}),
    ],
)  # fmt: skip
def test_answers_of_the_api_shape_pass(method: str, path: str, body: Any, answer: Any) -> None:
    assert answer_problem(method, path, body, answer) is None, json.dumps(answer)
