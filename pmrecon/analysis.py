"""Analysis: from the evidence to the facts a post-mortem needs.

Pure functions only: no file or network I/O and no clock reads, so the same evidence
and settings always give the same findings, live or from a saved bundle. Every
instant and figure is defined in ``docs/definitions.md``; keep the two in step.

The pipeline:

1. build one *SLI* per service and indicator (error ratio, the highest latency
   quantile, uptime) and give it a threshold (configured, else derived from the
   baseline, else from the window itself);
2. turn each SLI into *runs* of consecutive samples in breach, error logs into
   *bursts*, and alert firing intervals into signals;
3. group signals closer than the merge gap into *incidents*; the one with the most
   breach time is the main incident, the others are listed;
4. derive the key instants, figures, timeline, gaps and services of the main one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .findings import AlertFinding as AlertFindingT
from .findings import (
    Availability,
    ErrorBudget,
    Figure,
    Findings,
    Gap,
    Incident,
    Instant,
    OtherIncident,
    PeakValue,
    ServiceImpact,
    SliBreach,
    SourceFinding,
    Threshold,
    TimelineEntry,
    TopError,
    WarningFinding,
)
from .model import Alert, Event, Evidence, Histogram, Series, SourceInfo

UTC = dt.timezone.utc

#: Event kinds that count as a change when looking for the start of mitigation.
CHANGE_KINDS = (
    "deploy",
    "rollback",
    "config_change",
    "change",
    "restart",
    "scale",
    "failover",
    "feature_flag",
)
#: Alerts of these severities never open or extend an incident (e.g. Watchdog).
QUIET_SEVERITIES = ("none", "info")
#: Error-ratio thresholds derived from a baseline are never below this.
MIN_ERROR_RATIO_THRESHOLD = 0.01
#: Mitigation by improvement: the SLI never again comes within this share of its peak excess.
IMPROVEMENT_SHARE = 0.9

HUMAN_INSTANTS = ("acknowledged", "declared", "investigation_start", "cause_identified")
INSTANT_NAMES = (
    "impact_start",
    "first_alert",
    "acknowledged",
    "declared",
    "investigation_start",
    "cause_identified",
    "mitigation_start",
    "resolution",
    "end",
)

# Order of simultaneous timeline rows: the story reads cause → effect → reaction.
_KIND_ORDER = {
    "deploy": 0,
    "config_change": 1,
    "change": 2,
    "impact_start": 10,
    "sli_breach": 11,
    "target_down": 12,
    "log_burst": 13,
    "new_error": 14,
    "alert_pending": 20,
    "alert_firing": 21,
    "first_alert": 22,
    "silence": 30,
    "acknowledged": 31,
    "declared": 32,
    "investigation_start": 33,
    "cause_identified": 34,
    "rollback": 40,
    "mitigation_start": 41,
    "sli_recovery": 50,
    "target_up": 51,
    "resolution": 52,
    "alert_resolved": 60,
    "end": 70,
}

_TEXT = {
    "fr": {
        "impact_start": "Début de l'incident",
        "first_alert": "Première alerte",
        "acknowledged": "Prise en compte (acquittement)",
        "declared": "Incident déclaré",
        "investigation_start": "Début investigation",
        "cause_identified": "Cause identifiée",
        "mitigation_start": "Début mitigation",
        "resolution": "Résolution",
        "end": "Fin de l'incident",
        "alert_pending": "Alerte {name} en attente{on}",
        "alert_firing": "Alerte {name} déclenchée{on}",
        "alert_resolved": "Alerte {name} résolue{on}",
        "sli_breach": "{sli} de {service} au-delà du seuil ({threshold})",
        "sli_breach_open": "{sli} de {service} déjà au-delà du seuil ({threshold}) au début de la fenêtre",
        "sli_recovery": "{sli} de {service} revenu sous le seuil ({threshold})",
        "target_down": "{service} indisponible ({sli} sous {threshold})",
        "target_up": "{service} de nouveau disponible",
        "log_burst": "Pic d'erreurs dans les logs : {count} erreurs{on}",
        "new_error": "Nouvelle erreur : {signature}{on}",
        "on": " ({what})",
        "error_ratio": "Taux d'erreur",
        "latency": "Latence {q}",
        "uptime": "Disponibilité sonde",
    },
    "en": {
        "impact_start": "Incident start",
        "first_alert": "First alert",
        "acknowledged": "Acknowledged",
        "declared": "Incident declared",
        "investigation_start": "Investigation start",
        "cause_identified": "Cause identified",
        "mitigation_start": "Mitigation start",
        "resolution": "Resolution",
        "end": "End of incident",
        "alert_pending": "Alert {name} pending{on}",
        "alert_firing": "Alert {name} firing{on}",
        "alert_resolved": "Alert {name} resolved{on}",
        "sli_breach": "{sli} of {service} beyond threshold ({threshold})",
        "sli_breach_open": "{sli} of {service} already beyond threshold ({threshold}) at window start",
        "sli_recovery": "{sli} of {service} back within threshold ({threshold})",
        "target_down": "{service} down ({sli} below {threshold})",
        "target_up": "{service} up again",
        "log_burst": "Error log burst: {count} errors{on}",
        "new_error": "New error: {signature}{on}",
        "on": " ({what})",
        "error_ratio": "Error ratio",
        "latency": "Latency {q}",
        "uptime": "Probe uptime",
    },
}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class _Cfg:
    consecutive_steps: int
    stability: float
    error_ratio_threshold: float | None
    latency_threshold: float | None
    thresholds: Mapping[str, Mapping[str, Any]]
    baseline_factor: float
    burst_factor: float
    burst_min: int
    merge_gap: float
    slo_target: float
    slo_period: float
    critique_ratio: float
    critique_duration: float
    majeur_ratio: float
    majeur_duration: float

    @property
    def join_gap(self) -> float:
        # A breach within the stability period means the previous one was not resolved.
        return max(self.merge_gap, self.stability)


def _settings(raw: Mapping[str, Any] | None) -> tuple[_Cfg, dict[str, Any]]:
    from .config import validate  # validates and fills defaults; accepts already-validated input

    full = validate({"analysis": dict(raw or {})})["analysis"]
    rules = full["impact_rules"]
    cfg = _Cfg(
        consecutive_steps=max(1, int(full["consecutive_steps"])),
        stability=float(full["stability_period"]),
        error_ratio_threshold=full["error_ratio_threshold"],
        latency_threshold=full["latency_threshold"],
        thresholds=full["thresholds"],
        baseline_factor=float(full["baseline_factor"]),
        burst_factor=float(full["log_burst_factor"]),
        burst_min=int(full["log_burst_min_count"]),
        merge_gap=float(full["merge_gap"]),
        slo_target=float(full["slo_target"]),
        slo_period=float(full["slo_period"]),
        critique_ratio=float(rules["critique"]["min_error_ratio"]),
        critique_duration=float(rules["critique"]["min_duration"]),
        majeur_ratio=float(rules["majeur"]["min_error_ratio"]),
        majeur_duration=float(rules["majeur"]["min_duration"]),
    )
    return cfg, full


# --------------------------------------------------------------------------- context


@dataclass
class _Ctx:
    evidence: Evidence
    cfg: _Cfg
    ws: float
    we: float
    language: str
    warnings: list[WarningFinding] = field(default_factory=list)
    query_source: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str, code: str) -> None:
        self.warnings.append(WarningFinding(source="analysis", message=message, code=code))

    def source_of(self, refs: Iterable[str | None], default: str | None = None) -> str | None:
        names = sorted({self.query_source[r] for r in refs if r and r in self.query_source})
        if names:
            return ", ".join(names)
        return default

    def text(self, key: str, **kw: Any) -> str:
        table = _TEXT.get(self.language, _TEXT["en"])
        return table[key].format(**kw)


def _ts(t: dt.datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _dt(ts: float | None) -> dt.datetime | None:
    if ts is None or not math.isfinite(ts):
        return None
    # Round to the millisecond so that float noise never leaks into the output.
    return dt.datetime.fromtimestamp(round(ts, 3), tz=UTC)


def _dt_req(ts: float) -> dt.datetime:
    out = _dt(ts)
    assert out is not None
    return out


# --------------------------------------------------------------------------- SLIs


@dataclass
class _Sli:
    service: str
    sli: str  # "error_ratio", "latency", "uptime"
    sid: str
    name: str
    quantile: float | None
    step: float
    ts: np.ndarray
    v: np.ndarray
    refs: list[str]
    threshold: float | None = None
    direction: str = "above"
    origin: str = "default"
    baseline_level: float | None = None
    span: float = 0.0  # how long before its timestamp a sample looks (its rate window)

    @property
    def lag(self) -> float:
        """How long a breach still shows after it ended: the sample span beyond one step."""
        return max(0.0, self.span - self.step)

    @property
    def mask(self) -> np.ndarray:
        if self.threshold is None:
            return np.zeros(len(self.v), dtype=bool)
        if self.direction == "above":
            return self.v > self.threshold
        return self.v < self.threshold - 1e-6

    def excess(self) -> np.ndarray:
        assert self.threshold is not None
        sign = 1.0 if self.direction == "above" else -1.0
        return sign * (self.v - self.threshold)

    def label(self, ctx: _Ctx) -> str:
        if self.sli == "latency":
            return ctx.text("latency", q=_quantile_name(self.quantile))
        return ctx.text(self.sli)


def _quantile_name(q: float | None) -> str:
    if q is None:
        return "mean"
    pct = q * 100
    return f"p{pct:g}"


def _arrays(s: Series, ws: float, we: float) -> tuple[np.ndarray, np.ndarray]:
    """Finite samples of ``s`` inside [ws, we], sorted, one per timestamp."""
    n = min(len(s.timestamps), len(s.values))
    if n == 0:
        return np.empty(0), np.empty(0)
    ser = pd.Series(
        np.asarray(s.values[:n], dtype=float), index=np.asarray(s.timestamps[:n], dtype=float)
    )
    ser = ser[np.isfinite(ser.values) & np.isfinite(ser.index.values)]
    ser = ser[(ser.index >= ws) & (ser.index <= we)]
    ser = ser[~ser.index.duplicated(keep="last")].sort_index()
    return ser.index.to_numpy(dtype=float), ser.to_numpy(dtype=float)


def _step(s: Series, ts: np.ndarray) -> float:
    if s.step_seconds and s.step_seconds > 0:
        return float(s.step_seconds)
    if len(ts) > 1:
        return float(np.median(np.diff(ts)))
    return 60.0


def _span(ctx: _Ctx, s: Series) -> float:
    """The rate window a rate-based sample averages over, from its source's settings (0: one step).

    A sample computed as ``rate(x[w])`` at ``t`` describes ``(t - w, t]``, so a breach keeps
    showing for ``w - step`` after it ended; the source records ``w`` as ``rate_window``.
    """
    from .config import parse_duration

    source = ctx.query_source.get(s.query_ref or "")
    for src in ctx.evidence.sources:
        if src.name == source and src.settings.get("rate_window") is not None:
            try:
                return parse_duration(src.settings["rate_window"])
            except ValueError:
                return 0.0
    return 0.0


def _key(s: Series) -> tuple[str, str, str, float | None]:
    return (s.kind, s.name, s.service, s.quantile)


def _build_slis(ctx: _Ctx) -> list[_Sli]:
    ev, cfg = ctx.evidence, ctx.cfg
    window = [s for s in ev.series if not s.baseline]
    baseline = {_key(s): s for s in ev.series if s.baseline}
    bws = _ts(ev.baseline.start) if ev.baseline else -math.inf
    bwe = _ts(ev.baseline.end) if ev.baseline else math.inf

    def base_arrays(s: Series) -> np.ndarray | None:
        b = baseline.get(_key(s))
        if b is None:
            return None
        _, v = _arrays(b, bws, bwe)
        return v if len(v) else None

    slis: list[_Sli] = []
    services = sorted({s.service for s in window})
    for service in services:
        mine = [s for s in window if s.service == service]
        # error ratio: the configured series, else derived from request counts
        ratios = [s for s in mine if s.kind == "error_ratio"]
        totals = [s for s in mine if s.kind == "requests_total"]
        bads = [s for s in mine if s.kind == "requests_bad"]
        for s in ratios:
            ts, v = _arrays(s, ctx.ws, ctx.we)
            slis.append(
                _Sli(
                    service,
                    "error_ratio",
                    s.id,
                    s.name,
                    None,
                    _step(s, ts),
                    ts,
                    np.clip(v, 0, 1),
                    _refs(s),
                    span=_span(ctx, s),
                )
            )
        if not ratios and totals and bads:
            tot, bad = totals[0], bads[0]
            ts, v = _counts_ratio(tot, bad, ctx.ws, ctx.we)
            slis.append(
                _Sli(
                    service,
                    "error_ratio",
                    f"{bad.name}/{tot.name}.{service}",
                    f"{bad.name}/{tot.name}",
                    None,
                    _step(tot, ts),
                    ts,
                    v,
                    _refs(tot, bad),
                )
            )
        lat = [s for s in mine if s.kind == "latency"]
        if lat:
            top = max(-1.0 if s.quantile is None else s.quantile for s in lat)
            for s in lat:
                if (-1.0 if s.quantile is None else s.quantile) != top:
                    continue
                ts, v = _arrays(s, ctx.ws, ctx.we)
                slis.append(
                    _Sli(
                        service,
                        "latency",
                        s.id,
                        s.name,
                        s.quantile,
                        _step(s, ts),
                        ts,
                        v,
                        _refs(s),
                        span=_span(ctx, s),
                    )
                )
        for s in mine:
            if s.kind == "uptime":
                ts, v = _arrays(s, ctx.ws, ctx.we)
                slis.append(
                    _Sli(
                        service,
                        "uptime",
                        s.id,
                        s.name,
                        None,
                        _step(s, ts),
                        ts,
                        v,
                        _refs(s),
                        direction="below",
                    )
                )

    # thresholds
    by_service_counts = {
        (s.service, s.kind): s
        for s in ev.series
        if s.baseline and s.kind in ("requests_total", "requests_bad")
    }
    for sli in slis:
        own = cfg.thresholds.get(sli.service or "", {})
        if sli.sli == "error_ratio":
            if own.get("error_ratio") is not None:
                sli.threshold, sli.origin = float(own["error_ratio"]), "config"
                continue
            if cfg.error_ratio_threshold is not None:
                sli.threshold, sli.origin = cfg.error_ratio_threshold, "config"
                continue
            level: float | None = None
            tot_b = by_service_counts.get((sli.service, "requests_total"))
            bad_b = by_service_counts.get((sli.service, "requests_bad"))
            src = next((s for s in ev.series if not s.baseline and s.id == sli.sid), None)
            bv = base_arrays(src) if src is not None else None
            if bv is not None:
                level = float(np.mean(np.clip(bv, 0, 1)))
            elif tot_b is not None and bad_b is not None:
                t_all = float(np.nansum(_arrays(tot_b, bws, bwe)[1]))
                b_all = float(np.nansum(_arrays(bad_b, bws, bwe)[1]))
                level = b_all / t_all if t_all > 0 else None
            if level is not None and math.isfinite(level):
                sli.baseline_level = level
                sli.threshold = max(MIN_ERROR_RATIO_THRESHOLD, cfg.baseline_factor * level)
                sli.origin = "baseline"
            elif len(sli.v):
                level = float(np.median(sli.v))
                sli.baseline_level = level
                sli.threshold = max(MIN_ERROR_RATIO_THRESHOLD, cfg.baseline_factor * level)
                sli.origin = "window"
                ctx.warn(
                    f"no baseline for {sli.sid}: error-ratio threshold {sli.threshold:.4g} derived "
                    f"from the window's median; set analysis.error_ratio_threshold to fix it",
                    "threshold_from_window",
                )
        elif sli.sli == "latency":
            if own.get("latency") is not None:
                sli.threshold, sli.origin = float(own["latency"]), "config"
                continue
            if cfg.latency_threshold is not None:
                sli.threshold, sli.origin = cfg.latency_threshold, "config"
                continue
            src = next((s for s in ev.series if not s.baseline and s.id == sli.sid), None)
            bv = base_arrays(src) if src is not None else None
            if bv is not None and float(np.median(bv)) > 0:
                level = float(np.median(bv))
                sli.baseline_level, sli.origin = level, "baseline"
                sli.threshold = cfg.baseline_factor * level
            elif len(sli.v) and float(np.median(sli.v)) > 0:
                level = float(np.median(sli.v))
                sli.baseline_level, sli.origin = level, "window"
                sli.threshold = cfg.baseline_factor * level
                ctx.warn(
                    f"no baseline for {sli.sid}: latency threshold {sli.threshold:.4g}s derived "
                    f"from the window's median; set analysis.latency_threshold to fix it",
                    "threshold_from_window",
                )
            elif len(sli.v):
                ctx.warn(f"no latency threshold can be derived for {sli.sid}", "no_threshold")
        else:  # uptime: breach when below its usual level (1 unless the baseline says otherwise)
            src = next((s for s in ev.series if not s.baseline and s.id == sli.sid), None)
            bv = base_arrays(src) if src is not None else None
            if bv is not None:
                level = float(np.median(bv))
                sli.baseline_level, sli.origin = level, "baseline"
                sli.threshold = min(1.0, level)
            else:
                sli.threshold, sli.origin = 1.0, "default"
    return slis


def _refs(*series: Series) -> list[str]:
    return [s.query_ref for s in series if s.query_ref]


def _counts_ratio(tot: Series, bad: Series, ws: float, we: float) -> tuple[np.ndarray, np.ndarray]:
    t_ts, t_v = _arrays(tot, ws, we)
    b_ts, b_v = _arrays(bad, ws, we)
    df = pd.DataFrame({"t": pd.Series(t_v, index=t_ts), "b": pd.Series(b_v, index=b_ts)}).dropna()
    df = df[df["t"] > 0]
    ratio = np.clip(df["b"].to_numpy() / df["t"].to_numpy(), 0, 1)
    return df.index.to_numpy(dtype=float), ratio


# --------------------------------------------------------------------------- signals


@dataclass
class _Signal:
    kind: str  # "sli", "logs", "alert"
    start: float
    end: float
    strong: bool
    open_start: bool
    open_end: bool
    services: list[str]
    start_unc: float | None
    end_unc: float | None
    ref: str | None
    weight: float = 0.0
    sli: _Sli | None = None
    i0: int = 0
    i1: int = 0
    alert: Alert | None = None
    count: int = 0
    first_step_end: float = 0.0

    def sort_key(self) -> tuple[Any, ...]:
        return (self.start, self.end, self.kind, ",".join(self.services), self.ref or "")


def _runs(ts: np.ndarray, mask: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Inclusive index ranges of consecutive True samples, split by gaps longer than ``max_gap``."""
    if len(ts) == 0:
        return []
    brk = np.ones(len(ts), dtype=bool)
    brk[1:] = (mask[1:] != mask[:-1]) | (np.diff(ts) > max_gap)
    starts = np.flatnonzero(brk)
    ends = np.r_[starts[1:] - 1, len(ts) - 1]
    sel = mask[starts]
    return list(zip(starts[sel].tolist(), ends[sel].tolist(), strict=True))


