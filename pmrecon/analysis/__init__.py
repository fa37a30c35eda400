"""Analysis: from the evidence to the facts a post-mortem needs.

Pure functions only: no file or network I/O and no clock reads, so the same evidence
and settings always give the same findings, live or from a saved bundle. Every
instant and figure is defined in ``docs/definitions.md``; keep the two in step.
Imports: :mod:`pmrecon.model` (its input), :mod:`pmrecon.findings` (its output) and,
for settings and time zones, :mod:`pmrecon.config`; never a connector or the report.

The pipeline of :func:`analyse`, one module a step (each module says which step it is):

0. :mod:`.metric_changes` adds the deploys, rollouts and restarts the metrics show to the
   logged changes;
1. :mod:`.slis` builds one *SLI series* per service and indicator (error ratio, the
   highest latency quantile, uptime);
2. :mod:`.thresholds` gives each its threshold (configured, else derived from the
   baseline, else from the window itself);
3. :mod:`.logs` counts error logs per bucket and marks the bursts; :mod:`.signals`
   turns each SLI into *runs* of consecutive samples in breach, the bursts and the
   alerts' firing intervals into signals;
4. :mod:`.incidents` groups signals closer than the merge gap into *incidents*, each
   with its impact start, first alert, resolution and end; the one with the most
   breach time is the main incident, the others are listed; :mod:`.lookback` finds
   before the window the start of what was already going on at its start;
5. :mod:`.main_incident` describes the main one with :mod:`.instants` (key instants),
   :mod:`.measures` and :mod:`.figures` (peaks, availability, MTTD, MTTR…),
   :mod:`.services` (what each service went through) and :mod:`.cascade` (the order in
   which the services' SLIs first breached);
6. :mod:`.timeline` and :mod:`.listings` add the timeline, alerts, data gaps, top
   errors and sources; :mod:`.detection` the detection gaps and :mod:`.suspects` the
   ranked leads on the cause.

Shared along the way: :mod:`.context` (evidence, settings, warnings), :mod:`.settings`,
:mod:`.samples` (series as arrays) and :mod:`.times`; its words are the ``timeline.*``
entries of :mod:`pmrecon.wording`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..findings import Findings, OtherIncident, Threshold, WarningFinding
from ..model import Evidence
from .cascade import build_cascade
from .context import AnalysisContext
from .detection import detection_gaps
from .incidents import DetectedIncident, choose_main, detect_incidents
from .instants import CHANGE_KINDS, HUMAN_INSTANTS, IMPROVEMENT_SHARE, INSTANT_NAMES
from .listings import alert_findings, data_gaps, signature_novelty, source_finding, top_errors
from .logs import count_error_logs
from .main_incident import describe_main_incident
from .metric_changes import with_metric_changes
from .settings import AnalysisSettings, load_settings
from .signals import QUIET_SEVERITIES, alert_signals, log_signals, sli_signals
from .slis import SliSeries, build_slis
from .suspects import rank_suspects
from .thresholds import MIN_ERROR_RATIO_THRESHOLD, assign_thresholds
from .timeline import build_timeline
from .times import as_utc, utc_time

__all__ = [
    "CHANGE_KINDS",
    "HUMAN_INSTANTS",
    "IMPROVEMENT_SHARE",
    "INSTANT_NAMES",
    "MIN_ERROR_RATIO_THRESHOLD",
    "QUIET_SEVERITIES",
    "AnalysisContext",
    "AnalysisSettings",
    "DetectedIncident",
    "SliSeries",
    "analyse",
]


def analyse(
    evidence: Evidence,
    settings: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    human: Mapping[str, dt.datetime | None] | None = None,
    language: str = "fr",
) -> Findings:
    """Derive the findings (instants, figures, timeline, services…) from one evidence bundle.

    ``settings`` is the ``analysis`` config section (validated or raw; defaults filled in),
    ``timezone`` the IANA zone of every time in the JSON form, ``human`` the times only a
    person knows (``acknowledged``, ``declared``, ``investigation_start``,
    ``cause_identified``; naive datetimes are taken as UTC), ``language`` that of the
    timeline texts (``fr`` or ``en``). Pure: same arguments, same findings.
    """
    from ..config import check_timezone

    check_timezone(timezone)  # fail here, not later when the findings are written
    typed_settings, full_settings = load_settings(settings)
    # step 0: deploys, rollouts and restarts seen in the metrics join the logged changes
    evidence = with_metric_changes(evidence, language)
    ctx = AnalysisContext.of(evidence, typed_settings, language)
    known = {k: as_utc(v) for k, v in (human or {}).items() if k in HUMAN_INSTANTS}

    # steps 1-4: SLIs and their thresholds, signals, incidents
    slis = build_slis(ctx)
    assign_thresholds(ctx, slis)
    logs = count_error_logs(ctx)
    breaches = sli_signals(ctx, slis)
    bursts = log_signals(ctx, logs)
    incidents = detect_incidents(ctx, breaches + bursts + alert_signals(ctx), logs)
    main = choose_main(incidents)

    # steps 5-6: the main incident, the others, and what the findings list
    incident, instants, figures = describe_main_incident(ctx, main, slis, logs, known)
    incident.cascade = build_cascade(incident.services)
    others = _other_incidents(ctx, incidents, main)
    in_incident = {id(s.alert) for s in (main.signals if main else []) if s.alert is not None}
    alerts = alert_findings(ctx, in_incident)
    novelty = signature_novelty(
        ctx, main.impact_start if main else None, bool(main and main.impact_start_before)
    )
    suspects = rank_suspects(ctx, incident, novelty)
    timeline = build_timeline(ctx, breaches, bursts, instants, novelty, suspects)
    window = (evidence.window.start, evidence.window.end)
    gaps = data_gaps(ctx, main)
    if gaps:
        ctx.warn(
            f"missing data inside the incident: {len(gaps)} gap(s), "
            f"{sum(g.seconds for g in gaps):.0f}s in total; figures cover the samples that exist",
            "gaps",
            gaps=len(gaps),
            seconds=f"{sum(g.seconds for g in gaps):.0f}",
        )
    return Findings(
        window_start=evidence.window.start,
        window_end=evidence.window.end,
        timezone=timezone,
        baseline=(evidence.baseline.start, evidence.baseline.end) if evidence.baseline else None,
        incident=incident,
        instants=instants,
        figures=figures,
        alerts=alerts,
        timeline=timeline,
        top_errors=top_errors(evidence, novelty),
        suspects=suspects,
        detection=detection_gaps(incident, alerts, ctx.settings, window),
        other_incidents=others,
        gaps=gaps,
        thresholds=_thresholds(slis),
        sources=[source_finding(s) for s in evidence.sources],
        warnings=_unique_warnings(evidence, ctx),
        settings=full_settings,
    )


def _other_incidents(
    ctx: AnalysisContext, incidents: list[DetectedIncident], main: DetectedIncident | None
) -> list[OtherIncident]:
    """The incidents besides the main one, listed with their bounds; warns when there are any."""
    others = [
        OtherIncident(
            impact_start=utc_time(i.impact_start),
            resolution=utc_time(i.resolution),
            services=i.services,
            first_alert=utc_time(i.first_alert),
            status="ongoing" if i.resolution is None else "resolved",
        )
        for i in incidents
        if i is not main
    ]
    if len(incidents) > 1:
        ctx.warn(
            f"{len(incidents)} separate incidents in the window: the main one is analysed, "
            f"the others are listed",
            "several_incidents",
            incidents=len(incidents),
        )
    return others


def _thresholds(slis: list[SliSeries]) -> list[Threshold]:
    """The threshold each SLI series was judged against, and where it came from."""
    return [
        Threshold(
            service=s.service,
            sli=s.kind,
            series=s.series_id,
            value=s.threshold,
            direction=s.direction,
            origin=s.threshold_origin,
            baseline_level=s.baseline_level,
            quantile=s.quantile,
        )
        for s in slis
        if s.threshold is not None
    ]


def _unique_warnings(evidence: Evidence, ctx: AnalysisContext) -> list[WarningFinding]:
    """The evidence's warnings, then the analysis's, each once."""
    warnings = [
        WarningFinding(x.source, x.message, x.code, dict(x.params)) for x in evidence.warnings
    ] + ctx.warnings
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for warning in warnings:
        key = (warning.source, warning.message, warning.code)
        if key not in seen:
            seen.add(key)
            unique.append(warning)
    return unique
