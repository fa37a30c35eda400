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

A search's answer can hold hundreds of thousands of buckets, so it is first checked by a
fast pass (:func:`_search_ok`: plain dicts and lists, no paths built) that says only "surely
well formed"; anything it doubts goes through the detailed check, which names what is wrong
and where. The fast pass may be stricter than the detailed check, never looser.
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
        asked = body if isinstance(body, Mapping) else {}
        if _search_ok(answer, asked):
            return None
        return _search_problem(answer, asked, pit_id_key)
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


# --------------------------------------------------------------------------- fast pass


def _search_ok(answer: Any, body: Mapping[str, Any]) -> bool:
    """True when a search's answer surely has its request's shape (False: check in detail)."""
    if type(answer) is not dict:
        return False
    if (
        _shards_problem(answer.get("_shards"))
        or _optional(answer, "timed_out", bool, "a boolean")
        or _optional(answer, "pit_id", str, "text")
    ):
        return False
    if not _hits_ok(answer.get("hits"), timed=bool(body.get("sort"))):
        return False
    asked = body.get("aggs") or body.get("aggregations")
    if not isinstance(asked, Mapping) or not asked:
        return True
    return _aggs_ok(answer.get("aggregations"), _plan(asked))


#: What one requested aggregation's answer must hold: its name, its type and the plan of
#: its sub-aggregations (empty: none).
_Plan = tuple[tuple[str, str, tuple[Any, ...]], ...]


def _plan(asked: Mapping[str, Any]) -> _Plan:
    """The aggregations ``asked``, read once rather than at every bucket of the answer."""
    out = []
    for name, spec in asked.items():
        spec = spec if isinstance(spec, Mapping) else {}
        kind = next((k for k in spec if k not in ("aggs", "aggregations", "meta")), "")
        sub = spec.get("aggs") or spec.get("aggregations") or {}
        out.append((name, kind, _plan(sub) if isinstance(sub, Mapping) and sub else ()))
    return tuple(out)


def _count_ok(value: Any) -> bool:
    if type(value) is int:
        return 0 <= value <= MAX_COUNT
    return type(value) is float and 0 <= value <= MAX_COUNT and value.is_integer()


def _number_ok(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _time_ok(value: Any) -> bool:
    """A time in epoch milliseconds as a number (NaN fails the comparison)."""
    return type(value) in (int, float) and TIME_RANGE[0] <= value < TIME_RANGE[1]


def _hits_ok(hits: Any, *, timed: bool) -> bool:
    if type(hits) is not dict:
        return False
    total = hits.get("total")
    if type(total) is dict:
        total = total.get("value")
    elif total is None:
        total = 0
    items = hits.get("hits")
    if not _count_ok(total) or type(items) is not list:
        return False
    for hit in items:
        if type(hit) is not dict:
            return False
        source, sort = hit.get("_source"), hit.get("sort")
        if source is not None and type(source) is not dict:
            return False
        if sort is not None:
            if type(sort) is not list:
                return False
            if timed and sort and sort[0] is not None and not _time_ok(sort[0]):
                return False  # a time as text is fine too: the detailed check reads it
    return True


def _aggs_ok(found: Any, plan: _Plan) -> bool:
    if type(found) is not dict:
        return False
    for name, kind, sub in plan:
        agg = found.get(name)
        if type(agg) is not dict:
            return False
        if kind in _METRIC_AGGS:
            value = agg.get("value")
            if value is None:
                continue
            if kind in _TIME_METRICS:
                ok = _time_ok(value)
            elif kind in _COUNT_METRICS:
                ok = _count_ok(value)
            else:
                ok = _number_ok(value)
            if not ok:
                return False
        elif kind == "top_hits":
            if not _hits_ok(agg.get("hits"), timed=False):
                return False
        elif kind in _ONE_BUCKET_AGGS:
            if not _bucket_ok(agg, kind, sub, keyed=False):
                return False
        elif kind in _BUCKET_AGGS:
            after, other = agg.get("after_key"), agg.get("sum_other_doc_count")
            buckets = agg.get("buckets")
            if after is not None and type(after) is not dict:
                return False
            if (other is not None and not _count_ok(other)) or type(buckets) is not list:
                return False
            for bucket in buckets:
                if not _bucket_ok(bucket, kind, sub, keyed=True):
                    return False
    return True


def _bucket_ok(bucket: Any, kind: str, sub: _Plan, *, keyed: bool) -> bool:
    if type(bucket) is not dict or not _count_ok(bucket.get("doc_count")):
        return False
    if keyed:
        key = bucket.get("key")
        if kind == "composite":
            if type(key) is not dict:
                return False
        elif kind == "date_histogram":
            if not _time_ok(key):
                return False
        elif kind == "histogram":
            if not _number_ok(key):
                return False
        elif key is None or type(key) in (list, dict) or not isinstance(key, (str, int, float)):
            return False
    return not sub or _aggs_ok(bucket, sub)
