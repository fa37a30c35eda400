"""Step 3a: error-log counts per bucket, and which buckets are bursts.

Input: the evidence's :class:`~pmrecon.model.LogSummary` (volume per level, errors per
service, the baseline's error count). Output: :class:`ErrorLogCounts` over the window —
total and per-service error counts per bucket, the count expected from the baseline, and
the buckets in burst (at least ``log_burst_min_count`` errors and ``log_burst_factor`` ×
the expected count) — or ``None`` without error logs. Warns when the baseline is missing
or empty. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..model import Histogram, LogSummary
from .context import AnalysisContext
from .samples import last_per_timestamp, values_at


@dataclass
class ErrorLogCounts:
    """Error-log counts per bucket, total and per service."""

    interval: float
    starts: np.ndarray  # bucket starts, epoch seconds
    total: np.ndarray
    per_service: dict[str, np.ndarray]
    ref: str | None
    expected: float  # error logs expected per bucket (from the baseline when there is one)
    burst: np.ndarray


@dataclass
class _Totals:
    """Error logs per bucket before they are cut to the window."""

    starts: np.ndarray  # bucket starts, sorted, one per bucket
    total: np.ndarray
    volume: np.ndarray | None  # every level: where it is zero, there were no logs at all
    interval: float
    ref: str | None


def count_error_logs(ctx: AnalysisContext) -> ErrorLogCounts | None:
    """The window's error-log counts and bursts, or ``None`` without error logs."""
    logs = ctx.evidence.logs
    if logs is None:
        return None
    by_service = _histogram_table(logs.errors_by_service, None)
    totals = _error_totals(logs, by_service)
    if totals is None:
        return None
    inside = (totals.starts >= ctx.window_start) & (totals.starts < ctx.window_end)
    if not inside.any():
        return None
    starts = totals.starts[inside]
    counts = totals.total[inside]
    volume = None if totals.volume is None else totals.volume[inside]
    typical = _typical_count(counts, volume)
    expected = _expected_per_bucket(ctx, logs, totals.interval, typical)
    burst = (counts >= ctx.settings.burst_min) & (counts >= ctx.settings.burst_factor * expected)
    service_ts, keys, table = by_service
    per_service = {
        str(k): values_at(service_ts, table[:, keys.index(k)], starts) for k in sorted(keys)
    }
    return ErrorLogCounts(totals.interval, starts, counts, per_service, totals.ref, expected, burst)


def _histogram_table(
    histogram: Histogram, keys: Iterable[str] | None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(bucket starts, keys, counts per bucket (rows) and key (columns)), short columns padded with 0."""
    rows = len(histogram.timestamps)
    names = [k for k in histogram.counts if keys is None or k in keys]
    table = np.zeros((rows, len(names)), dtype=float)
    for j, k in enumerate(names):
        column = list(histogram.counts[k])[:rows]
        table[: len(column), j] = np.asarray(column, dtype=float)
    table[np.isnan(table)] = 0  # a missing count (None) is no log
    starts, table = last_per_timestamp(np.asarray(histogram.timestamps, dtype=float), table)
    return starts, names, table


def _error_totals(
    logs: LogSummary, by_service: tuple[np.ndarray, list[str], np.ndarray]
) -> _Totals | None:
    """Error logs per bucket: from the error levels of the volume, else summed per service."""
    levels = {x.lower() for x in logs.error_levels}
    volume = logs.volume_by_level
    error_keys = [k for k in volume.counts if k.lower() in levels]
    if error_keys and len(volume.timestamps):
        starts, _, errors = _histogram_table(volume, error_keys)
        _, _, every = _histogram_table(volume, None)
        totals = _Totals(
            starts,
            errors.sum(axis=1),
            every.sum(axis=1),
            volume.interval_seconds,
            volume.query_ref,
        )
    elif len(logs.errors_by_service.timestamps):
        starts, _, table = by_service
        totals = _Totals(
            starts,
            table.sum(axis=1),
            None,
            logs.errors_by_service.interval_seconds,
            logs.errors_by_service.query_ref,
        )
    else:
        return None
    if not totals.interval or totals.interval <= 0:
        spacing = np.diff(totals.starts)
        totals.interval = float(np.median(spacing)) if len(totals.starts) > 1 else 60.0
    return totals


def _typical_count(counts: np.ndarray, volume: np.ndarray | None) -> float:
    """The window's typical error count: the median over the buckets that hold logs at all."""
    # (a stretch without any log is missing data, not a quiet time)
    if volume is None:
        return float(np.median(counts))
    with_logs = volume > 0
    return float(np.median(counts[with_logs])) if with_logs.any() else 0.0


def _expected_per_bucket(
    ctx: AnalysisContext, logs: LogSummary, interval: float, typical: float
) -> float:
    """Error logs expected per bucket: the baseline's rate, else the window's typical count."""
    if logs.baseline_error_documents and logs.baseline_seconds:
        return logs.baseline_error_documents / logs.baseline_seconds * interval
    if logs.baseline_error_documents == 0 and logs.baseline_seconds:
        # Not one error log in the baseline: a healthy service, or a baseline before the
        # logs begin. The window's typical level tells them apart (it is ~0 for the former,
        # unless the incident fills most of the window).
        if typical > 0:
            ctx.warn(
                "no error log at all in the baseline, but some in most of the window: the "
                "baseline probably precedes the logs; error-log bursts are measured against "
                "the window's median",
                "log_baseline_empty",
            )
        return typical
    ctx.warn(
        "no log baseline: error-log bursts are measured against the window's median",
        "log_baseline_missing",
    )
    return typical
