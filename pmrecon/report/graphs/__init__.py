"""The report's figures: one per SLI, log volume by level and an alert swimlane.

Each figure is drawn with plotly from the evidence (the series, histograms and alert
intervals as collected) and the findings (key instants, thresholds). It is written twice:
as an interactive, self-contained HTML page (plotly.js inline, works offline) and as a
PNG for the Markdown, exported by kaleido through a Chromium found on the machine.
Every PNG of a report is exported in ONE browser session: starting Chromium costs ~3 s,
rendering one more figure ~0.3 s.

Plotly has no notion of time zones, so times are converted to wall-clock times of the
configured zone before plotting, and the axis says which zone. Text that comes from the
data (service names, alert names, label values) is escaped before it reaches plotly,
which would otherwise read ``<b>``, ``<a>`` or ``<br>`` in it as markup.

plotly and kaleido are imported inside functions only: ``pmrecon --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import math
import os
import shutil
import threading
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...model import Alert, Evidence, Series, Warning, parse_rfc3339

#: Size of every PNG, in pixels (the swimlane's height grows with its lanes).
PNG_WIDTH = 1200
PNG_HEIGHT = 500

#: Seconds allowed to render one figure, and to export all of them.
FIGURE_TIMEOUT = 60.0
EXPORT_TIMEOUT = 180.0

#: The instants drawn on every figure, in this order.
MARKED_INSTANTS = ("impact_start", "first_alert", "mitigation_start", "resolution")

INSTANT_COLORS = {
    "impact_start": "#C0392B",
    "first_alert": "#D35400",
    "mitigation_start": "#2471A3",
    "resolution": "#1E8449",
}

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

LEVEL_COLORS = {
    "fatal": "#7B241C",
    "critical": "#922B21",
    "error": "#D62728",
    "warn": "#FF7F0E",
    "warning": "#FF7F0E",
    "notice": "#17BECF",
    "info": "#1F77B4",
    "debug": "#9E9E9E",
    "trace": "#C7C7C7",
}
LEVEL_ORDER = tuple(LEVEL_COLORS)

TEXT = {
    "fr": {
        "error_ratio": "Taux d'erreur",
        "latency": "Latence",
        "throughput": "Débit et disponibilité",
        "log_volume": "Volume de logs par niveau",
        "alerts": "Alertes (en attente / déclenchées)",
        "time": "Heure ({tz})",
        "time_day": "Heure ({tz}), le {day}",
        "baseline_legend": "référence",
        "baseline_legend_shifted": "référence (décalée de {shift})",
        "ratio_axis": "requêtes en erreur",
        "latency_axis": "latence (ms)",
        "throughput_axis": "requêtes/s",
        "availability_axis": "disponibilité",
        "logs_axis": "logs par {interval}",
        "baseline": "{name} — référence",
        "baseline_shifted": "{name} — référence (décalée de {shift})",
        "threshold": "seuil {value}",
        "availability": "{service} disponibilité",
        "pending": "en attente",
        "firing": "déclenchée",
        "open": " (toujours active à la fin de la fenêtre)",
        "more_lanes": "{n} autres alertes non affichées",
        "impact_start": "Début d'impact",
        "first_alert": "1re alerte",
        "mitigation_start": "Mitigation",
        "resolution": "Résolution",
    },
    "en": {
        "error_ratio": "Error ratio",
        "latency": "Latency",
        "throughput": "Throughput and availability",
        "log_volume": "Log volume by level",
        "alerts": "Alerts (pending / firing)",
        "time": "Time ({tz})",
        "time_day": "Time ({tz}) on {day}",
        "baseline_legend": "baseline",
        "baseline_legend_shifted": "baseline (shifted by {shift})",
        "ratio_axis": "failed requests",
        "latency_axis": "latency (ms)",
        "throughput_axis": "requests/s",
        "availability_axis": "availability",
        "logs_axis": "logs per {interval}",
        "baseline": "{name} — baseline",
        "baseline_shifted": "{name} — baseline (shifted by {shift})",
        "threshold": "threshold {value}",
        "availability": "{service} availability",
        "pending": "pending",
        "firing": "firing",
        "open": " (still active at the end of the window)",
        "more_lanes": "{n} more alerts not shown",
        "impact_start": "Impact start",
        "first_alert": "First alert",
        "mitigation_start": "Mitigation",
        "resolution": "Resolution",
    },
}

MAX_LANES = 30

NO_CHROMIUM = "no Chromium found: PNG graphs skipped; install chromium or pass --no-png"


@dataclass
class Drawn:
    """One figure before export: its file name, title, plotly figure and PNG size."""

    name: str
    title: str
    fig: Any
    width: int = PNG_WIDTH
    height: int = PNG_HEIGHT
    png: bytes | None = None


# --------------------------------------------------------------------------- entry point


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
    return graphs, files, warnings


def draw_figures(
    evidence: Evidence, findings: Mapping[str, Any], *, tz: str, lang: str
) -> list[Drawn]:
    """Every figure the evidence has data for, styled and marked with the key instants."""
    ctx = _Context(evidence, findings, tz, lang)
    drawn = [
        d
        for d in (
            _error_ratio(ctx),
            _latency(ctx),
            _throughput(ctx),
            _log_volume(ctx),
            _alerts(ctx),
        )
        if d is not None
    ]
    for d in drawn:
        _mark_instants(ctx, d.fig)
    return drawn


def figure_div(d: Drawn) -> str:
    """The figure as an HTML ``<div>`` plus the script that draws it (plotly.js not included)."""
    import plotly.io as pio

    return str(
        pio.to_html(
            d.fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"pm-fig-{d.name}",
            config=PLOTLY_CONFIG,
            default_width="100%",
            default_height=f"{d.height}px",
        )
    )


PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def standalone_html(title: str, div: str, lang: str) -> str:
    """A complete page holding one figure, plotly.js inline: opens offline, from anywhere."""
    from ..htmlreport import content_security_policy, plotly_js

    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="@CSP@">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
        "margin:1rem 2rem;color:#1f2933}</style>\n"
        f"<script>{plotly_js()}</script>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{div}\n</body>\n</html>\n"
    )
    return page.replace("@CSP@", content_security_policy(page), 1)


# --------------------------------------------------------------------------- PNG export


def find_chromium() -> str | None:
    """The browser kaleido should drive: ``$BROWSER_PATH``, else Chromium or Chrome on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def export_pngs(
    drawn: Sequence[Drawn], *, timeout: float = EXPORT_TIMEOUT
) -> tuple[dict[str, bytes], Warning | None]:
    """PNG bytes per figure name, all rendered in one Chromium session; a Warning if skipped."""
    browser = find_chromium()
    if browser is None:
        where = os.environ.get("BROWSER_PATH")
        message = (
            f"no Chromium found at BROWSER_PATH={where!r}: PNG graphs skipped; "
            "fix BROWSER_PATH, install chromium or pass --no-png"
            if where
            else NO_CHROMIUM
        )
        return {}, Warning(source="graphs", message=message, code="png_skipped")
    box: dict[str, Any] = {}

    def run() -> None:
        # A thread of our own: asyncio.run() cannot nest in a caller's running loop.
        try:
            box["images"] = asyncio.run(_export(drawn, browser))
        except BaseException as exc:  # noqa: BLE001 - reported as a warning below
            box["error"] = exc

    worker = threading.Thread(target=run, name="pmrecon-png", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {}, Warning(
            source="graphs",
            message=f"PNG export took more than {timeout:.0f} s: PNG graphs skipped; pass --no-png to skip quietly",
            code="png_skipped",
        )
    error = box.get("error")
    if error is not None:
        if type(error).__name__ == "ChromeNotFoundError":
            return {}, Warning(source="graphs", message=NO_CHROMIUM, code="png_skipped")
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        return {}, Warning(
            source="graphs",
            message=f"PNG export with {browser} failed ({reason}): PNG graphs skipped; pass --no-png to skip quietly",
            code="png_skipped",
        )
    images: dict[str, bytes] = box.get("images", {})
    return images, None


async def _export(drawn: Sequence[Drawn], browser: str) -> dict[str, bytes]:
    import kaleido

    out: dict[str, bytes] = {}
    # mathjax=False: kaleido would otherwise fetch MathJax from a CDN; plotly.js comes
    # from the installed plotly package, so the export works offline.
    async with kaleido.Kaleido(n=1, timeout=FIGURE_TIMEOUT, mathjax=False, path=browser) as k:
        for d in drawn:
            out[d.name] = await k.calc_fig(
                d.fig,
                opts={"format": "png", "width": d.width, "height": d.height, "scale": 1},
            )
    return out


# --------------------------------------------------------------------------- drawing


class _Context:
    """What every figure needs: the zone, the words, colours per service, the window."""

    def __init__(self, evidence: Evidence, findings: Mapping[str, Any], tz: str, lang: str) -> None:
        self.evidence = evidence
        self.findings = findings
        self.zone = zoneinfo.ZoneInfo(tz)
        self.tz = tz
        self.text = TEXT.get(lang, TEXT["en"])
        self.lang = lang
        services = sorted(
            {s.service for s in evidence.series} | {a.service for a in evidence.alerts if a.service}
        )
        self.colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(services)}
        self.x_range = [self.local(evidence.window.start), self.local(evidence.window.end)]
        first = evidence.window.start.astimezone(self.zone)
        last = (evidence.window.end - dt.timedelta(microseconds=1)).astimezone(self.zone)
        self.one_day = first.date() == last.date()
        self.day = first.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d")
        self._stamps: dict[float, str] = {}
        self.shift = 0.0
        if evidence.baseline is not None:
            self.shift = (evidence.window.start - evidence.baseline.start).total_seconds()

    def local(self, t: dt.datetime | float) -> str:
        """A wall-clock time of the configured zone, as plotly reads dates."""
        if not isinstance(t, dt.datetime):
            t = dt.datetime.fromtimestamp(float(t), tz=dt.timezone.utc)
        t = t.astimezone(self.zone)
        text = t.strftime("%Y-%m-%d %H:%M:%S")
        return f"{text}.{t.microsecond // 1000:03d}" if t.microsecond else text

    def color(self, service: str) -> str:
        return self.colors.get(service, PALETTE[len(self.colors) % len(PALETTE)])

    def new_figure(self, title: str, y_title: str, *, secondary: bool = False) -> Any:
        import plotly.graph_objects as go

        if secondary:
            from plotly.subplots import make_subplots

            fig = make_subplots(specs=[[{"secondary_y": True}]])
        else:
            fig = go.Figure()
        fig.update_layout(
            template="plotly_white",
            separators=", " if self.lang == "fr" else ".,",
            title={"text": esc(title), "x": 0.01, "xanchor": "left"},
            font={"family": "Arial, Helvetica, sans-serif", "size": 13, "color": "#1f2933"},
            height=PNG_HEIGHT,
            margin={"l": 70, "r": 30, "t": 60, "b": 90},
            legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
            hovermode="x unified",
        )
        axis_title = (
            self.text["time_day"].format(tz=self.tz, day=self.day)
            if self.one_day
            else self.text["time"].format(tz=self.tz)
        )
        fig.update_xaxes(
            type="date",
            range=self.x_range,
            tickformat="%H:%M" if self.one_day else "%d/%m %H:%M",
            hoverformat="%H:%M:%S" if self.one_day else "%d/%m %H:%M:%S",
            title_text=esc(axis_title),
            showline=True,
            linecolor="#888",
        )
        fig.update_yaxes(
            title_text=esc(y_title), rangemode="tozero", showline=True, linecolor="#888"
        )
        return fig

    def xy(self, s: Series, scale: float = 1.0, shift: float = 0.0) -> tuple[list[str], list[Any]]:
        """Points of a series in local time, with a break wherever samples are missing.

        At most MAX_TRACE_POINTS points a line: a figure is about 1,000 px wide, so a
        longer series is cut into buckets and each keeps its minimum and maximum (peaks
        survive), plus both ends of every gap. Each instant is formatted once.
        """
        import numpy as np

        n = len(s.timestamps)
        if n == 0:
            return [], []
        ts = np.asarray(s.timestamps, dtype=float)
        max_gap = 1.5 * s.step_seconds if s.step_seconds else math.inf
        segment = np.concatenate(([0], np.cumsum(np.diff(ts) > max_gap)))
        if n > MAX_TRACE_POINTS:
            vs = np.asarray(s.values, dtype=float)
            k = -(-n // (MAX_TRACE_POINTS // 2))  # points per bucket
            rows = -(-n // k)
            flat = np.full(rows * k, np.nan)
            flat[:n] = np.where(np.isfinite(vs), vs, np.nan)
            grid = flat.reshape(rows, k)
            nan = np.isnan(grid)
            lo = np.argmin(np.where(nan, np.inf, grid), axis=1)
            hi = np.argmax(np.where(nan, -np.inf, grid), axis=1)
            base = np.arange(rows) * k
            keep = np.concatenate(([0, n - 1], base + lo, base + hi))
            keep = keep[keep < n].tolist()
            # both ends of every gap, so breaks stay where they are
            jumps = np.nonzero(np.diff(segment))[0]
            keep.extend(jumps.tolist())
            keep.extend((jumps + 1).tolist())
            index: list[int] | range = sorted(set(keep))
        else:
            index = range(n)
        xs: list[str] = []
        ys: list[Any] = []
        cache = self._stamps
        previous: int | None = None
        seg = segment.tolist()
        for i in index:
            t = s.timestamps[i]
            value = s.values[i]
            if previous is not None and seg[i] != seg[previous]:
                key = s.timestamps[previous] + s.step_seconds + shift
                xs.append(cache.get(key) or cache.setdefault(key, self.local(key)))
                ys.append(None)  # plotly draws no line across a None
            key = t + shift
            xs.append(cache.get(key) or cache.setdefault(key, self.local(key)))
            ys.append(None if value is None or not math.isfinite(value) else value * scale)
            previous = i
        return xs, ys

    def baseline_shift(self, s: Series) -> float:
        """Seconds to move a baseline series by so it lies under the incident window."""
        if not s.baseline or not s.timestamps or not self.shift:
            return 0.0
        if s.timestamps[0] < self.evidence.window.start.timestamp():
            return self.shift
        return 0.0

    def baseline_in_legend(self, fig: Any) -> bool:
        return any(t.legendgroup == "baseline" and t.showlegend is not False for t in fig.data)

    def shift_label(self, seconds: float) -> str:
        minutes = int(round(seconds / 60))
        if minutes % 1440 == 0:
            days = minutes // 1440
            return f"{days} j" if self.lang == "fr" else f"{days} d"
        if minutes % 60 == 0:
            return f"{minutes // 60} h"
        if minutes > 60:
            return f"{minutes // 60} h {minutes % 60:02d}"
        return f"{minutes} min"


#: Most points drawn per line (see _Context.xy).
MAX_TRACE_POINTS = 1200


def esc(text: Any) -> str:
    """Data as plotly text: plotly reads a subset of HTML in strings; show it literally."""
    return html.escape(str(text), quote=False)


def _line_traces(
    ctx: _Context,
    fig: Any,
    series: Iterable[Series],
    *,
    scale: float,
    hover: str,
    name_of: Any,
    secondary: bool | None = None,
    dash: str = "solid",
    width_of: Any = None,
) -> int:
    """One line per series, coloured by service; baselines faint, under one legend entry."""
    import plotly.graph_objects as go

    count = 0
    for s in series:
        if not s.timestamps:
            continue
        shift = ctx.baseline_shift(s)
        xs, ys = _arrays(*ctx.xy(s, scale=scale, shift=shift))
        name = name_of(s)
        width = width_of(s) if width_of is not None else 2.0
        if s.baseline:
            key = "baseline_legend_shifted" if shift else "baseline_legend"
            legend = ctx.text[key].format(shift=ctx.shift_label(shift))
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


def _arrays(xs: list[str], ys: list[Any]) -> tuple[Any, Any]:
    """numpy columns for plotly: it checks a list element by element, an array at once.

    A gap (None) becomes NaN, which plotly draws as a break and writes as null.
    """
    import numpy as np

    y = np.array([np.nan if v is None else v for v in ys], dtype=float)
    return np.array(xs, dtype=object), y


def _sorted(series: Iterable[Series]) -> list[Series]:
    return sorted(series, key=lambda s: (s.baseline, s.service, s.quantile or 0.0, s.name))


def _thresholds(ctx: _Context, sli: str) -> list[tuple[float, list[str], str]]:
    """(value, services, direction) of the thresholds used for one SLI, merged by value."""
    merged: dict[tuple[float, str], list[str]] = {}
    for t in ctx.findings.get("thresholds") or []:
        if t.get("sli") != sli or t.get("value") is None:
            continue
        key = (float(t["value"]), str(t.get("direction") or "above"))
        services = merged.setdefault(key, [])
        if t.get("service") and t["service"] not in services:
            services.append(str(t["service"]))
    return [(v, s, d) for (v, d), s in sorted(merged.items())]


def _threshold_lines(
    ctx: _Context, fig: Any, sli: str, *, scale: float, fmt: Any, yref: str = "y"
) -> None:
    for value, services, _direction in _thresholds(ctx, sli):
        y = value * scale
        label = ctx.text["threshold"].format(value=fmt(value))
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


def _error_ratio(ctx: _Context) -> Drawn | None:
    series = _sorted(s for s in ctx.evidence.series if s.kind == "error_ratio")
    if not series:
        return None
    title = ctx.text["error_ratio"]
    fig = ctx.new_figure(title, ctx.text["ratio_axis"])
    if not _line_traces(ctx, fig, series, scale=1.0, hover=".2%", name_of=lambda s: s.service):
        return None
    fig.update_yaxes(tickformat=".1%")
    _threshold_lines(ctx, fig, "error_ratio", scale=1.0, fmt=_pct)
    return Drawn("error_ratio", title, fig)


def _latency(ctx: _Context) -> Drawn | None:
    series = _sorted(s for s in ctx.evidence.series if s.kind == "latency")
    if not series:
        return None
    title = ctx.text["latency"]
    fig = ctx.new_figure(title, ctx.text["latency_axis"])

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
    if not _line_traces(
        ctx, fig, series, scale=1000.0, hover=".0f", name_of=name_of, width_of=width_of
    ):
        return None
    _threshold_lines(ctx, fig, "latency", scale=1000.0, fmt=_ms)
    return Drawn("latency", title, fig)


def _derived_throughput(ctx: _Context) -> list[Series]:
    """requests/s from per-step request counts, for services without a throughput series."""
    have = {s.service for s in ctx.evidence.series if s.kind == "throughput"}
    out = []
    for s in ctx.evidence.series:
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


def _derived_availability(ctx: _Context) -> list[Series]:
    """Per-step availability: uptime series, else 1 − bad/total from request counts."""
    uptime = [s for s in ctx.evidence.series if s.kind == "uptime"]
    have = {s.service for s in uptime}
    totals = {(s.service, s.baseline): s for s in ctx.evidence.series if s.kind == "requests_total"}
    out = list(uptime)
    for s in ctx.evidence.series:
        if s.kind != "requests_bad" or s.service in have:
            continue
        total = totals.get((s.service, s.baseline))
        if total is None:
            continue
        by_ts = dict(zip(total.timestamps, total.values))
        ts, values = [], []
        for t, bad in zip(s.timestamps, s.values):
            tot = by_ts.get(t)
            if tot is None or not math.isfinite(tot) or tot <= 0 or not math.isfinite(bad):
                continue
            ts.append(t)
            values.append(max(0.0, 1.0 - bad / tot))
        if ts:
            out.append(
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
                )
            )
    return out


def _throughput(ctx: _Context) -> Drawn | None:
    rates = _sorted(
        [s for s in ctx.evidence.series if s.kind == "throughput"] + _derived_throughput(ctx)
    )
    avail = _sorted(_derived_availability(ctx))
    if not rates and not avail:
        return None
    title = ctx.text["throughput"]
    both = bool(rates) and bool(avail)
    first_axis = ctx.text["throughput_axis"] if rates else ctx.text["availability_axis"]
    fig = ctx.new_figure(title, first_axis, secondary=both)
    n = 0
    if rates:
        n += _line_traces(
            ctx,
            fig,
            rates,
            scale=1.0,
            hover=".1f",
            name_of=lambda s: s.service,
            secondary=False if both else None,
        )
    if avail:
        n += _line_traces(
            ctx,
            fig,
            avail,
            scale=1.0,
            hover=".3%",
            name_of=lambda s: ctx.text["availability"].format(service=s.service),
            secondary=True if both else None,
            dash="dash" if both else "solid",
            width_of=lambda s: 1.5 if both else 2.0,
        )
        axis = {"tickformat": ".1%", "rangemode": "normal"}
        if both:
            fig.update_yaxes(
                title_text=esc(ctx.text["availability_axis"]),
                showgrid=False,
                secondary_y=True,
                **axis,
            )
        else:
            fig.update_yaxes(**axis)
        _threshold_lines(ctx, fig, "uptime", scale=1.0, fmt=_pct, yref="y2" if both else "y")
    if not n:
        return None
    return Drawn("throughput", title, fig)


def _log_volume(ctx: _Context) -> Drawn | None:
    import plotly.graph_objects as go

    logs = ctx.evidence.logs
    if logs is None or not logs.volume_by_level.timestamps:
        return None
    hist = logs.volume_by_level
    if not any(any(c) for c in hist.counts.values()):
        return None
    interval = float(hist.interval_seconds or 60)
    label = ctx.shift_label(interval) if interval >= 60 else f"{interval:g} s"
    title = ctx.text["log_volume"]
    fig = ctx.new_figure(title, ctx.text["logs_axis"].format(interval=label))
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


def _lane_name(a: Alert) -> str:
    parts = [a.name]
    if a.service:
        parts.append(a.service)
    elif a.labels.get("instance"):
        parts.append(a.labels["instance"])
    return " · ".join(parts)


def _alerts(ctx: _Context) -> Drawn | None:
    import plotly.graph_objects as go

    alerts = [a for a in ctx.evidence.alerts if a.pending or a.firing]
    if not alerts:
        return None
    lanes: dict[str, dt.datetime] = {}
    for a in alerts:
        first = min(i.start for i in [*a.pending, *a.firing])
        name = _lane_name(a)
        lanes[name] = min(first, lanes.get(name, first))
    order = sorted(lanes, key=lambda n: (lanes[n], n))
    hidden = max(0, len(order) - MAX_LANES)
    shown = set(order[:MAX_LANES])
    w_start, w_end = ctx.evidence.window.start, ctx.evidence.window.end
    title = ctx.text["alerts"]
    fig = ctx.new_figure(title, "")
    for state, color in (("pending", "#F5B041"), ("firing", "#C0392B")):
        ys: list[str] = []
        bases: list[str] = []
        widths: list[float] = []
        hovers: list[str] = []
        for a in alerts:
            lane = _lane_name(a)
            if lane not in shown:
                continue
            for i in a.pending if state == "pending" else a.firing:
                start = max(i.start, w_start)
                end = min(i.end, w_end)
                if end <= start:
                    continue
                ys.append(esc(lane))
                bases.append(ctx.local(start))
                widths.append((end - start).total_seconds() * 1000)
                tail = ctx.text["open"] if i.open_end else ""
                hovers.append(
                    esc(
                        f"{lane}: {ctx.text[state]} {ctx.local(start)[11:19]} → {ctx.local(end)[11:19]}{tail}"
                    )
                )
        if not ys:
            continue
        fig.add_trace(
            go.Bar(
                y=ys,
                base=bases,
                x=widths,
                orientation="h",
                name=esc(ctx.text[state]),
                marker={"color": color, "line": {"width": 0}},
                opacity=0.55 if state == "pending" else 0.95,
                hovertext=hovers,
                hoverinfo="text",
            )
        )
    if not fig.data:
        return None
    lanes_shown = [esc(n) for n in order[:MAX_LANES]]
    height = max(300, min(1400, 170 + 34 * len(lanes_shown)))
    fig.update_layout(
        barmode="overlay",
        height=height,
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(lanes_shown)),
        rangemode="normal",
        title_text="",
        automargin=True,
    )
    if hidden:
        fig.add_annotation(
            xref="paper",
            yref="paper",
            x=0,
            y=-0.02,
            yanchor="top",
            showarrow=False,
            text=esc(ctx.text["more_lanes"].format(n=hidden)),
            font={"size": 11, "color": "#5d6d7e"},
        )
    return Drawn("alerts", title, fig, height=height)


