"""The shape of Elasticsearch's (and OpenSearch's) answers, checked where they enter.

A server, proxy or mock can answer valid JSON that is not what the request asks for: a
list where the hits are due, a search without the aggregations it asked, buckets as an
object, a count as text. :meth:`~.transport.Connection.send` checks every answer here
against its request, so that such an answer fails the source with "answered something that
is not an Elasticsearch response (what is wrong, where)" (exit 3 when no other source
answers) instead of an error deep in the connector that reads as a pmrecon bug.

A search's aggregations are checked against the request body's ``aggs``, level by level:
whatever pmrecon asks for, the answer must hold it in the shape the aggregation's type has.
Keys the connector reads with a default (``timed_out``, ``pit_id``, a hit's ``sort``) may be
absent; when present they must have their type.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from connectors.toolkit.failures import json_kind


class WrongShape(Exception):
    """An answer that is valid JSON but not of the shape its request asks for."""


#: Aggregations answering a list of buckets, each with a key, a count and the sub-aggregations.
_BUCKET_AGGS = frozenset({"terms", "date_histogram", "histogram", "composite"})
#: Aggregations answering one bucket: a count and the sub-aggregations.
_ONE_BUCKET_AGGS = frozenset({"filter", "global", "missing"})
#: Aggregations answering one ``value`` (null over no document).
_METRIC_AGGS = frozenset({"min", "max", "avg", "sum", "cardinality", "value_count"})
#: Numeric bucket keys: a date histogram's key is epoch milliseconds.
_NUMERIC_KEYS = frozenset({"date_histogram", "histogram"})
#: The largest count Elasticsearch holds (a Java long).
MAX_COUNT = 2**63 - 1
#: Metrics whose value is a count.
_COUNT_METRICS = frozenset({"cardinality", "value_count"})
#: Metrics pmrecon asks of the time field only: their value is a time.
_TIME_METRICS = frozenset({"min", "max"})
#: The times (epoch milliseconds) an answer may hold: 1900 to 9000, which every time zone
#: can show (a server's 1e20 would overflow a datetime deep in the connector).
TIME_RANGE = (-2_208_988_800_000, 221_845_392_000_000)


def answer_problem(
    method: str, path: str, body: Any, answer: Any, pit_id_key: str = "id"
) -> str | None:
    """What is wrong with ``answer`` to ``method path`` (request ``body``), or None if it has
    the API's shape. ``pit_id_key``: where an answer opening a point in time holds its id."""
    if method == "DELETE":
        return None  # closing a point in time: the answer is not read
    if path == "/":
        return _root_problem(answer)
    if path.startswith("/_nodes"):
        return _nodes_problem(answer)
    if path.endswith("/_field_caps"):
        return _field_caps_problem(answer)
    if path.endswith(("/_pit", "/_search/point_in_time")):
        return _object_problem(answer) or _optional(answer, pit_id_key, str, "text")
    if path.endswith("/_search"):
        return _search_problem(answer, body if isinstance(body, Mapping) else {}, pit_id_key)
    return None


def _kind_problem(value: Any, where: str, want: str) -> str:
    return f"{where} is {json_kind(value)}, not {want}"


def _object_problem(value: Any, where: str = "the answer") -> str | None:
    return None if isinstance(value, Mapping) else _kind_problem(value, where, "an object")


