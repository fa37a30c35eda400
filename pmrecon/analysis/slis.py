"""Step 1: one SLI series per service and indicator, built from the evidence's series.

Input: the window's series in the :class:`~.context.AnalysisContext`. Output: a list of
:class:`SliSeries` — per service, the error ratio (as collected, else bad/total request
counts), the latency at the highest quantile collected, and every uptime series — in
that order, services sorted. Thresholds are set afterwards (:mod:`.thresholds`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Series
from .context import AnalysisContext
from .samples import common_steps, query_refs, sample_step, samples_in


@dataclass
class SliSeries:
    """One SLI of one service over the window, and the threshold it is judged against."""

    service: str
    kind: str  # "error_ratio", "latency", "uptime"
    series_id: str
    quantile: float | None
    step: float
    timestamps: np.ndarray
    values: np.ndarray
    query_refs: list[str]
    threshold: float | None = None
    direction: str = "above"  # in breach when above the threshold ("below" for uptime)
    threshold_origin: str = "default"  # "config", "baseline", "window" or "default"
    baseline_level: float | None = None
    sample_span: float = 0.0  # how long before its timestamp a sample looks (its rate window)

    @property
    def lag(self) -> float:
        """How long a breach still shows after it ended: the sample span beyond one step."""
        return max(0.0, self.sample_span - self.step)

    @property
    def in_breach(self) -> np.ndarray:
        """Per sample: beyond the threshold (all ``False`` without a threshold)."""
        return self.breaches(self.values)

    def breaches(self, values: np.ndarray) -> np.ndarray:
        """Per value of this SLI (the window's or the baseline's): beyond the threshold."""
        if self.threshold is None:
            return np.zeros(len(values), dtype=bool)
        if self.direction == "above":
            return values > self.threshold
        return values < self.threshold - 1e-6

    def excess(self) -> np.ndarray:
        """Per sample: how far beyond the threshold, in the SLI's unit (negative when within)."""
        assert self.threshold is not None
        sign = 1.0 if self.direction == "above" else -1.0
        return sign * (self.values - self.threshold)

    def label(self, ctx: AnalysisContext) -> str:
        """The SLI's name in the findings' language (``Latency p99``, ``Taux d'erreur``…)."""
        if self.kind == "latency":
            return ctx.text("latency", q=quantile_name(self.quantile))
        return ctx.text(self.kind)


def quantile_name(quantile: float | None) -> str:
    """``p99`` for 0.99, ``mean`` for no quantile."""
    if quantile is None:
        return "mean"
    return f"p{quantile * 100:g}"


def build_slis(ctx: AnalysisContext) -> list[SliSeries]:
    """The SLI series of every service of the window, without thresholds yet."""
    window = [s for s in ctx.evidence.series if not s.baseline]
    slis: list[SliSeries] = []
    for service in sorted({s.service for s in window}):
        own = [s for s in window if s.service == service]
        slis += _error_ratio_slis(ctx, service, own)
        slis += _latency_slis(ctx, own)
        slis += [_sli_of(ctx, s, "uptime", direction="below") for s in own if s.kind == "uptime"]
    return slis


def _sli_of(
    ctx: AnalysisContext,
    series: Series,
    kind: str,
    direction: str = "above",
    rate_based: bool = False,
) -> SliSeries:
    """A window series as an SLI; ``rate_based``: the source computed it over a rate window."""
    timestamps, values = samples_in(series, ctx.window_start, ctx.window_end)
    return SliSeries(
        series.service,
        kind,
        series.id,
        series.quantile,
        sample_step(series, timestamps),
        timestamps,
        np.clip(values, 0, 1) if kind == "error_ratio" else values,
        query_refs(series),
        direction=direction,
        sample_span=_rate_window(ctx, series) if rate_based else 0.0,
    )


def _error_ratio_slis(ctx: AnalysisContext, service: str, own: list[Series]) -> list[SliSeries]:
    """The error-ratio series as collected, else one derived from request counts."""
    ratios = [s for s in own if s.kind == "error_ratio"]
    if ratios:
        return [_sli_of(ctx, s, "error_ratio", rate_based=True) for s in ratios]
    totals = [s for s in own if s.kind == "requests_total"]
    bads = [s for s in own if s.kind == "requests_bad"]
    if not (totals and bads):
        return []
    total, bad = totals[0], bads[0]
    timestamps, ratio = counts_ratio(total, bad, ctx.window_start, ctx.window_end)
    return [
        SliSeries(
            service,
            "error_ratio",
            f"{bad.name}/{total.name}.{service}",
            None,
            sample_step(total, timestamps),
            timestamps,
            ratio,
            query_refs(total, bad),
        )
    ]


def _latency_slis(ctx: AnalysisContext, own: list[Series]) -> list[SliSeries]:
    """The latency series at the highest quantile collected (the mean counts as lowest)."""
    latencies = [s for s in own if s.kind == "latency"]
    if not latencies:
        return []

    def rank(s: Series) -> float:
        return -1.0 if s.quantile is None else s.quantile

    top = max(rank(s) for s in latencies)
    return [_sli_of(ctx, s, "latency", rate_based=True) for s in latencies if rank(s) == top]


def _rate_window(ctx: AnalysisContext, series: Series) -> float:
    """The rate window a rate-based sample averages over, from its source (0: one step).

    A sample computed as ``rate(x[w])`` at ``t`` describes ``(t - w, t]``, so a breach keeps
    showing for ``w - step`` after it ended; the source records ``w`` (``rate_window_seconds``).
    """
    source = ctx.query_source.get(series.query_ref or "")
    for info in ctx.evidence.sources:
        if info.name == source and info.rate_window_seconds is not None:
            return info.rate_window_seconds
    return 0.0


def counts_ratio(
    total: Series, bad: Series, start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step bad/total where both counts exist and total > 0, clipped to [0, 1]."""
    total_ts, total_values = samples_in(total, start, end)
    bad_ts, bad_values = samples_in(bad, start, end)
    ts, t, b = common_steps(total_ts, total_values, bad_ts, bad_values)
    counted = t > 0
    return ts[counted], np.clip(b[counted] / t[counted], 0, 1)
