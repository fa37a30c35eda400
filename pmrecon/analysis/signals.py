"""Step 3b: the signals an incident is made of — breaches, error-log bursts, firing alerts.

Input: the SLI series with thresholds (:mod:`.thresholds`), the error-log counts
(:mod:`.logs`) and the evidence's alerts. Output: :class:`Signal` lists, one signal per
run of consecutive samples in breach, per run of burst buckets, and per firing interval
(alerts of a quiet severity, and alerts firing the whole window, say nothing about when
and are left out). Times are epoch seconds. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import Alert
from .context import AnalysisContext
from .logs import ErrorLogCounts
from .slis import SliSeries
from .times import epoch

#: Alerts of these severities never open or extend an incident (e.g. Watchdog).
QUIET_SEVERITIES = ("none", "info")


@dataclass
class Signal:
    """A stretch of time during which something said the service was unwell."""

    kind: str  # "sli", "logs", "alert"
    start: float
    end: float
    sustained: bool  # long enough to count as impact (an SLI for consecutive_steps samples)
    open_start: bool  # already going on at the window's start
    open_end: bool  # still going on at the window's end
    services: list[str]
    start_uncertainty: float | None
    end_uncertainty: float | None
    ref: str | None  # the query (else series or alert) it comes from
    weight: float = 0.0  # seconds of impact: the main incident is the one with the most
    sli: SliSeries | None = None
    first_index: int = 0  # for an SLI: its samples [first_index, last_index] are in breach
    last_index: int = 0
    alert: Alert | None = None
    log_count: int = 0  # for a log burst: error logs in its buckets
    first_step_end: float = 0.0

    def sort_key(self) -> tuple[Any, ...]:
        """Chronological, then a stable order for ties."""
        return (self.start, self.end, self.kind, ",".join(self.services), self.ref or "")


def signal_ref(signal: Signal | None) -> str | None:
    """The reference a finding cites for ``signal``: its SLI's first query, else its own ref."""
    if signal is None:
        return None
    if signal.sli is not None:
        return signal.sli.query_refs[0] if signal.sli.query_refs else signal.sli.series_id
    return signal.ref


def true_runs(timestamps: np.ndarray, mask: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Inclusive index ranges of consecutive True samples, split by gaps longer than ``max_gap``."""
    if len(timestamps) == 0:
        return []
    breaks = np.ones(len(timestamps), dtype=bool)
    breaks[1:] = (mask[1:] != mask[:-1]) | (np.diff(timestamps) > max_gap)
    starts = np.flatnonzero(breaks)
    ends = np.r_[starts[1:] - 1, len(timestamps) - 1]
    selected = mask[starts]
    return list(zip(starts[selected].tolist(), ends[selected].tolist(), strict=True))


def sli_signals(ctx: AnalysisContext, slis: list[SliSeries]) -> list[Signal]:
    """One signal per run of samples beyond the threshold, its end moved back by the SLI's lag."""
    out: list[Signal] = []
    for sli in slis:
        if sli.threshold is None or not len(sli.timestamps):
            continue
        times = sli.timestamps
        for first, last in true_runs(times, sli.in_breach, ctx.settings.join_gap):
            start = max(ctx.window_start, times[first] - sli.step)
            out.append(
                Signal(
                    kind="sli",
                    start=float(start),
                    end=float(max(start, times[last] - sli.lag)),
                    sustained=last - first + 1 >= ctx.settings.consecutive_steps,
                    open_start=first == 0,
                    open_end=last == len(times) - 1,
                    services=[sli.service],
                    start_uncertainty=float(times[first] - times[first - 1])
                    if first > 0
                    else sli.step,
                    end_uncertainty=float(times[last + 1] - times[last])
                    if last + 1 < len(times)
                    else sli.step,
                    ref=sli.query_refs[0] if sli.query_refs else sli.series_id,
                    weight=float(max(0.0, times[last] - sli.lag - start)),
                    sli=sli,
                    first_index=first,
                    last_index=last,
                    first_step_end=float(times[first]),
                )
            )
    return out


def log_signals(ctx: AnalysisContext, logs: ErrorLogCounts | None) -> list[Signal]:
    """One signal per run of burst buckets, naming the services that burst in it."""
    if logs is None:
        return []
    out = []
    for first, last in true_runs(logs.starts, logs.burst, logs.interval * 1.5):
        start = float(logs.starts[first])
        end = min(ctx.window_end, float(logs.starts[last]) + logs.interval)
        services = sorted(
            name
            for name, counts in logs.per_service.items()
            if float(counts[first : last + 1].max(initial=0)) >= ctx.settings.burst_min
        )
        out.append(
            Signal(
                kind="logs",
                start=start,
                end=end,
                sustained=True,
                open_start=first == 0 and start <= ctx.window_start + logs.interval,
                open_end=last == len(logs.starts) - 1 and end >= ctx.window_end - logs.interval,
                services=services,
                start_uncertainty=logs.interval,
                end_uncertainty=logs.interval,
                ref=logs.ref,
                weight=end - start,
                log_count=int(logs.total[first : last + 1].sum()),
                first_step_end=start + logs.interval,
            )
        )
    return out


def alert_signals(ctx: AnalysisContext) -> list[Signal]:
    """One signal per firing interval of an alert that is not of a quiet severity."""
    out = []
    for alert in ctx.evidence.alerts:
        if (alert.severity or "").lower() in QUIET_SEVERITIES:
            continue
        service = ctx.alert_service(alert)
        for interval in alert.firing:
            start, end = epoch(interval.start), epoch(interval.end)
            open_start = interval.open_start or start <= ctx.window_start
            open_end = interval.open_end or end >= ctx.window_end
            if open_start and open_end:
                continue  # firing all window long: a standing alert says nothing about when
            start, end = max(start, ctx.window_start), min(end, ctx.window_end)
            out.append(
                Signal(
                    kind="alert",
                    start=start,
                    end=end,
                    sustained=True,
                    open_start=open_start,
                    open_end=open_end,
                    services=[service] if service else [],
                    start_uncertainty=None,
                    end_uncertainty=None,
                    ref=alert.query_ref or alert.name,
                    alert=alert,
                    first_step_end=start,
                )
            )
    return out