def _sli_signals(ctx: _Ctx, slis: list[_Sli]) -> list[_Signal]:
    out: list[_Signal] = []
    for sli in slis:
        if sli.threshold is None or not len(sli.ts):
            continue
        ts = sli.ts
        for i0, i1 in _runs(ts, sli.mask, ctx.cfg.join_gap):
            n = i1 - i0 + 1
            start = max(ctx.ws, ts[i0] - sli.step)
            start_unc = float(ts[i0] - ts[i0 - 1]) if i0 > 0 else sli.step
            end_unc = float(ts[i1 + 1] - ts[i1]) if i1 + 1 < len(ts) else sli.step
            out.append(
                _Signal(
                    kind="sli",
                    start=float(start),
                    end=float(max(start, ts[i1] - sli.lag)),
                    strong=n >= ctx.cfg.consecutive_steps,
                    open_start=i0 == 0,
                    open_end=i1 == len(ts) - 1,
                    services=[sli.service],
                    start_unc=start_unc,
                    end_unc=end_unc,
                    ref=sli.refs[0] if sli.refs else sli.sid,
                    weight=float(max(0.0, ts[i1] - sli.lag - start)),
                    sli=sli,
                    i0=i0,
                    i1=i1,
                    first_step_end=float(ts[i0]),
                )
            )
    return out


