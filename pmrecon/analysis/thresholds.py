"""Step 2: give every SLI series the threshold it is judged against.

Input: the SLI series from :mod:`.slis` and the baseline series of the evidence. Output:
each :class:`~.slis.SliSeries` gets ``threshold``, ``threshold_origin`` and
``baseline_level`` set in place. The order of preference: the configured threshold (per
service, then global), else ``baseline_factor`` × the baseline's level, else the same
from the window itself (with a warning). Uptime is in breach below its usual level. Pure.
"""

from __future__ import annotations

import math

import numpy as np

from ..model import Evidence, Series
from .context import AnalysisContext
from .samples import samples_in
from .slis import SliSeries
from .times import epoch

#: Error-ratio thresholds derived from a baseline are never below this.
MIN_ERROR_RATIO_THRESHOLD = 0.01


class BaselineSamples:
    """The baseline's samples, found through the window series they stand beside."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.by_key = {_key(s): s for s in evidence.series if s.baseline}
        self.counts = {
            (s.service, s.kind): s
            for s in evidence.series
            if s.baseline and s.kind in ("requests_total", "requests_bad")
        }
        self.start = epoch(evidence.baseline.start) if evidence.baseline else -math.inf
        self.end = epoch(evidence.baseline.end) if evidence.baseline else math.inf

    def values_beside(self, series_id: str) -> np.ndarray | None:
        """The baseline values of the window series ``series_id``, if any."""
        window = next(
            (s for s in self.evidence.series if not s.baseline and s.id == series_id), None
        )
        baseline = self.by_key.get(_key(window)) if window is not None else None
        if baseline is None:
            return None
        _, values = samples_in(baseline, self.start, self.end)
        return values if len(values) else None

    def error_ratio_of_counts(self, service: str) -> float | None:
        """Σbad/Σtotal of the service's baseline request counts, if both exist and total > 0."""
        total = self.counts.get((service, "requests_total"))
        bad = self.counts.get((service, "requests_bad"))
        if total is None or bad is None:
            return None
        total_sum = float(np.nansum(samples_in(total, self.start, self.end)[1]))
        bad_sum = float(np.nansum(samples_in(bad, self.start, self.end)[1]))
        return bad_sum / total_sum if total_sum > 0 else None


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
    values = baseline.values_beside(sli.series_id)
    if values is not None:
        level = float(np.mean(np.clip(values, 0, 1)))
    else:
        level = baseline.error_ratio_of_counts(sli.service)
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
    values = baseline.values_beside(sli.series_id)
    factor = ctx.settings.baseline_factor
    if values is not None and float(np.median(values)) > 0:
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


def _uptime_threshold(sli: SliSeries, baseline: BaselineSamples) -> None:
    """In breach below its usual level: 1, unless the baseline says otherwise."""
    values = baseline.values_beside(sli.series_id)
    if values is not None:
        level = float(np.median(values))
        sli.baseline_level, sli.threshold_origin = level, "baseline"
        sli.threshold = min(1.0, level)
    else:
        sli.threshold, sli.threshold_origin = 1.0, "default"