def _is_number(value: Any) -> bool:
    """A finite JSON number (the client's parser also reads ``Infinity`` and ``NaN``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def _optional(obj: Mapping[str, Any], key: str, kind: type, want: str, at: str = "") -> str | None:
    """The problem with ``obj[key]`` when it is there and not of ``kind``."""
    value = obj.get(key)
    if value is None or isinstance(value, kind):
        return None
    return _kind_problem(value, f"{at}{key}", want)


def _number_problem(value: Any, where: str, *, null: bool = False) -> str | None:
    if _is_number(value) or (null and value is None):
        return None
    if isinstance(value, float):
        return f"{where} is {value}, not a finite number"
    return _kind_problem(value, where, "a number or null" if null else "a number")


def _count_problem(value: Any, where: str, *, null: bool = False) -> str | None:
    """The problem with ``value`` as a count: a whole number from 0 to the largest long
    (a count near 1e308 would overflow once summed and turned into a ratio)."""
    problem = _number_problem(value, where, null=null)
    if problem or value is None:
        return problem
    if not 0 <= value <= MAX_COUNT or value != int(value):
        return f"{where} is {value}, not a count"
    return None


def _time_problem(value: Any, where: str, *, null: bool = False) -> str | None:
    """The problem with ``value`` as a time in epoch milliseconds (a number, or its text)."""
    if null and value is None:
        return None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return f"{where} is {value[:40]!r}, not a time"
    else:
        problem = _number_problem(value, where)
        if problem:
            return problem
        number = value
    if not TIME_RANGE[0] <= number < TIME_RANGE[1]:
        return (
            f"{where} is {str(value)[:40]}, not a time between 1900 and 9000 (epoch milliseconds)"
        )
    return None


def _number_time_problem(value: Any, where: str, *, null: bool = False) -> str | None:
    """The problem with ``value`` as a time that must be a number (not its text)."""
    if isinstance(value, str):
        return _kind_problem(value, where, "a number")
    return _time_problem(value, where, null=null)


def _root_problem(answer: Any) -> str | None:
    version = answer.get("version") if isinstance(answer, Mapping) else None
    return (
        _object_problem(answer)
        or _optional(answer, "version", Mapping, "an object")
        or (_optional(version, "number", str, "text", "version.") if version else None)
        or (_optional(version, "distribution", str, "text", "version.") if version else None)
    )


def _nodes_problem(answer: Any) -> str | None:
    problem = _object_problem(answer) or _optional(answer, "nodes", Mapping, "an object")
    if problem:
        return problem
    for name, node in (answer.get("nodes") or {}).items():
        problem = _object_problem(node, f"nodes.{name}") or _optional(
            node, "version", str, "text", f"nodes.{name}."
        )
        if problem:
            return problem
    return None


def _field_caps_problem(answer: Any) -> str | None:
    problem = _object_problem(answer) or _optional(answer, "indices", list, "a list")
    if problem:
        return problem
    fields = answer.get("fields")
    if not isinstance(fields, Mapping):
        return _kind_problem(fields, "fields", "an object")
    for name, types in fields.items():
        problem = _object_problem(types, f"fields.{name}")
        if problem:
            return problem
        for kind, caps in types.items():
            problem = _object_problem(caps, f"fields.{name}.{kind}")
            if problem:
                return problem
    return None


def _search_problem(answer: Any, body: Mapping[str, Any], pit_id_key: str) -> str | None:
    problem = (
        _object_problem(answer)
        or _hits_problem(answer.get("hits"), "hits", timed=bool(body.get("sort")))
        or _shards_problem(answer.get("_shards"))
        or _optional(answer, "timed_out", bool, "a boolean")
        or _optional(answer, "pit_id", str, "text")
    )
    if problem:
        return problem
    asked = body.get("aggs") or body.get("aggregations")
    if not isinstance(asked, Mapping) or not asked:
        return None
    return _aggs_problem(answer, asked, "aggregations", "aggregations")


def _items_problem(
    items: Any, where: str, item_problem: Callable[[Any, str], str | None]
) -> str | None:
    """The problem with ``items`` as a list, or with the first item ``item_problem`` faults."""
    if not isinstance(items, list):
        return _kind_problem(items, where, "a list")
    for i, item in enumerate(items):
        problem = item_problem(item, f"{where}[{i}]")
        if problem:
            return problem
    return None


def _hits_problem(hits: Any, at: str, *, timed: bool = False) -> str | None:
    """The problem with ``hits``; ``timed``: their first sort value is their time."""
    problem = _object_problem(hits, at)
    if problem:
        return problem
    found = hits.get("total")
    if isinstance(found, Mapping):
        problem = _count_problem(found.get("value"), f"{at}.total.value")
    else:
        problem = _count_problem(found, f"{at}.total", null=True)

    def hit_problem(hit: Any, where: str) -> str | None:
        problem = (
            _object_problem(hit, where)
            or _optional(hit, "_source", Mapping, "an object", f"{where}.")
            or _optional(hit, "sort", list, "a list", f"{where}.")
        )
        if not problem and timed and hit.get("sort"):
            problem = _time_problem(hit["sort"][0], f"{where}.sort[0]", null=True)
        return problem

    return problem or _items_problem(hits.get("hits"), f"{at}.hits", hit_problem)


def _shards_problem(shards: Any) -> str | None:
    if shards is None:
        return None
    return (
        _object_problem(shards, "_shards")
        or _count_problem(shards.get("failed"), "_shards.failed", null=True)
        or _items_problem(shards.get("failures") or [], "_shards.failures", _object_problem)
    )


def _aggs_problem(
    holder: Mapping[str, Any], asked: Mapping[str, Any], key: str, at: str
) -> str | None:
    """The problem with the aggregations ``asked`` as ``holder[key]`` answers them (None:
    ``holder`` holds them directly, as a bucket does)."""
    found = holder.get(key) if key else holder
    if not isinstance(found, Mapping):
        return _kind_problem(found, at, "an object") if found is not None else f"{at} is missing"
    for name, spec in asked.items():
        where = f"{at}.{name}" if at else name
        if name not in found:
            return f"{where} is missing"
        problem = _agg_problem(found[name], spec if isinstance(spec, Mapping) else {}, where)
        if problem:
            return problem
    return None


def _agg_problem(agg: Any, spec: Mapping[str, Any], where: str) -> str | None:
    """The problem with one aggregation's answer ``agg`` to its request ``spec``."""
    problem = _object_problem(agg, where)
    if problem:
        return problem
    kind = next((k for k in spec if k not in ("aggs", "aggregations", "meta")), "")
    sub = spec.get("aggs") or spec.get("aggregations") or {}
    if kind in _TIME_METRICS:
        return _number_time_problem(agg.get("value"), f"{where}.value", null=True)
    if kind in _COUNT_METRICS:
        return _count_problem(agg.get("value"), f"{where}.value", null=True)
    if kind in _METRIC_AGGS:
        return _number_problem(agg.get("value"), f"{where}.value", null=True)
    if kind == "top_hits":
        return _hits_problem(agg.get("hits"), f"{where}.hits")
    if kind in _ONE_BUCKET_AGGS:
        return _bucket_problem(agg, kind, sub, where, keyed=False)
    if kind not in _BUCKET_AGGS:
        return None
    return (
        _optional(agg, "after_key", Mapping, "an object", f"{where}.")
        or _count_problem(agg.get("sum_other_doc_count"), f"{where}.sum_other_doc_count", null=True)
        or _items_problem(
            agg.get("buckets"),
            f"{where}.buckets",
            lambda bucket, at: _bucket_problem(bucket, kind, sub, at, keyed=True),
        )
    )


def _bucket_problem(
    bucket: Any, kind: str, sub: Mapping[str, Any], where: str, *, keyed: bool
) -> str | None:
    """The problem with one bucket: its count, its key (``keyed``), its sub-aggregations."""
    problem = _object_problem(bucket, where) or _count_problem(
        bucket.get("doc_count"), f"{where}.doc_count"
    )
    if problem:
        return problem
    if keyed:
        key = bucket.get("key")
        if kind == "composite" and not isinstance(key, Mapping):
            return _kind_problem(key, f"{where}.key", "an object")
        if kind == "date_histogram":
            return _number_time_problem(key, f"{where}.key") or _sub_problem(bucket, sub, where)
        if kind in _NUMERIC_KEYS and not _is_number(key):
            return _kind_problem(key, f"{where}.key", "a number")
        if kind == "terms" and (key is None or isinstance(key, (list, Mapping))):
            return _kind_problem(key, f"{where}.key", "a value")
    return _sub_problem(bucket, sub, where)


def _sub_problem(bucket: Mapping[str, Any], sub: Mapping[str, Any], where: str) -> str | None:
    return _aggs_problem(bucket, sub, "", where) if sub else None