@dataclass
class _Logs:
    """Error-log counts per bucket, total and per service."""

    interval: float
    starts: np.ndarray
    total: np.ndarray
    per_service: dict[str, np.ndarray]
    ref: str | None
    expected: float | None  # error logs expected per bucket from the baseline
    burst: np.ndarray


def _hist_frame(h: Histogram, keys: Iterable[str] | None) -> pd.DataFrame:
    n = len(h.timestamps)
    cols = {
        k: np.asarray(list(v)[:n] + [0] * max(0, n - len(v)), dtype=float)
        for k, v in h.counts.items()
        if keys is None or k in keys
    }
    df = pd.DataFrame(cols, index=np.asarray(h.timestamps, dtype=float))
    df = df[~df.index.duplicated(keep="last")].sort_index()
    return df.fillna(0)


def _logs(ctx: _Ctx) -> _Logs | None:
    logs = ctx.evidence.logs
    if logs is None:
        return None
    levels = {x.lower() for x in logs.error_levels}
    vol = logs.volume_by_level
    err_keys = [k for k in vol.counts if k.lower() in levels]
    by_service = _hist_frame(logs.errors_by_service, None)
    volume: pd.Series | None = None  # every level: where it is zero, there were no logs at all
    if err_keys and len(vol.timestamps):
        total_df = _hist_frame(vol, err_keys)
        total = total_df.sum(axis=1)
        volume = _hist_frame(vol, None).sum(axis=1)
        interval = vol.interval_seconds
        ref = vol.query_ref
    elif len(logs.errors_by_service.timestamps):
        total = by_service.sum(axis=1)
        interval = logs.errors_by_service.interval_seconds
        ref = logs.errors_by_service.query_ref
    else:
        return None
    if not interval or interval <= 0:
        interval = float(np.median(np.diff(total.index.to_numpy()))) if len(total) > 1 else 60.0
    total = total[(total.index >= ctx.ws) & (total.index < ctx.we)]
    by_service = by_service[(by_service.index >= ctx.ws) & (by_service.index < ctx.we)]
    if total.empty:
        return None
    starts = total.index.to_numpy(dtype=float)
    counts = total.to_numpy(dtype=float)
    # The window's typical error count: the median over the buckets that hold logs at all
    # (a stretch without any log is missing data, not a quiet time).
    if volume is not None:
        with_logs = volume.reindex(starts, fill_value=0).to_numpy(dtype=float) > 0
        typical = float(np.median(counts[with_logs])) if with_logs.any() else 0.0
    else:
        typical = float(np.median(counts))
    expected: float | None = None
    if logs.baseline_error_documents and logs.baseline_seconds:
        expected = logs.baseline_error_documents / logs.baseline_seconds * interval
    elif logs.baseline_error_documents == 0 and logs.baseline_seconds:
        # Not one error log in the baseline: a healthy service, or a baseline before the
        # logs begin. The window's typical level tells them apart (it is ~0 for the former,
        # unless the incident fills most of the window).
        expected = typical
        if typical > 0:
            ctx.warn(
                "no error log at all in the baseline, but some in most of the window: the "
                "baseline probably precedes the logs; error-log bursts are measured against "
                "the window's median",
                "log_baseline_empty",
            )
    else:
        expected = typical
        ctx.warn(
            "no log baseline: error-log bursts are measured against the window's median",
            "log_baseline_missing",
        )
    burst = (counts >= ctx.cfg.burst_min) & (counts >= ctx.cfg.burst_factor * expected)
    per_service = {
        str(k): by_service[k].reindex(starts, fill_value=0).to_numpy(dtype=float)
        for k in sorted(by_service.columns)
    }
    return _Logs(interval, starts, counts, per_service, ref, expected, burst)


def _log_signals(ctx: _Ctx, lg: _Logs | None) -> list[_Signal]:
    if lg is None:
        return []
    out = []
    for i0, i1 in _runs(lg.starts, lg.burst, lg.interval * 1.5):
        start = float(lg.starts[i0])
        end = min(ctx.we, float(lg.starts[i1]) + lg.interval)
        services = sorted(
            name
            for name, c in lg.per_service.items()
            if float(c[i0 : i1 + 1].max(initial=0)) >= ctx.cfg.burst_min
        )
        out.append(
            _Signal(
                kind="logs",
                start=start,
                end=end,
                strong=True,
                open_start=i0 == 0 and start <= ctx.ws + lg.interval,
                open_end=i1 == len(lg.starts) - 1 and end >= ctx.we - lg.interval,
                services=services,
                start_unc=lg.interval,
                end_unc=lg.interval,
                ref=lg.ref,
                weight=end - start,
                count=int(lg.total[i0 : i1 + 1].sum()),
                first_step_end=start + lg.interval,
            )
        )
    return out


