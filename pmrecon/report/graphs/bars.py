"""The bar figures: log volume stacked by level, and the alert swimlane."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...model import Alert
from .canvas import Drawn, FigureContext
from .data import lane_name, lanes_in_order
from .style import LEVEL_COLORS, LEVEL_ORDER, MAX_LANES, PALETTE, esc

#: Colour and opacity of each alert state in the swimlane.
STATE_STYLES = (("pending", "#F5B041", 0.55), ("firing", "#C0392B", 0.95))


def log_volume(ctx: FigureContext) -> Drawn | None:
    """Log documents per interval, stacked by level (most severe at the bottom)."""
    import plotly.graph_objects as go

    logs = ctx.evidence.logs
    if logs is None or not logs.volume_by_level.timestamps:
        return None
    hist = logs.volume_by_level
    if not any(any(c) for c in hist.counts.values()):
        return None
    interval = float(hist.interval_seconds or 60)
    label = ctx.shift_label(interval) if interval >= 60 else f"{interval:g} s"
    title = ctx.text("graph.title.log_volume")
    fig = ctx.new_figure(title, ctx.text("graph.axis.logs", interval=label))
    centers = [ctx.local(t + interval / 2) for t in hist.timestamps]

    def rank(level: str) -> tuple[int, str]:
        low = level.lower()
        return (LEVEL_ORDER.index(low) if low in LEVEL_ORDER else len(LEVEL_ORDER), low)

    others = iter(PALETTE)
    for level in sorted(hist.counts, key=rank):
        counts = hist.counts[level]
        color = LEVEL_COLORS.get(level.lower()) or next(others, "#888888")
        fig.add_trace(
            go.Bar(
                x=centers,
                y=list(counts),
                width=[interval * 1000] * len(centers),  # ms on a date axis
                name=esc(level),
                marker={"color": color, "line": {"width": 0}},
                hovertemplate="%{y}",
            )
        )
    fig.update_layout(barmode="stack", bargap=0)
    return Drawn("log_volume", title, fig)


def _state_bars(
    ctx: FigureContext, alerts: Sequence[Alert], shown: set[str], state: str
) -> dict[str, list[Any]]:
    """The bars of one state ("pending" or "firing"): lane, start, width (ms), hover text."""
    w_start, w_end = ctx.evidence.window.start, ctx.evidence.window.end
    bars: dict[str, list[Any]] = {"y": [], "base": [], "x": [], "hovertext": []}
    for a in alerts:
        lane = lane_name(a)
        if lane not in shown:
            continue
        for i in a.pending if state == "pending" else a.firing:
            start = max(i.start, w_start)
            end = min(i.end, w_end)
            if end <= start:
                continue
            bars["y"].append(esc(lane))
            bars["base"].append(ctx.local(start))
            bars["x"].append((end - start).total_seconds() * 1000)
            tail = ctx.text("graph.alert.open") if i.open_end else ""
            words = ctx.text(f"graph.alert.{state}")
            span = f"{ctx.local(start)[11:19]} → {ctx.local(end)[11:19]}"
            bars["hovertext"].append(esc(f"{lane}: {words} {span}{tail}"))
    return bars


def wrapped(lane: str, width: int = 18, most: int = 2) -> str:
    """The lane's name on at most ``most`` lines of ``width`` characters, for its tick label.

    A long "Alert (service)" on one line would leave a phone no width for the bars; what
    is cut ends with "…" and the full name stays in every bar's hover text and in the PNG.
    """
    lines: list[str] = []
    for word in lane.split(" "):
        word = word if len(word) <= width else word[: width - 1] + "…"
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > most:  # the rest joins the last line, cut to the width
        lines = [*lines[: most - 1], " ".join(lines[most - 1 :])[: width - 1] + "…"]
    return "<br>".join(lines)


def lane_layout(
    fig: Any, lanes: list[str], ticktext: list[str], more: str | None, *, lane_height: int = 34
) -> int:
    """Lanes top-down in the given order, a height that fits them; returns the height.

    ``lanes`` are the y categories, ``ticktext`` what each lane's tick shows, ``more`` a
    line under the figure saying how many lanes were left out (None: none were).
    """
    height = max(300, min(1400, 170 + lane_height * len(lanes)))
    fig.update_layout(
        barmode="overlay",
        height=height,
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(lanes)),
        rangemode="normal",
        title_text="",
        automargin=True,
        tickmode="array",
        tickvals=lanes,
        ticktext=ticktext,
    )
    if more:
        fig.add_annotation(
            xref="paper",
            yref="paper",
            x=0,
            y=-0.02,
            yanchor="top",
            showarrow=False,
            text=esc(more),
            font={"size": 11, "color": "#5d6d7e"},
        )
    return height


def alerts(ctx: FigureContext) -> Drawn | None:
    """A lane per alert (and service), pending and firing spans as bars along the window."""
    import plotly.graph_objects as go

    active = [a for a in ctx.evidence.alerts if a.pending or a.firing]
    if not active:
        return None
    order = lanes_in_order(active)
    hidden = max(0, len(order) - MAX_LANES)
    shown = set(order[:MAX_LANES])
    title = ctx.text("graph.title.alerts")
    fig = ctx.new_figure(title, "")
    for state, color, opacity in STATE_STYLES:
        bars = _state_bars(ctx, active, shown, state)
        if not bars["y"]:
            continue
        fig.add_trace(
            go.Bar(
                **bars,
                orientation="h",
                name=esc(ctx.text(f"graph.alert.{state}")),
                marker={"color": color, "line": {"width": 0}},
                opacity=opacity,
                hoverinfo="text",
            )
        )
    if not fig.data:
        return None
    lanes = [esc(n) for n in order[:MAX_LANES]]
    more = ctx.text("graph.more_lanes", n=hidden) if hidden else None
    # A long "Alert (service)" on one line would take most of a phone's width
    height = lane_layout(fig, lanes, [wrapped(lane) for lane in lanes], more)
    # the PNG is 1,200 px wide: there every lane keeps its whole name
    return Drawn("alerts", title, fig, height=height, png_layout={"yaxis": {"ticktext": lanes}})
