"""The ``analysis`` settings, validated once and held as typed fields.

Input: the ``analysis`` config section, raw or already validated (defaults are filled
in by :func:`pmrecon.config.validate`). Output: :class:`AnalysisSettings`, plus the
full validated section that the findings echo. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnalysisSettings:
    """The knobs of the analysis (each documented in ``config/pmrecon.example.yaml``)."""

    consecutive_steps: int
    stability: float
    error_ratio_threshold: float | None
    latency_threshold: float | None
    thresholds: Mapping[str, Mapping[str, Any]]
    baseline_factor: float
    burst_factor: float
    burst_min: int
    merge_gap: float
    late_alert_after: float
    stale_alert_after: float
    slo_target: float
    slo_period: float
    critique_ratio: float
    critique_duration: float
    majeur_ratio: float
    majeur_duration: float

    @property
    def join_gap(self) -> float:
        """Signals closer than this belong to the same incident."""
        # A breach within the stability period means the previous one was not resolved.
        return max(self.merge_gap, self.stability)


def load_settings(raw: Mapping[str, Any] | None) -> tuple[AnalysisSettings, dict[str, Any]]:
    """The typed settings and the full validated section (defaults filled in)."""
    from ..config import validate  # validates and fills defaults; accepts already-validated input

    full = validate({"analysis": dict(raw or {})})["analysis"]
    rules = full["impact_rules"]
    settings = AnalysisSettings(
        consecutive_steps=max(1, int(full["consecutive_steps"])),
        stability=float(full["stability_period"]),
        error_ratio_threshold=full["error_ratio_threshold"],
        latency_threshold=full["latency_threshold"],
        thresholds=full["thresholds"],
        baseline_factor=float(full["baseline_factor"]),
        burst_factor=float(full["log_burst_factor"]),
        burst_min=int(full["log_burst_min_count"]),
        merge_gap=float(full["merge_gap"]),
        late_alert_after=float(full["late_alert_after"]),
        stale_alert_after=float(full["stale_alert_after"]),
        slo_target=float(full["slo_target"]),
        slo_period=float(full["slo_period"]),
        critique_ratio=float(rules["critique"]["min_error_ratio"]),
        critique_duration=float(rules["critique"]["min_duration"]),
        majeur_ratio=float(rules["majeur"]["min_error_ratio"]),
        majeur_duration=float(rules["majeur"]["min_duration"]),
    )
    return settings, full
