"""Step 5b: what the incident's span measures — peaks, availability, failed requests, users.

Input: the SLI series, the evidence's series and logs, a span (low, high] in epoch
seconds (the incident's, or the whole window when there is none) and the services the
incident impacted. Output: :class:`SpanMeasures` (highest error ratio, highest latency
per quantile, availability as a ratio of sums and failed requests over the impacted
services and over every service, per-service availability) and :class:`ImpactedUsers`.
A sample at ``t`` counts when ``low < t <= high``. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..findings import Availability, PeakValue
from ..model import Series
from .context import AnalysisContext
from .samples import common_steps, in_span, query_refs, sample_step, samples_in, sum_in_span
from .settings import AnalysisSettings
from .slis import SliSeries
from .times import utc_time

#: Per service: (availability, failed requests), either unknown.
ServiceAvailability = dict[str, tuple["float | None", "float | None"]]


class PeakCandidate(NamedTuple):
    """A series that may hold the peak."""

    timestamps: np.ndarray
    values: np.ndarray
    service: str
    series_id: str
    quantile: float | None
    query_ref: str | None


@dataclass
class SpanMeasures:
    """Peaks, availability and failed requests over one span."""

    max_error_rate: PeakValue
    max_latency_by_quantile: list[PeakValue]  # lowest quantile first
    latency_refs: dict[str, list[str]]  # series id -> query ids
    availability: Availability  # over the impacted services: the headline
    failed_requests: float | None
    availability_refs: list[str]
    per_service: ServiceAvailability
    availability_all: Availability  # over every analysed service, shown beside it
    failed_requests_all: float | None
    availability_all_refs: list[str]


@dataclass
class ImpactedUsers:
    """Distinct users hit, how they were counted, and from which queries."""

    count: int | None = None
    definition: str = ""
    refs: list[str] = field(default_factory=list)


def peak(candidates: list[PeakCandidate], low: float, high: float) -> PeakValue:
    """The highest value of any candidate over (low, high]; the earliest, then by service, on ties."""
    best: tuple[float, float, str] | None = None
    chosen = PeakValue()
    for candidate in candidates:
        inside = in_span(candidate.timestamps, low, high)
        if not inside.any():
            continue
        values, timestamps = candidate.values[inside], candidate.timestamps[inside]
        top = int(np.argmax(values))
        key = (-float(values[top]), float(timestamps[top]), candidate.service)
        if best is None or key < best:
            best = key
            chosen = PeakValue(
                value=float(values[top]),
                at=utc_time(float(timestamps[top])),
                service=candidate.service,
                quantile=candidate.quantile,
                series=candidate.series_id,
            )
    return chosen


def measure_span(
    ctx: AnalysisContext,
    slis: list[SliSeries],
    low: float,
    high: float,
    span: str,
    impacted: list[str] | None = None,
) -> SpanMeasures:
    """Peaks, availability and failed requests over (low, high]; ``span`` names it in definitions.

    The headline availability and failed requests cover the ``impacted`` services only (a
    busy service that was fine would dilute them); ``None``: every service (no incident).
    """
    ratio_candidates = [
        PeakCandidate(
            x.timestamps,
            x.values,
            x.service,
            x.series_id,
            None,
            x.query_refs[0] if x.query_refs else None,
        )
        for x in slis
        if x.kind == "error_ratio"
    ]
    by_quantile, latency_refs = _latency_peaks(ctx, low, high)
    scope = sorted({x.service for x in ctx.evidence.series if not x.baseline})
    every = _availability(ctx, scope, low, high, span, impacted_only=False)
    headline = every
    if impacted is not None:
        headline = _availability(
            ctx, [x for x in scope if x in impacted], low, high, span, impacted_only=True
        )
    return SpanMeasures(
        peak(ratio_candidates, low, high),
        by_quantile,
        latency_refs,
        headline.availability,
        headline.failed,
        headline.refs,
        every.per_service,
        every.availability,
        every.failed,
        every.refs,
    )


def _latency_peaks(
    ctx: AnalysisContext, low: float, high: float
) -> tuple[list[PeakValue], dict[str, list[str]]]:
    """The highest latency per quantile collected (lowest quantile first), and their queries."""
    latencies = [s for s in ctx.evidence.series if not s.baseline and s.kind == "latency"]
    quantiles = sorted({s.quantile for s in latencies}, key=lambda q: -1.0 if q is None else q)
    by_quantile: list[PeakValue] = []
    refs: dict[str, list[str]] = {}
    for quantile in quantiles:
        candidates: list[PeakCandidate] = []
        for series in latencies:
            if series.quantile == quantile:
                timestamps, values = samples_in(series, ctx.window_start, ctx.window_end)
                candidates.append(
                    PeakCandidate(
                        timestamps, values, series.service, series.id, quantile, series.query_ref
                    )
                )
                if series.query_ref:
                    refs.setdefault(series.id, []).append(series.query_ref)
        highest = peak(candidates, low, high)
        if highest.value is not None:
            by_quantile.append(highest)
    return by_quantile, refs


@dataclass
class _RequestSums:
    """Bad and total requests summed over the services, and how they were counted."""

    bad: float = 0.0
    total: float = 0.0
    refs: list[str] = field(default_factory=list)
    method: str | None = None  # "counts", "estimated" or "mixed"
    per_service: ServiceAvailability = field(default_factory=dict)

    def add(self, service: str, bad: float, total: float) -> None:
        self.per_service[service] = (_clamp(1 - bad / total) if total > 0 else None, bad)
        self.bad += bad
        self.total += total


class _Counted(NamedTuple):
    """Availability and failed requests over a set of services, their queries, per service."""

    availability: Availability
    failed: float | None
    refs: list[str]
    per_service: ServiceAvailability


def _availability(
    ctx: AnalysisContext,
    services: list[str],
    low: float,
    high: float,
    span: str,
    impacted_only: bool,
) -> _Counted:
    """Availability over (low, high] as 1 − Σbad/Σtotal, failed requests, refs, per service."""
    window = [s for s in ctx.evidence.series if not s.baseline and s.service in services]
    sums = _RequestSums()
    for service in services:
        own = {s.kind: s for s in reversed(window) if s.service == service}  # the first of a kind
        _count_requests(ctx, sums, service, own, low, high)
    if sums.total > 0:
        value: float | None = min(1.0, max(0.0, 1 - sums.bad / sums.total))
        definition = _availability_definition(sums.method, span, impacted_only)
        failed: float | None = max(0.0, round(sums.bad, 6))
    else:
        value, failed = None, None
        definition = (
            "Not available: no request counts (nor error ratio with throughput) in the evidence."
        )
    availability = Availability(
        value=value,
        definition=definition,
        uptime=_mean_uptime(ctx, window, low, high),
        total_requests=sums.total if sums.total > 0 else None,
    )
    return _Counted(availability, failed, sorted(set(sums.refs)), sums.per_service)


def _count_requests(
    ctx: AnalysisContext,
    sums: _RequestSums,
    service: str,
    own: dict[str, Series],
    low: float,
    high: float,
) -> None:
    """Add the service's requests: exact counts, else estimated from error ratio × throughput."""
    total, bad = own.get("requests_total"), own.get("requests_bad")
    if total is not None and bad is not None:
        sums.refs += query_refs(total, bad)
        sums.method = sums.method or "counts"
        sums.add(service, sum_in_span(bad, low, high), sum_in_span(total, low, high))
        return
    ratio, throughput = own.get("error_ratio"), own.get("throughput")
    if ratio is None or throughput is None:
        return
    ratio_ts, ratio_values = samples_in(ratio, ctx.window_start, ctx.window_end)
    rate_ts, rate_values = samples_in(throughput, ctx.window_start, ctx.window_end)
    ts, r, q = common_steps(ratio_ts, ratio_values, rate_ts, rate_values)
    inside = in_span(ts, low, high)
    r, q = r[inside], q[inside]
    step = sample_step(throughput, rate_ts)
    estimated_total = float((q * step).sum())
    estimated_bad = float((q * step * np.clip(r, 0, 1)).sum())
    sums.refs += query_refs(ratio, throughput)
    sums.method = "estimated" if sums.method in (None, "estimated") else "mixed"
    sums.add(service, estimated_bad, estimated_total)