# --------------------------------------------------------------------------- key instants


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


def _mark_instants(ctx: _Context, fig: Any) -> None:
    """A labelled vertical line per key instant; labels step down when they would overlap."""
    marks = key_instants(ctx.findings)
    if not marks:
        return
    span = max(1.0, ctx.evidence.window.seconds)
    rows: list[float] = []  # per row, the time (epoch) of its last label
    for name, at in sorted(marks, key=lambda m: m[1]):
        if not ctx.evidence.window.start <= at <= ctx.evidence.window.end:
            continue
        x = ctx.local(at)
        ts = at.timestamp()
        row = next((i for i, last in enumerate(rows) if ts - last > 0.16 * span), len(rows))
        if row == len(rows):
            rows.append(ts)
        else:
            rows[row] = ts
        color = INSTANT_COLORS[name]
        fig.add_shape(
            type="line",
            xref="x",
            x0=x,
            x1=x,
            yref="paper",
            y0=0,
            y1=1,
            line={"color": color, "width": 1.5, "dash": "dashdot"},
            layer="above",
        )
        fig.add_annotation(
            xref="x",
            x=x,
            yref="paper",
            y=1,
            yshift=-17 * row,  # pixels: the same spacing on short and tall figures
            yanchor="top",
            xanchor="left",
            showarrow=False,
            text=esc(f"{ctx.text[name]} {x[11:16]}"),
            font={"size": 11, "color": color},
            bgcolor="rgba(255,255,255,0.8)",
        )


__all__ = ["Drawn", "draw_figures", "export_pngs", "find_chromium", "render_graphs"]
