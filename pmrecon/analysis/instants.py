"""Step 5a: the key instants of the main incident, each with its uncertainty and origin.

Input: the main :class:`~.incidents.DetectedIncident`, the evidence's events and
sources, and the times only a person knows. Output: :class:`~pmrecon.findings.Instant`
records (named as in :data:`INSTANT_NAMES`) with a definition each — impact start,
first alert, acknowledgement (given, else the first matching silence), mitigation start
(the first change event, else the first lasting improvement), resolution and end. Every
definition is also in ``docs/definitions.md``; keep the two in step. Pure.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from ..findings import Incident, Instant
from ..model import Event
from .context import AnalysisContext
from .incidents import DetectedIncident
from .signals import Signal, signal_ref
from .times import as_utc, epoch, utc_time, utc_time_of

#: Event kinds that count as a change when looking for the start of mitigation.
CHANGE_KINDS = (
    "deploy",
    "rollback",
    "config_change",
    "change",
    "restart",
    "scale",
    "failover",
    "feature_flag",
)
#: Mitigation by improvement: the SLI never again comes within this share of its peak excess.
IMPROVEMENT_SHARE = 0.9

HUMAN_INSTANTS = ("acknowledged", "declared", "investigation_start", "cause_identified")
INSTANT_NAMES = (
    "impact_start",
    "first_alert",
    "acknowledged",
    "declared",
    "investigation_start",
    "cause_identified",
    "mitigation_start",
    "resolution",
    "end",
)

DEFINITIONS = {
    "impact_start": (
        "Start of the first step of the earliest sustained breach (an SLI beyond its threshold "
        "for consecutive_steps samples) or of the first error-log burst, whichever is earlier."
    ),
    "impact_start_alert": (
        "No SLI breach or log burst: the time the first alert of the incident became active "
        "(its activeAt, else the start of its pending or firing interval)."
    ),
    "first_alert": "Start of the earliest firing (not pending) interval among the incident's alerts.",
    "found_before_window": (
        "It was already in breach at the window's start: found by walking back through the "
        "samples of the same SLI before the window (the baseline's, then those of the "
        "look-back's further stretch, up to analysis.lookback_max) to the first step of the "
        "uninterrupted breach."
    ),
    "activated_before_window": (
        "It was already active at the window's start: its activation time (ALERTS_FOR_STATE), "
        "from before the window."
    ),
    "first_alert_before_window": (
        "It was already firing at the window's start: its activation time (ALERTS_FOR_STATE) "
        "plus its rule's `for`, at the rule's evaluation interval."
    ),
    "acknowledged": "Acknowledgement time given on the command line (--ack).",
    "acknowledged_silence": (
        "Creation of the first Alertmanager silence matching one of the incident's alerts "
        "(no --ack given)."
    ),
    "declared": "Declaration time given on the command line (--declared).",
    "investigation_start": "Investigation start given on the command line.",
    "cause_identified": "Time the cause was identified, given on the command line.",
    "mitigation_event": (
        "First change event (deploy, rollback, config change…) after the end of the first step "
        "in breach and before resolution."
    ),
    "mitigation_improvement": (
        "No change event: end of the last step at which the most-breached SLI was within "
        "10% of its peak excess over the threshold; it stayed lower afterwards."
    ),
    "mitigation_start": (
        "First change event after the end of the first step in breach, else the first sustained "
        "improvement of the most-breached SLI."
    ),
    "resolution": (
        "End of the last step in breach (or of the last log burst) of the incident, once every "
        "breached SLI stayed within its threshold for stability_period."
    ),
    "resolution_alert": "No SLI breach or log burst: the end of the incident's last firing alert.",
    "end": "The later of: resolution + stability_period, and the end of the incident's last firing alert.",
}


def human_instants(human: dict[str, dt.datetime | None], incident: Incident) -> dict[str, Instant]:
    """The instants only a person knows, as given (``None`` when not given); set on ``incident``."""
    instants = {}
    for name in HUMAN_INSTANTS:
        at = human.get(name)
        instants[name] = Instant(
            at=at,
            uncertainty_seconds=0.0 if at else None,
            source="human" if at else None,
            definition=DEFINITIONS[name],
        )
        setattr(incident, name, at)
    return instants


def in_order(instants: dict[str, Instant]) -> dict[str, Instant]:
    """The instants in the order of :data:`INSTANT_NAMES` (the findings' order)."""
    return {name: instants[name] for name in INSTANT_NAMES}


def impact_start_instant(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The impact start: of the first sustained breach or burst, else of the first alert."""
    signal = detected.impact_signal
    assert signal is not None
    if detected.impact:
        definition = DEFINITIONS["impact_start"]
        source = "logs" if signal.kind == "logs" else "series"
        uncertainty = signal.start_uncertainty
    else:
        definition, source = DEFINITIONS["impact_start_alert"], "alert"
        uncertainty = evaluation_interval(ctx, signal)
    before = detected.impact_start_before
    if before is not None:
        alert = before.origin == "alert"
        definition += (
            " " + DEFINITIONS["activated_before_window" if alert else "found_before_window"]
        )
        uncertainty = before.uncertainty if before.uncertainty is not None else uncertainty
        seconds = f"{ctx.window_start - before.start:.0f}"
        where = "its alert's activation time" if alert else "the samples before the window"
        ctx.warn(
            f"incident already in progress at the window's start: its impact start "
            f"({utc_time_of(before.start).isoformat()}) was found in {where}, "
            f"{seconds} s before the window",
            "impact_activated_before_window" if alert else "impact_found_before_window",
            at=utc_time_of(before.start).isoformat(),
            seconds=seconds,
        )
    elif detected.ongoing_at_start:
        definition += (
            " The incident was already in progress at the window's start: its start is unknown."
        )
        since = detected.in_breach_since
        if since is None:
            ctx.warn(
                "incident already in progress at the window's start; widen --from to see its start",
                "ongoing_at_start",
            )
        else:
            hours = f"{round((ctx.window_start - since) / 3600, 1):g}"
            ctx.warn(
                f"incident already in progress at the window's start, and already in breach "
                f"{hours} h before it, from the first sample collected "
                f"({utc_time_of(since).isoformat()}): its start is unknown; raise "
                "analysis.lookback_max or widen --from to find it",
                "impact_start_beyond_lookback",
                at=utc_time_of(since).isoformat(),
                hours=hours,
            )
    at = utc_time(detected.impact_start)
    return Instant(
        at,
        uncertainty if at else None,
        source,
        signal_ref(signal),
        definition,
        found_before_window=before is not None,
        query_services=signal_read(ctx, signal),
    )


def first_alert_instant(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The start of the first firing interval among the incident's alerts."""
    first = detected.first_alert_signal
    definition = DEFINITIONS["first_alert"]
    before = detected.first_alert_before
    if before is not None and first is not None and first.alert is not None:
        definition += " " + DEFINITIONS["first_alert_before_window"]
        ctx.warn(
            f"alert {first.alert.name} was already firing at the window's start: it fired at "
            f"{utc_time_of(before.start).isoformat()}, its activation plus its rule's `for`",
            "first_alert_found_before_window",
            alert=first.alert.name,
            at=utc_time_of(before.start).isoformat(),
        )
    return Instant(
        utc_time(detected.first_alert),
        evaluation_interval(ctx, first) if first else None,
        "alert" if first else None,
        f"{first.alert.name} ({first.ref})" if first and first.alert else None,
        definition,
        found_before_window=before is not None,
    )


def silence_instant(
    ctx: AnalysisContext, detected: DetectedIncident, low: float, high: float
) -> Instant | None:
    """The acknowledgement read from the first matching silence, if one was created in time."""
    silence = _matching_silence(ctx, detected, low, high)
    if silence is None:
        return None
    return Instant(
        as_utc(silence.at),
        0.0,
        "silence",
        silence.ref or silence.text,
        DEFINITIONS["acknowledged_silence"],
    )


def resolution_uncertainty(ctx: AnalysisContext, detected: DetectedIncident) -> float | None:
    """How precisely the resolution is known: its signal's step, or the rule evaluation interval."""
    signal = detected.resolution_signal
    if signal is None:
        return None
    if signal.kind != "alert":
        return signal.end_uncertainty
    return evaluation_interval(ctx, signal)


def resolution_instant(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The resolution; warns when it is not confirmed or the incident is still going on."""
    signal = detected.resolution_signal
    if detected.impact:
        definition = DEFINITIONS["resolution"]
        source = "logs" if signal and signal.kind == "logs" else "series"
    else:
        definition, source = DEFINITIONS["resolution_alert"], "alert"
    instant = Instant(
        utc_time(detected.resolution),
        resolution_uncertainty(ctx, detected),
        source if signal else None,
        signal_ref(signal),
        definition,
        query_services=signal_read(ctx, signal),
    )
    if detected.resolution is None and detected.tentative_resolution is not None:
        ctx.warn(
            f"SLIs back within thresholds since "
            f"{utc_time_of(detected.tentative_resolution).isoformat()} but the window ends "
            f"before the stability period ({ctx.settings.stability:.0f}s) has elapsed: "
            f"resolution not confirmed; widen --to",
            "resolution_unconfirmed",
            stability=f"{ctx.settings.stability:.0f}",
        )
    elif detected.resolution is None:
        ctx.warn("incident still in progress at the window's end", "ongoing_at_end")
    return instant


def end_instant(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The end: resolution + stability period, or the end of the last alert if later."""
    at = utc_time(detected.end)
    alert_uncertainty = max(
        (evaluation_interval(ctx, s) or 0.0 for s in detected.signals if s.kind == "alert"),
        default=0.0,
    )
    uncertainty = max(resolution_uncertainty(ctx, detected) or 0.0, alert_uncertainty)
    return Instant(
        at, uncertainty if at else None, "analysis" if at else None, None, DEFINITIONS["end"]
    )


def signal_read(ctx: AnalysisContext, signal: Signal | None) -> dict[str, list[str]]:
    """The service a finding citing ``signal`` rests on, when its query is a grouped one."""
    if signal is None:
        return {}
    services = [signal.sli.service] if signal.sli is not None else signal.services
    return ctx.read_for([signal_ref(signal)], services)


def evaluation_interval(ctx: AnalysisContext, signal: Signal | None) -> float | None:
    """How precisely an alert's transitions are known: the rule evaluation interval."""
    name = ctx.query_source.get(signal.ref or "") if signal is not None else None
    for source in ctx.evidence.sources:
        if name is not None and source.name != name:
            continue
        for seconds in (source.evaluation_interval_seconds, source.scrape_interval_seconds):
            if seconds is not None:
                return seconds
    steps = [s.step_seconds for s in ctx.evidence.series if s.step_seconds]
    return float(min(steps)) if steps else None


def _matching_silence(
    ctx: AnalysisContext, detected: DetectedIncident, low: float, high: float
) -> Event | None:
    """The silence to offer as acknowledgement: the one the source marked (``ack``), else the
    first naming one of the incident's alerts; only silences created during the incident."""
    names = {s.alert.name for s in detected.signals if s.alert is not None}
    marked, named = [], []
    for event in ctx.evidence.events:
        if event.kind != "silence" or not (low <= epoch(event.at) <= high):
            continue
        if event.labels.get("ack") == "true":
            marked.append(event)
        if "alertname" in event.labels:
            if event.labels["alertname"] in names:
                named.append(event)
        elif any(
            re.search(
                rf"\b{re.escape(name)}\b", event.text + " " + event.labels.get("matchers", "")
            )
            for name in names
        ):
            named.append(event)
    found = marked or named
    found.sort(key=lambda e: (epoch(e.at), e.text))
    return found[0] if found else None


def mitigation_instant(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The first change event after the first step in breach, else the first lasting improvement."""
    change = _first_change(ctx, detected)
    if change is not None:
        return Instant(
            as_utc(change.at),
            0.0,
            "event",
            change.ref or f"{change.kind}: {change.text}",
            DEFINITIONS["mitigation_event"],
        )
    return _improvement(ctx, detected)


def _first_change(ctx: AnalysisContext, detected: DetectedIncident) -> Event | None:
    signal = detected.impact_signal
    low = signal.first_step_end if signal is not None else ctx.window_start
    high = detected.resolution if detected.resolution is not None else ctx.window_end
    changes = sorted(
        (e for e in ctx.evidence.events if e.kind in CHANGE_KINDS and low < epoch(e.at) <= high),
        key=lambda e: (epoch(e.at), e.kind, e.text),
    )
    return changes[0] if changes else None


def _most_breached(detected: DetectedIncident) -> Signal | None:
    """The sustained SLI breach that went furthest beyond its threshold, relative to it."""
    runs = [s for s in detected.signals if s.sustained and s.sli is not None and s.sli.threshold]
    if not runs:
        return None

    def severity(s: Signal) -> float:
        assert s.sli is not None and s.sli.threshold
        excess = s.sli.excess()[s.first_index : s.last_index + 1]
        return float(excess.max()) / abs(s.sli.threshold)

    return max(runs, key=lambda s: (severity(s), -s.start))


def _improvement(ctx: AnalysisContext, detected: DetectedIncident) -> Instant:
    """The end of the last step at which the most-breached SLI was near its peak excess."""
    none = Instant(None, None, None, None, DEFINITIONS["mitigation_improvement"])
    best = _most_breached(detected)
    if best is None:
        return none
    sli = best.sli
    assert sli is not None
    low = detected.impact_start if detected.impact_start is not None else ctx.window_start
    high = detected.resolution if detected.resolution is not None else ctx.window_end
    indices = np.flatnonzero((sli.timestamps >= low) & (sli.timestamps <= high + sli.lag))
    if not len(indices):
        return none
    excess = sli.excess()[indices]
    peak = float(excess.max())
    last_peak = int(indices[np.flatnonzero(excess >= IMPROVEMENT_SHARE * peak)[-1]])
    after = np.flatnonzero(sli.timestamps > sli.timestamps[last_peak])
    if detected.resolution is None and len(after) < ctx.settings.consecutive_steps:
        return none
    return Instant(
        utc_time(min(high, max(low, float(sli.timestamps[last_peak]) - sli.lag))),
        sli.step,
        "series",
        sli.query_refs[0] if sli.query_refs else sli.series_id,
        DEFINITIONS["mitigation_improvement"],
        query_services=ctx.read_for(sli.query_refs[:1], [sli.service]),
    )
