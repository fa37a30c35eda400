"""Step 5: the main incident described — its record, key instants and figures.

Input: the main :class:`~.incidents.DetectedIncident` (or ``None``), the SLI series,
the error-log counts and the times only a person knows. Output: the
:class:`~pmrecon.findings.Incident` record, its instants (in the order of
:data:`~.instants.INSTANT_NAMES`) and its figures. Without an incident, the figures
still measure the whole window. Pure; warnings go to the context.
"""

from __future__ import annotations

import datetime as dt

from ..findings import ErrorBudget, Figure, Incident, Instant
from ..model import rfc3339
from . import instants as key_instants
from .context import AnalysisContext
from .figures import figures_without_incident, incident_figures, measure_figures
from .incidents import DetectedIncident
from .logs import ErrorLogCounts
from .measures import SpanMeasures, impact_level, impacted_users, measure_span
from .services import service_impacts
from .slis import SliSeries

#: How the figures name the span they measure.
INCIDENT_SPAN = "(impact start, resolution]"
WINDOW_SPAN = "the whole window (no incident found)"


def describe_main_incident(
    ctx: AnalysisContext,
    detected: DetectedIncident | None,
    slis: list[SliSeries],
    logs: ErrorLogCounts | None,
    human: dict[str, dt.datetime | None],
) -> tuple[Incident, dict[str, Instant], dict[str, Figure]]:
    """The main incident's record, instants and figures (an empty record without one)."""
    incident = Incident()
    instants = key_instants.human_instants(human, incident)
    if detected is None:
        return _no_incident(ctx, incident, instants, slis)

    incident.found = True
    incident.ongoing_at_start = detected.ongoing_at_start
    incident.ongoing_at_end = detected.ongoing_at_end
    incident.status = "ongoing" if detected.ongoing_at_end else "resolved"
    low, high = detected.span(ctx)
    _set_instants(ctx, detected, incident, instants, low, high)
    _set_durations(ctx, detected, incident)

    measures = measure_span(ctx, slis, low, high, INCIDENT_SPAN, detected.services)
    _set_measures(incident, measures)
    users = impacted_users(ctx, low, high)
    incident.impacted_users = users.count
    error_logs = _error_logs_by_service(incident, logs, low, high)
    _set_budget_and_level(ctx, incident, low, high)
    incident.services = service_impacts(ctx, detected, error_logs, measures.per_service)

    figures = incident_figures(ctx, detected, incident, instants, measures, slis, users, logs)
    return incident, key_instants.in_order(instants), figures


def _no_incident(
    ctx: AnalysisContext,
    incident: Incident,
    instants: dict[str, Instant],
    slis: list[SliSeries],
) -> tuple[Incident, dict[str, Instant], dict[str, Figure]]:
    """No incident: what the window looked like is still worth saying."""
    for name in ("impact_start", "first_alert", "mitigation_start", "resolution", "end"):
        instants[name] = Instant(at=None, definition=key_instants.DEFINITIONS[name])
    figures = figures_without_incident()
    measures = measure_span(ctx, slis, ctx.window_start, ctx.window_end, WINDOW_SPAN)
    _set_measures(incident, measures)
    measure_figures(ctx, figures, measures, slis, WINDOW_SPAN)
    return incident, key_instants.in_order(instants), figures


def _set_instants(
    ctx: AnalysisContext,
    detected: DetectedIncident,
    incident: Incident,
    instants: dict[str, Instant],
    low: float,
    high: float,
) -> None:
    """The derived instants, on the record and in ``instants``; a silence may stand for --ack."""
    instants["impact_start"] = key_instants.impact_start_instant(ctx, detected)
    incident.impact_start = instants["impact_start"].at
    instants["first_alert"] = key_instants.first_alert_instant(ctx, detected)
    incident.first_alert = instants["first_alert"].at
    if incident.acknowledged is None:
        silence = key_instants.silence_instant(ctx, detected, low, high)
        if silence is not None:
            instants["acknowledged"] = silence
            incident.acknowledged = silence.at
    instants["resolution"] = key_instants.resolution_instant(ctx, detected)
    incident.resolution = instants["resolution"].at
    instants["end"] = key_instants.end_instant(ctx, detected)
    incident.end = instants["end"].at
    instants["mitigation_start"] = key_instants.mitigation_instant(ctx, detected)
    incident.mitigation_start = instants["mitigation_start"].at


def _set_durations(ctx: AnalysisContext, detected: DetectedIncident, incident: Incident) -> None:
    """Duration (= MTTR), elapsed time while ongoing, MTTD and MTTA, in seconds."""
    start = detected.impact_start
    if start is not None and detected.resolution is not None:
        incident.duration_seconds = detected.resolution - start
        incident.mttr_seconds = incident.duration_seconds
    if start is not None and detected.resolution is None:
        incident.elapsed_seconds = ctx.window_end - start
    if start is not None and detected.first_alert is not None:
        incident.mttd_seconds = detected.first_alert - start
    if incident.acknowledged is not None and incident.first_alert is not None:
        mtta = (incident.acknowledged - incident.first_alert).total_seconds()
        if mtta >= 0:
            incident.mtta_seconds = mtta
        else:
            # An acknowledgement cannot precede what it acknowledges: a mistyped --ack, or
            # one of another alert. Never print a negative MTTA; say why it is missing.
            ctx.warn(
                f"acknowledged at {rfc3339(incident.acknowledged)}, {-mtta:.0f} s before the "
                f"first alert ({rfc3339(incident.first_alert)}): MTTA not computed; check --ack",
                "ack_before_first_alert",
                seconds=f"{-mtta:.0f}",
            )


def _set_measures(incident: Incident, measures: SpanMeasures) -> None:
    incident.max_error_rate = measures.max_error_rate
    incident.max_latency_by_quantile = measures.max_latency_by_quantile
    if measures.max_latency_by_quantile:
        incident.max_latency_seconds = measures.max_latency_by_quantile[-1]
    incident.availability = measures.availability
    incident.failed_requests = measures.failed_requests
    incident.availability_all_services = measures.availability_all.value
    incident.failed_requests_all_services = measures.failed_requests_all


def _error_logs_by_service(
    incident: Incident, logs: ErrorLogCounts | None, low: float, high: float
) -> dict[str, int] | None:
    """Error logs in the buckets overlapping the span, in total (on the record) and per service."""
    if logs is None:
        return None
    overlapping = (logs.starts + logs.interval > low) & (logs.starts < high)
    incident.error_logs = int(logs.total[overlapping].sum())
    return {k: int(v[overlapping].sum()) for k, v in logs.per_service.items()}


def _set_budget_and_level(
    ctx: AnalysisContext, incident: Incident, low: float, high: float
) -> None:
    """Error budget consumed and suggested impact level, over the observed duration when open."""
    settings = ctx.settings
    observed = incident.duration_seconds
    if observed is None:
        observed = high - low
    availability = incident.availability.value
    if availability is not None and settings.slo_target < 1 and observed is not None:
        consumed = (1 - availability) * observed / ((1 - settings.slo_target) * settings.slo_period)
        incident.error_budget_consumed = ErrorBudget(
            consumed, settings.slo_target, settings.slo_period
        )
    else:
        incident.error_budget_consumed = ErrorBudget(None, settings.slo_target, settings.slo_period)
    incident.impact_level_suggested = impact_level(
        settings, incident.max_error_rate.value, observed
    )
