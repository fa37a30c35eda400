"""Step 6b: what the findings list as seen — alerts, gaps in the data, top errors, sources.

Input: the evidence and the main :class:`~.incidents.DetectedIncident`. Output: the
alerts of the window in order of first transition (marked when part of the incident),
the stretches inside the incident where a series has no samples, the error signatures
(new ones first) and the sources with their queries. Pure.
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
            service=alert.service,
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


def top_errors(evidence: Evidence) -> list[TopError]:
    """The error signatures of the logs: new since the baseline first, then the most frequent."""
    if evidence.logs is None:
        return []
    signatures = sorted(
        evidence.logs.signatures, key=lambda s: (not s.new_since_baseline, -s.count, s.signature)
    )
    return [
        TopError(
            signature=s.signature,
            count=int(s.count),
            first_seen=as_utc(s.first_seen),
            last_seen=as_utc(s.last_seen),
            services=sorted(s.services),
            new_since_baseline=bool(s.new_since_baseline),
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
