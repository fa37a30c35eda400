"""Step 6b: what the findings list as seen — alerts, gaps in the data, top errors, sources.

Input: the evidence and the main :class:`~.incidents.DetectedIncident`. Output: the
alerts of the window in order of first transition (marked when part of the incident),
the stretches inside the incident where a series has no samples, the error signatures
(new ones first; novelty judged by :func:`signature_novelty`) and the sources with their
queries. Pure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import AlertFinding, Gap, SourceFinding, Span, TopError
from ..model import Evidence, Interval, SourceInfo
from .context import AnalysisContext
from .incidents import DetectedIncident
from .samples import sample_step, samples_in
from .times import as_utc, utc_time_of

#: The series kinds whose missing samples weaken a figure.
GAP_KINDS = ("error_ratio", "latency", "requests_total", "requests_bad", "throughput", "uptime")


def alert_findings(ctx: AnalysisContext, in_incident: set[int]) -> list[AlertFinding]:
    """Every alert of the evidence; ``in_incident`` holds the ``id()`` of the incident's alerts."""
    out = [
        AlertFinding(
            name=alert.name,
            labels=dict(sorted(alert.labels.items())),
            severity=alert.severity,
            active_at=as_utc(alert.active_at),
            firing=[_span(i) for i in sorted(alert.firing, key=lambda i: i.start)],
            pending=[_span(i) for i in sorted(alert.pending, key=lambda i: i.start)],
            annotations=dict(sorted(alert.annotations.items())),
            service=ctx.alert_service(alert),
            in_incident=id(alert) in in_incident,
            query_ref=alert.query_ref,
        )
        for alert in ctx.evidence.alerts
    ]

    def first_transition(finding: AlertFinding) -> tuple[Any, ...]:
        starts = [s for s, _ in finding.firing + finding.pending if s is not None]
        first = min(starts) if starts else (finding.active_at or ctx.evidence.window.start)
        return (first, finding.name, sorted(finding.labels.items()))

    return sorted(out, key=first_transition)


def _span(interval: Interval) -> Span:
    """An interval with ``None`` for a bound at the window's edge (unknown)."""
    return (
        None if interval.open_start else interval.start,
        None if interval.open_end else interval.end,
    )


def data_gaps(ctx: AnalysisContext, detected: DetectedIncident | None) -> list[Gap]:
    """Stretches inside the incident where a series of one of its services has no sample."""
    if detected is None:
        return []
    low, high = detected.span(ctx)
    found: dict[tuple[str, float, float], list[str]] = {}
    for series in ctx.evidence.series:
        if (
            series.baseline
            or series.kind not in GAP_KINDS
            or series.service not in detected.services
        ):
            continue
        timestamps, _ = samples_in(series, ctx.window_start, ctx.window_end)
        for start, end in _missing(ctx, timestamps, sample_step(series, timestamps)):
            start, end = max(start, low), min(end, high)
            if end - start > 0:
                found.setdefault((series.service, start, end), []).append(series.id)
    return [
        Gap(service=service, series=sorted(ids), start=utc_time_of(start), end=utc_time_of(end))
        for (service, start, end), ids in sorted(found.items())
    ]


def _missing(
    ctx: AnalysisContext, timestamps: np.ndarray, step: float
) -> list[tuple[float, float]]:
    """(a, b] stretches of the window with no sample (longer than 1.5 steps)."""
    if not len(timestamps):
        return [(ctx.window_start, ctx.window_end)]
    # (a, b]: nothing known between the sample at a and the step ending at b + step
    points = np.r_[ctx.window_start, timestamps, ctx.window_end + step]
    wide = np.flatnonzero(np.diff(points) > 1.5 * step)
    return [(float(points[i]), float(points[i + 1] - step)) for i in wide]


#: Novelty of each error signature: True new, False seen before, None unknown (no logs to tell).
Novelty = dict[str, "bool | None"]


