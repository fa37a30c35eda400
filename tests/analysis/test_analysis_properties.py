"""Invariants of the analysis on random well-formed evidence (hypothesis).

Hypothesis draws the shape (window, step, services, kinds, breaches, gaps, alerts,
events, logs, settings); long value arrays come from a seeded numpy generator so that
examples stay fast while covering thousands of samples.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json, validate_findings
from pmrecon.model import Alert, Event, Evidence, Histogram, Interval, LogSummary, Series, Window
from tests.schemacheck import as_written

UTC = dt.timezone.utc
KINDS = (
    "error_ratio",
    "latency",
    "requests_total",
    "requests_bad",
    "throughput",
    "uptime",
    "extra",
)


def _dt(x: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(x, tz=UTC)


def _values(
    rng: np.random.Generator, kind: str, n: int, breaches: list[tuple[int, int]]
) -> np.ndarray:
    if kind == "error_ratio":
        v = rng.uniform(0, 0.01, n)
        hi = rng.uniform(0, 1, n)
    elif kind == "latency":
        v = rng.uniform(0.01, 0.3, n)
        hi = rng.uniform(0.3, 10, n)
    elif kind in ("requests_total", "throughput", "extra"):
        v = rng.uniform(0, 1000, n)
        hi = v
    elif kind == "requests_bad":
        v = rng.uniform(0, 2, n)
        hi = rng.uniform(0, 1000, n)
    else:  # uptime
        v = np.ones(n)
        hi = rng.choice([0.0, 0.5], n)
    for a, b in breaches:
        v[a:b] = hi[a:b]
    return v


@st.composite
def evidences(draw: st.DrawFn) -> tuple[Evidence, dict[str, Any], dict[str, Any]]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    start = draw(
        st.datetimes(
            min_value=dt.datetime(2025, 1, 1),
            max_value=dt.datetime(2027, 1, 1),
            timezones=st.just(UTC),
        )
    )
    seconds = draw(st.integers(300, 8 * 3600))
    end = start + dt.timedelta(seconds=seconds)
    ws, we = start.timestamp(), end.timestamp()
    step = draw(st.sampled_from([15.0, 30.0, 60.0, 300.0]))
    with_baseline = draw(st.booleans())
    baseline = Window(start - (end - start), start) if with_baseline else None
    n = int(seconds // step) + 1
    series: list[Series] = []
    services = [f"svc{i}" for i in range(draw(st.integers(0, 3)))]
    for name in services:
        kinds = draw(st.sets(st.sampled_from(KINDS), max_size=len(KINDS)))
        breaches = []
        for _ in range(draw(st.integers(0, 3))):
            a = draw(st.integers(0, max(0, n - 1)))
            breaches.append((a, a + draw(st.integers(1, max(1, n // 2)))))
        offset = draw(st.sampled_from([0.0, step / 2, -step, 7.5]))
        ts = ws + offset + step * np.arange(n)
        keep = rng.uniform(0, 1, n) > draw(st.sampled_from([0.0, 0.05, 0.5]))
        for kind in sorted(kinds):
            v = _values(rng, kind, n, breaches)
            if draw(st.booleans()):
                v[rng.integers(0, n, max(1, n // 50))] = np.nan
            q = draw(st.sampled_from([None, 0.5, 0.99])) if kind == "latency" else None
            series.append(
                Series(
                    kind,
                    kind,
                    name,
                    "u",
                    ts[keep].tolist(),
                    v[keep].tolist(),
                    step,
                    f"q-{name}-{kind}",
                    q,
                )
            )
            if baseline is not None and draw(st.booleans()):
                bv = _values(rng, kind, n, [])
                series.append(
                    Series(
                        kind,
                        kind,
                        name,
                        "u",
                        (ts - seconds).tolist(),
                        bv.tolist(),
                        step,
                        None,
                        q,
                        baseline=True,
                    )
                )
    alerts = []
    for i in range(draw(st.integers(0, 3))):
        firing, pending = [], []
        for _ in range(draw(st.integers(0, 3))):
            a = draw(st.floats(ws - 600, we))
            b = a + draw(st.floats(1, seconds))
            s, e = max(a, ws), min(b, we)
            if e <= s:
                continue
            firing.append(Interval(_dt(s), _dt(e), open_start=a <= ws, open_end=b >= we))
            if a - 60 > ws:
                pending.append(Interval(_dt(a - 60), _dt(a)))
        alerts.append(
            Alert(
                f"A{i}",
                {"alertname": f"A{i}", "service": draw(st.sampled_from(services or ["x"]))},
                draw(st.sampled_from([None, "critical", "warning", "none"])),
                _dt(ws) if firing else None,
                pending,
                firing,
            )
        )
    events = [
        Event(
            _dt(draw(st.floats(ws - 3600, we + 3600))),
            draw(st.sampled_from(["deploy", "rollback", "config_change", "silence", "other"])),
            "es",
            "something",
            labels={"alertname": "A0"},
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    logs = None
    if draw(st.booleans()):
        interval = draw(st.sampled_from([30.0, 60.0, 600.0]))
        k = max(1, int(seconds // interval))
        starts = (ws + interval * np.arange(k)).tolist()
        counts = {
            s: rng.poisson(draw(st.sampled_from([0.5, 5.0, 50.0])), k).tolist()
            for s in services or ["x"]
        }
        total = np.sum([np.asarray(c) for c in counts.values()], axis=0).tolist()
        logs = LogSummary(
            volume_by_level=Histogram(interval, starts, {"ERROR": total, "info": [100] * k}),
            errors_by_service=Histogram(interval, starts, counts),
            impacted_users=draw(st.one_of(st.none(), st.integers(0, 10_000))),
            baseline_error_documents=draw(st.one_of(st.none(), st.integers(0, 10_000))),
            baseline_seconds=float(seconds) if with_baseline else None,
        )
    ev = Evidence(Window(start, end), baseline, alerts, series, logs, events)
    cfg = {
        "consecutive_steps": draw(st.integers(1, 5)),
        "stability_period": draw(st.sampled_from([0, 60, 600, 3600])),
        "merge_gap": draw(st.sampled_from([0, 300, 900])),
        "error_ratio_threshold": draw(st.one_of(st.none(), st.floats(0, 1))),
        "latency_threshold": draw(st.one_of(st.none(), st.floats(0, 5))),
        "slo_target": draw(st.sampled_from([0.9, 0.999, 1.0])),
    }
    human = {
        "acknowledged": draw(st.one_of(st.none(), st.just(_dt(ws + seconds / 2)))),
        "declared": None,
    }
    return ev, cfg, human


def _t(s: str | None) -> float | None:
    return None if s is None else dt.datetime.fromisoformat(s).timestamp()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences(), st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]))
def test_invariants_on_any_well_formed_evidence(
    case: tuple[Evidence, dict[str, Any], dict[str, Any]], tz: str
) -> None:
    ev, cfg, human = case
    data = findings_to_json(analyse(ev, cfg, timezone=tz, human=human))
    validate_findings(as_written(data))
    assert data == findings_to_json(analyse(ev, cfg, timezone=tz, human=human))

    times = [_t(r["at"]) for r in data["timeline"]]
    assert times == sorted(times)  # type: ignore[type-var]

    inc = data["incident"]
    av = inc["availability"]
    for v in (av["value"], av["uptime"]):
        assert v is None or 0 <= v <= 1
    for key in ("mttr_seconds", "duration_seconds", "elapsed_seconds"):
        assert inc[key] is None or inc[key] >= 0
    assert inc["found"] == (inc["status"] != "none")

    ws, we = ev.window.start.timestamp(), ev.window.end.timestamp()
    derived = ("impact_start", "first_alert", "mitigation_start", "resolution", "end")
    for key in derived:
        x = _t(inc[key])
        # an instant found by looking back lies in the baseline, and says so
        early = data["instants"][key].get("found_before_window") and ev.baseline is not None
        low = ev.baseline.start.timestamp() if early and ev.baseline else ws
        assert x is None or low - 0.001 <= x <= we + 0.001, (key, inc[key])
        assert data["instants"][key]["at"] == inc[key]
    for o in data["other_incidents"]:
        for key in ("impact_start", "resolution"):
            x = _t(o[key])
            assert x is None or ws - 0.001 <= x <= we + 0.001
    s, r, e = _t(inc["impact_start"]), _t(inc["resolution"]), _t(inc["end"])
    if s is not None and r is not None:
        assert s <= r
    if r is not None and e is not None:
        assert r <= e
    if inc["status"] == "ongoing":
        assert inc["resolution"] is None and inc["mttr_seconds"] is None
