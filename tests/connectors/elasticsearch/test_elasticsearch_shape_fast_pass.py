"""The fast pass over a search's answer is never looser than the detailed check.

:func:`connectors.elasticsearch.shapes._search_ok` lets a large answer through without the
detailed check; whatever it lets through the detailed check must find well formed too. The
answers here are a well-formed answer to a request using every aggregation type the checks
know, with one node anywhere in it replaced by arbitrary JSON.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.elasticsearch.shapes import _search_ok, _search_problem, answer_problem
from tests.connectors.elasticsearch.es_answers import put

T0 = 1_780_000_000_000  # epoch milliseconds, 2026

REQUEST: dict[str, Any] = {
    "size": 2,
    "sort": [{"@timestamp": "asc"}],
    "aggs": {
        "services": {
            "terms": {"field": "service"},
            "aggs": {
                "over_time": {
                    "date_histogram": {"field": "@timestamp", "fixed_interval": "1m"},
                    "aggs": {
                        "first": {"min": {"field": "@timestamp"}},
                        "users": {"cardinality": {"field": "user"}},
                        "mean": {"avg": {"field": "took"}},
                    },
                },
                "example": {"top_hits": {"size": 1}},
                "errors": {"filter": {"term": {"level": "error"}}, "aggs": {"n": {"sum": {}}}},
            },
        },
        "sig": {"composite": {"sources": []}, "aggs": {"last": {"max": {"field": "t"}}}},
        "sizes": {"histogram": {"field": "bytes", "interval": 10}},
    },
}


def _good() -> dict[str, Any]:
    """A well-formed answer to :data:`REQUEST`."""
    minute = {
        "key": T0,
        "key_as_string": "2026-05-28T20:26:40Z",
        "doc_count": 3,
        "first": {"value": T0 + 1.0},
        "users": {"value": 2},
        "mean": {"value": 0.5},
    }
    service = {
        "key": "checkout",
        "doc_count": 3,
        "over_time": {"buckets": [minute, {**minute, "key": T0 + 60_000, "mean": {"value": None}}]},
        "example": {
            "hits": {"total": {"value": 3, "relation": "eq"}, "hits": [{"_source": {"a": 1}}]}
        },
        "errors": {"doc_count": 1, "n": {"value": 4.0}},
    }
    return {
        "took": 3,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {
            "total": {"value": 5, "relation": "eq"},
            "hits": [{"_source": {"m": "x"}, "sort": [T0]}, {"_source": {}, "sort": [None]}],
        },
        "aggregations": {
            "services": {"sum_other_doc_count": 0, "buckets": [service, {**service, "key": 7}]},
            "sig": {
                "after_key": {"s": "b"},
                "buckets": [{"key": {"s": "a"}, "doc_count": 2, "last": {"value": T0}}],
            },
            "sizes": {"buckets": [{"key": 10.0, "doc_count": 0}]},
        },
    }


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``node`` (the root included) a value can be replaced at."""
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*at, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*at, i)))
    return out


GOOD = _good()
PATHS = _paths(GOOD)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([T0, float(T0), 1e20, -1.5, 0, 2**63, str(T0), "", "x"]),
    st.text(max_size=5),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def test_the_fast_pass_lets_a_well_formed_answer_through() -> None:
    # else every answer would take the detailed path and the fast pass would save nothing
    assert _search_ok(GOOD, REQUEST)
    assert answer_problem("POST", "/logs-*/_search", REQUEST, GOOD) is None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JSON)
def test_what_the_fast_pass_lets_through_the_detailed_check_finds_well_formed(
    path: tuple[Any, ...], value: Any
) -> None:
    answer = put(GOOD, path, value)
    if _search_ok(answer, REQUEST):
        assert _search_problem(answer, REQUEST, "id") is None, (path, value)


def test_the_fast_pass_doubts_a_number_that_is_not_finite() -> None:
    # one case of each kind of leaf the fast pass reads itself, spelt out
    for path in (
        ("aggregations", "services", "buckets", 0, "over_time", "buckets", 0, "mean", "value"),
        ("aggregations", "services", "buckets", 0, "over_time", "buckets", 0, "key"),
        ("aggregations", "services", "buckets", 0, "doc_count"),
        ("aggregations", "sizes", "buckets", 0, "key"),
    ):
        answer = put(GOOD, path, math.inf)
        assert not _search_ok(answer, REQUEST), path
        assert _search_problem(answer, REQUEST, "id") is not None, path
