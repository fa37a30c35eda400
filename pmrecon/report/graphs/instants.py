"""The key instants on every figure: a labelled vertical line each, the incident shaded."""

from __future__ import annotations

from typing import Any

from .canvas import FigureContext, Overlay
from .data import incident_span, key_instants
from .style import INSTANT_COLORS, SPAN_COLOR, esc


def shade_incident(ctx: FigureContext, overlay: Overlay) -> None:
    """The incident, impact start to end (to the window's end if it outlasts it), shaded."""
    span = incident_span(ctx.findings)
    if span is None:
        return
    window = ctx.evidence.window
    start = max(span[0], window.start)
    end = window.end if span[1] is None else min(span[1], window.end)
    if end <= start:
        return
    overlay.shapes.append(
        {
            "type": "rect",
            "name": "incident",
            "xref": "x",
            "x0": ctx.local(start),
            "x1": ctx.local(end),
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "fillcolor": SPAN_COLOR,
            "line": {"width": 0},
            "layer": "below",
        }
    )


def mark_instants(ctx: FigureContext, overlay: Overlay) -> None:
    """The incident shaded, and a labelled vertical line per key instant; labels step down
    when they would overlap."""
    shade_incident(ctx, overlay)
    span = max(1.0, ctx.evidence.window.seconds)
    rows: list[float] = []  # per row, the time (epoch) of its last label
    for name, at in sorted(key_instants(ctx.findings), key=lambda m: m[1]):
        if not ctx.evidence.window.start <= at <= ctx.evidence.window.end:
            continue
        x = ctx.local(at)
        row = label_row(rows, at.timestamp(), span)
        label = f"{ctx.text(f'graph.instant.{name}')} {x[11:16]}"
        mark_line(
            overlay, x, name=name, color=INSTANT_COLORS[name], dash="dashdot", label=label, row=row
        )


def label_row(rows: list[float], ts: float, span: float) -> int:
    """The first row whose last label is far enough before ``ts`` (a new row if none is)."""
    row = next((i for i, last in enumerate(rows) if ts - last > 0.16 * span), len(rows))
    if row == len(rows):
        rows.append(ts)
    else:
        rows[row] = ts
    return row


def mark_line(
    overlay: Overlay,
    x: str,
    *,
    name: str,
    color: str,
    dash: str,
    label: str,
    row: int,
    top: bool = True,
    hover: str | None = None,
    line: bool = True,
) -> None:
    """A vertical line at ``x`` (unless not ``line``) and its label, ``row`` labels from the
    top (or the bottom) of the plot, so that labels close in time do not overlap."""
    if line:
        overlay.shapes.append(
            {
                "type": "line",
                "xref": "x",
                "x0": x,
                "x1": x,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": color, "width": 1.5, "dash": dash},
                "layer": "above",
                "name": name,
            }
        )
    annotation: dict[str, Any] = {
        "xref": "x",
        "x": x,
        "yref": "paper",
        "y": 1 if top else 0,
        "yshift": (-17 if top else 17) * row,  # pixels: the same spacing on short and tall figures
        "yanchor": "top" if top else "bottom",
        "xanchor": "left",
        "showarrow": False,
        "text": esc(label),
        "font": {"size": 11, "color": color},
        "bgcolor": "rgba(255,255,255,0.8)",
    }
    if hover:
        annotation["hovertext"] = esc(hover)
    overlay.annotations.append(annotation)
