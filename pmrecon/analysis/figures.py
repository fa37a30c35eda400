"""Step 5c: the figures of the report, each with its unit, definition, source and queries.

Input: the main incident's record and instants, its :class:`~.measures.SpanMeasures`
and the signals it is made of. Output: :class:`~pmrecon.findings.Figure` entries in a
fixed order — duration, MTTD, MTTA, MTTR, max error rate, max latency (also per
quantile), availability (ratio of sums, and uptime), failed requests (both over the
impacted services, then over every service), impacted users,
error budget consumed, error logs and the suggested impact level. Definitions are also
in ``docs/definitions.md``; keep the two in step. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..findings import Figure, Incident, Instant, PeakValue
from .context import AnalysisContext
from .incidents import DetectedIncident
from .instants import signal_read
from .logs import ErrorLogCounts
from .measures import EVERY_SERVICE, IMPACTED_SERVICES, ImpactedUsers, SpanMeasures
from .signals import signal_ref
from .slis import SliSeries, quantile_name

#: Every figure a report shows, with its unit, in the findings' order.
FIGURE_UNITS = (
    ("duration", "s"),
    ("mttd", "s"),
    ("mtta", "s"),
    ("mttr", "s"),
    ("max_error_rate", "ratio"),
    ("max_latency", "s"),
    ("availability", "ratio"),
    ("availability_uptime", "ratio"),
    ("failed_requests", "requests"),
    ("availability_all_services", "ratio"),
    ("failed_requests_all_services", "requests"),
    ("impacted_users", "users"),
    ("error_budget_consumed", "ratio"),
    ("error_logs", "logs"),
    ("impact_level_suggested", None),
)


def figures_without_incident() -> dict[str, Figure]:
    """Every figure, empty: no incident in the window."""
    return {
        name: Figure(None, unit, "No incident found in the window.", None, [])
        for name, unit in FIGURE_UNITS
    }


def measure_figures(
    ctx: AnalysisContext,
    figures: dict[str, Figure],
    measures: SpanMeasures,
    slis: list[SliSeries],
    span: str,
    impacted: list[str] | None = None,
) -> None:
    """The figures that do not need an incident: peaks, availability, failed requests.

    ``impacted``: the headline availability and failed requests cover these services (the
    measures say so), the ``…_all_services`` figures every service; ``None``: both cover
    every service.
    """
    every_service = sorted(measures.per_service)
    headline = every_service if impacted is None else sorted(impacted)
    figures["max_error_rate"] = _from_metrics(
        ctx,
        measures.max_error_rate.value,
        "ratio",
        f"Highest per-step error ratio of any service over {span}.",
        _series_refs(slis, measures.max_error_rate.series),
        [measures.max_error_rate.service],
    )
    by_quantile = measures.max_latency_by_quantile
    top = by_quantile[-1] if by_quantile else PeakValue()
    figures["max_latency"] = _from_metrics(
        ctx,
        top.value,
        "s",
        f"Highest {quantile_name(top.quantile)} latency (highest quantile collected) of any "
        f"service over {span}.",
        sorted(measures.latency_refs.get(top.series or "", [])),
        [top.service],
    )
    for highest in by_quantile:
        name = "max_latency_" + quantile_name(highest.quantile).replace(".", "_")
        figures[name] = _from_metrics(
            ctx,
            highest.value,
            "s",
            f"Highest {quantile_name(highest.quantile)} latency of any service over {span}.",
            sorted(measures.latency_refs.get(highest.series or "", [])),
            [highest.service],
        )
    availability = measures.availability
    refs = measures.availability_refs
    figures["availability"] = _from_metrics(
        ctx, availability.value, "ratio", availability.definition, refs, headline
    )
    figures["availability_uptime"] = _from_metrics(
        ctx,
        availability.uptime,
        "ratio",
        f"Mean of the uptime/probe series of every analysed service over {span}.",
        sorted({r for s in slis if s.kind == "uptime" for r in s.query_refs}),
        [s.service for s in slis if s.kind == "uptime"],
    )
    scope = EVERY_SERVICE if impacted is None else IMPACTED_SERVICES
    figures["failed_requests"] = _from_metrics(
        ctx,
        measures.failed_requests,
        "requests",
        f"Σ bad requests of {scope} over {span}.",
        refs,
        headline,
    )
    every = measures.availability_all
    figures["availability_all_services"] = _from_metrics(
        ctx, every.value, "ratio", every.definition, measures.availability_all_refs, every_service
    )
    figures["failed_requests_all_services"] = _from_metrics(
        ctx,
        measures.failed_requests_all,
        "requests",
        f"Σ bad requests of {EVERY_SERVICE} over {span}.",
        measures.availability_all_refs,
        every_service,
    )


def _from_metrics(
    ctx: AnalysisContext,
    value: Any,
    unit: str,
    definition: str,
    refs: list[str],
    services: Iterable[str | None],
) -> Figure:
    """A figure computed from the metric series of ``services``, credited to its queries."""
    return Figure(
        value,
        unit,
        definition,
        ctx.source_of(refs, "metrics"),
        refs,
        query_services=ctx.read_for(refs, services),
    )


def incident_figures(
    ctx: AnalysisContext,
    detected: DetectedIncident,
    incident: Incident,
    instants: dict[str, Instant],
    measures: SpanMeasures,
    slis: list[SliSeries],
    users: ImpactedUsers,
    logs: ErrorLogCounts | None,
) -> dict[str, Figure]:
    """Every figure of the main incident, in the findings' order."""
    figures = _time_figures(ctx, detected, incident, instants)
    measure_figures(ctx, figures, measures, slis, "(impact start, resolution]", detected.services)
    figures["impacted_users"] = Figure(
        incident.impacted_users,
        "users",
        users.definition or "Not available: no user field in logs and no impacted_users metric.",
        ctx.source_of(users.refs, None),
        sorted(set(users.refs)),
    )
    figures["error_budget_consumed"] = _from_metrics(
        ctx,
        incident.error_budget_consumed.value,
        "ratio",
        "(1 − availability) × duration ÷ ((1 − slo_target) × slo_period): the share of the SLO "
        "period's error budget the incident used (above 1: budget exceeded). The availability "
        "is that of the impacted services.",
        measures.availability_refs,
        list(detected.services),
    )
    figures["error_logs"] = Figure(
        incident.error_logs,
        "logs",
        "Error-level log documents in the buckets overlapping (impact start, resolution].",
        ctx.source_of([logs.ref] if logs else [], "logs"),
        [logs.ref] if logs and logs.ref else [],
    )
    figures["impact_level_suggested"] = Figure(
        incident.impact_level_suggested,
        None,
        "Suggestion only: Critical when max error ratio ≥ impact_rules.critique.min_error_ratio or "
        "duration ≥ impact_rules.critique.min_duration; Major likewise with impact_rules.majeur; else Minor.",
        "analysis",
        [],
    )
    return figures


