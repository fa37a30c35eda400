"""Samples of one evidence series as numpy arrays, and the span rules every figure shares.

Input: :class:`pmrecon.model.Series` and epoch-second bounds. Output: sorted, finite,
de-duplicated ``(timestamps, values)`` arrays, a series' step, and which samples fall
in a span. A sample at ``t`` describes the step ending at ``t``. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np

from ..model import Series


def last_per_timestamp(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by timestamp, the last one kept where a timestamp repeats.

    ``values`` is 1-D (one value per timestamp) or 2-D (one row per timestamp).
    """
    # np.unique keeps the first occurrence: looking from the end, that is the last one.
    unique, first_from_end = np.unique(timestamps[::-1], return_index=True)
    return unique, values[::-1][first_from_end]


def common_steps(
    a_ts: np.ndarray, a: np.ndarray, b_ts: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps, a, b) at the timestamps both sorted, de-duplicated series have."""
    ts, ia, ib = np.intersect1d(a_ts, b_ts, assume_unique=True, return_indices=True)
    return ts, a[ia], b[ib]


def values_at(timestamps: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The value at each of ``at`` of a sorted, de-duplicated series; 0 where it has none."""
    out = np.zeros(len(at), dtype=float)
    if len(timestamps) == 0:
        return out
    pos = np.clip(np.searchsorted(timestamps, at), 0, len(timestamps) - 1)
    hit = timestamps[pos] == at
    out[hit] = values[pos[hit]]
    return out


def samples_in(series: Series, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Finite samples of ``series`` inside [start, end], sorted, one per timestamp."""
    count = min(len(series.timestamps), len(series.values))
    if count == 0:
        return np.empty(0), np.empty(0)
    values = np.asarray(series.values[:count], dtype=float)
    timestamps = np.asarray(series.timestamps[:count], dtype=float)
    keep = np.isfinite(values) & np.isfinite(timestamps)
    keep &= (timestamps >= start) & (timestamps <= end)
    return last_per_timestamp(timestamps[keep], values[keep])


def sample_step(series: Series, timestamps: np.ndarray) -> float:
    """The series' step: as collected, else the median spacing of its samples, else 60 s."""
    if series.step_seconds and series.step_seconds > 0:
        return float(series.step_seconds)
    if len(timestamps) > 1:
        return float(np.median(np.diff(timestamps)))
    return 60.0


def in_span(timestamps: np.ndarray, low: float, high: float) -> np.ndarray:
    """Which samples describe a step inside (low, high]."""
    # a sample at t describes the step ending at t: the step is inside (lo, hi] when lo < t <= hi
    return (timestamps > low + 1e-9) & (timestamps <= high + 1e-9)


def sum_in_span(series: Series, low: float, high: float) -> float:
    """Sum of the counts of the steps that lie wholly inside (low, high].

    The same rule at both ends: a count step that straddles either end is left out, so a
    count series coarser than the span's bounds (``increase(x[30s])`` beside 15 s SLI
    steps) neither adds healthy requests before the impact nor drops failed ones at its
    end. With no whole step inside (a span shorter than one step), the steps ending in it.
    """
    timestamps, values = samples_in(series, low, high)
    step = sample_step(series, timestamps)
    whole = (timestamps - step >= low - 1e-6) & (timestamps <= high + 1e-9)
    if not whole.any():
        whole = in_span(timestamps, low, high)
    return float(values[whole].sum())


def query_refs(*series: Series) -> list[str]:
    """The ids of the queries that produced ``series``, in order."""
    return [s.query_ref for s in series if s.query_ref]
