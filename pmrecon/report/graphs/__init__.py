"""The report's figures: one per SLI, log volume by level, an alert swimlane, the cascade.

Each figure is drawn with plotly from the evidence (the series, histograms and alert
intervals as collected) and the findings (key instants, incident span, thresholds), in
the units and number formats of the report text (docs/definitions.md, "Graphs"). It is written twice:
as an interactive, self-contained HTML page (plotly.js inline, works offline) and as a
PNG for the Markdown, exported by kaleido through a Chromium found on the machine.

Plotly has no notion of time zones, so times are converted to wall-clock times of the
configured zone before plotting, and the axis says which zone. Text that comes from the
data (service names, alert names, label values) is escaped before it reaches plotly,
which would otherwise read ``<b>``, ``<a>`` or ``<br>`` in it as markup.

The modules, in the order a figure goes through them: ``data`` (what to plot, from the
evidence and findings), ``canvas`` (the figure's frame, words and colours; ``thinning``
caps the points of a line), ``lines``, ``bars`` and ``cascade`` (the figures), ``instants`` (the key
instants and the incident span on each), then ``pages`` (HTML) and ``png`` (PNG export). A new figure is a
function ``(FigureContext) -> Drawn | None`` added to ``FIGURES``.

plotly and kaleido are imported inside functions only: ``pmrecon --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...model import Evidence, Warning
from ..offline import PLOTLY_FILE, plotly_js
from . import bars, cascade, lines
from .canvas import Drawn, FigureContext
from .data import key_instants
from .instants import mark_instants
from .pages import figure_div, standalone_html
from .png import NO_CHROMIUM, export_pngs, find_chromium
from .thinning import MAX_TRACE_POINTS

#: Every figure, in the report's order; each returns None when the evidence has no data for it.
FIGURES: tuple[Callable[[FigureContext], Drawn | None], ...] = (
    lines.error_ratio,
    lines.latency,
    lines.throughput,
    bars.log_volume,
    bars.alerts,
    cascade.cascade,
)


def render_graphs(
    evidence: Evidence, findings: Mapping[str, Any], *, tz: str, lang: str, png: bool
) -> tuple[list[dict[str, Any]], dict[str, bytes], list[Warning]]:
    """Draw every figure the data allows; return (graphs, files under graphs/, warnings)."""
    drawn = draw_figures(evidence, findings, tz=tz, lang=lang)
    warnings: list[Warning] = []
    if png and drawn:
        images, warning = export_pngs(drawn)
        if warning is not None:
            warnings.append(warning)
        for d in drawn:
            d.png = images.get(d.name)
    graphs: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    for d in drawn:
        div = figure_div(d)
        files[f"{d.name}.html"] = standalone_html(d.title, div, lang).encode("utf-8")
        if d.png is not None:
            files[f"{d.name}.png"] = d.png
        graphs.append(
            {
                "name": d.name,
                "title": d.title,
                "png": f"graphs/{d.name}.png" if d.png is not None else None,
                "html": f"graphs/{d.name}.html",
                "div": div,
            }
        )
    if drawn:
        # One copy for report.html and every graph page (see pmrecon/report/offline.py).
        files[PLOTLY_FILE] = plotly_js()
    return graphs, files, warnings


def draw_figures(
    evidence: Evidence, findings: Mapping[str, Any], *, tz: str, lang: str
) -> list[Drawn]:
    """Every figure the evidence has data for, styled and marked with the key instants."""
    ctx = FigureContext(evidence, findings, tz, lang)
    drawn = [d for d in (figure(ctx) for figure in FIGURES) if d is not None]
    for d in drawn:
        mark_instants(ctx, d.overlay)
        d.overlay.draw(d.fig)
    return drawn


__all__ = [
    "MAX_TRACE_POINTS",
    "NO_CHROMIUM",
    "Drawn",
    "FigureContext",
    "draw_figures",
    "export_pngs",
    "find_chromium",
    "key_instants",
    "render_graphs",
]
