"""Answers of the Elasticsearch API's shape, built from the request, for the fake servers.

:func:`search_answer` answers a search body as a server holding a few documents would: one
bucket per bucket aggregation (with its sub-aggregations), a value per metric, one hit per
``top_hits``. A test that wants a wrong shape changes one part of it with :func:`put`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

ROOT = {"version": {"number": "9.5.4"}, "tagline": "You Know, for Search"}
OPENSEARCH_ROOT = {"version": {"number": "2.19.1", "distribution": "opensearch"}}
CAPS = {
    "indices": ["logs-1"],
    "fields": {
        "@timestamp": {"date": {"type": "date", "aggregatable": True}},
        "log.level": {"keyword": {"type": "keyword", "aggregatable": True}},
        "message": {"text": {"type": "text", "aggregatable": False}},
        "message.keyword": {"keyword": {"type": "keyword", "aggregatable": True}},
        "service.name": {"keyword": {"type": "keyword", "aggregatable": True}},
        "user.id": {"keyword": {"type": "keyword", "aggregatable": True}},
    },
}

_METRICS = {"min": None, "max": None, "avg": None, "sum": 0, "cardinality": 1, "value_count": 1}


def search_answer(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """A search answer of the API's shape for the request ``body``."""
    body = body or {}
    answer: dict[str, Any] = {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": None, "hits": []},
    }
    if isinstance(body.get("pit"), Mapping):
        answer["pit_id"] = body["pit"]["id"]
    if body.get("aggs"):
        answer["aggregations"] = _aggs(body["aggs"])
    return answer


def _aggs(asked: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _agg(spec) for name, spec in asked.items()}


def _agg(spec: Mapping[str, Any]) -> dict[str, Any]:
    kind = next(k for k in spec if k not in ("aggs", "aggregations", "meta"))
    sub = _aggs(spec.get("aggs") or {})
    if kind in _METRICS:
        return {"value": _METRICS[kind]}
    if kind == "top_hits":
        hit = {"_index": "logs-1", "_id": "1", "_source": {"message": "boom"}}
        return {"hits": {"total": {"value": 1, "relation": "eq"}, "hits": [hit]}}
    if kind == "filter":
        return {"doc_count": 1, **sub}
    if kind == "date_histogram":
        key: Any = spec[kind]["extended_bounds"]["min"]
    elif kind == "composite":
        key = {"k": "boom"}
    else:
        key = "checkout"
    out: dict[str, Any] = {"buckets": [{"key": key, "doc_count": 1, **sub}]}
    if kind == "terms":
        out["sum_other_doc_count"] = 0
    return out


def put(answer: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``answer`` with ``value`` at ``path`` (keys and list indices); ``path`` ():
    ``value`` itself; ``value`` :data:`DROP`: the key removed."""
    if not path:
        return value
    out = copy.deepcopy(answer)
    holder = out
    for step in path[:-1]:
        holder = holder[step]
    if value is DROP:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return out


DROP = object()
