"""Step 6a: the merged timeline of the incident's window.

Input: the evidence's alerts, events and error signatures, the SLI and log-burst
signals, and the main incident's instants. Output: :class:`~pmrecon.findings.TimelineEntry`
rows sorted by time — simultaneous rows read cause → effect → reaction — without
duplicates. Edges at the window's bounds (an alert already firing, a breach still
going on) are not events and get no row. Texts follow the findings' language. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..findings import Instant, Suspect, TimelineEntry
from .context import AnalysisContext
from .signals import Signal, signal_ref
from .times import as_utc, utc_time

# Order of simultaneous timeline rows: the story reads cause → effect → reaction.
KIND_ORDER = {
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
#: Where a kind of row has no place in :data:`KIND_ORDER`.
OTHER_KINDS = 25


class _Rows:
    """Timeline rows as they are found; rows without a time are skipped."""

    def __init__(self) -> None:
        self.rows: list[TimelineEntry] = []

    def add(
        self,
        at: dt.datetime | None,
        kind: str,
        source: str,
        text: str,
        ref: str | None,
        service: str | None = None,
    ) -> None:
        if at is not None:
            self.rows.append(TimelineEntry(as_utc(at) or at, kind, source, text, ref, service))


def build_timeline(
    ctx: AnalysisContext,
    sli_signals: list[Signal],
    log_signals: list[Signal],
    instants: dict[str, Instant],
    novelty: dict[str, bool | None],
    leads: Sequence[Suspect] = (),
) -> list[TimelineEntry]:
    """Every row of the window, sorted, duplicates removed; ``novelty`` says which errors are
    new, ``leads`` which changes before the window belong to the story."""
    rows = _Rows()
    _alert_rows(ctx, rows)
    _sli_rows(ctx, rows, sli_signals)
    _log_burst_rows(ctx, rows, log_signals)
    _new_error_rows(ctx, rows, novelty)
    impact = instants.get("impact_start")
    _event_rows(ctx, rows, impact.at if impact is not None else None, leads)
    for name, instant in instants.items():
        if instant.at is not None:
            rows.add(instant.at, name, instant.source or "analysis", ctx.text(name), instant.ref)
    return _sorted_unique(rows.rows)


def _alert_rows(ctx: AnalysisContext, rows: _Rows) -> None:
    """Pending, firing and resolved transitions of every alert."""
    for alert in ctx.evidence.alerts:
        service = ctx.alert_service(alert)
        on = ctx.text("on", what=service) if service else ""
        transitions = [(i.start, "alert_pending") for i in alert.pending if not i.open_start]
        for interval in alert.firing:
            if not interval.open_start:
                transitions.append((interval.start, "alert_firing"))
            if not interval.open_end:
                transitions.append((interval.end, "alert_resolved"))
        for at, kind in transitions:
            text = ctx.text(kind, name=alert.name, on=on)
            rows.add(at, kind, alert.source, text, alert.query_ref, service)


def _sli_rows(ctx: AnalysisContext, rows: _Rows, signals: list[Signal]) -> None:
    """Breach and recovery of each sustained SLI breach (down and up for uptime)."""
    for signal in signals:
        if not signal.sustained or signal.sli is None:
            continue
        sli = signal.sli
        source = ctx.source_of(sli.query_refs, "metrics") or "metrics"
        threshold = format_value(sli.threshold, sli.kind)
        label = sli.label(ctx)
        ref, service = signal_ref(signal), sli.service
        start, end = utc_time(signal.start), utc_time(signal.end)
        if sli.kind == "uptime":
            if not signal.open_start:
                text = ctx.text("target_down", service=service, sli=label, threshold=threshold)
                rows.add(start, "target_down", source, text, ref, service)
            if not signal.open_end:
                text = ctx.text("target_up", service=service)
                rows.add(end, "target_up", source, text, ref, service)
            continue
        key = "sli_breach_open" if signal.open_start else "sli_breach"
        text = ctx.text(key, sli=label, service=service, threshold=threshold)
        rows.add(start, "sli_breach", source, text, ref, service)
        if not signal.open_end:
            text = ctx.text("sli_recovery", sli=label, service=service, threshold=threshold)
            rows.add(end, "sli_recovery", source, text, ref, service)


def _log_burst_rows(ctx: AnalysisContext, rows: _Rows, signals: list[Signal]) -> None:
    for signal in signals:
        at = utc_time(signal.start)
        _add_log_row(
            ctx, rows, at, "log_burst", signal.ref, signal.services, count=signal.log_count
        )


def _new_error_rows(ctx: AnalysisContext, rows: _Rows, novelty: dict[str, bool | None]) -> None:
    """The first sighting of each new error signature (unknown ones left out): inside the
    window, or in the baseline once the incident had begun there (it is new only then)."""
    logs = ctx.evidence.logs
    if logs is None:
        return
    window = ctx.evidence.window
    for signature in logs.signatures:
        if not novelty.get(signature.signature):
            continue
        first_seen = as_utc(signature.first_sighting)
        if first_seen is not None and first_seen <= window.end:
            ref, services = signature.query_ref, signature.services
            text = signature.signature
            _add_log_row(ctx, rows, first_seen, "new_error", ref, services, signature=text)


def _add_log_row(
    ctx: AnalysisContext,
    rows: _Rows,
    at: dt.datetime | None,
    kind: str,
    ref: str | None,
    services: list[str],
    **fields: Any,
) -> None:
    """A row found in the logs, naming the services it concerns."""
    on = ctx.text("on", what=", ".join(services)) if services else ""
    text = ctx.text(kind, on=on, **fields)
    rows.add(at, kind, ctx.source_of([ref], "logs") or "logs", text, ref)


def _event_rows(
    ctx: AnalysisContext, rows: _Rows, impact_start: dt.datetime | None, leads: Sequence[Suspect]
) -> None:
    """Events inside the window, as the source wrote them; before it, only those of the
    incident (from an impact start found before the window) and the changes a lead names
    (a deploy a rollback undid): the baseline's other changes are no part of the story."""
    window = ctx.evidence.window
    since = min(window.start, as_utc(impact_start) or window.start)
    named = {(as_utc(s.at), s.summary) for s in leads if s.kind in ("change", "rollback_recovery")}
    for event in ctx.evidence.events:
        at = as_utc(event.at)
        if at is None or at > window.end:
            continue
        if at >= since or (at, event.text) in named:
            rows.add(
                at, event.kind, event.source, event.text, event.ref, event.labels.get("service")
            )


def _sorted_unique(rows: list[TimelineEntry]) -> list[TimelineEntry]:
    """Sorted by time, then cause → effect → reaction; the first of identical rows kept."""

    def order(row: TimelineEntry) -> tuple[Any, ...]:
        kind = KIND_ORDER.get(row.kind, OTHER_KINDS)
        return (row.at, kind, row.service or "", row.text, row.ref or "")

    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in sorted(rows, key=order):
        key = (row.at, row.kind, row.text, row.service)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def format_value(value: float | None, sli: str) -> str:
    """A threshold as the timeline writes it: ``250ms``, ``1.5s``, ``5%``."""
    if value is None:
        return "?"
    if sli == "latency":
        return f"{value:.3g}s" if value >= 1 else f"{value * 1000:.0f}ms"
    return f"{value * 100:.3g}%"