#: Who the headline availability and failed requests cover, as their definitions say it.
IMPACTED_SERVICES = (
    "the impacted services (a breach, an error-log burst or an alert in the incident)"
)
EVERY_SERVICE = "every analysed service"


def _availability_definition(method: str | None, span: str, impacted_only: bool) -> str:
    if method == "counts":
        scope = IMPACTED_SERVICES if impacted_only else EVERY_SERVICE
        return f"1 − Σbad/Σtotal (ratio of sums) of the request counts of {scope} over {span}."
    estimated = (
        f"1 − Σ(error ratio × throughput × step)/Σ(throughput × step) over {span}: "
        "request counts estimated from per-step rates where counts were missing."
    )
    return estimated + (" Over the impacted services only." if impacted_only else "")


def _mean_uptime(
    ctx: AnalysisContext, window: list[Series], low: float, high: float
) -> float | None:
    """The mean over every uptime series of its mean over (low, high]."""
    means = []
    for series in window:
        if series.kind == "uptime":
            timestamps, values = samples_in(series, ctx.window_start, ctx.window_end)
            inside = in_span(timestamps, low, high)
            if inside.any():
                means.append(float(np.clip(values[inside], 0, 1).mean()))
    return float(np.mean(means)) if means else None


def _clamp(x: float) -> float:
    """Clamp to [0, 1]: counts from different queries can disagree by a request or two."""
    return min(1.0, max(0.0, x))


def impacted_users(ctx: AnalysisContext, low: float, high: float) -> ImpactedUsers:
    """Distinct users from the logs, else the peak of an ``impacted_users`` metric over the span."""
    logs = ctx.evidence.logs
    if logs is not None and logs.impacted_users is not None:
        return ImpactedUsers(
            int(logs.impacted_users),
            "Distinct user ids in the logs, as counted by the logs source over the collected window.",
            [logs.impacted_users_ref] if logs.impacted_users_ref else [],
        )
    users = ImpactedUsers()
    best = None
    for series in ctx.evidence.series:
        if series.baseline or series.name != "impacted_users":
            continue
        timestamps, values = samples_in(series, ctx.window_start, ctx.window_end)
        inside = in_span(timestamps, low, high)
        if inside.any():
            best = max(best or 0.0, float(values[inside].max()))
            if series.query_ref:
                users.refs.append(series.query_ref)
    if best is not None:
        users.count = int(round(best))
        users.definition = (
            "Maximum of the configured 'impacted_users' metric over [impact start, resolution]."
        )
    return users


def impact_level(settings: AnalysisSettings, ratio: float | None, duration: float | None) -> str:
    """The suggested impact level: Critique, Majeur or Mineur, by the ``impact_rules``."""
    ratio = ratio if ratio is not None else 0.0
    duration = duration if duration is not None else 0.0
    if ratio >= settings.critique_ratio or duration >= settings.critique_duration:
        return "Critique"
    if ratio >= settings.majeur_ratio or duration >= settings.majeur_duration:
        return "Majeur"
    return "Mineur"
