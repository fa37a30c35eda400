"""Step 6c: detection gaps — what the alerting missed or did badly during the main incident.

Input: the main :class:`~pmrecon.findings.Incident` (impact start, first alert,
resolution, services, cascade), the window's :class:`~pmrecon.findings.AlertFinding`
list and the settings ``late_alert_after`` and ``stale_alert_after``. Output:
:class:`~pmrecon.findings.DetectionGap` entries, in the order of :data:`GAP_KINDS`, then
by time: no alert fired at all (MTTD unknown, never invented), the first alert came late,
an alert flapped, an alert kept firing after resolution, an impacted service had no
alert. Each is a candidate line for "what can be improved", not a verdict. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ..findings import AlertFinding, DetectionGap, Incident
from .settings import AnalysisSettings
from .signals import QUIET_SEVERITIES

#: The kinds of gap, in the order the findings list them.
GAP_KINDS = ("no_alert", "late_alert", "unalerted_service", "flapping", "stale_alert")
#: Firing episodes of one alert within the incident from which it counts as flapping:
#: two can be one honest re-fire; three is an alert that cannot make up its mind.
FLAPPING_MIN_EPISODES = 3

Span = tuple[dt.datetime, dt.datetime]


def detection_gaps(
    incident: Incident,
    alerts: list[AlertFinding],
    settings: AnalysisSettings,
    window: Span,
) -> list[DetectionGap]:
    """The detection gaps of the main incident (none without an incident)."""
    if not incident.found:
        return []
    span = _incident_span(incident, window)
    loud = [a for a in alerts if (a.severity or "").lower() not in QUIET_SEVERITIES]
    # the alert the incident names as its first counts even when it fired just outside the
    # span (before a later impact start): the findings never say both "first alert" and "none"
    firing = [a for a in loud if list(_episodes(a, span, window)) or _fired_first(a, incident)]
    gaps: list[DetectionGap] = []
    if not firing:
        gaps.append(_no_alert(incident))
    else:
        gaps += _late_alert(incident, firing, settings)
        gaps += _unalerted_services(incident, loud)
    gaps += _flapping(firing, span, window)
    gaps += _stale(incident, firing, span, window, settings)
    return sorted(gaps, key=lambda g: (GAP_KINDS.index(g.kind), g.at or window[0], g.alert or ""))


def _incident_span(incident: Incident, window: Span) -> Span:
    """[impact start, resolution], the window's edges standing for unknown bounds."""
    return (incident.impact_start or window[0], incident.resolution or window[1])


def _bounds(span: tuple[dt.datetime | None, dt.datetime | None], window: Span) -> Span:
    return (span[0] or window[0], span[1] or window[1])


def _episodes(alert: AlertFinding, span: Span, window: Span) -> Iterator[Span]:
    """The alert's firing intervals that overlap ``span`` (open bounds at the window's edges)."""
    for interval in alert.firing:
        start, end = _bounds(interval, window)
        if start <= span[1] and end >= span[0]:
            yield start, end


def _fired_first(alert: AlertFinding, incident: Incident) -> bool:
    """Whether ``alert`` is the incident's first alert (its times are kept to the millisecond)."""
    first = incident.first_alert
    return first is not None and any(
        start is not None and abs((start - first).total_seconds()) < 0.001
        for start, _ in alert.firing
    )


def _no_alert(incident: Incident) -> DetectionGap:
    return DetectionGap(
        kind="no_alert",
        alert=None,
        at=incident.impact_start,
        summary="No alert fired during the incident: it was not detected by alerting, and "
        "MTTD is unknown.",
    )


def _late_alert(
    incident: Incident, firing: list[AlertFinding], settings: AnalysisSettings
) -> list[DetectionGap]:
    """The first alert, when it fired more than ``late_alert_after`` after impact start."""
    mttd = incident.mttd_seconds
    if mttd is None or incident.first_alert is None or mttd <= settings.late_alert_after:
        return []
    first = next((a for a in firing if _fired_first(a, incident)), None)
    name = first.name if first else None
    return [
        DetectionGap(
            kind="late_alert",
            alert=name,
            at=incident.first_alert,
            summary=f"The first alert ({name or 'unnamed'}) fired {mttd / 60:.0f} min after "
            f"impact start (more than late_alert_after, {settings.late_alert_after / 60:.0f} min).",
            service=first.service if first else None,
            seconds=mttd,
        )
    ]


def _unalerted_services(incident: Incident, loud: list[AlertFinding]) -> list[DetectionGap]:
    """Impacted services for which no alert fired anywhere in the window."""
    alerted = {a.service for a in loud if a.firing}
    first_breach = {step.service: step.first_breach_at for step in incident.cascade}
    return [
        DetectionGap(
            kind="unalerted_service",
            alert=None,
            at=first_breach.get(service.name) or incident.impact_start,
            summary=f"{service.name} was impacted but no alert fired for it in the window.",
            service=service.name,
        )
        for service in incident.services
        if service.name not in alerted
    ]


def _flapping(firing: list[AlertFinding], span: Span, window: Span) -> list[DetectionGap]:
    """Alert series that fired at least :data:`FLAPPING_MIN_EPISODES` times within the incident."""
    gaps = []
    for alert in firing:
        episodes = sorted(_episodes(alert, span, window))
        if len(episodes) >= FLAPPING_MIN_EPISODES:
            gaps.append(
                DetectionGap(
                    kind="flapping",
                    alert=alert.name,
                    at=episodes[0][0],
                    summary=f"{alert.name} fired {len(episodes)} separate times during the "
                    f"incident (flapping).",
                    service=alert.service,
                    episodes=len(episodes),
                )
            )
    return gaps


def _stale(
    incident: Incident,
    firing: list[AlertFinding],
    span: Span,
    window: Span,
    settings: AnalysisSettings,
) -> list[DetectionGap]:
    """Incident alerts still firing more than ``stale_alert_after`` after resolution."""
    resolution = incident.resolution
    if resolution is None:
        return []
    gaps = []
    for alert in firing:
        # (the end as recorded, None while still firing; the end bounded by the window)
        ends = [
            (interval[1], end)
            for interval in alert.firing
            for start, end in [_bounds(interval, window)]
            if start <= resolution and end >= span[0]
        ]
        if not ends:
            continue
        known_end, end = max(ends, key=lambda pair: pair[1])
        lingered = (end - resolution).total_seconds()
        if lingered <= settings.stale_alert_after:
            continue
        still = " and was still firing at the window's end" if known_end is None else ""
        gaps.append(
            DetectionGap(
                kind="stale_alert",
                alert=alert.name,
                at=known_end,
                summary=f"{alert.name} kept firing {lingered / 60:.0f} min after resolution{still}.",
                service=alert.service,
                seconds=lingered,
            )
        )
    return gaps
