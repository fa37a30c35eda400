"""What the figures plot, prepared from the evidence and the findings (no plotly here).

Series in drawing order, rates and availability derived from request counts where the
evidence has no such series, the thresholds per SLI, the key instants, the alert lanes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...model import Alert, Evidence, Series, parse_rfc3339
from .style import MARKED_INSTANTS

#: Most services a line figure draws. Beyond it a figure of every service is unreadable and
#: the largest part of the report (200 services: 1,200 latency lines, 43 MB of HTML).
MAX_SERVICES_DRAWN = 12


def drawn_services(findings: Mapping[str, Any], series: Iterable[Series]) -> list[str] | None:
    """The services a line figure of ``series`` draws; None: every one (few enough).

    The incident's services first, in the findings' order, then the others by the highest
    value their window series reach, up to :data:`MAX_SERVICES_DRAWN`.
    """
    import numpy as np

    peaks: dict[str, float] = {}
    for s in series:
        values = np.asarray(s.values, dtype=float)
        values = values[np.isfinite(values)] if not s.baseline else values[:0]
        top = float(values.max()) if len(values) else -np.inf
        peaks[s.service] = max(peaks.get(s.service, -np.inf), top)
    if len(peaks) <= MAX_SERVICES_DRAWN:
        return None
    named = [str(x.get("name")) for x in (findings.get("incident") or {}).get("services") or []]
    first = [name for name in dict.fromkeys(named) if name in peaks]
    rest = sorted((n for n in peaks if n not in first), key=lambda n: (-peaks[n], n))
    return (first + rest)[:MAX_SERVICES_DRAWN]


def sorted_series(series: Iterable[Series]) -> list[Series]:
    """Incident series before baselines, then by service, quantile and name."""
    return sorted(series, key=lambda s: (s.baseline, s.service, s.quantile or 0.0, s.name))


def derived_throughput(evidence: Evidence) -> list[Series]:
    """requests/s from per-step request counts, for services without a throughput series."""
    have = {s.service for s in evidence.series if s.kind == "throughput"}
    out = []
    for s in evidence.series:
        if s.kind == "requests_total" and s.service not in have and s.step_seconds:
            out.append(
                Series(
                    s.name,
                    "throughput",
                    s.service,
                    "req/s",
                    s.timestamps,
                    [v / s.step_seconds for v in s.values],
                    s.step_seconds,
                    s.query_ref,
                    baseline=s.baseline,
                )
            )
    return out


def _availability_points(bad: Series, total: Series) -> tuple[list[float], list[float]]:
    """(timestamps, 1 − bad/total) at the steps where both counts are usable."""
    import numpy as np

    bt, bv = np.asarray(bad.timestamps, dtype=float), np.asarray(bad.values, dtype=float)
    tt, tv = np.asarray(total.timestamps, dtype=float), np.asarray(total.values, dtype=float)
    if not len(bt) or not len(tt):
        return [], []
    # each bad count's total at the same instant (a series' instants rise strictly)
    at = np.minimum(np.searchsorted(tt, bt), len(tt) - 1)
    tot = np.where(tt[at] == bt, tv[at], np.nan)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(tot) & (tot > 0) & np.isfinite(bv)
    ratio = np.maximum(0.0, 1.0 - bv[usable] / tot[usable])
    return bt[usable].tolist(), ratio.tolist()


def availability_series(evidence: Evidence) -> list[tuple[Series, str]]:
    """Per-step availability and its basis: 1 − bad/total ("requests"), else ``up`` ("up").

    Request counts say what users saw; ``up`` only that the target answered scrapes (it
    stays at 100 % through an outage of errors), so a service with counts is drawn from them.
    """
    totals = {(s.service, s.baseline): s for s in evidence.series if s.kind == "requests_total"}
    out: list[tuple[Series, str]] = []
    counted: set[str] = set()
    for s in evidence.series:
        total = totals.get((s.service, s.baseline))
        if s.kind != "requests_bad" or total is None:
            continue
        ts, values = _availability_points(s, total)
        if ts:
            counted.add(s.service)
            out.append(
                (
                    Series(
                        "availability",
                        "uptime",
                        s.service,
                        "ratio",
                        ts,
                        values,
                        s.step_seconds,
                        s.query_ref,
                        baseline=s.baseline,
                    ),
                    "requests",
                )
            )
    out += [(s, "up") for s in evidence.series if s.kind == "uptime" and s.service not in counted]
    return out


def incident_span(findings: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime | None] | None:
    """(impact start, end) of the incident; end None while it outlasts the window."""
    marks = dict(key_instants(findings))
    start = marks.get("impact_start")
    if start is None:
        return None
    return start, marks.get("end") or marks.get("resolution")


def thresholds(findings: Mapping[str, Any], sli: str) -> list[tuple[float, list[str], str]]:
    """(value, services, direction) of the thresholds used for one SLI, merged by value."""
    merged: dict[tuple[float, str], list[str]] = {}
    for t in findings.get("thresholds") or []:
        if t.get("sli") != sli or t.get("value") is None:
            continue
        key = (float(t["value"]), str(t.get("direction") or "above"))
        services = merged.setdefault(key, [])
        if t.get("service") and t["service"] not in services:
            services.append(str(t["service"]))
    return [(v, s, d) for (v, d), s in sorted(merged.items())]


def key_instants(findings: Mapping[str, Any]) -> list[tuple[str, dt.datetime]]:
    """(name, time) of the instants to mark, from findings["instants"] (else "incident")."""
    instants = findings.get("instants") or {}
    incident = findings.get("incident") or {}
    out = []
    for name in MARKED_INSTANTS:
        value = (instants.get(name) or {}).get("at") or incident.get(name)
        if not value:
            continue
        try:
            out.append((name, parse_rfc3339(str(value))))
        except ValueError:
            continue
    return out


def lane_name(a: Alert) -> str:
    """The swimlane an alert is drawn in: its name and its service (else its instance)."""
    parts = [a.name]
    if a.service:
        parts.append(a.service)
    elif a.labels.get("instance"):
        parts.append(a.labels["instance"])
    return " · ".join(parts)


def lanes_in_order(alerts: Iterable[Alert]) -> list[str]:
    """Every lane, by the first time any of its alerts was pending or firing."""
    lanes: dict[str, dt.datetime] = {}
    for a in alerts:
        first = min(i.start for i in [*a.pending, *a.firing])
        name = lane_name(a)
        lanes[name] = min(first, lanes.get(name, first))
    return sorted(lanes, key=lambda n: (lanes[n], n))


@dataclass(frozen=True)
class CascadeRow:
    """One service of the cascade: its lag after the first breach and its SLI breach spans.

    A span's start (end) is None when the breach was already going on at the window's
    start (still going on at its end).
    """

    service: str
    lag_seconds: float | None
    spans: list[tuple[str, dt.datetime | None, dt.datetime | None]]


def cascade_rows(findings: Mapping[str, Any]) -> list[CascadeRow]:
    """The cascade's services in its order, each with the breach spans of its SLIs."""
    incident = findings.get("incident") or {}
    breaches: dict[str, list[Mapping[str, Any]]] = {
        str(s.get("name")): list(s.get("sli_breaches") or [])
        for s in incident.get("services") or []
    }
    rows = []
    for step in incident.get("cascade") or []:
        service = str(step.get("service"))
        spans = [
            (str(b.get("sli")), _time_or_none(b.get("start")), _time_or_none(b.get("end")))
            for b in breaches.get(service, [])
        ]
        lag = step.get("lag_seconds")
        rows.append(CascadeRow(service, None if lag is None else float(lag), spans))
    return rows


def _time_or_none(value: Any) -> dt.datetime | None:
    return parse_rfc3339(str(value)) if value else None


#: The leads that are changes: marked on the cascade figure at the time of the change.
CHANGE_LEADS = ("change", "rollback_recovery")


def change_leads(findings: Mapping[str, Any]) -> list[tuple[int, dt.datetime, str]]:
    """(rank, time, text) of every lead that is a change with a known time, best first."""
    out = []
    for suspect in findings.get("suspects") or []:
        at = _time_or_none(suspect.get("at"))
        if suspect.get("kind") in CHANGE_LEADS and at is not None:
            out.append((int(suspect.get("rank") or 0), at, str(suspect.get("summary") or "")))
    return out
