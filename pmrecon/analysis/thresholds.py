"""Step 2: give every SLI series the threshold it is judged against.

Input: the SLI series from :mod:`.slis` and the baseline series of the evidence. Output:
each :class:`~.slis.SliSeries` gets ``threshold``, ``threshold_origin`` and
``baseline_level`` set in place. The order of preference: the configured threshold (per
service, then global), else ``baseline_factor`` × the baseline's level, else the same
from the window itself (with a warning). Uptime is in breach below its usual level. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..model import Evidence, Series
from .context import AnalysisContext
from .samples import in_span, samples_in
from .signals import true_runs
from .slis import SliSeries, counts_ratio
from .times import epoch, utc_time_of

#: Error-ratio thresholds derived from a baseline are never below this.
MIN_ERROR_RATIO_THRESHOLD = 0.01


class BaselineSamples:
    """The baseline's samples, found through the window series they stand beside."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.by_key = {_key(s): s for s in evidence.series if s.baseline}
        # the first window series of each id, as a scan in order would find it
        self.window_by_id: dict[str, Series] = {}
        for s in evidence.series:
            if not s.baseline:
                self.window_by_id.setdefault(s.id, s)
        self.counts = {
            (s.service, s.kind): s
            for s in evidence.series
            if s.baseline and s.kind in ("requests_total", "requests_bad")
        }
        self.start = epoch(evidence.baseline.start) if evidence.baseline else -math.inf
        self.end = epoch(evidence.baseline.end) if evidence.baseline else math.inf

    def _partner(self, series_id: str) -> tuple[Series | None, Series | None]:
        """The window series ``series_id`` and the baseline series beside it, if any."""
        window = self.window_by_id.get(series_id)
        return window, self.by_key.get(_key(window)) if window is not None else None

    def samples_of(
        self, sli: SliSeries, start: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The baseline samples of ``sli``: its series' partner, else bad/total of the counts.

        From ``start`` when given: the look-back's stretch before the baseline lies in the
        same series, and only the look-back reads it.
        """
        low = self.start if start is None else start
        window, baseline = self._partner(sli.series_id)
        if baseline is not None:
            ts, values = samples_in(baseline, low, self.end)
            return ts, np.clip(values, 0, 1) if sli.kind == "error_ratio" else values
        total = self.counts.get((sli.service, "requests_total"))
        bad = self.counts.get((sli.service, "requests_bad"))
        if sli.kind != "error_ratio" or window is not None or total is None or bad is None:
            return np.empty(0), np.empty(0)
        return counts_ratio(total, bad, low, self.end)

    def values_beside(self, series_id: str) -> np.ndarray | None:
        """The baseline values of the window series ``series_id``, if any."""
        _, baseline = self._partner(series_id)
        if baseline is None:
            return None
        _, values = samples_in(baseline, self.start, self.end)
        return values if len(values) else None

    def error_ratio_of_counts(
        self, service: str, excluded: Sequence[tuple[float, float]] = ()
    ) -> float | None:
        """Σbad/Σtotal of the service's baseline request counts outside ``excluded`` spans."""
        total = self.counts.get((service, "requests_total"))
        bad = self.counts.get((service, "requests_bad"))
        if total is None or bad is None:
            return None
        total_ts, total_values = samples_in(total, self.start, self.end)
        bad_ts, bad_values = samples_in(bad, self.start, self.end)
        total_sum = float(np.nansum(total_values[~_in_spans(total_ts, excluded)]))
        bad_sum = float(np.nansum(bad_values[~_in_spans(bad_ts, excluded)]))
        return bad_sum / total_sum if total_sum > 0 else None


def _in_spans(timestamps: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """Which samples fall in one of the inclusive ``spans``."""
    out = np.zeros(len(timestamps), dtype=bool)
    for low, high in spans:
        out |= in_span(timestamps, low - 1e-6, high)
    return out


def _key(s: Series) -> tuple[str, str, str, float | None]:
    return (s.kind, s.name, s.service, s.quantile)


def assign_thresholds(ctx: AnalysisContext, slis: list[SliSeries]) -> None:
    """Set the threshold of every SLI series (configured, else baseline, else window)."""
    baseline = BaselineSamples(ctx.evidence)
    for sli in slis:
        if sli.kind == "error_ratio":
            _error_ratio_threshold(ctx, sli, baseline)
        elif sli.kind == "latency":
            _latency_threshold(ctx, sli, baseline)
        else:
            _uptime_threshold(sli, baseline)


def _configured(ctx: AnalysisContext, sli: SliSeries, default: float | None) -> bool:
    """Use the configured threshold, the service's own first; ``False`` when none is set."""
    own = ctx.settings.thresholds.get(sli.service or "", {})
    if own.get(sli.kind) is not None:
        sli.threshold, sli.threshold_origin = float(own[sli.kind]), "config"
        return True
    if default is not None:
        sli.threshold, sli.threshold_origin = default, "config"
        return True
    return False


def _error_ratio_threshold(ctx: AnalysisContext, sli: SliSeries, baseline: BaselineSamples) -> None:
    if _configured(ctx, sli, ctx.settings.error_ratio_threshold):
        return
    level: float | None = None
    ts, values = baseline.samples_of(sli)
    floor = MIN_ERROR_RATIO_THRESHOLD
    excluded = clean_baseline(ctx, sli, ts, values, floor)
    keep = ~_in_spans(ts, excluded)
    if baseline.values_beside(sli.series_id) is not None:
        level = float(np.mean(values[keep])) if keep.any() else None
    else:
        level = baseline.error_ratio_of_counts(sli.service, excluded)
    factor = ctx.settings.baseline_factor
    if level is not None and math.isfinite(level):
        sli.baseline_level, sli.threshold_origin = level, "baseline"
        sli.threshold = max(MIN_ERROR_RATIO_THRESHOLD, factor * level)
    elif len(sli.values):
        level = float(np.median(sli.values))
        sli.baseline_level, sli.threshold_origin = level, "window"
        sli.threshold = max(MIN_ERROR_RATIO_THRESHOLD, factor * level)
        ctx.warn(
            f"no baseline for {sli.series_id}: error-ratio threshold {sli.threshold:.4g} derived "
            f"from the window's median; set analysis.error_ratio_threshold to fix it",
            "threshold_from_window",
            sli=sli.series_id,
            setting="analysis.error_ratio_threshold",
        )


def _latency_threshold(ctx: AnalysisContext, sli: SliSeries, baseline: BaselineSamples) -> None:
    if _configured(ctx, sli, ctx.settings.latency_threshold):
        return
    ts, values = baseline.samples_of(sli)
    values = values[~_in_spans(ts, clean_baseline(ctx, sli, ts, values, 0.0))]
    factor = ctx.settings.baseline_factor
    if len(values) and float(np.median(values)) > 0:
        level = float(np.median(values))
        sli.baseline_level, sli.threshold_origin = level, "baseline"
        sli.threshold = factor * level
    elif len(sli.values) and float(np.median(sli.values)) > 0:
        level = float(np.median(sli.values))
        sli.baseline_level, sli.threshold_origin = level, "window"
        sli.threshold = factor * level
        ctx.warn(
            f"no baseline for {sli.series_id}: latency threshold {sli.threshold:.4g}s derived "
            f"from the window's median; set analysis.latency_threshold to fix it",
            "threshold_from_window",
            sli=sli.series_id,
            setting="analysis.latency_threshold",
        )
    elif len(sli.values):
        ctx.warn(
            f"no latency threshold can be derived for {sli.series_id}",
            "no_threshold",
            sli=sli.series_id,
        )


def clean_baseline(
    ctx: AnalysisContext, sli: SliSeries, ts: np.ndarray, values: np.ndarray, floor: float
) -> list[tuple[float, float]]:
    """The stretches of the baseline already in breach, to leave out of its level; warns.

    A stretch is a run of at least ``consecutive_steps`` samples above ``factor`` × the
    baseline's lower quartile (at least ``floor``): the quartile is not moved by an incident
    that holds less than three quarters of the baseline, and the run rule is a breach's.
    """
    if not len(values):
        return []
    limit = max(floor, ctx.settings.baseline_factor * float(np.percentile(values, 25)))
    runs = [
        (float(ts[a]), float(ts[b]))
        for a, b in true_runs(ts, values > limit, ctx.settings.join_gap)
        if b - a + 1 >= ctx.settings.consecutive_steps
    ]
    if not runs:
        return runs
    left_out = int(_in_spans(ts, runs).sum())
    spans = ", ".join(f"{utc_time_of(a).isoformat()}/{utc_time_of(b).isoformat()}" for a, b in runs)
    ctx.warn(
        f"baseline of {sli.series_id} already in breach ({spans}, {left_out} of {len(ts)} "
        f"samples): left out before deriving its threshold",
        "baseline_in_breach",
        sli=sli.series_id,
        spans=spans,
        samples=left_out,
    )
    if 2 * left_out > len(ts):
        ctx.warn(
            f"under half of the baseline of {sli.series_id} is clean ({len(ts) - left_out} of "
            f"{len(ts)} samples): its threshold is unreliable; set analysis.thresholds or move "
            f"the baseline",
            "baseline_unreliable",
            sli=sli.series_id,
            clean=len(ts) - left_out,
            samples=len(ts),
        )
    return runs


def _uptime_threshold(sli: SliSeries, baseline: BaselineSamples) -> None:
    """In breach below its usual level: 1, unless the baseline says otherwise."""
    values = baseline.values_beside(sli.series_id)
    if values is not None:
        level = float(np.median(values))
        sli.baseline_level, sli.threshold_origin = level, "baseline"
        sli.threshold = min(1.0, level)
    else:
        sli.threshold, sli.threshold_origin = 1.0, "default"