def _alert_signals(ctx: _Ctx) -> list[_Signal]:
    out = []
    for a in ctx.evidence.alerts:
        if (a.severity or "").lower() in QUIET_SEVERITIES:
            continue
        for iv in a.firing:
            s, e = _ts(iv.start), _ts(iv.end)
            open_start = iv.open_start or s <= ctx.ws
            open_end = iv.open_end or e >= ctx.we
            if open_start and open_end:
                continue  # firing all window long: a standing alert says nothing about when
            s, e = max(s, ctx.ws), min(e, ctx.we)
            out.append(
                _Signal(
                    kind="alert",
                    start=s,
                    end=e,
                    strong=True,
                    open_start=open_start,
                    open_end=open_end,
                    services=[a.service] if a.service else [],
                    start_unc=None,
                    end_unc=None,
                    ref=a.query_ref or a.name,
                    alert=a,
                    first_step_end=s,
                )
            )
    return out


# --------------------------------------------------------------------------- incidents


@dataclass
class _Cluster:
    signals: list[_Signal]
    impact_start: float | None = None
    impact_sig: _Signal | None = None
    ongoing_at_start: bool = False
    resolution: float | None = None
    resolution_sig: _Signal | None = None
    tentative_resolution: float | None = None
    first_alert: float | None = None
    first_alert_sig: _Signal | None = None
    end: float | None = None
    services: list[str] = field(default_factory=list)

    @property
    def impact(self) -> list[_Signal]:
        return [s for s in self.signals if s.strong and s.kind in ("sli", "logs")]

    @property
    def weight(self) -> float:
        return sum(s.weight for s in self.impact)

    @property
    def ongoing_at_end(self) -> bool:
        return self.resolution is None

    def span(self, ctx: _Ctx) -> tuple[float, float]:
        lo = (
            self.impact_start
            if self.impact_start is not None
            else min(s.start for s in self.signals)
        )
        hi = self.resolution if self.resolution is not None else ctx.we
        return lo, max(lo, hi)


def _cluster(ctx: _Ctx, signals: list[_Signal]) -> list[_Cluster]:
    clusters: list[list[_Signal]] = []
    cur_end = -math.inf
    for s in sorted(signals, key=_Signal.sort_key):
        gap = ctx.cfg.join_gap if s.strong else ctx.cfg.stability
        if clusters and s.start - cur_end <= gap:
            clusters[-1].append(s)
            cur_end = max(cur_end, s.end)
        else:
            clusters.append([s])
            cur_end = s.end
    return [_Cluster(c) for c in clusters if any(s.strong for s in c)]


def _resolve_cluster(ctx: _Ctx, c: _Cluster, lg: _Logs | None) -> None:
    impact = c.impact
    alerts = [s for s in c.signals if s.kind == "alert"]
    if impact:
        # equal starts: the most precise signal (SLI steps are finer than log buckets)
        first = min(
            impact, key=lambda s: (s.start, s.start_unc or 0.0, s.kind != "sli", s.sort_key())
        )
        c.impact_sig = first
        c.ongoing_at_start = first.open_start
        c.impact_start = None if first.open_start else first.start
    else:  # alerts only: the condition began when the first alert became active
        first = min(alerts, key=_Signal.sort_key)
        c.impact_sig = first
        c.ongoing_at_start = first.open_start
        a = first.alert
        starts = [first.start]
        if a is not None:
            starts += [
                _ts(iv.start)
                for iv in a.pending
                if not iv.open_start and _ts(iv.start) <= first.start
            ]
            if a.active_at is not None:
                starts.append(_ts(a.active_at))
        c.impact_start = None if first.open_start else max(ctx.ws, min(starts))

    measured = [s for s in c.signals if s.kind in ("sli", "logs")]
    if measured:
        last = max(measured, key=lambda s: (s.end, s.sort_key()))
        if any(s.open_end for s in measured):
            c.resolution = None
        else:
            candidate = last.end
            cover = []
            for s in measured:
                if s.sli is not None:
                    cover.append(float(s.sli.ts[-1]) + s.sli.step / 2)
                elif lg is not None:
                    cover.append(float(lg.starts[-1]) + lg.interval)
            if min(cover) >= candidate + ctx.cfg.stability - 1e-6:
                c.resolution, c.resolution_sig = candidate, last
            else:
                c.tentative_resolution = candidate
    else:
        if any(s.open_end for s in alerts):
            c.resolution = None
        else:
            last = max(alerts, key=lambda s: (s.end, s.sort_key()))
            c.resolution, c.resolution_sig = last.end, last

    # an alert already firing at the window's start fired first, at an unknown time
    firing = [] if any(s.open_start for s in alerts) else alerts
    if firing:
        fa = min(firing, key=_Signal.sort_key)
        c.first_alert, c.first_alert_sig = fa.start, fa
    if c.resolution is not None and not any(s.open_end for s in alerts):
        last_alert = max((s.end for s in alerts), default=-math.inf)
        c.end = min(ctx.we, max(c.resolution + ctx.cfg.stability, last_alert))
    services: set[str] = set()
    for s in c.signals:
        if s.strong:
            services.update(s.services)
    c.services = sorted(services)


# --------------------------------------------------------------------------- helpers for figures


def _in_span(ts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    # a sample at t describes the step ending at t: the step is inside (lo, hi] when lo < t <= hi
    return (ts > lo + 1e-9) & (ts <= hi + 1e-9)


# (timestamps, values, service, series id, quantile, query ref)
_Cand = tuple[np.ndarray, np.ndarray, str, str, "float | None", "str | None"]


def _peak(
    candidates: list[_Cand],
    lo: float,
    hi: float,
) -> PeakValue:
    best: tuple[float, float, str] | None = None
    chosen = PeakValue()
    for ts, v, service, sid, q, _ref in candidates:
        m = _in_span(ts, lo, hi)
        if not m.any():
            continue
        vv, tt = v[m], ts[m]
        i = int(np.argmax(vv))
        key = (-float(vv[i]), float(tt[i]), service)
        if best is None or key < best:
            best = key
            chosen = PeakValue(
                value=float(vv[i]), at=_dt(float(tt[i])), service=service, quantile=q, series=sid
            )
    return chosen


def _sum_in(s: Series, lo: float, hi: float) -> float:
    ts, v = _arrays(s, lo, hi)
    m = _in_span(ts, lo, hi)
    return float(v[m].sum())


# --------------------------------------------------------------------------- main entry point


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
    from .config import check_timezone

    check_timezone(timezone)  # fail here, not later when the findings are written
    cfg, full_settings = _settings(settings)
    ws, we = _ts(evidence.window.start), _ts(evidence.window.end)
    ctx = _Ctx(evidence, cfg, ws, we, language if language in _TEXT else "en")
    for src in evidence.sources:
        for q in src.queries:
            ctx.query_source[q.id] = src.name
    human = {k: _aware(v) for k, v in (human or {}).items() if k in HUMAN_INSTANTS}

    slis = _build_slis(ctx)
    lg = _logs(ctx)
    sli_sigs = _sli_signals(ctx, slis)
    log_sigs = _log_signals(ctx, lg)
    alert_sigs = _alert_signals(ctx)
    clusters = _cluster(ctx, sli_sigs + log_sigs + alert_sigs)
    for c in clusters:
        _resolve_cluster(ctx, c, lg)

    main: _Cluster | None = None
    if clusters:
        main = max(
            clusters, key=lambda c: (bool(c.impact), c.weight, -min(s.start for s in c.signals))
        )

    incident, instants, figures = _incident(ctx, main, slis, lg, human)
    other = [
        OtherIncident(
            impact_start=_dt(c.impact_start),
            resolution=_dt(c.resolution),
            services=c.services,
            first_alert=_dt(c.first_alert),
            status="ongoing" if c.resolution is None else "resolved",
        )
        for c in clusters
        if c is not main
    ]
    if len(clusters) > 1:
        ctx.warn(
            f"{len(clusters)} separate incidents in the window: the main one is analysed, "
            f"the others are listed",
            "several_incidents",
        )

    in_incident_alerts = {
        id(s.alert) for s in (main.signals if main else []) if s.alert is not None
    }
    alerts = _alerts_out(ctx, in_incident_alerts)
    timeline = _timeline(ctx, slis, sli_sigs, log_sigs, instants)
    gaps = _gaps(ctx, main, slis)
    if gaps:
        ctx.warn(
            f"missing data inside the incident: {len(gaps)} gap(s), "
            f"{sum(g.seconds for g in gaps):.0f}s in total; figures cover the samples that exist",
            "gaps",
        )

    thresholds = [
        Threshold(
            service=s.service,
            sli=s.sli,
            series=s.sid,
            value=s.threshold,
            direction=s.direction,
            origin=s.origin,
            baseline_level=s.baseline_level,
            quantile=s.quantile,
        )
        for s in slis
        if s.threshold is not None
    ]
    top_errors = _top_errors(evidence)
    sources = [_source_out(s) for s in evidence.sources]
    warnings = [
        WarningFinding(w.source, w.message, w.code) for w in evidence.warnings
    ] + ctx.warnings
    seen: set[tuple[str, str, str]] = set()
    unique_warnings = []
    for w in warnings:
        k = (w.source, w.message, w.code)
        if k not in seen:
            seen.add(k)
            unique_warnings.append(w)

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
        top_errors=top_errors,
        other_incidents=other,
        gaps=gaps,
        thresholds=thresholds,
        sources=sources,
        warnings=unique_warnings,
        settings=full_settings,
    )


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# --------------------------------------------------------------------------- the main incident


