"""Step 4: signals grouped into incidents, each with its key instants; the main one chosen.

Input: every :class:`~.signals.Signal` of the window and the error-log counts. Output:
:class:`DetectedIncident` objects — signals closer than the join gap form one incident
(a weak signal only joins within the stability period) and only groups holding a
sustained signal count — each with its impact start, first alert, resolution (confirmed
once everything stayed within thresholds for the stability period) and end, in epoch
seconds. :func:`choose_main` picks the one with impact and the most breach time. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .context import AnalysisContext
from .logs import ErrorLogCounts
from .lookback import FoundBefore, breach_start_before, firing_start_before, in_breach_since
from .signals import Signal
from .thresholds import BaselineSamples
from .times import epoch


@dataclass
class DetectedIncident:
    """A group of signals that make one incident, and its key instants (epoch seconds)."""

    signals: list[Signal]
    impact_start: float | None = None  # None: already going on at the window's start
    impact_signal: Signal | None = None
    ongoing_at_start: bool = False
    resolution: float | None = None  # None: not over (or not confirmed) at the window's end
    resolution_signal: Signal | None = None
    tentative_resolution: float | None = None  # within thresholds, stability not yet seen
    first_alert: float | None = None
    first_alert_signal: Signal | None = None
    end: float | None = None
    services: list[str] = field(default_factory=list)
    # found by looking back before the window (:mod:`.lookback`): the start's uncertainty
    impact_start_before: FoundBefore | None = None
    first_alert_before: FoundBefore | None = None
    # no start found: the breach holds from the first sample collected, at this time
    in_breach_since: float | None = None

    @property
    def impact(self) -> list[Signal]:
        """The sustained SLI breaches and log bursts (alerts alone are no measured impact)."""
        return [s for s in self.signals if s.sustained and s.kind in ("sli", "logs")]

    @property
    def weight(self) -> float:
        """Seconds of measured impact."""
        return sum(s.weight for s in self.impact)

    @property
    def ongoing_at_end(self) -> bool:
        return self.resolution is None

    def span(self, ctx: AnalysisContext) -> tuple[float, float]:
        """(impact start, resolution), bounded by the first signal and the window's end."""
        low = (
            self.impact_start
            if self.impact_start is not None
            else min(s.start for s in self.signals)
        )
        high = self.resolution if self.resolution is not None else ctx.window_end
        return low, max(low, high)


def detect_incidents(
    ctx: AnalysisContext, signals: list[Signal], logs: ErrorLogCounts | None
) -> list[DetectedIncident]:
    """The incidents of the window, in order, each with its key instants."""
    baseline = BaselineSamples(ctx.evidence)
    _sustained_across_the_start(ctx, signals, baseline)
    incidents = group_signals(ctx, signals)
    for incident in incidents:
        _find_impact_start(ctx, incident)
        if incident.ongoing_at_start:
            _look_back_impact(ctx, incident, baseline)
        _find_resolution(ctx, incident, logs)
        _find_first_alert_and_end(ctx, incident)
        incident.services = sorted(
            {name for s in incident.signals if s.sustained for name in s.services}
        )
    return incidents


def _sustained_across_the_start(
    ctx: AnalysisContext, signals: list[Signal], baseline: BaselineSamples
) -> None:
    """A breach open at the window's start counts its samples before the window too."""
    for signal in signals:
        if signal.sli is None or signal.sustained or not signal.open_start:
            continue
        before = breach_start_before(signal.sli, baseline, ctx.settings.join_gap)
        inside = signal.last_index - signal.first_index + 1
        if before is not None and before.samples + inside >= ctx.settings.consecutive_steps:
            signal.sustained = True


def group_signals(ctx: AnalysisContext, signals: list[Signal]) -> list[DetectedIncident]:
    """Signals in time order, a new group after each gap; groups without a sustained signal dropped."""
    groups: list[list[Signal]] = []
    group_end = -math.inf
    for signal in sorted(signals, key=Signal.sort_key):
        gap = ctx.settings.join_gap if signal.sustained else ctx.settings.stability
        if groups and signal.start - group_end <= gap:
            groups[-1].append(signal)
            group_end = max(group_end, signal.end)
        else:
            groups.append([signal])
            group_end = signal.end
    return [DetectedIncident(g) for g in groups if any(s.sustained for s in g)]


def choose_main(incidents: list[DetectedIncident]) -> DetectedIncident | None:
    """The incident with measured impact and the most breach time (the earliest on a tie)."""
    if not incidents:
        return None
    return max(
        incidents,
        key=lambda i: (bool(i.impact), i.weight, -min(s.start for s in i.signals)),
    )


