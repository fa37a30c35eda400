"""What the parts of one collect share, made once per collect: a :class:`CollectSession`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import CollectRequest
from connectors.promql import choose_step
from pmrecon.model import Warning

from . import dsl
from .answers import ms
from .mappings import FieldInfo
from .queries import Queries
from .redaction import Redaction


@dataclass(frozen=True)
class CollectSession:
    """One collect: its window and baseline (epoch ms), the histogram interval, the fields
    and filters of every query, and where queries and log content go.

    Without a baseline, ``baseline_start == baseline_end == start``."""

    queries: Queries
    redaction: Redaction
    settings: Mapping[str, Any]
    fields: Mapping[str, FieldInfo]
    start: int
    end: int
    baseline_start: int
    baseline_end: int
    interval: int  # histogram bucket width, seconds
    filters: tuple[dict[str, Any], ...]  # the configured filter and the services asked for
    error_levels: list[str]
    warning_levels: list[str]

    @property
    def name(self) -> str:
        return self.queries.name

    @property
    def index(self) -> str:
        return self.queries.index

    @property
    def has_baseline(self) -> bool:
        return self.baseline_end > self.baseline_start

    @property
    def scan_window(self) -> tuple[int, int]:
        """What a query over the window and the baseline at once covers."""
        return (self.baseline_start if self.has_baseline else self.start, self.end)

    def warning(self, code: str, text: str, **params: Any) -> Warning:
        """A warning naming this source: ``source '<name>': <text>``, with the values it names."""
        return Warning(self.name, f"source {self.name!r}: {text}", code=code, params=params)

    def time_range(self, start: int, end: int) -> dict[str, Any]:
        return dsl.time_range(self.fields, start, end)

    def levels_query(self, levels: list[str]) -> dict[str, Any]:
        return dsl.levels_query(self.fields, levels)

    def errors_in(self, start: int, end: int) -> list[dict[str, Any]]:
        """The filters of the error lines from ``start`` to ``end``."""
        return [self.time_range(start, end), self.levels_query(self.error_levels), *self.filters]


def open_session(
    request: CollectRequest,
    settings: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    queries: Queries,
    redaction: Redaction,
    levels: tuple[list[str], list[str]],
) -> CollectSession:
    """The session of a collect of ``request``, once the fields are resolved; ``levels``:
    the error levels and the warning levels, lower case."""
    start, end = ms(request.window.start), ms(request.window.end)
    base = request.baseline if not request.coarse else None
    b0, b1 = (ms(base.start), ms(base.end)) if base is not None else (start, start)
    return CollectSession(
        queries=queries,
        redaction=redaction,
        settings=settings,
        fields=fields,
        start=start,
        end=end,
        baseline_start=b0,
        baseline_end=b1,
        interval=_interval(settings, (end - start) / 1000, request.coarse),
        filters=tuple(dsl.source_filters(settings, fields, request.services)),
        error_levels=levels[0],
        warning_levels=levels[1],
    )


def _interval(settings: Mapping[str, Any], seconds: float, coarse: bool) -> int:
    """The histogram bucket width: the configured one, else a nice unit giving at most
    ``max_buckets`` buckets (100 in a coarse pass)."""
    seconds = max(1.0, seconds)
    max_buckets = max(2, int(settings["max_buckets"]) if not coarse else 100)
    interval = int(settings["interval"] or 0) or choose_step(seconds, 1, max_buckets + 1)
    if seconds / interval > max_buckets:
        interval = choose_step(seconds, interval, max_buckets + 1)
    return max(1, int(interval))
