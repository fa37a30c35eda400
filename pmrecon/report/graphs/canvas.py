"""What every figure is drawn on: the zone, the words, colours per service, the window."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...model import Evidence, Series
from ...wording import catalogue
from ..formatting import Formatter
from .style import PALETTE, PNG_HEIGHT, PNG_WIDTH, TEMPLATE, esc
from .thinning import points


@dataclass
class Overlay:
    """Shapes and annotations gathered for one figure, then added to it in one step.

    ``fig.add_shape`` and ``fig.add_annotation`` copy and revalidate every shape or
    annotation already on the figure, so one call per threshold or instant costs the square
    of their number: 200 services' latency thresholds took 19 s (plotly.py issues #3620,
    #5316). Gathered as dicts, each list is validated once.
    """

    shapes: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)

    def draw(self, fig: Any) -> None:
        """Add the gathered shapes and annotations after those the figure already has."""
        if self.shapes:
            fig.layout.shapes = (*fig.layout.shapes, *self.shapes)
        if self.annotations:
            fig.layout.annotations = (*fig.layout.annotations, *self.annotations)
        self.shapes, self.annotations = [], []


@dataclass
class Drawn:
    """One figure before export: its file name, title, plotly figure and PNG size."""

    name: str
    title: str
    fig: Any
    width: int = PNG_WIDTH
    height: int = PNG_HEIGHT
    png: bytes | None = None
    #: Layout changes for the PNG only: it has ``width`` pixels where the page may have a
    #: phone's, so what the page shortens the PNG can show whole.
    png_layout: dict[str, Any] | None = None
    #: Thresholds and change leads not yet on ``fig``: the key instants join them, then
    #: all are added at once (``draw_figures``).
    overlay: Overlay = field(default_factory=Overlay)


def written(fig: Any, layout: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The figure as it is written (HTML and PNG): its JSON with the report's template, and
    ``layout``'s changes if given."""
    if layout:
        import plotly.graph_objects as go

        fig = go.Figure(fig).update_layout(layout)
    out: dict[str, Any] = fig.to_dict()
    drawn = {k: v for k, v in out["layout"].items() if k != "template"}
    out["layout"] = {"template": template_json(), **drawn}
    return out


@functools.cache
def template_json() -> dict[str, Any]:
    """The report's plotly template as JSON, read once per process (treat it as read-only).

    Read from plotly's own file of it: ``pio.templates`` would build and validate an object
    of it first (0.1-0.2 s in a fresh process), to be written back as the same JSON.
    """
    import json
    import pkgutil

    with contextlib.suppress(OSError):
        data = pkgutil.get_data("plotly", f"package_data/templates/{TEMPLATE}.json")
        if data is not None:
            template: dict[str, Any] = json.loads(data)
            return template
    import plotly.graph_objects as go

    # Should plotly move that file: through a layout, as setting it on a figure would.
    validated: dict[str, Any] = go.Layout(template=TEMPLATE).to_plotly_json()["template"]
    return validated


