"""The cascade figure: one row per service in the order its SLIs first breached.

Each row holds the service's SLI breach spans (``incident.services[].sli_breaches``), one
colour per SLI, side by side when several SLIs breached together. The key instants
(impact start, first alert, resolution…) are drawn on it like on every figure, and each
lead that is a change is a dotted line labelled with its rank ("lead 1"), so the report's
change leads can point here. What was cut short on the page (names, on a phone) the
1,200 px PNG shows whole.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .bars import lane_layout, wrapped
from .canvas import Drawn, FigureContext, Overlay
from .data import CascadeRow, cascade_rows, change_leads
from .instants import label_row, mark_line
from .style import MAX_LANES, esc

#: The colour of each SLI's breach spans (Okabe-Ito, as the services' palette).
SLI_COLORS = {"error_ratio": "#D55E00", "latency": "#0072B2", "uptime": "#CC79A7"}
OTHER_SLI_COLOR = "#E69F00"
#: The change leads' lines: a colour no instant uses.
CHANGE_COLOR = "#6C3483"
#: Rows are taller than alert lanes: up to three SLIs share one.
ROW_HEIGHT = 46
#: A follower breaching within this many seconds of the first is "at the same time".
SAME_TIME = 30.0


def cascade(ctx: FigureContext) -> Drawn | None:
    """The cascade: a row per service, earliest first breach on top, breach spans by SLI."""
    import plotly.graph_objects as go

    rows = cascade_rows(ctx.findings)
    if not rows:
        return None
    shown = rows[:MAX_LANES]
    title = ctx.text("graph.title.cascade")
    fig = ctx.new_figure(title, "")
    slis = sorted({sli for row in shown for sli, _, _ in row.spans}, key=_sli_rank)
    for sli in slis:
        bars = _breach_bars(ctx, shown, sli)
        if not bars["y"]:
            continue
        fig.add_trace(
            go.Bar(
                **bars,
                orientation="h",
                name=esc(ctx.words.get(f"report.sli.{sli}", sli)),
                marker={"color": SLI_COLORS.get(sli, OTHER_SLI_COLOR), "line": {"width": 0}},
                offsetgroup=sli,
                hoverinfo="text",
            )
        )
    if not fig.data:
        return None
    lanes = [esc(row.service) for row in shown]
    labels = [esc(_row_label(ctx, row)) for row in shown]
    hidden = len(rows) - len(shown)
    more = ctx.text("graph.more_services", n=hidden) if hidden else None
    height = lane_layout(
        fig, lanes, [wrapped(label) for label in labels], more, lane_height=ROW_HEIGHT
    )
    # Side by side in a row: two SLIs breaching over the same minutes both stay visible.
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    overlay = Overlay()
    mark_changes(ctx, overlay)
    # the PNG is 1,200 px wide: there every row keeps its whole name
    png_layout = {"yaxis": {"ticktext": labels}}
    return Drawn("cascade", title, fig, height=height, png_layout=png_layout, overlay=overlay)


def _sli_rank(sli: str) -> tuple[int, str]:
    order = list(SLI_COLORS)
    return (order.index(sli) if sli in order else len(order), sli)


def _row_label(ctx: FigureContext, row: CascadeRow) -> str:
    """The service, with its lag after the first breach when there is one."""
    if row.lag_seconds is None or row.lag_seconds < SAME_TIME:
        return row.service
    return ctx.text("report.cascade.next", service=row.service, lag=ctx.fmt.dur(row.lag_seconds))


def _breach_bars(ctx: FigureContext, rows: list[CascadeRow], sli: str) -> dict[str, list[Any]]:
    """The bars of one SLI: row, start, width (ms), hover text; spans cut to the window."""
    window = ctx.evidence.window
    bars: dict[str, list[Any]] = {"y": [], "base": [], "x": [], "hovertext": []}
    words = ctx.words.get(f"report.sli.{sli}", sli)
    for row in rows:
        for kind, start, end in row.spans:
            if kind != sli:
                continue
            start = window.start if start is None else max(start, window.start)
            end = window.end if end is None else min(end, window.end)
            if end <= start:
                continue
            bars["y"].append(esc(row.service))
            bars["base"].append(ctx.local(start))
            bars["x"].append((end - start).total_seconds() * 1000)
            span = f"{ctx.local(start)[11:16]} → {ctx.local(end)[11:16]}"
            bars["hovertext"].append(esc(f"{row.service}: {words} {span}"))
    return bars


def mark_changes(ctx: FigureContext, overlay: Overlay) -> None:
    """A dotted line per change lead, labelled with its rank at the bottom of the plot.

    A change before the window (a deploy a rollback undid hours later) is named at the
    window's left edge with its time, so the lead still points somewhere on the figure.
    """
    window = ctx.evidence.window
    span = max(1.0, window.seconds)
    rows: list[float] = []
    for rank, at, text in sorted(change_leads(ctx.findings), key=lambda c: (c[1], c[0])):
        if at > window.end:
            continue
        inside = at >= window.start
        label = ctx.text("graph.lead", n=rank)
        if not inside:
            label = f"← {label} {_when(ctx, at)}"
        shown = at if inside else window.start
        mark_line(
            overlay,
            ctx.local(shown),
            name=f"lead_{rank}",
            color=CHANGE_COLOR,
            dash="dot",
            label=label,
            row=label_row(rows, shown.timestamp(), span),
            top=False,
            hover=text,
            line=inside,
        )


def _when(ctx: FigureContext, at: dt.datetime) -> str:
    """A time before the window: its hour, and its day when not the window's first day."""
    local = at.astimezone(ctx.zone)
    if local.date() == ctx.evidence.window.start.astimezone(ctx.zone).date():
        return local.strftime("%H:%M")
    return f"{local.strftime(ctx.words['date.day'])} {local.strftime('%H:%M')}"
