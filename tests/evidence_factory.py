"""Build :class:`pmrecon.model.Evidence` directly, without servers, for analysis tests.

Two ways in:

- :func:`build` from a small declaration (:class:`Svc` with :class:`Deg` phases,
  :class:`AlertDecl`, :class:`LogDecl`, events) — for focused cases whose true
  answers the test states by hand;
- :func:`evidence_from_scenario` from a shared :class:`tests.scenarios.Scenario` —
  the evidence the connectors would return for it (series at the scrape step, with
  the model's semantics), so analysis can be compared with ``scenario.truth``.

Series semantics follow ``pmrecon.model.Series``: the sample at ``t`` describes the
step ``(t - step, t]``; ``requests_total``/``requests_bad`` are the counts of that
step, ``error_ratio`` their ratio, ``latency`` the quantile of that step.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pmrecon.model import (
    Alert,
    ErrorSignature,
    Event,
    Evidence,
    Histogram,
    Interval,
    LogSummary,
    QueryRecord,
    Series,
    SourceInfo,
    Window,
)

UTC = dt.timezone.utc


def T(text: str) -> dt.datetime:
    """``"2026-03-01 10:00"`` (UTC unless an offset is given) as an aware datetime."""
    d = dt.datetime.fromisoformat(text)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def ep(d: dt.datetime) -> float:
    return d.timestamp()


# --------------------------------------------------------------------------- declaration


@dataclass
class Deg:
    """A degraded phase [start, end) of a service; ``ramp`` seconds of linear climb at its start."""

    start: dt.datetime
    end: dt.datetime
    error_ratio: float | None = None
    latency: float | None = None  # value of the highest quantile during the phase
    uptime: float | None = None
    ramp: float = 0.0


@dataclass
class Svc:
    name: str
    rps: float = 10.0
    error_ratio: float = 0.001
    latency: dict[float, float] = field(default_factory=lambda: {0.5: 0.05, 0.99: 0.2})
    phases: list[Deg] = field(default_factory=list)
    gaps: list[tuple[dt.datetime, dt.datetime]] = field(
        default_factory=list
    )  # no samples at t in [a, b)
    kinds: tuple[str, ...] = (
        "error_ratio",
        "requests_total",
        "requests_bad",
        "latency",
        "throughput",
    )
    uptime: bool = False
    noise: float = 0.0  # relative jitter, deterministic per service


@dataclass
class AlertDecl:
    name: str
    service: str
    firing: list[tuple[dt.datetime, dt.datetime | None]]  # end None: still firing at window end
    severity: str = "critical"
    pending_for: float = 60.0


@dataclass
class LogDecl:
    interval: float = 60.0
    base_errors: float = 1.0  # error logs per bucket, baseline and window alike
    bursts: list[tuple[dt.datetime, dt.datetime, str, int]] = field(
        default_factory=list
    )  # per bucket
    signatures: list[ErrorSignature] = field(default_factory=list)
    users: int | None = None
    with_baseline: bool = True


def _grid(start: float, end: float, step: float) -> np.ndarray:
    n = int(math.floor((end - start) / step + 1e-9))
    return start + step * np.arange(n + 1)


def _profile(svc: Svc, x: np.ndarray, attr: str, base: float) -> np.ndarray:
    """Value of ``attr`` in force at instants ``x`` (later phases win)."""
    out = np.full(len(x), base, dtype=float)
    for p in svc.phases:
        target = getattr(p, attr)
        if target is None:
            continue
        a, b = ep(p.start), ep(p.end)
        inside = (x >= a) & (x < b)
        if p.ramp > 0:
            frac = np.clip((x - a) / p.ramp, 0, 1)
            val = base + (target - base) * frac
        else:
            val = np.full(len(x), target, dtype=float)
        out = np.where(inside, val, out)
    return out


def _service_series(
    svc: Svc, lo: float, hi: float, step: float, baseline: bool, with_phases: bool
) -> list[Series]:
    ts = _grid(lo, hi, step)
    mid = ts - step / 2  # the state in force during the step ending at t
    s = (
        svc
        if with_phases
        else Svc(svc.name, svc.rps, svc.error_ratio, svc.latency, [], [], svc.kinds)
    )
    ratio = np.clip(_profile(s, mid, "error_ratio", svc.error_ratio), 0, 1)
    top_q = max(svc.latency)
    lat_top = _profile(s, mid, "latency", svc.latency[top_q])
    factor = lat_top / svc.latency[top_q]
    if svc.noise:
        rng = np.random.default_rng(zlib.crc32(svc.name.encode()))
        ratio = np.clip(ratio * (1 + svc.noise * rng.standard_normal(len(ts))), 0, 1)
        factor = factor * (1 + svc.noise * np.abs(rng.standard_normal(len(ts))))
    keep = np.ones(len(ts), dtype=bool)
    if with_phases:
        for a, b in svc.gaps:
            keep &= ~((ts >= ep(a)) & (ts < ep(b)))
    total = np.full(len(ts), svc.rps * step)
    bad = total * ratio
    tl, kl = ts[keep].tolist(), keep
    out = []
    ref = "b" if baseline else "w"

    def add(kind: str, name: str, values: np.ndarray, unit: str, q: float | None = None) -> None:
        out.append(
            Series(
                name=name,
                kind=kind,
                service=svc.name,
                unit=unit,
                timestamps=list(tl),
                values=values[kl].tolist(),
                step_seconds=step,
                query_ref=f"q-{ref}-{name}-{svc.name}",
                quantile=q,
                baseline=baseline,
            )
        )

    if "error_ratio" in svc.kinds:
        add("error_ratio", "error_ratio", ratio, "ratio")
    if "requests_total" in svc.kinds:
        add("requests_total", "requests_total", total, "requests")
    if "requests_bad" in svc.kinds:
        add("requests_bad", "requests_bad", bad, "requests")
    if "throughput" in svc.kinds:
        add("throughput", "throughput", total / step, "requests/s")
    if "latency" in svc.kinds:
        for q, base in sorted(svc.latency.items()):
            add("latency", f"latency_p{q * 100:g}", base * factor, "s", q)
    if svc.uptime:
        up = _profile(s, mid, "uptime", 1.0)
        add("uptime", "up", up, "ratio")
    return out


def build(
    start: dt.datetime,
    end: dt.datetime,
    services: list[Svc],
    step: float = 60.0,
    alerts: list[AlertDecl] | None = None,
    events: list[Event] | None = None,
    logs: LogDecl | None = None,
    baseline: bool = True,
    eval_interval: float | None = None,
    baseline_phases: bool = False,
) -> Evidence:
    """Evidence for a declared window: series for every service, alerts, events, logs.

    ``baseline_phases``: the degraded phases (and gaps) show in the baseline too.
    """
    ws, we = ep(start), ep(end)
    bl = Window(start - (end - start), start) if baseline else None
    series: list[Series] = []
    for svc in services:
        series += _service_series(svc, ws, we, step, False, True)
        if bl is not None:
            series += _service_series(svc, ep(bl.start), ep(bl.end), step, True, baseline_phases)
    ev_alerts = [_alert(a, ws, we) for a in alerts or []]
    log_summary = _logs(logs, services, ws, we, bl) if logs else None
    queries = [
        QueryRecord(
            id=s.query_ref or "",
            source="prom",
            purpose=s.kind,
            query=f"{s.name}{{service={s.service!r}}}",
            sli=s.name,
            service=s.service,
            baseline=s.baseline,
        )
        for s in series
    ] + [
        QueryRecord(id=f"q-alerts-{a.name}", source="prom", purpose="alerts", query="ALERTS")
        for a in alerts or []
    ]
    sources = [
        SourceInfo(
            name="prom",
            kind="prometheus",
            version="2.42.0",
            settings={"scrape_interval": step, "evaluation_interval": eval_interval or step},
            queries=queries,
        )
    ]
    if logs:
        sources.append(
            SourceInfo(
                name="es",
                kind="elasticsearch",
                version="9.1.0",
                queries=[
                    QueryRecord(id=f"q-logs-{k}", source="es", purpose=k, query={"size": 0})
                    for k in ("levels", "services", "users")
                ],
            )
        )
    return Evidence(
        window=Window(start, end),
        baseline=bl,
        alerts=ev_alerts,
        series=series,
        logs=log_summary,
        events=list(events or []),
        sources=sources,
        pmrecon_version="test",
    )


def _alert(a: AlertDecl, ws: float, we: float) -> Alert:
    firing, pending = [], []
    first_active = None
    for s, e in a.firing:
        p0 = ep(s) - a.pending_for
        first_active = p0 if first_active is None else first_active
        if ep(s) > ws:
            pending.append(Interval(_dt(max(p0, ws)), s, open_start=p0 <= ws))
        end = we if e is None else min(ep(e), we)
        firing.append(
            Interval(
                _dt(max(ep(s), ws)),
                _dt(end),
                open_start=ep(s) <= ws,
                open_end=e is None or ep(e) >= we,
            )
        )
    return Alert(
        name=a.name,
        labels={"alertname": a.name, "service": a.service, "severity": a.severity},
        severity=a.severity,
        active_at=_dt(first_active) if first_active is not None else None,
        pending=pending,
        firing=firing,
        annotations={"summary": f"{a.name} on {a.service}"},
        query_ref=f"q-alerts-{a.name}",
    )


def _dt(x: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(x, tz=UTC)


def _logs(
    decl: LogDecl, services: list[Svc], ws: float, we: float, bl: Window | None
) -> LogSummary:
    starts = _grid(ws, we - decl.interval, decl.interval)
    names = [s.name for s in services]
    per = {n: np.full(len(starts), decl.base_errors / max(1, len(names))) for n in names}
    for a, b, svc, count in decl.bursts:
        m = (starts >= ep(a)) & (starts < ep(b))
        per[svc] = np.where(m, per[svc] + count, per[svc])
    per_int = {k: np.round(v).astype(int) for k, v in per.items()}
    errors = sum(per_int.values(), np.zeros(len(starts), dtype=int))
    info = np.full(len(starts), 100)
    ts = starts.tolist()
    return LogSummary(
        volume_by_level=Histogram(
            decl.interval, ts, {"info": info.tolist(), "error": errors.tolist()}, "q-logs-levels"
        ),
        errors_by_service=Histogram(
            decl.interval, ts, {k: v.tolist() for k, v in per_int.items()}, "q-logs-services"
        ),
        signatures=list(decl.signatures),
        impacted_users=decl.users,
        impacted_users_ref="q-logs-users" if decl.users is not None else None,
        total_documents=int(info.sum() + errors.sum()),
        error_documents=int(errors.sum()),
        baseline_error_documents=(
            int(round(decl.base_errors * (bl.seconds / decl.interval)))
            if bl and decl.with_baseline
            else None
        ),
        baseline_seconds=bl.seconds if bl and decl.with_baseline else None,
    )


# --------------------------------------------------------------------------- shared scenarios


def _hq(latency: float, q: float, buckets: tuple[float, ...]) -> float:
    """histogram_quantile of a step whose requests all took ``latency`` (Prometheus's interpolation)."""
    lo = 0.0
    for b in buckets:
        if latency <= b:
            if math.isinf(b):
                return lo
            return lo + (b - lo) * q
        lo = b
    return lo


_NUM = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8}-[0-9a-f-]{27}|\d+")


