"""The line figures: error ratio, latency, and throughput with availability.

One line per series, coloured by service; the baseline period drawn faint under the
incident window, under one legend entry; each SLI's thresholds as dashed lines.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from ...model import Series
from .canvas import Drawn, FigureContext, Overlay
from .data import (
    availability_series,
    derived_throughput,
    drawn_services,
    sorted_series,
    thresholds,
)
from .style import esc
from .thinning import as_arrays


def line_traces(
    ctx: FigureContext,
    fig: Any,
    series: Iterable[Series],
    *,
    scale: float,
    hover: str,
    name_of: Callable[[Series], str],
    row: int | None = None,
    dash: str = "solid",
    width_of: Callable[[Series], float] | None = None,
) -> int:
    """One line per series, coloured by service; baselines faint, under one legend entry.

    ``hover`` is the value as the hover label shows it (a plotly template such as
    ``%{y:.1f} ms``); ``row`` the panel, on a figure of stacked panels.
    """
    # Plain dicts, added in one call: plotly validates a trace object twice (built, then
    # copied into the figure), and one add_trace per line copies the figure's trace list.
    traces: list[dict[str, Any]] = []
    baseline_shown = ctx.baseline_in_legend(fig)
    for s in series:
        if not s.timestamps:
            continue
        shift = ctx.baseline_shift(s)
        xs, ys = as_arrays(*ctx.xy(s, scale=scale, shift=shift))
        name = name_of(s)
        width = width_of(s) if width_of is not None else 2.0
        if s.baseline:
            key = "graph.legend.baseline_shifted" if shift else "graph.legend.baseline"
            legend = ctx.text(key, shift=ctx.shift_label(shift))
            trace = {
                "x": xs,
                "y": ys,
                "mode": "lines",
                "name": esc(legend),
                "legendgroup": "baseline",
                "showlegend": not baseline_shown,
                "line": {"color": ctx.color(s.service), "width": 1.2, "dash": "dot"},
                "opacity": 0.4,
                "connectgaps": False,
                "hovertemplate": f"{hover}<extra>{esc(name)} ({esc(legend)})</extra>",
            }
            baseline_shown = True
        else:
            trace = {
                "x": xs,
                "y": ys,
                "mode": "lines",
                "name": esc(name),
                "legendgroup": esc(s.service),
                "line": {"color": ctx.color(s.service), "width": width, "dash": dash},
                "connectgaps": False,
                "hovertemplate": hover,
            }
        traces.append({"type": "scatter", **trace})
    if traces:
        if row is None:
            fig.add_traces(traces)
        else:
            fig.add_traces(traces, rows=[row] * len(traces), cols=[1] * len(traces))
    return len(traces)


def threshold_lines(
    ctx: FigureContext,
    overlay: Overlay,
    sli: str,
    *,
    scale: float,
    fmt: Callable[[float], str],
    yref: str = "y",
    only: Collection[str] | None = None,
) -> None:
    """A dashed horizontal line per threshold of ``sli``, labelled as the report text writes it.

    With ``only``, the thresholds of those services alone (the others' lines are not drawn).
    """
    for value, every, _direction in thresholds(ctx.findings, sli):
        services = every if only is None else [s for s in every if s in only]
        if only is not None and not services:
            continue
        y = value * scale
        label = ctx.text("graph.threshold", value=fmt(value))
        if services:
            label += f" ({', '.join(services[:3])}{'…' if len(services) > 3 else ''})"
        overlay.shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": yref,
                "y0": y,
                "y1": y,
                "line": {"color": "#7f8c8d", "width": 1.5, "dash": "dash"},
            }
        )
        overlay.annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "yref": yref,
                "y": y,
                "text": esc(label),
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"size": 11, "color": "#5d6d7e"},
            }
        )


def _percent(ctx: FigureContext) -> Callable[[float], str]:
    """A ratio as the report writes percentages, with no more decimals than it needs (≤ 3)."""

    def fmt(value: float) -> str:
        exact = round(value * 100, 3)
        return ctx.fmt.pct(value, next(d for d in range(4) if round(value * 100, d) == exact))

    return fmt


def _sli_figure(
    ctx: FigureContext, kind: str
) -> tuple[list[Series], str, Any, list[str] | None] | None:
    """The series of one SLI kind it draws, the figure's title, the empty figure and the
    services it draws when not every one (:func:`drawn_services`); None if no series."""
    series = sorted_series(s for s in ctx.evidence.series if s.kind == kind)
    if not series:
        return None
    shown = drawn_services(ctx.findings, series)
    if shown is not None:
        series = [s for s in series if s.service in shown]
    title = ctx.text(f"graph.title.{kind}")
    return series, title, ctx.new_figure(title, ctx.text(f"graph.axis.{kind}")), shown


def services_note(ctx: FigureContext, drawn: Drawn, shown: list[str] | None, total: int) -> None:
    """Say on the figure how many of its services it draws, when not every one."""
    if shown is None:
        return
    text = ctx.text("graph.services_drawn", shown=len(shown), total=total)
    drawn.overlay.annotations.append(
        {
            "xref": "paper",
            "x": 1,
            "yref": "paper",
            "y": 1.0,
            "text": esc(text),
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"size": 11, "color": "#5d6d7e"},
        }
    )


def _services_of(ctx: FigureContext, kind: str) -> int:
    return len({s.service for s in ctx.evidence.series if s.kind == kind})


def error_ratio(ctx: FigureContext) -> Drawn | None:
    """Per service, the share of requests that failed."""
    start = _sli_figure(ctx, "error_ratio")
    if start is None:
        return None
    series, title, fig, shown = start
    # Percent values on a plain axis: plotly's "%" format cannot write "31,0 %".
    hover = ctx.text("number.percent", value="%{y:.2f}")
    if not line_traces(ctx, fig, series, scale=100.0, hover=hover, name_of=lambda s: s.service):
        return None
    overlay = Overlay()
    threshold_lines(ctx, overlay, "error_ratio", scale=100.0, fmt=_percent(ctx), only=shown)
    drawn = Drawn("error_ratio", title, fig, overlay=overlay)
    services_note(ctx, drawn, shown, _services_of(ctx, "error_ratio"))
    return drawn


def latency(ctx: FigureContext) -> Drawn | None:
    """Per service, every latency quantile collected, in milliseconds."""
    start = _sli_figure(ctx, "latency")
    if start is None:
        return None
    series, title, fig, shown = start

    def name_of(s: Series) -> str:
        q = f"p{s.quantile * 100:g}" if s.quantile is not None else s.name
        return f"{s.service} {q}"

    top: dict[str, float] = {}
    for s in series:
        top[s.service] = max(top.get(s.service, 0.0), s.quantile or 0.0)

    def width_of(s: Series) -> float:
        # The highest quantile of a service drawn boldest: it is the one alerts watch.
        return 2.2 if (s.quantile or 0.0) >= top.get(s.service, 0.0) else 1.1

    # Seconds → milliseconds: latencies of interest are tens to thousands of ms.
    if not line_traces(
        ctx, fig, series, scale=1000.0, hover="%{y:.0f} ms", name_of=name_of, width_of=width_of
    ):
        return None
    overlay = Overlay()
    threshold_lines(ctx, overlay, "latency", scale=1000.0, fmt=ctx.fmt.ms, only=shown)
    drawn = Drawn("latency", title, fig, overlay=overlay)
    services_note(ctx, drawn, shown, _services_of(ctx, "latency"))
    return drawn


#: The availability axis: 0 to 100 %, with headroom so a line at 100 % is not cut in half.
AVAILABILITY_AXIS = {"range": [0, 102], "tickvals": [0, 20, 40, 60, 80, 100], "autorange": False}

#: Height of the two-panel throughput figure, in pixels: each panel as readable as a figure.
TWO_PANELS_HEIGHT = 720


def throughput(ctx: FigureContext) -> Drawn | None:
    """Requests per second above, availability (0-100 %) in its own panel below."""
    rates = sorted_series(
        [s for s in ctx.evidence.series if s.kind == "throughput"]
        + derived_throughput(ctx.evidence)
    )
    avail = availability_series(ctx.evidence)
    basis = {id(s): b for s, b in avail}
    avail_series = sorted_series(s for s, _ in avail)
    if not rates and not avail_series:
        return None
    # one choice of services for both panels: the impacted ones, then the busiest
    shown = drawn_services(ctx.findings, rates or avail_series)
    total = len({s.service for s in [*rates, *avail_series]})
    if shown is not None:
        rates = [s for s in rates if s.service in shown]
        avail_series = [s for s in avail_series if s.service in shown]
    title = ctx.text("graph.title.throughput")
    both = bool(rates) and bool(avail_series)
    first_axis = ctx.text("graph.axis.throughput" if rates else "graph.axis.availability")
    fig = ctx.new_figure(title, first_axis, rows=2 if both else 1)
    overlay = Overlay()
    n = 0
    if rates:
        n += line_traces(
            ctx,
            fig,
            rates,
            scale=1.0,
            hover="%{y:.1f} req/s",
            name_of=lambda s: s.service,
            row=1 if both else None,
        )
    if avail_series:
        n += line_traces(
            ctx,
            fig,
            avail_series,
            scale=100.0,
            hover=ctx.text("number.percent", value="%{y:.3f}"),
            name_of=lambda s: ctx.text(f"graph.availability.{basis[id(s)]}", service=s.service),
            row=2 if both else None,
        )
        panel: dict[str, int] = {"row": 2, "col": 1} if both else {}
        fig.update_yaxes(
            title_text=esc(ctx.text("graph.axis.availability")), **AVAILABILITY_AXIS, **panel
        )
        # The uptime thresholds are about ``up``: drawn only for the services shown by it.
        up = {s.service for s, b in avail if b == "up" and (shown is None or s.service in shown)}
        yref = "y2" if both else "y"
        threshold_lines(ctx, overlay, "uptime", scale=100.0, fmt=_percent(ctx), yref=yref, only=up)
    if not n:
        return None
    if not both:
        drawn = Drawn("throughput", title, fig, overlay=overlay)
    else:
        fig.update_layout(height=TWO_PANELS_HEIGHT)
        drawn = Drawn("throughput", title, fig, height=TWO_PANELS_HEIGHT, overlay=overlay)
    services_note(ctx, drawn, shown, total)
    return drawn