def _time_figures(
    ctx: AnalysisContext,
    detected: DetectedIncident,
    incident: Incident,
    instants: dict[str, Instant],
) -> dict[str, Figure]:
    """Duration, MTTD, MTTA and MTTR."""
    impact_ref = signal_ref(detected.impact_signal)
    resolution_ref = signal_ref(detected.resolution_signal)
    first_alert = detected.first_alert_signal
    alert_ref = first_alert.ref if first_alert else None
    metric_source = ctx.source_of([s.ref for s in detected.signals if s.kind == "sli"], "metrics")
    impact_read = signal_read(ctx, detected.impact_signal)
    both_read = _merged(impact_read, signal_read(ctx, detected.resolution_signal))
    return {
        "duration": Figure(
            incident.duration_seconds,
            "s",
            "resolution − impact start.",
            metric_source,
            _refs_of(impact_ref, resolution_ref),
            query_services=both_read,
        ),
        "mttd": Figure(
            incident.mttd_seconds,
            "s",
            "MTTD = first alert − impact start (negative when an alert fired before the SLIs breached).",
            ctx.source_of([alert_ref], "alerts"),
            _refs_of(impact_ref, alert_ref),
            query_services=impact_read,
        ),
        "mtta": Figure(
            incident.mtta_seconds,
            "s",
            "MTTA = acknowledgement − first alert; only when an acknowledgement time is known.",
            instants["acknowledged"].source,
            _refs_of(alert_ref, instants["acknowledged"].ref),
        ),
        "mttr": Figure(
            incident.mttr_seconds,
            "s",
            "MTTR = resolution − impact start.",
            metric_source,
            _refs_of(impact_ref, resolution_ref),
            query_services=both_read,
        ),
    }


def _merged(*reads: dict[str, list[str]]) -> dict[str, list[str]]:
    """The services read of each query, over several findings' reads."""
    out: dict[str, set[str]] = {}
    for read in reads:
        for ref, services in read.items():
            out.setdefault(ref, set()).update(services)
    return {ref: sorted(services) for ref, services in sorted(out.items())}


def _refs_of(*ids: str | None) -> list[str]:
    return sorted({r for r in ids if r})


def _series_refs(slis: list[SliSeries], series_id: str | None) -> list[str]:
    return sorted({r for s in slis if s.series_id == series_id for r in s.query_refs})