class FigureContext:
    """What every figure needs: the zone, the words, colours per service, the window."""

    def __init__(self, evidence: Evidence, findings: Mapping[str, Any], tz: str, lang: str) -> None:
        self.evidence = evidence
        self.findings = findings
        self.zone = zoneinfo.ZoneInfo(tz)
        self.tz = tz
        self.words = catalogue(lang)
        self.lang = lang
        # The report text's own number formats, so a threshold reads the same in both.
        self.fmt = Formatter(lang, tz)
        services = sorted(
            {s.service for s in evidence.series} | {a.service for a in evidence.alerts if a.service}
        )
        self.colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(services)}
        self.x_range = [self.local(evidence.window.start), self.local(evidence.window.end)]
        first = evidence.window.start.astimezone(self.zone)
        last = (evidence.window.end - dt.timedelta(microseconds=1)).astimezone(self.zone)
        self.one_day = first.date() == last.date()
        self.day = first.strftime(self.words["date.day"])
        self._stamps: dict[float, str] = {}
        self.shift = 0.0
        if evidence.baseline is not None:
            self.shift = (evidence.window.start - evidence.baseline.start).total_seconds()

    def text(self, key: str, **values: Any) -> str:
        """The catalogue's text ``key`` in the report's language, its fields filled."""
        return self.words[key].format(**values)

    def local(self, t: dt.datetime | float) -> str:
        """A wall-clock time of the configured zone, as plotly reads dates."""
        if not isinstance(t, dt.datetime):
            t = dt.datetime.fromtimestamp(float(t), tz=dt.timezone.utc)
        t = t.astimezone(self.zone)
        text = t.strftime("%Y-%m-%d %H:%M:%S")
        return f"{text}.{t.microsecond // 1000:03d}" if t.microsecond else text

    def stamp(self, t: float) -> str:
        """``local(t)``, formatted once per instant: lines share their instants."""
        text = self._stamps.get(t)
        if text is None:
            text = self._stamps[t] = self.local(t)
        return text

    def xy(self, s: Series, scale: float = 1.0, shift: float = 0.0) -> tuple[list[str], list[Any]]:
        """Points of a series in local time, with a break wherever samples are missing."""
        baseline = self.evidence.baseline
        if s.baseline and baseline is not None and s.timestamps:
            # a baseline series holds the look-back's stretch before it too: not drawn
            start = baseline.start.timestamp()
            if s.timestamps[0] < start:
                kept = [(t, v) for t, v in zip(s.timestamps, s.values) if t >= start]
                s = replace(s, timestamps=[t for t, _ in kept], values=[v for _, v in kept])
        return points(s, self.stamp, scale=scale, shift=shift)

    def color(self, service: str) -> str:
        return self.colors.get(service, PALETTE[len(self.colors) % len(PALETTE)])

    def new_figure(self, title: str, y_title: str, *, rows: int = 1) -> Any:
        """An empty figure in the report's style: title, time axis of the window, y axis.

        With ``rows`` > 1, panels stacked on one shared time axis, each with its own y axis
        (``y_title`` names the first; the caller names the others).
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        # Drawn on an empty template: setting plotly's validates and deep-copies the whole
        # template (~0.04 s a figure, 0.13 s the first), and an unset one gets plotly's default,
        # at the same cost. The template joins the figure where it is written (``written``).
        fig = go.Figure(layout={"template": {}})
        if rows > 1:
            fig = make_subplots(
                rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08, figure=fig
            )
        fig.update_layout(
            separators=self.words["graph.separators"],
            title={"text": esc(title), "x": 0.01, "xanchor": "left"},
            font={"family": "Arial, Helvetica, sans-serif", "size": 13, "color": "#1f2933"},
            height=PNG_HEIGHT,
            margin={"l": 70, "r": 30, "t": 60, "b": 90},
            legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
            hovermode="x unified",
        )
        axis_title = (
            self.text("graph.axis.time_day", tz=self.tz, day=self.day)
            if self.one_day
            else self.text("graph.axis.time", tz=self.tz)
        )
        fig.update_xaxes(
            type="date",
            range=self.x_range,
            tickformat="%H:%M" if self.one_day else "%d/%m %H:%M",
            hoverformat="%H:%M:%S" if self.one_day else "%d/%m %H:%M:%S",
            showline=True,
            linecolor="#888",
        )
        # The time axis is named once, under the lowest panel; y_title names the first panel.
        lowest: dict[str, int] = {"row": rows, "col": 1} if rows > 1 else {}
        first: dict[str, int] = {"row": 1, "col": 1} if rows > 1 else {}
        fig.update_xaxes(title_text=esc(axis_title), **lowest)
        fig.update_yaxes(rangemode="tozero", showline=True, linecolor="#888")
        fig.update_yaxes(title_text=esc(y_title), **first)
        return fig

    def baseline_shift(self, s: Series) -> float:
        """Seconds to move a baseline series by so it lies under the incident window."""
        if not s.baseline or not s.timestamps or not self.shift:
            return 0.0
        if s.timestamps[0] < self.evidence.window.start.timestamp():
            return self.shift
        return 0.0

    def baseline_in_legend(self, fig: Any) -> bool:
        """Whether a baseline line of ``fig`` already has the legend entry all baselines share."""
        return any(t.legendgroup == "baseline" and t.showlegend is not False for t in fig.data)

    def shift_label(self, seconds: float) -> str:
        """A duration as an axis or legend reads it: "1 d", "2 h", "1 h 30", "5 min"."""
        minutes = int(round(seconds / 60))
        if minutes % 1440 == 0:
            return self.text("unit.days_short", n=minutes // 1440)
        if minutes % 60 == 0:
            return f"{minutes // 60} h"
        if minutes > 60:
            return f"{minutes // 60} h {minutes % 60:02d}"
        return f"{minutes} min"