def evidence_from_scenario(
    sc: Any,
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99),
    rate_window: float | None = None,
    count_step: float | None = None,
) -> Evidence:
    """The evidence the connectors would return for a ``tests.scenarios.Scenario``.

    With ``rate_window`` (seconds), error ratio, latency and throughput are computed the
    way the Prometheus connector's PromQL does — ``rate(x[rate_window])`` at every step,
    ratio of rates and ``histogram_quantile`` over the window's buckets — and the source
    records ``rate_window`` in its settings. Without it, each sample is exact for its step.
    With ``count_step``, request counts are per ``count_step`` on its own grid, as the
    connector's ``increase(x[count_step])`` (at least two scrapes) gives them.
    """
    from tests.scenarios import BUCKETS, ERROR_LEVELS

    w0, w1 = sc.window
    b0, b1 = sc.baseline
    step = float(sc.scrape_interval)
    series: list[Series] = []
    queries: list[QueryRecord] = []
    for svc in sc.services:
        rows = sc._steps[svc.name]
        t = np.array([r["t"] for r in rows], dtype=float)
        scraped = np.array([r["scraped"] for r in rows], dtype=bool)
        # Counters keep counting while a target is not scraped: the first sample after a
        # gap carries every request since the previous sample (what increase() returns).
        total = _since_last_sample(np.array([r["total"] for r in rows], dtype=float), scraped)
        bad = _since_last_sample(np.array([r["bad"] for r in rows], dtype=float), scraped)
        lat = [r["latency"] for r in rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(total > 0, bad / total, np.nan)
        for lo, hi, is_base in ((ep(w0), ep(w1), False), (ep(b0), ep(b1), True)):
            m = (t >= lo) & (t <= hi)
            sm = m & scraped & (total > 0)
            tag = "b" if is_base else "w"

            specs: list[tuple[str, str, np.ndarray, np.ndarray, str, float | None]] = [
                ("error_ratio", "error_ratio", sm, ratio, "ratio", None),
                ("requests_total", "requests_total", sm, total, "requests", None),
                ("requests_bad", "requests_bad", sm, bad, "requests", None),
                (
                    "throughput",
                    "throughput",
                    sm,
                    total / _elapsed(t, scraped, step),
                    "requests/s",
                    None,
                ),
            ]
            for q in quantiles:
                v = np.array([_hq(x, q, BUCKETS) for x in lat])
                specs.append(("latency", f"latency_p{q * 100:g}", sm, v, "s", q))
            if rate_window:
                raw_tot = np.array([r["total"] for r in rows], dtype=float)
                raw_bad = np.array([r["bad"] for r in rows], dtype=float)
                rated = _rated(t, scraped, raw_tot, raw_bad, lat, rate_window, quantiles, BUCKETS)
                rm = m & np.isfinite(rated["error_ratio"])
                specs = [x for x in specs if x[0] not in ("error_ratio", "latency", "throughput")]
                specs.append(
                    ("error_ratio", "error_ratio", rm, rated["error_ratio"], "ratio", None)
                )
                specs.append(
                    ("throughput", "throughput", rm, rated["throughput"], "requests/s", None)
                )
                for q in quantiles:
                    name = f"latency_p{q * 100:g}"
                    specs.append(("latency", name, rm, rated[name], "s", q))
            specs.append(("uptime", "up", m, scraped.astype(float), "ratio", None))
            for kind, name, mask, values, unit, q in specs:
                qid = f"{sc.name}-{tag}-{name}-{svc.name}"
                query = f"{name}{{service={svc.name!r}}}"
                times, kept, own_step = t[mask], values[mask], step
                if count_step and kind in ("requests_total", "requests_bad"):
                    times, kept = _per_count_step(t[m], values[m], count_step)
                    own_step = count_step
                queries.append(QueryRecord(qid, "prometheus", kind, query, step_seconds=own_step))
                series.append(
                    Series(
                        name,
                        kind,
                        svc.name,
                        unit,
                        times.tolist(),
                        kept.tolist(),
                        own_step,
                        qid,
                        q,
                        baseline=is_base,
                    )
                )

    alerts = []
    e = sc.eval_interval
    for spec in sc.alerts:
        acts = sc._alert_ticks(spec)
        pend, fire = [], []
        active_at = None
        for a in acts:
            for state, out in (("pending", pend), ("firing", fire)):
                ticks = [x for x in a[state] if ep(w0) <= x <= ep(w1)]
                for run in _tick_runs(ticks, e):
                    end = run[-1] + e
                    outlives = a["until"] > ep(w1) and (state == "firing" or not a["firing"])
                    open_end = outlives and end > ep(w1)
                    out.append(
                        Interval(
                            _dt(run[0]),
                            _dt(min(end, ep(w1))),
                            open_start=run[0] <= ep(w0),
                            open_end=open_end,
                        )
                    )
                    if active_at is None:
                        active_at = _dt(a["active_at"])
        if pend or fire:
            qid = f"{sc.name}-alerts"
            alerts.append(
                Alert(
                    name=spec.name,
                    labels=sc.alert_labels(spec),
                    severity=spec.severity,
                    active_at=active_at,
                    pending=pend,
                    firing=fire,
                    annotations={"summary": spec.summary},
                    query_ref=qid,
                )
            )
    queries.append(QueryRecord(f"{sc.name}-alerts", "prometheus", "alerts", "ALERTS"))

    events = [
        Event(
            at=c.at,
            kind=c.kind,
            source="elasticsearch",
            text=c.text,
            ref=f"{sc.name}-changes",
            labels={"service": c.service},
        )
        for c in sc.change_events
        if w0 <= c.at < w1
    ]
    logs = _scenario_logs(sc, ERROR_LEVELS)
    sources = [
        SourceInfo(
            "prometheus",
            "prometheus",
            version="2.42.0",
            settings={
                "scrape_interval": step,
                "evaluation_interval": float(e),
                **({"rate_window": rate_window} if rate_window else {}),
            },
            queries=queries,
        ),
        SourceInfo(
            "elasticsearch",
            "elasticsearch",
            version="9.1.0",
            queries=[
                QueryRecord(f"{sc.name}-{k}", "elasticsearch", k, {"size": 0}, index="logs-*")
                for k in ("levels", "errors", "signatures", "users", "changes")
            ],
        ),
    ]
    return Evidence(
        Window(w0, w1), Window(b0, b1), alerts, series, logs, events, sources, [], "test"
    )


def _rated(
    t: np.ndarray,
    scraped: np.ndarray,
    inc_total: np.ndarray,
    inc_bad: np.ndarray,
    latency: list[float],
    window: float,
    quantiles: tuple[float, ...],
    buckets: tuple[float, ...],
) -> dict[str, np.ndarray]:
    """PromQL over ``[window]`` at every tick: increases between the first and last sample
    scraped in ``(t - window, t]`` (NaN with fewer than two), as ratio, rate and quantiles."""
    bounds = np.asarray(buckets)
    bidx = np.searchsorted(bounds, np.asarray(latency), side="left")
    cum = np.vstack(
        [np.cumsum(inc_total)]
        + [np.cumsum(inc_bad)]
        + [np.cumsum(np.where(bidx == k, inc_total, 0.0)) for k in range(len(bounds))]
    )
    st = t[scraped]
    sc = cum[:, scraped]
    first = np.searchsorted(st, t - window, side="right")
    last = np.searchsorted(st, t, side="right") - 1
    ok = (last - first) >= 1
    f, la = np.where(ok, first, 0), np.where(ok, last, 0)
    delta = sc[:, la] - sc[:, f]
    tot, bad, per_bucket = delta[0], delta[1], delta[2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "error_ratio": np.where(ok & (tot > 0), bad / tot, np.nan),
            "throughput": np.where(ok, tot / (st[la] - st[f]), np.nan),
        }
        cumb = np.cumsum(per_bucket, axis=0)
        lows = np.r_[0.0, bounds[:-1]]
        for q in quantiles:
            rank = q * tot
            k = np.argmax(cumb >= rank[None, :] - 1e-9, axis=0)
            before = np.where(k > 0, cumb[np.maximum(k - 1, 0), np.arange(len(t))], 0.0)
            inside = per_bucket[k, np.arange(len(t))]
            lo, hi = lows[k], bounds[k]
            frac = np.where(inside > 0, (rank - before) / inside, 0.0)
            val = np.where(np.isinf(hi), lo, lo + (hi - lo) * frac)
            out[f"latency_p{q * 100:g}"] = np.where(ok & (tot > 0), val, np.nan)
    return out


def _per_count_step(
    t: np.ndarray, per_step: np.ndarray, count_step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step counts summed over ``(u - count_step, u]`` for every ``u`` on the count grid."""
    values = np.nan_to_num(per_step)
    grid = np.arange(math.ceil(t[0] / count_step) * count_step, t[-1] + count_step / 2, count_step)
    grid = grid[grid - count_step >= t[0] - (t[1] - t[0]) - 1e-9] if len(t) > 1 else grid
    sums = np.array([values[(t > u - count_step) & (t <= u)].sum() for u in grid])
    return grid, sums


def _since_last_sample(inc: np.ndarray, scraped: np.ndarray) -> np.ndarray:
    """Per-step increments → increments since the previous scraped sample (at scraped steps)."""
    cum = np.cumsum(inc)
    at = cum[scraped]
    out = np.zeros(len(inc))
    out[scraped] = np.diff(np.r_[0.0, at])
    return out


def _elapsed(t: np.ndarray, scraped: np.ndarray, step: float) -> np.ndarray:
    out = np.full(len(t), step)
    idx = np.flatnonzero(scraped)
    out[idx[1:]] = np.diff(t[idx])
    return out


def _tick_runs(ticks: list[int], e: int) -> list[list[int]]:
    runs: list[list[int]] = []
    for x in ticks:
        if runs and x - runs[-1][-1] <= e:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


def _scenario_logs(sc: Any, error_levels: tuple[str, ...], interval: float = 60.0) -> LogSummary:
    w0, w1 = ep(sc.window[0]), ep(sc.window[1])
    b0, b1 = ep(sc.baseline[0]), ep(sc.baseline[1])
    starts = _grid(w0, w1 - interval, interval)
    levels: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(starts), dtype=int))
    services: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(starts), dtype=int))
    users: set[str] = set()
    base_errors = 0
    sigs: dict[str, dict[str, Any]] = {}
    base_sigs: Counter[str] = Counter()
    for d in sc.log_docs():
        x = dt.datetime.fromisoformat(d["@timestamp"].replace("Z", "+00:00")).timestamp()
        lvl = d["log.level"]
        is_err = lvl in error_levels
        key = d.get("error.type") or _NUM.sub("<n>", d["message"])
        if b0 <= x < b1:
            base_errors += is_err
            if is_err or lvl == "warn":
                base_sigs[key] += 1
            continue
        if not w0 <= x < w1:
            continue
        i = int((x - w0) // interval)
        levels[lvl][i] += 1
        if is_err:
            services[d["service.name"]][i] += 1
            users.add(d["user.id"])
        if is_err or lvl == "warn":
            s = sigs.setdefault(
                key, {"count": 0, "first": x, "last": x, "services": set(), "example": d["message"]}
            )
            s["count"] += 1
            s["last"] = x
            s["services"].add(d["service.name"])
    signatures = [
        ErrorSignature(
            signature=k,
            count=v["count"],
            first_seen=_dt(v["first"]),
            last_seen=_dt(v["last"]),
            services=sorted(v["services"]),
            new_since_baseline=base_sigs.get(k, 0) == 0,
            baseline_count=base_sigs.get(k, 0),
            example=v["example"],
            query_ref=f"{sc.name}-signatures",
        )
        for k, v in sorted(sigs.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    ]
    ts = starts.tolist()
    return LogSummary(
        volume_by_level=Histogram(
            interval, ts, {k: v.tolist() for k, v in sorted(levels.items())}, f"{sc.name}-levels"
        ),
        errors_by_service=Histogram(
            interval, ts, {k: v.tolist() for k, v in sorted(services.items())}, f"{sc.name}-errors"
        ),
        signatures=signatures,
        impacted_users=len(users),
        impacted_users_ref=f"{sc.name}-users",
        total_documents=int(sum(v.sum() for v in levels.values())),
        error_documents=int(sum(v.sum() for k, v in levels.items() if k in error_levels)),
        baseline_error_documents=base_errors,
        baseline_seconds=b1 - b0,
    )