_DEFS = {
    "impact_start": (
        "Start of the first step of the earliest sustained breach (an SLI beyond its threshold "
        "for consecutive_steps samples) or of the first error-log burst, whichever is earlier."
    ),
    "impact_start_alert": (
        "No SLI breach or log burst: the time the first alert of the incident became active "
        "(its activeAt, else the start of its pending or firing interval)."
    ),
    "first_alert": "Start of the earliest firing (not pending) interval among the incident's alerts.",
    "acknowledged": "Acknowledgement time given on the command line (--ack).",
    "acknowledged_silence": (
        "Creation of the first Alertmanager silence matching one of the incident's alerts "
        "(no --ack given)."
    ),
    "declared": "Declaration time given on the command line (--declared).",
    "investigation_start": "Investigation start given on the command line.",
    "cause_identified": "Time the cause was identified, given on the command line.",
    "mitigation_event": (
        "First change event (deploy, rollback, config change…) after the end of the first step "
        "in breach and before resolution."
    ),
    "mitigation_improvement": (
        "No change event: end of the last step at which the most-breached SLI was within "
        "10% of its peak excess over the threshold; it stayed lower afterwards."
    ),
    "mitigation_start": (
        "First change event after the end of the first step in breach, else the first sustained "
        "improvement of the most-breached SLI."
    ),
    "resolution": (
        "End of the last step in breach (or of the last log burst) of the incident, once every "
        "breached SLI stayed within its threshold for stability_period."
    ),
    "resolution_alert": "No SLI breach or log burst: the end of the incident's last firing alert.",
    "end": "The later of: resolution + stability_period, and the end of the incident's last firing alert.",
}


def _incident(
    ctx: _Ctx,
    c: _Cluster | None,
    slis: list[_Sli],
    lg: _Logs | None,
    human: dict[str, dt.datetime | None],
) -> tuple[Incident, dict[str, Instant], dict[str, Figure]]:
    ev, cfg = ctx.evidence, ctx.cfg
    instants: dict[str, Instant] = {}
    figures: dict[str, Figure] = {}
    inc = Incident()

    for name in HUMAN_INSTANTS:
        t = human.get(name)
        instants[name] = Instant(
            at=t,
            uncertainty_seconds=0.0 if t else None,
            source="human" if t else None,
            definition=_DEFS[name],
        )
        setattr(inc, name, t)

    if c is None:
        for name in ("impact_start", "first_alert", "mitigation_start", "resolution", "end"):
            instants[name] = Instant(at=None, definition=_DEFS[name])
        instants = {k: instants[k] for k in INSTANT_NAMES}
        _figures_none(figures)
        # No incident: what the window looked like is still worth saying.
        ms = _measures(ctx, slis, ctx.ws, ctx.we, "the whole window (no incident found)")
        inc.max_error_rate = ms.max_error_rate
        inc.max_latency_by_quantile = ms.by_q
        if ms.by_q:
            inc.max_latency_seconds = ms.by_q[-1]
        inc.availability = ms.availability
        inc.failed_requests = ms.failed
        _measure_figures(ctx, figures, ms, slis, "the whole window (no incident found)")
        return inc, instants, figures

    inc.found = True
    inc.ongoing_at_start = c.ongoing_at_start
    inc.ongoing_at_end = c.ongoing_at_end
    inc.status = "ongoing" if c.ongoing_at_end else "resolved"
    lo, hi = c.span(ctx)

    # impact start
    sig = c.impact_sig
    assert sig is not None
    if c.impact:
        definition = _DEFS["impact_start"]
        source = "logs" if sig.kind == "logs" else "series"
        unc = sig.start_unc
    else:
        definition, source, unc = _DEFS["impact_start_alert"], "alert", _eval_interval(ctx, sig)
    if c.ongoing_at_start:
        definition += (
            " The incident was already in progress at the window's start: its start is unknown."
        )
        ctx.warn(
            "incident already in progress at the window's start; widen --from to see its start",
            "ongoing_at_start",
        )
    inc.impact_start = _dt(c.impact_start)
    instants["impact_start"] = Instant(
        inc.impact_start, unc if inc.impact_start else None, source, _sig_ref(sig), definition
    )

    # first alert
    fa = c.first_alert_sig
    inc.first_alert = _dt(c.first_alert)
    instants["first_alert"] = Instant(
        inc.first_alert,
        _eval_interval(ctx, fa) if fa else None,
        "alert" if fa else None,
        f"{fa.alert.name} ({fa.ref})" if fa and fa.alert else None,
        _DEFS["first_alert"],
    )

    # acknowledged: human, else the first matching silence
    if inc.acknowledged is None:
        sil = _matching_silence(ctx, c, lo, hi)
        if sil is not None:
            inc.acknowledged = _aware(sil.at)
            instants["acknowledged"] = Instant(
                inc.acknowledged, 0.0, "silence", sil.ref or sil.text, _DEFS["acknowledged_silence"]
            )

    # resolution and end
    inc.resolution = _dt(c.resolution)
    rs = c.resolution_sig
    if c.impact:
        rdef, rsrc = _DEFS["resolution"], ("logs" if rs and rs.kind == "logs" else "series")
    else:
        rdef, rsrc = _DEFS["resolution_alert"], "alert"
    runc = (rs.end_unc if rs.kind != "alert" else _eval_interval(ctx, rs)) if rs else None
    instants["resolution"] = Instant(inc.resolution, runc, rsrc if rs else None, _sig_ref(rs), rdef)
    if c.resolution is None and c.tentative_resolution is not None:
        ctx.warn(
            f"SLIs back within thresholds since {_dt_req(c.tentative_resolution).isoformat()} but the "
            f"window ends before the stability period ({cfg.stability:.0f}s) has elapsed: "
            f"resolution not confirmed; widen --to",
            "resolution_unconfirmed",
        )
    elif c.resolution is None:
        ctx.warn("incident still in progress at the window's end", "ongoing_at_end")
    inc.end = _dt(c.end)
    alert_unc = max(
        (_eval_interval(ctx, s) or 0.0 for s in c.signals if s.kind == "alert"), default=0.0
    )
    instants["end"] = Instant(
        inc.end,
        max(runc or 0.0, alert_unc) if inc.end else None,
        "analysis" if inc.end else None,
        None,
        _DEFS["end"],
    )

    # mitigation
    mit = _mitigation(ctx, c, slis)
    inc.mitigation_start = mit.at
    instants["mitigation_start"] = mit

    # durations
    if c.impact_start is not None and c.resolution is not None:
        inc.duration_seconds = c.resolution - c.impact_start
        inc.mttr_seconds = inc.duration_seconds
    if c.impact_start is not None and c.resolution is None:
        inc.elapsed_seconds = ctx.we - c.impact_start
    if c.impact_start is not None and c.first_alert is not None:
        inc.mttd_seconds = c.first_alert - c.impact_start
    if inc.acknowledged is not None and inc.first_alert is not None:
        inc.mtta_seconds = (inc.acknowledged - inc.first_alert).total_seconds()

    ms = _measures(ctx, slis, lo, hi, "(impact start, resolution]")
    inc.max_error_rate = ms.max_error_rate
    inc.max_latency_by_quantile = ms.by_q
    if ms.by_q:
        inc.max_latency_seconds = ms.by_q[-1]
    av, failed, av_refs, per_service = ms.availability, ms.failed, ms.av_refs, ms.per_service
    inc.availability = av
    inc.failed_requests = failed

    # users
    users_refs: list[str] = []
    users_def = ""
    if ev.logs is not None and ev.logs.impacted_users is not None:
        inc.impacted_users = int(ev.logs.impacted_users)
        users_refs = [ev.logs.impacted_users_ref] if ev.logs.impacted_users_ref else []
        users_def = "Distinct user ids in the logs, as counted by the logs source over the collected window."
    else:
        users = [s for s in ev.series if not s.baseline and s.name == "impacted_users"]
        best = None
        for ser in users:
            ts, v = _arrays(ser, ctx.ws, ctx.we)
            m = _in_span(ts, lo, hi)
            if m.any():
                best = max(best or 0.0, float(v[m].max()))
                if ser.query_ref:
                    users_refs.append(ser.query_ref)
        if best is not None:
            inc.impacted_users = int(round(best))
            users_def = (
                "Maximum of the configured 'impacted_users' metric over [impact start, resolution]."
            )

    # error logs of the incident
    err_by_service: dict[str, int] = {}
    if lg is not None:
        m = (lg.starts + lg.interval > lo) & (lg.starts < hi)
        inc.error_logs = int(lg.total[m].sum())
        err_by_service = {k: int(v[m].sum()) for k, v in lg.per_service.items()}

    # duration used for the impact level and error budget: the observed one when open
    observed = inc.duration_seconds
    if observed is None:
        observed = hi - lo
    if av.value is not None and cfg.slo_target < 1 and observed is not None:
        consumed = (1 - av.value) * observed / ((1 - cfg.slo_target) * cfg.slo_period)
        inc.error_budget_consumed = ErrorBudget(consumed, cfg.slo_target, cfg.slo_period)
    else:
        inc.error_budget_consumed = ErrorBudget(None, cfg.slo_target, cfg.slo_period)
    inc.impact_level_suggested = _impact_level(cfg, inc.max_error_rate.value, observed)

    inc.services = _services(ctx, c, err_by_service if lg is not None else None, per_service)

    # figures
    def refs_of(*ids: str | None) -> list[str]:
        return sorted({r for r in ids if r})

    metric_src = ctx.source_of([s.ref for s in c.signals if s.kind == "sli"], "metrics")
    figures["duration"] = Figure(
        inc.duration_seconds,
        "s",
        "resolution − impact start.",
        metric_src,
        refs_of(_sig_ref(c.impact_sig), _sig_ref(rs)),
    )
    figures["mttd"] = Figure(
        inc.mttd_seconds,
        "s",
        "MTTD = first alert − impact start (negative when an alert fired before the SLIs breached).",
        ctx.source_of([fa.ref if fa else None], "alerts"),
        refs_of(_sig_ref(c.impact_sig), fa.ref if fa else None),
    )
    figures["mtta"] = Figure(
        inc.mtta_seconds,
        "s",
        "MTTA = acknowledgement − first alert; only when an acknowledgement time is known.",
        instants["acknowledged"].source,
        refs_of(fa.ref if fa else None, instants["acknowledged"].ref),
    )
    figures["mttr"] = Figure(
        inc.mttr_seconds,
        "s",
        "MTTR = resolution − impact start.",
        metric_src,
        refs_of(_sig_ref(c.impact_sig), _sig_ref(rs)),
    )
    _measure_figures(ctx, figures, ms, slis, "(impact start, resolution]")
    figures["impacted_users"] = Figure(
        inc.impacted_users,
        "users",
        users_def or "Not available: no user field in logs and no impacted_users metric.",
        ctx.source_of(users_refs, None),
        sorted(set(users_refs)),
    )
    figures["error_budget_consumed"] = Figure(
        inc.error_budget_consumed.value,
        "ratio",
        "(1 − availability) × duration ÷ ((1 − slo_target) × slo_period): the share of the SLO "
        "period's error budget the incident used (above 1: budget exceeded).",
        ctx.source_of(av_refs, "metrics"),
        av_refs,
    )
    figures["error_logs"] = Figure(
        inc.error_logs,
        "logs",
        "Error-level log documents in the buckets overlapping (impact start, resolution].",
        ctx.source_of([lg.ref] if lg else [], "logs"),
        [lg.ref] if lg and lg.ref else [],
    )
    figures["impact_level_suggested"] = Figure(
        inc.impact_level_suggested,
        None,
        "Suggestion only: Critique when max error ratio ≥ impact_rules.critique.min_error_ratio or "
        "duration ≥ impact_rules.critique.min_duration; Majeur likewise with impact_rules.majeur; else Mineur.",
        "analysis",
        [],
    )
    instants = {k: instants[k] for k in INSTANT_NAMES}
    return inc, instants, figures