def _find_impact_start(ctx: AnalysisContext, incident: DetectedIncident) -> None:
    impact = incident.impact
    if impact:
        # equal starts: the most precise signal (SLI steps are finer than log buckets)
        first = min(
            impact,
            key=lambda s: (s.start, s.start_uncertainty or 0.0, s.kind != "sli", s.sort_key()),
        )
        incident.impact_signal = first
        incident.ongoing_at_start = first.open_start
        incident.impact_start = None if first.open_start else first.start
        return
    # alerts only: the condition began when the first alert became active
    first = min(_alerts(incident), key=Signal.sort_key)
    incident.impact_signal = first
    incident.ongoing_at_start = first.open_start
    starts = [first.start]
    alert = first.alert
    if alert is not None:
        starts += [
            epoch(i.start)
            for i in alert.pending
            if not i.open_start and epoch(i.start) <= first.start
        ]
        if alert.active_at is not None:
            starts.append(epoch(alert.active_at))
    incident.impact_start = None if first.open_start else max(ctx.window_start, min(starts))
    if first.open_start and alert is not None and alert.active_at is not None:
        # its activation time (ALERTS_FOR_STATE) is kept even when before the window
        active = epoch(alert.active_at)
        if active <= ctx.window_start:
            incident.impact_start = active
            incident.impact_start_before = FoundBefore(active, alert.evaluation_seconds, "alert")


def _look_back_impact(
    ctx: AnalysisContext, incident: DetectedIncident, baseline: BaselineSamples
) -> None:
    """An impact open at the window's start: the earliest breach start the baseline shows.

    Only SLI breaches can be followed back (log bursts have no baseline); the impact start
    is the earliest start found among the SLIs in breach at the window's first sample.
    """
    found = []
    for signal in incident.impact:
        if signal.open_start and signal.sli is not None:
            before = breach_start_before(signal.sli, baseline, ctx.settings.join_gap)
            if before is not None:
                found.append((before.start, signal.sort_key(), before, signal))
    if found:
        _, _, before, signal = min(found, key=lambda f: (f[0], f[1]))
        incident.impact_start, incident.impact_signal = before.start, signal
        incident.impact_start_before = before
        return
    seen = [
        since
        for signal in incident.impact
        if signal.open_start
        and signal.sli is not None
        and (since := in_breach_since(signal.sli, baseline, ctx.settings.join_gap)) is not None
    ]
    incident.in_breach_since = min(seen, default=None)


def _find_resolution(
    ctx: AnalysisContext, incident: DetectedIncident, logs: ErrorLogCounts | None
) -> None:
    """The end of the last measured signal, once the data shows a stability period after it."""
    measured = [s for s in incident.signals if s.kind in ("sli", "logs")]
    if not measured:  # alerts only: the end of the last one
        alerts = _alerts(incident)
        if not any(s.open_end for s in alerts):
            last = max(alerts, key=lambda s: (s.end, s.sort_key()))
            incident.resolution, incident.resolution_signal = last.end, last
        return
    if any(s.open_end for s in measured):
        return
    last = max(measured, key=lambda s: (s.end, s.sort_key()))
    # how far each signal's data reaches: the resolution holds if all of it saw the stability
    covered = []
    for s in measured:
        if s.sli is not None:
            covered.append(float(s.sli.timestamps[-1]) + s.sli.step / 2)
        elif logs is not None:
            covered.append(float(logs.starts[-1]) + logs.interval)
    if min(covered) >= last.end + ctx.settings.stability - 1e-6:
        incident.resolution, incident.resolution_signal = last.end, last
    else:
        incident.tentative_resolution = last.end


def _find_first_alert_and_end(ctx: AnalysisContext, incident: DetectedIncident) -> None:
    alerts = _alerts(incident)
    # an alert already firing at the window's start fired first, at a time only its
    # activation and its rule's ``for`` tell; unknown when one of those is missing
    open_alerts = [s for s in alerts if s.open_start]
    before = [
        (found, s)
        for s in open_alerts
        if s.alert is not None
        and (found := firing_start_before(s.alert, ctx.window_start)) is not None
    ]
    if alerts and not open_alerts:
        first = min(alerts, key=Signal.sort_key)
        incident.first_alert, incident.first_alert_signal = first.start, first
    elif open_alerts and len(before) == len(open_alerts):
        found, first = min(before, key=lambda f: (f[0].start, f[1].sort_key()))
        incident.first_alert, incident.first_alert_signal = found.start, first
        incident.first_alert_before = found
    if incident.resolution is not None and not any(s.open_end for s in alerts):
        last_alert = max((s.end for s in alerts), default=-math.inf)
        incident.end = min(
            ctx.window_end, max(incident.resolution + ctx.settings.stability, last_alert)
        )


def _alerts(incident: DetectedIncident) -> list[Signal]:
    return [s for s in incident.signals if s.kind == "alert"]
