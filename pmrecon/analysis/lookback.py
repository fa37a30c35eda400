"""Step 4b: look back before the window for the start of what was already going on at it.

Input: an SLI series (threshold set) and the evidence's baseline samples beside it, or an
alert already firing at the window's start. Output: the start found before the window
(epoch seconds) and its uncertainty, or ``None`` when the data before the window does not
reach it. The same rules as inside the window: a breach is a run of samples beyond the
same threshold, split by gaps longer than the join gap, and starts one step before its
first sample; an alert fires at the first rule evaluation ``for`` after its activation.
See "Look-back" in ``docs/definitions.md``. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model import Alert
from .slis import SliSeries
from .thresholds import BaselineSamples
from .times import epoch


@dataclass(frozen=True)
class FoundBefore:
    """A start found before the window, from the data collected there."""

    start: float  # epoch seconds
    uncertainty: float | None
    origin: str = "baseline"  # "baseline" (an SLI's samples) or "alert" (its activation)
    samples: int = 0  # for an SLI: its samples in breach before the window's first one


def breach_start_before(
    sli: SliSeries, baseline: BaselineSamples, join_gap: float
) -> FoundBefore | None:
    """Where the breach open at the window's first sample began, walking back the baseline."""
    if sli.threshold is None or not len(sli.timestamps) or not sli.in_breach[0]:
        return None
    ts, values = baseline.samples_of(sli)
    before = ts < sli.timestamps[0] - 1e-9
    ts, values = ts[before], values[before]
    # walk back while each earlier sample is in breach and no gap splits the run
    times = np.r_[ts, sli.timestamps[:1]]
    mask = sli.breaches(values)
    first = len(ts)
    while first > 0 and mask[first - 1] and times[first] - times[first - 1] <= join_gap:
        first -= 1
    if first == len(ts) or first == 0:
        return None  # nothing before the window, or the baseline too is in breach all along
    return FoundBefore(
        float(times[first] - sli.step),
        float(times[first] - times[first - 1]),
        samples=len(ts) - first,
    )


def firing_start_before(alert: Alert, window_start: float) -> FoundBefore | None:
    """When an alert firing at the window's start began firing: activation + its rule's ``for``.

    Prometheus fires at the first evaluation at least ``for`` after the activation; with
    evaluations every ``every`` seconds that is ``activeAt + ceil(for / every) × every``.
    """
    if alert.active_at is None or alert.for_seconds is None:
        return None
    active = epoch(alert.active_at)
    every, delay = alert.evaluation_seconds, alert.for_seconds
    if every and every > 0:
        delay = math.ceil(delay / every - 1e-9) * every
    start = active + delay
    if start > window_start + 1e-6:
        return None  # it fired inside the window after all: the window's own data says when
    return FoundBefore(start, every, "alert")
