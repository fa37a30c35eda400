"""Step 4b: look back before the window for the start of what was already going on at it.

Input: an SLI series (threshold set) and the evidence's baseline samples beside it, or an
alert already firing at the window's start. Output: the start found before the window
(epoch seconds) and its uncertainty, or ``None`` when the data before the window does not
reach it (:func:`in_breach_since` then says how far back the breach was seen). The same
rules as inside the window: a breach is a run of samples beyond the same threshold, split
by gaps longer than the join gap, and starts one step before its first sample; an alert
fires at the first rule evaluation ``for`` after its activation.

The samples before the window are the baseline's and, when the build fetched one, the
look-back's further stretch before it (``analysis.lookback_max``): the library pipeline
asks :func:`look_back_services` whether the findings need that stretch, and of which
services. See "Look-back" in ``docs/definitions.md``. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..findings import Findings
from ..model import Alert
from .slis import SliSeries
from .thresholds import BaselineSamples
from .times import epoch

#: The analysis' warning when the breach at the window's start holds from the first sample
#: collected before it: its start lies further back than the data.
BEYOND_DATA = "impact_start_beyond_lookback"


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
    walk = _walk_back(sli, baseline, join_gap)
    if walk is None:
        return None
    times, first = walk
    if first == len(times) - 1 or first == 0:
        return None  # nothing before the window, or in breach from the data's first sample
    return FoundBefore(
        float(times[first] - sli.step),
        float(times[first] - times[first - 1]),
        samples=len(times) - 1 - first,
    )


def in_breach_since(sli: SliSeries, baseline: BaselineSamples, join_gap: float) -> float | None:
    """The first sample before the window, when the breach open at the window's start holds from it.

    Then its start lies before everything collected (the baseline and the look-back's
    further stretch): this says how far back the breach was seen. ``None`` otherwise.
    """
    walk = _walk_back(sli, baseline, join_gap)
    if walk is None:
        return None
    times, first = walk
    return float(times[0]) if first == 0 and len(times) > 1 else None


def _walk_back(
    sli: SliSeries, baseline: BaselineSamples, join_gap: float
) -> tuple[np.ndarray, int] | None:
    """The samples before the window then the window's first, and where the breach run starts.

    The run walks back while each earlier sample is in breach and no gap longer than the
    join gap splits it; every sample before the window counts, the look-back's too.
    """
    if sli.threshold is None or not len(sli.timestamps) or not sli.in_breach[0]:
        return None
    ts, values = baseline.samples_of(sli, start=-math.inf)
    before = ts < sli.timestamps[0] - 1e-9
    ts, values = ts[before], values[before]
    times = np.r_[ts, sli.timestamps[:1]]
    mask = sli.breaches(values)
    first = len(ts)
    while first > 0 and mask[first - 1] and times[first] - times[first - 1] <= join_gap:
        first -= 1
    return times, first


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


def look_back_services(findings: Findings) -> tuple[str, ...]:
    """The services to fetch further back for: none unless the impact start lies before the data.

    That is when the breach open at the window's start holds from the first sample collected
    (warning :data:`BEYOND_DATA`); the services are those with an SLI in breach at the
    window's start.
    """
    if not any(w.code == BEYOND_DATA for w in findings.warnings):
        return ()
    return tuple(
        sorted(
            s.name
            for s in findings.incident.services
            if any(b.start is None for b in s.sli_breaches)
        )
    )
