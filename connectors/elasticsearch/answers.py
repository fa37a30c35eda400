"""Values out of Elasticsearch answers, and the epoch milliseconds its queries speak."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

UTC = dt.timezone.utc


def ms(t: dt.datetime) -> int:
    """An aware datetime as epoch milliseconds (exact: no float rounding)."""
    delta = t.astimezone(UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ms_to_dt(value: int) -> dt.datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=int(value))


def total(ans: Mapping[str, Any]) -> int:
    """A search answer's hit count (``track_total_hits`` on)."""
    found = (ans.get("hits") or {}).get("total")
    if isinstance(found, Mapping):
        return int(found.get("value") or 0)
    return int(found or 0)


def as_int(value: Any) -> int | None:
    """A metric aggregation's value (a float, or None over no document) as an int."""
    if value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
        return None


def get_path(src: Any, path: str) -> Any:
    """``a.b.c`` from a ``_source`` holding nested objects, flat dotted keys, or a mix."""
    if not isinstance(src, Mapping) or not path:
        return None
    if path in src:
        return src[path]
    parts = path.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in src:
            found = get_path(src[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None


def sort_ms(hit: Mapping[str, Any]) -> int | None:
    """A hit's time from its sort value (the timestamp, asked as ``epoch_millis``)."""
    sort = hit.get("sort") or []
    if not sort:
        return None
    try:
        return int(float(sort[0]))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "Infinity"
        return None


def strip_pit(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body as the evidence keeps it: plain JSON, without the point in time's id."""
    out = dict(body)
    if isinstance(out.get("pit"), Mapping):
        out["pit"] = {**out["pit"], "id": "<point in time id>"}
    return json.loads(json.dumps(out, default=str))
