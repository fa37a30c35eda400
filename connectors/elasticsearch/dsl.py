"""Query DSL pieces built from the resolved fields, and the one body of every count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .identity import services_filter
from .mappings import FieldInfo


def time_range(fields: Mapping[str, FieldInfo], start: int, end: int) -> dict[str, Any]:
    """Documents from ``start`` (included) to ``end`` (excluded), epoch milliseconds."""
    ts = fields["timestamp"].name
    return {"range": {ts: {"gte": start, "lt": end, "format": "epoch_millis"}}}


def levels_query(fields: Mapping[str, FieldInfo], levels: list[str]) -> dict[str, Any]:
    """Documents of any of ``levels``, matched case-insensitively."""
    lvl = fields["level"]
    f = lvl.agg or lvl.name
    return {
        "bool": {
            "should": [{"term": {f: {"value": x, "case_insensitive": True}}} for x in levels],
            "minimum_should_match": 1,
        }
    }


def source_filters(
    settings: Mapping[str, Any], fields: Mapping[str, FieldInfo], services: tuple[str, ...]
) -> list[dict[str, Any]]:
    """What every query adds: the configured ``filter``, and the services asked for (by
    every part of their identity, values in ``term`` queries, never query text)."""
    out: list[dict[str, Any]] = []
    if settings["filter"]:
        out.append(dict(settings["filter"]))
    if services:
        out.append(services_filter(settings, fields, services))
    return out


def count_body(filters: list[dict[str, Any]], aggs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A search that counts the documents matching every one of ``filters`` (exactly:
    ``track_total_hits``) and aggregates them by ``aggs``, without returning any."""
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
    }
    if aggs is not None:
        body["aggs"] = aggs
    return body