@dataclass
class _Measures:
    max_error_rate: PeakValue
    by_q: list[PeakValue]
    lat_refs: dict[str, list[str]]
    availability: Availability
    failed: float | None
    av_refs: list[str]
    per_service: dict[str, tuple[float | None, float | None]]


def _measures(ctx: _Ctx, slis: list[_Sli], lo: float, hi: float, span: str) -> _Measures:
    """Peaks, availability and failed requests over (lo, hi]."""
    ev = ctx.evidence
    ratio_cands: list[_Cand] = [
        (x.ts, x.v, x.service, x.sid, None, x.refs[0] if x.refs else None)
        for x in slis
        if x.sli == "error_ratio"
    ]
    max_error_rate = _peak(ratio_cands, lo, hi)
    lat_series = [s for s in ev.series if not s.baseline and s.kind == "latency"]
    quantiles = sorted({s.quantile for s in lat_series}, key=lambda q: -1.0 if q is None else q)
    by_q: list[PeakValue] = []
    lat_refs: dict[str, list[str]] = {}
    for q in quantiles:
        cands: list[_Cand] = []
        for ser in lat_series:
            if ser.quantile == q:
                ts, v = _arrays(ser, ctx.ws, ctx.we)
                cands.append((ts, v, ser.service, ser.id, q, ser.query_ref))
                if ser.query_ref:
                    lat_refs.setdefault(ser.id, []).append(ser.query_ref)
        p = _peak(cands, lo, hi)
        if p.value is not None:
            by_q.append(p)
    scope = sorted({x.service for x in ev.series if not x.baseline})
    av, failed, av_refs, per_service = _availability(ctx, scope, lo, hi, span)
    return _Measures(max_error_rate, by_q, lat_refs, av, failed, av_refs, per_service)


def _measure_figures(
    ctx: _Ctx, figures: dict[str, Figure], ms: _Measures, slis: list[_Sli], span: str
) -> None:
    """The figures that do not need an incident: peaks, availability, failed requests."""
    figures["max_error_rate"] = Figure(
        ms.max_error_rate.value,
        "ratio",
        f"Highest per-step error ratio of any service over {span}.",
        ctx.source_of(_series_refs(slis, ms.max_error_rate.series), "metrics"),
        _series_refs(slis, ms.max_error_rate.series),
    )
    top_q = ms.by_q[-1] if ms.by_q else PeakValue()
    figures["max_latency"] = Figure(
        top_q.value,
        "s",
        f"Highest {_quantile_name(top_q.quantile)} latency (highest quantile collected) of any "
        f"service over {span}.",
        ctx.source_of(ms.lat_refs.get(top_q.series or "", []), "metrics"),
        sorted(ms.lat_refs.get(top_q.series or "", [])),
    )
    for p in ms.by_q:
        name = "max_latency_" + _quantile_name(p.quantile).replace(".", "_")
        figures[name] = Figure(
            p.value,
            "s",
            f"Highest {_quantile_name(p.quantile)} latency of any service over {span}.",
            ctx.source_of(ms.lat_refs.get(p.series or "", []), "metrics"),
            sorted(ms.lat_refs.get(p.series or "", [])),
        )
    av = ms.availability
    figures["availability"] = Figure(
        av.value, "ratio", av.definition, ctx.source_of(ms.av_refs, "metrics"), ms.av_refs
    )
    uptime_refs = sorted({r for s in slis if s.sli == "uptime" for r in s.refs})
    figures["availability_uptime"] = Figure(
        av.uptime,
        "ratio",
        f"Mean of the uptime/probe series of every analysed service over {span}.",
        ctx.source_of(uptime_refs, "metrics"),
        uptime_refs,
    )
    figures["failed_requests"] = Figure(
        ms.failed,
        "requests",
        f"Σ bad requests of every analysed service over {span}.",
        ctx.source_of(ms.av_refs, "metrics"),
        ms.av_refs,
    )


def _figures_none(figures: dict[str, Figure]) -> None:
    for name, unit in (
        ("duration", "s"),
        ("mttd", "s"),
        ("mtta", "s"),
        ("mttr", "s"),
        ("max_error_rate", "ratio"),
        ("max_latency", "s"),
        ("availability", "ratio"),
        ("availability_uptime", "ratio"),
        ("failed_requests", "requests"),
        ("impacted_users", "users"),
        ("error_budget_consumed", "ratio"),
        ("error_logs", "logs"),
        ("impact_level_suggested", None),
    ):
        figures[name] = Figure(None, unit, "No incident found in the window.", None, [])


def _series_refs(slis: list[_Sli], sid: str | None) -> list[str]:
    return sorted({r for s in slis if s.sid == sid for r in s.refs})


def _sig_ref(s: _Signal | None) -> str | None:
    if s is None:
        return None
    if s.sli is not None:
        return s.sli.refs[0] if s.sli.refs else s.sli.sid
    return s.ref