def signature_novelty(
    ctx: AnalysisContext, impact_start: float | None, found_before_window: bool = False
) -> Novelty:
    """Per signature: new unless seen in the baseline or well before impact start; None when
    neither the baseline nor the window before impact start holds logs to tell.

    "Well before": at least ``stability_period`` before impact start, so that the errors of
    the incident's own onset (just before its breach is confirmed) stay new.
    ``found_before_window``: the impact started inside the baseline, so a sighting there may
    be the incident's own: new when the signature's first sighting in the baseline is not
    well before impact start, seen before when it is, and None (with a warning) when the
    evidence has no first sighting (a bundle collected before they were).
    """
    logs = ctx.evidence.logs
    if logs is None:
        return {}
    # the logs source counts only error-level documents over the baseline
    baseline_holds = bool(logs.baseline_error_documents)
    before = _logs_before(ctx, impact_start)
    # the baseline holds the incident from impact start: a sighting after this is its own
    well_before = (
        impact_start - ctx.settings.stability
        if found_before_window and impact_start is not None
        else None
    )
    novelty: Novelty = {}
    judged: list[bool | None] = []  # per signature seen in the contaminated baseline: new?
    for s in logs.signatures:
        if baseline_holds and s.baseline_count > 0 and well_before is not None:
            first = as_utc(s.baseline_first_seen)
            novelty[s.signature] = None if first is None else first.timestamp() >= well_before
            judged.append(novelty[s.signature])
        elif baseline_holds and s.baseline_count > 0:
            novelty[s.signature] = False
        elif before is not None:
            first_seen = as_utc(s.first_seen)
            novelty[s.signature] = first_seen is None or first_seen.timestamp() >= before
        else:
            novelty[s.signature] = True if baseline_holds else None
    if impact_start is not None and judged:
        _warn_contaminated(ctx, impact_start, judged)
    return novelty


def _warn_contaminated(
    ctx: AnalysisContext, impact_start: float, judged: list[bool | None]
) -> None:
    """Say how the signatures the contaminated baseline holds were judged (new, seen before,
    or unknown without their first sighting there)."""
    at = utc_time_of(impact_start).isoformat()
    unsure = judged.count(None)
    if unsure:
        ctx.warn(
            f"the baseline holds the incident from {at}: {unsure} error signature(s) seen "
            f"in the baseline may be the incident's own; their novelty is unknown",
            "novelty_unreliable",
            at=at,
            count=unsure,
        )
    new, known = judged.count(True), judged.count(False)
    if new or known:
        ctx.warn(
            f"the baseline holds the incident from {at}: of the {new + known} error "
            f"signature(s) seen in the baseline, {new} first appeared there with the incident "
            f"(counted as new) and {known} well before it (seen before)",
            "novelty_from_baseline_start",
            at=at,
            count=new + known,
            new=new,
            known=known,
        )


def _logs_before(ctx: AnalysisContext, impact_start: float | None) -> float | None:
    """The instant before which a sighting is not new, when the window holds logs before it."""
    logs = ctx.evidence.logs
    if logs is None or impact_start is None:
        return None
    before = impact_start - ctx.settings.stability
    volume = logs.volume_by_level
    for i, start in enumerate(volume.timestamps):
        if start + volume.interval_seconds > before:
            break
        if any(counts[i] for counts in volume.counts.values()):
            return before
    return None


def top_errors(evidence: Evidence, novelty: Novelty) -> list[TopError]:
    """The error signatures of the logs: new ones first, then unknown, then the most frequent."""
    if evidence.logs is None:
        return []
    rank = {True: 0, None: 1, False: 2}
    signatures = sorted(
        evidence.logs.signatures,
        key=lambda s: (rank[novelty.get(s.signature)], -s.count, s.signature),
    )
    return [
        TopError(
            signature=s.signature,
            count=int(s.count),
            first_seen=as_utc(s.first_seen),
            last_seen=as_utc(s.last_seen),
            services=sorted(s.services),
            new_since_baseline=novelty.get(s.signature),
            baseline_count=int(s.baseline_count),
            example=s.example,
            query_ref=s.query_ref,
        )
        for s in signatures
    ]


def source_finding(source: SourceInfo) -> SourceFinding:
    """A source as the findings list it: name, kind, version, queries, and whether it answered."""
    return SourceFinding(
        name=source.name,
        kind=source.kind,
        version=source.version,
        queries=list(source.queries),
        ok=source.ok,
        error=source.error,
    )
