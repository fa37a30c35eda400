"""Samples of one evidence series as numpy arrays, and the span rules every figure shares.

Input: :class:`pmrecon.model.Series` and epoch-second bounds. Output: sorted, finite,
de-duplicated ``(timestamps, values)`` arrays, a series' step, and which samples fall
in a span. A sample at ``t`` describes the step ending at ``t``. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Series


def samples_in(series: Series, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Finite samples of ``series`` inside [start, end], sorted, one per timestamp."""
    count = min(len(series.timestamps), len(series.values))
    if count == 0:
        return np.empty(0), np.empty(0)
    points = pd.Series(
        np.asarray(series.values[:count], dtype=float),
        index=np.asarray(series.timestamps[:count], dtype=float),
    )
    points = points[np.isfinite(points.values) & np.isfinite(points.index.values)]
    points = points[(points.index >= start) & (points.index <= end)]
    points = points[~points.index.duplicated(keep="last")].sort_index()
    return points.index.to_numpy(dtype=float), points.to_numpy(dtype=float)


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