def _eval_interval(ctx: _Ctx, s: _Signal | None) -> float | None:
    """How precisely an alert's transitions are known: the rule evaluation interval."""
    from .config import parse_duration

    name = ctx.query_source.get(s.ref or "") if s is not None else None
    for src in ctx.evidence.sources:
        if name is not None and src.name != name:
            continue
        for key in ("evaluation_interval", "scrape_interval"):
            value = src.settings.get(key)
            if value is not None:
                try:
                    return parse_duration(value)
                except ValueError:
                    continue
    steps = [x.step_seconds for x in ctx.evidence.series if x.step_seconds]
    return float(min(steps)) if steps else None


def _matching_silence(ctx: _Ctx, c: _Cluster, lo: float, hi: float) -> Event | None:
    """The silence to offer as acknowledgement: the one the source marked (``ack``), else the
    first naming one of the incident's alerts; only silences created during the incident."""
    names = {s.alert.name for s in c.signals if s.alert is not None}
    marked, named = [], []
    for e in ctx.evidence.events:
        if e.kind != "silence" or not (lo <= _ts(e.at) <= hi):
            continue
        if e.labels.get("ack") == "true":
            marked.append(e)
        if "alertname" in e.labels:
            if e.labels["alertname"] in names:
                named.append(e)
        elif any(
            re.search(rf"\b{re.escape(n)}\b", e.text + " " + e.labels.get("matchers", ""))
            for n in names
        ):
            named.append(e)
    found = marked or named
    found.sort(key=lambda e: (_ts(e.at), e.text))
    return found[0] if found else None


def _mitigation(ctx: _Ctx, c: _Cluster, slis: list[_Sli]) -> Instant:
    sig = c.impact_sig
    lo = sig.first_step_end if sig is not None else ctx.ws
    hi = c.resolution if c.resolution is not None else ctx.we
    changes = sorted(
        (e for e in ctx.evidence.events if e.kind in CHANGE_KINDS and lo < _ts(e.at) <= hi),
        key=lambda e: (_ts(e.at), e.kind, e.text),
    )
    if changes:
        e = changes[0]
        return Instant(
            _aware(e.at), 0.0, "event", e.ref or f"{e.kind}: {e.text}", _DEFS["mitigation_event"]
        )
    runs = [s for s in c.signals if s.strong and s.sli is not None and s.sli.threshold]
    if not runs:
        return Instant(None, None, None, None, _DEFS["mitigation_improvement"])

    # the SLI that went furthest beyond its threshold, relative to the threshold
    def severity(s: _Signal) -> float:
        assert s.sli is not None and s.sli.threshold
        ex = s.sli.excess()[s.i0 : s.i1 + 1]
        return float(ex.max()) / abs(s.sli.threshold)

    best = max(runs, key=lambda s: (severity(s), -s.start))
    sli = best.sli
    assert sli is not None
    span_lo = c.impact_start if c.impact_start is not None else ctx.ws
    m = (sli.ts >= span_lo) & (sli.ts <= hi + sli.lag)
    idx = np.flatnonzero(m)
    if not len(idx):
        return Instant(None, None, None, None, _DEFS["mitigation_improvement"])
    ex = sli.excess()[idx]
    peak = float(ex.max())
    last_peak = int(idx[np.flatnonzero(ex >= IMPROVEMENT_SHARE * peak)[-1]])
    after = np.flatnonzero(sli.ts > sli.ts[last_peak])
    if c.resolution is None and len(after) < ctx.cfg.consecutive_steps:
        return Instant(None, None, None, None, _DEFS["mitigation_improvement"])
    return Instant(
        _dt(min(hi, max(span_lo, float(sli.ts[last_peak]) - sli.lag))),
        sli.step,
        "series",
        sli.refs[0] if sli.refs else sli.sid,
        _DEFS["mitigation_improvement"],
    )


def _availability(
    ctx: _Ctx, services: list[str], lo: float, hi: float, span: str
) -> tuple[Availability, float | None, list[str], dict[str, tuple[float | None, float | None]]]:
    ev = ctx.evidence
    window = [s for s in ev.series if not s.baseline and s.service in services]
    per_service: dict[str, tuple[float | None, float | None]] = {}
    bad_sum = tot_sum = 0.0
    refs: list[str] = []
    method = None
    for service in services:
        tot = next((s for s in window if s.service == service and s.kind == "requests_total"), None)
        bad = next((s for s in window if s.service == service and s.kind == "requests_bad"), None)
        if tot is not None and bad is not None:
            t, b = _sum_in(tot, lo, hi), _sum_in(bad, lo, hi)
            refs += _refs(tot, bad)
            method = method or "counts"
            per_service[service] = (_ratio_ok(1 - b / t) if t > 0 else None, b)
            bad_sum += b
            tot_sum += t
            continue
        ratio = next((s for s in window if s.service == service and s.kind == "error_ratio"), None)
        thr = next((s for s in window if s.service == service and s.kind == "throughput"), None)
        if ratio is not None and thr is not None:
            r_ts, r_v = _arrays(ratio, ctx.ws, ctx.we)
            q_ts, q_v = _arrays(thr, ctx.ws, ctx.we)
            df = pd.DataFrame(
                {"r": pd.Series(r_v, index=r_ts), "q": pd.Series(q_v, index=q_ts)}
            ).dropna()
            df = df[_in_span(df.index.to_numpy(dtype=float), lo, hi)]
            step = _step(thr, q_ts)
            t = float((df["q"] * step).sum())
            b = float((df["q"] * step * df["r"].clip(0, 1)).sum())
            refs += _refs(ratio, thr)
            method = "estimated" if method in (None, "estimated") else "mixed"
            per_service[service] = (_ratio_ok(1 - b / t) if t > 0 else None, b)
            bad_sum += b
            tot_sum += t
    uptime_vals = []
    for s in window:
        if s.kind == "uptime":
            ts, v = _arrays(s, ctx.ws, ctx.we)
            m = _in_span(ts, lo, hi)
            if m.any():
                uptime_vals.append(float(np.clip(v[m], 0, 1).mean()))
    uptime = float(np.mean(uptime_vals)) if uptime_vals else None
    if tot_sum > 0:
        value: float | None = min(1.0, max(0.0, 1 - bad_sum / tot_sum))
        if method == "counts":
            definition = (
                "1 − Σbad/Σtotal (ratio of sums) of the request counts of every analysed "
                f"service over {span}."
            )
        else:
            definition = (
                f"1 − Σ(error ratio × throughput × step)/Σ(throughput × step) over {span}: "
                "request counts estimated from per-step rates where counts were missing."
            )
        failed: float | None = max(0.0, round(bad_sum, 6))
    else:
        value, failed = None, None
        definition = (
            "Not available: no request counts (nor error ratio with throughput) in the evidence."
        )
    return (
        Availability(
            value=value,
            definition=definition,
            uptime=uptime,
            total_requests=tot_sum if tot_sum > 0 else None,
        ),
        failed,
        sorted(set(refs)),
        per_service,
    )


def _impact_level(cfg: _Cfg, ratio: float | None, duration: float | None) -> str:
    r = ratio if ratio is not None else 0.0
    d = duration if duration is not None else 0.0
    if r >= cfg.critique_ratio or d >= cfg.critique_duration:
        return "Critique"
    if r >= cfg.majeur_ratio or d >= cfg.majeur_duration:
        return "Majeur"
    return "Mineur"


def _services(
    ctx: _Ctx,
    c: _Cluster,
    err_by_service: dict[str, int] | None,
    per_service: dict[str, tuple[float | None, float | None]],
) -> list[ServiceImpact]:
    out = []
    for name in c.services:
        breaches = []
        signals: set[str] = set()
        alerts: set[str] = set()
        for s in c.signals:
            if name not in s.services:
                continue
            if s.kind == "sli" and s.strong and s.sli is not None:
                sli = s.sli
                signals.add(sli.sli)
                seg = sli.v[s.i0 : s.i1 + 1]
                k = int(np.argmax(seg) if sli.direction == "above" else np.argmin(seg))
                breaches.append(
                    SliBreach(
                        service=name,
                        sli=sli.sli,
                        series=sli.sid,
                        start=None if s.open_start else _dt(s.start),
                        end=None if s.open_end else _dt(s.end),
                        threshold=float(sli.threshold or 0.0),
                        peak=float(seg[k]),
                        peak_at=_dt(float(sli.ts[s.i0 + k])),
                        steps=s.i1 - s.i0 + 1,
                        quantile=sli.quantile,
                    )
                )
            elif s.kind == "logs":
                signals.add("error_logs")
            elif s.kind == "alert" and s.alert is not None:
                signals.add("alert")
                alerts.add(s.alert.name)
        av, failed = per_service.get(name, (None, None))
        out.append(
            ServiceImpact(
                name=name,
                signals=sorted(signals),
                alerts=sorted(alerts),
                sli_breaches=sorted(
                    breaches, key=lambda b: (b.start or _dt_req(ctx.ws), b.sli, b.series)
                ),
                error_logs=None if err_by_service is None else err_by_service.get(name, 0),
                availability=av,
                failed_requests=failed,
            )
        )
    return out


