"""The points of a line: local times, a break at every gap, at most MAX_TRACE_POINTS.

A figure is about 1,000 px wide, so a longer series is cut into buckets and each keeps
its minimum and maximum (peaks survive), plus both ends of every gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ...model import Series

#: Most points drawn per line.
MAX_TRACE_POINTS = 1200


def segments(s: Series) -> Any:
    """Per sample, the number of its run: a new run starts after a gap of over 1.5 steps."""
    import numpy as np

    ts = np.asarray(s.timestamps, dtype=float)
    max_gap = 1.5 * s.step_seconds if s.step_seconds else math.inf
    return np.concatenate(([0], np.cumsum(np.diff(ts) > max_gap)))


def kept(s: Series, segment: Any) -> Sequence[int]:
    """Indices of the samples to draw: all, or per bucket its extremes, both ends and gaps."""
    import numpy as np

    n = len(s.timestamps)
    if n <= MAX_TRACE_POINTS:
        return range(n)
    vs = np.asarray(s.values, dtype=float)
    k = -(-n // (MAX_TRACE_POINTS // 2))  # points per bucket
    rows = -(-n // k)
    flat = np.full(rows * k, np.nan)
    flat[:n] = np.where(np.isfinite(vs), vs, np.nan)
    grid = flat.reshape(rows, k)
    nan = np.isnan(grid)
    lo = np.argmin(np.where(nan, np.inf, grid), axis=1)
    hi = np.argmax(np.where(nan, -np.inf, grid), axis=1)
    base = np.arange(rows) * k
    keep = np.concatenate(([0, n - 1], base + lo, base + hi))
    keep = keep[keep < n].tolist()
    # both ends of every gap, so breaks stay where they are
    jumps = np.nonzero(np.diff(segment))[0]
    keep.extend(jumps.tolist())
    keep.extend((jumps + 1).tolist())
    return sorted(set(keep))


def points(
    s: Series, local: Callable[[float], str], *, scale: float = 1.0, shift: float = 0.0
) -> tuple[list[str], list[Any]]:
    """(x, y) of a series: ``local`` times, values × ``scale``, None where a gap breaks it."""
    import numpy as np

    if not s.timestamps:
        return [], []
    segment = segments(s)
    idx = np.fromiter(kept(s, segment), dtype=np.intp)
    raw_t = np.asarray(s.timestamps, dtype=float)[idx]
    raw_v = np.asarray(s.values, dtype=float)[idx]
    # where a new run starts among the kept samples: a break (None) goes before it, at one
    # step after the last sample of the run before
    cut = np.nonzero(np.diff(segment[idx]))[0] + 1
    times = np.insert(raw_t + shift, cut, raw_t[cut - 1] + s.step_seconds + shift)
    with np.errstate(over="ignore", invalid="ignore"):  # a huge value × scale: inf, drawn
        scaled = np.where(np.isfinite(raw_v), raw_v * scale, np.nan)
    values = np.insert(scaled, cut, np.nan)
    xs = [local(t) for t in times.tolist()]
    ys = [None if v != v else v for v in values.tolist()]  # NaN: not drawn
    return xs, ys


def as_arrays(xs: list[str], ys: list[Any]) -> tuple[Any, Any]:
    """numpy columns for plotly: it checks a list element by element, an array at once.

    A gap (None) becomes NaN, which plotly draws as a break and writes as null.
    """
    import numpy as np

    y = np.array([np.nan if v is None else v for v in ys], dtype=float)
    return np.array(xs, dtype=object), y
