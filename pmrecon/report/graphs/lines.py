"""The line figures: error ratio, latency, and throughput with availability.

One line per series, coloured by service; the baseline period drawn faint under the
incident window, under one legend entry; each SLI's thresholds as dashed lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...model import Series
from .canvas import Drawn, FigureContext
from .data import derived_availability, derived_throughput, sorted_series, thresholds
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
    secondary: bool | None = None,
    dash: str = "solid",
    width_of: Callable[[Series], float] | None = None,
) -> int:
    """One line per series, coloured by service; baselines faint, under one legend entry."""
    import plotly.graph_objects as go

    count = 0
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
            trace = go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=esc(legend),
                legendgroup="baseline",
                showlegend=not ctx.baseline_in_legend(fig),
                line={"color": ctx.color(s.service), "width": 1.2, "dash": "dot"},
                opacity=0.4,
                connectgaps=False,
                hovertemplate=f"%{{y:{hover}}}<extra>{esc(name)} ({esc(legend)})</extra>",
            )
        else:
            trace = go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=esc(name),
                legendgroup=esc(s.service),
                line={"color": ctx.color(s.service), "width": width, "dash": dash},
                connectgaps=False,
                hovertemplate=f"%{{y:{hover}}}",
            )
        if secondary is None:
            fig.add_trace(trace)
        else:
            fig.add_trace(trace, secondary_y=secondary)
        count += 1
    return count


def threshold_lines(
    ctx: FigureContext,
    fig: Any,
    sli: str,
    *,
    scale: float,
    fmt: Callable[[float], str],
    yref: str = "y",
) -> None:
    """A dashed horizontal line per threshold of ``sli``, labelled with its value and services."""
    for value, services, _direction in thresholds(ctx.findings, sli):
        y = value * scale
        label = ctx.text("graph.threshold", value=fmt(value))
        if services:
            label += f" ({', '.join(services[:3])}{'…' if len(services) > 3 else ''})"
        fig.add_shape(
            type="line",
            xref="paper",
            x0=0,
            x1=1,
            yref=yref,
            y0=y,
            y1=y,
            line={"color": "#7f8c8d", "width": 1.5, "dash": "dash"},
        )
        fig.add_annotation(
            xref="paper",
            x=1,
            yref=yref,
            y=y,
            text=esc(label),
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font={"size": 11, "color": "#5d6d7e"},
        )


def _pct(value: float) -> str:
    return f"{value * 100:g} %"


def _ms(value: float) -> str:
    return f"{value * 1000:g} ms"


def _sli_figure(ctx: FigureContext, kind: str) -> tuple[list[Series], str, Any] | None:
    """The series of one SLI kind, the figure's title and the empty figure; None if no series."""
    series = sorted_series(s for s in ctx.evidence.series if s.kind == kind)
    if not series:
        return None
    title = ctx.text(f"graph.title.{kind}")
    return series, title, ctx.new_figure(title, ctx.text(f"graph.axis.{kind}"))


def error_ratio(ctx: FigureContext) -> Drawn | None:
    """Per service, the share of requests that failed."""
    start = _sli_figure(ctx, "error_ratio")
    if start is None:
        return None
    series, title, fig = start
    if not line_traces(ctx, fig, series, scale=1.0, hover=".2%", name_of=lambda s: s.service):
        return None
    fig.update_yaxes(tickformat=".1%")
    threshold_lines(ctx, fig, "error_ratio", scale=1.0, fmt=_pct)
    return Drawn("error_ratio", title, fig)


def latency(ctx: FigureContext) -> Drawn | None:
    """Per service, every latency quantile collected, in milliseconds."""
    start = _sli_figure(ctx, "latency")
    if start is None:
        return None
    series, title, fig = start

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
        ctx, fig, series, scale=1000.0, hover=".0f", name_of=name_of, width_of=width_of
    ):
        return None
    threshold_lines(ctx, fig, "latency", scale=1000.0, fmt=_ms)
    return Drawn("latency", title, fig)


def throughput(ctx: FigureContext) -> Drawn | None:
    """Requests per second and availability; availability on a second axis when both exist."""
    rates = sorted_series(
        [s for s in ctx.evidence.series if s.kind == "throughput"]
        + derived_throughput(ctx.evidence)
    )
    avail = sorted_series(derived_availability(ctx.evidence))
    if not rates and not avail:
        return None
    title = ctx.text("graph.title.throughput")
    both = bool(rates) and bool(avail)
    first_axis = ctx.text("graph.axis.throughput" if rates else "graph.axis.availability")
    fig = ctx.new_figure(title, first_axis, secondary=both)
    n = 0
    if rates:
        n += line_traces(
            ctx,
            fig,
            rates,
            scale=1.0,
            hover=".1f",
            name_of=lambda s: s.service,
            secondary=False if both else None,
        )
    if avail:
        n += line_traces(
            ctx,
            fig,
            avail,
            scale=1.0,
            hover=".3%",
            name_of=lambda s: ctx.text("graph.availability", service=s.service),
            secondary=True if both else None,
            dash="dash" if both else "solid",
            width_of=lambda s: 1.5 if both else 2.0,
        )
        axis = {"tickformat": ".1%", "rangemode": "normal"}
        if both:
            fig.update_yaxes(
                title_text=esc(ctx.text("graph.axis.availability")),
                showgrid=False,
                secondary_y=True,
                **axis,
            )
        else:
            fig.update_yaxes(**axis)
        threshold_lines(ctx, fig, "uptime", scale=1.0, fmt=_pct, yref="y2" if both else "y")
    if not n:
        return None
    return Drawn("throughput", title, fig)