# --------------------------------------------------------------------------- lists


def _span_out(
    start: dt.datetime, end: dt.datetime, open_start: bool, open_end: bool
) -> tuple[dt.datetime | None, dt.datetime | None]:
    return (None if open_start else start, None if open_end else end)


def _alerts_out(ctx: _Ctx, in_incident: set[int]) -> list[AlertFindingT]:
    out = []
    for a in ctx.evidence.alerts:
        out.append(
            AlertFindingT(
                name=a.name,
                labels=dict(sorted(a.labels.items())),
                severity=a.severity,
                active_at=_aware(a.active_at),
                firing=[
                    _span_out(i.start, i.end, i.open_start, i.open_end)
                    for i in sorted(a.firing, key=lambda i: i.start)
                ],
                pending=[
                    _span_out(i.start, i.end, i.open_start, i.open_end)
                    for i in sorted(a.pending, key=lambda i: i.start)
                ],
                annotations=dict(sorted(a.annotations.items())),
                service=a.service,
                in_incident=id(a) in in_incident,
                query_ref=a.query_ref,
            )
        )

    def key(f: AlertFindingT) -> tuple[Any, ...]:
        starts = [s for s, _ in f.firing + f.pending if s is not None]
        first = min(starts) if starts else (f.active_at or ctx.evidence.window.start)
        return (first, f.name, sorted(f.labels.items()))

    return sorted(out, key=key)


def _timeline(
    ctx: _Ctx,
    slis: list[_Sli],
    sli_sigs: list[_Signal],
    log_sigs: list[_Signal],
    instants: dict[str, Instant],
) -> list[TimelineEntry]:
    rows: list[TimelineEntry] = []
    window = ctx.evidence.window

    def add(
        at: dt.datetime | None,
        kind: str,
        source: str,
        text: str,
        ref: str | None,
        service: str | None = None,
    ) -> None:
        if at is not None:
            rows.append(TimelineEntry(_aware(at) or at, kind, source, text, ref, service))

    for a in ctx.evidence.alerts:
        on = ctx.text("on", what=a.service) if a.service else ""
        for iv in a.pending:
            if not iv.open_start:
                add(
                    iv.start,
                    "alert_pending",
                    a.source,
                    ctx.text("alert_pending", name=a.name, on=on),
                    a.query_ref,
                    a.service,
                )
        for iv in a.firing:
            if not iv.open_start:
                add(
                    iv.start,
                    "alert_firing",
                    a.source,
                    ctx.text("alert_firing", name=a.name, on=on),
                    a.query_ref,
                    a.service,
                )
            if not iv.open_end:
                add(
                    iv.end,
                    "alert_resolved",
                    a.source,
                    ctx.text("alert_resolved", name=a.name, on=on),
                    a.query_ref,
                    a.service,
                )
    for s in sli_sigs:
        if not s.strong or s.sli is None:
            continue
        sli = s.sli
        src = ctx.source_of(sli.refs, "metrics") or "metrics"
        thr = _fmt_value(sli.threshold, sli.sli)
        label = sli.label(ctx)
        if sli.sli == "uptime":
            if not s.open_start:
                add(
                    _dt(s.start),
                    "target_down",
                    src,
                    ctx.text("target_down", service=sli.service, sli=label, threshold=thr),
                    _sig_ref(s),
                    sli.service,
                )
            if not s.open_end:
                add(
                    _dt(s.end),
                    "target_up",
                    src,
                    ctx.text("target_up", service=sli.service),
                    _sig_ref(s),
                    sli.service,
                )
            continue
        key = "sli_breach_open" if s.open_start else "sli_breach"
        add(
            _dt(s.start),
            "sli_breach",
            src,
            ctx.text(key, sli=label, service=sli.service, threshold=thr),
            _sig_ref(s),
            sli.service,
        )
        if not s.open_end:
            add(
                _dt(s.end),
                "sli_recovery",
                src,
                ctx.text("sli_recovery", sli=label, service=sli.service, threshold=thr),
                _sig_ref(s),
                sli.service,
            )
    for s in log_sigs:
        on = ctx.text("on", what=", ".join(s.services)) if s.services else ""
        add(
            _dt(s.start),
            "log_burst",
            ctx.source_of([s.ref], "logs") or "logs",
            ctx.text("log_burst", count=s.count, on=on),
            s.ref,
        )
    logs = ctx.evidence.logs
    if logs is not None:
        for sig in logs.signatures:
            if sig.new_since_baseline and window.start <= _aware(sig.first_seen) <= window.end:  # type: ignore[operator]
                on = ctx.text("on", what=", ".join(sig.services)) if sig.services else ""
                add(
                    sig.first_seen,
                    "new_error",
                    ctx.source_of([sig.query_ref], "logs") or "logs",
                    ctx.text("new_error", signature=sig.signature, on=on),
                    sig.query_ref,
                )
    for e in ctx.evidence.events:
        at = _aware(e.at)
        if at is not None and window.start <= at <= window.end:
            add(at, e.kind, e.source, e.text, e.ref, e.labels.get("service"))
    for name, inst in instants.items():
        if inst.at is not None:
            add(inst.at, name, inst.source or "analysis", ctx.text(name), inst.ref)

    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in sorted(
        rows,
        key=lambda r: (r.at, _KIND_ORDER.get(r.kind, 25), r.service or "", r.text, r.ref or ""),
    ):
        k = (r.at, r.kind, r.text, r.service)
        if k in seen:
            continue
        seen.add(k)
        out.append(r)
    return out


def _fmt_value(v: float | None, sli: str) -> str:
    if v is None:
        return "?"
    if sli == "latency":
        return f"{v:.3g}s" if v >= 1 else f"{v * 1000:.0f}ms"
    return f"{v * 100:.3g}%"


def _gaps(ctx: _Ctx, c: _Cluster | None, slis: list[_Sli]) -> list[Gap]:
    if c is None:
        return []
    lo, hi = c.span(ctx)
    kinds = ("error_ratio", "latency", "requests_total", "requests_bad", "throughput", "uptime")
    found: dict[tuple[str, float, float], list[str]] = {}
    for s in ctx.evidence.series:
        if s.baseline or s.kind not in kinds or s.service not in c.services:
            continue
        ts, _ = _arrays(s, ctx.ws, ctx.we)
        step = _step(s, ts)
        if not len(ts):
            edges = [(ctx.ws, ctx.we)]
        else:
            # (a, b]: nothing known between the sample at a and the step ending at b + step
            pts = np.r_[ctx.ws, ts, ctx.we + step]
            d = np.diff(pts)
            idx = np.flatnonzero(d > 1.5 * step)
            edges = [(float(pts[i]), float(pts[i + 1] - step)) for i in idx]
        for a, b in edges:
            a2, b2 = max(a, lo), min(b, hi)
            if b2 - a2 > 0:
                found.setdefault((s.service, a2, b2), []).append(s.id)
    return [
        Gap(service=svc, series=sorted(ids), start=_dt_req(a), end=_dt_req(b))
        for (svc, a, b), ids in sorted(found.items())
    ]


def _top_errors(ev: Evidence) -> list[TopError]:
    if ev.logs is None:
        return []
    sigs = sorted(
        ev.logs.signatures, key=lambda s: (not s.new_since_baseline, -s.count, s.signature)
    )
    return [
        TopError(
            signature=s.signature,
            count=int(s.count),
            first_seen=_aware(s.first_seen),
            last_seen=_aware(s.last_seen),
            services=sorted(s.services),
            new_since_baseline=bool(s.new_since_baseline),
            baseline_count=int(s.baseline_count),
            example=s.example,
            query_ref=s.query_ref,
        )
        for s in sigs
    ]


def _source_out(s: SourceInfo) -> SourceFinding:
    return SourceFinding(
        name=s.name, kind=s.kind, version=s.version, queries=list(s.queries), ok=s.ok, error=s.error
    )


def _ratio_ok(x: float) -> float:
    """Clamp to [0, 1]: counts from different queries can disagree by a request or two."""
    return min(1.0, max(0.0, x))
