"""Every figure is written with the report's plotly template (plotly_white), in its HTML and
its PNG, whatever plotly's own default template is: figures are drawn without one and the
template joins them where they are written (pmrecon/report/graphs/canvas.py, ``written``)."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from typing import Any

import pytest

from pmrecon.report.graphs import draw_figures, export_pngs, find_chromium, render_graphs
from tests.report_data import evidence, findings_for, png_pixels

TZ = "Europe/Paris"
#: plotly_white's grid lines; plotly.js without a template draws them #eee.
GRID = bytes((0xEB, 0xF0, 0xF8))


def plotly_white() -> dict[str, Any]:
    import plotly.io as pio

    template: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()
    return template


@pytest.fixture(scope="module")
def data():
    ev = evidence()
    return ev, findings_for(ev, TZ)


@pytest.fixture
def other_default_template():
    """plotly's default template set to another one, as a notebook or a plugin may do."""
    import plotly.io as pio

    before = pio.templates.default
    pio.templates.default = "ggplot2"
    try:
        yield
    finally:
        pio.templates.default = before


def layouts(page: str) -> list[dict[str, Any]]:
    """The layout argument of every ``Plotly.newPlot(id, data, layout, config)`` in ``page``."""
    decoder = json.JSONDecoder()
    found = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*", page):
        pos = m.end()
        args = []
        for _ in range(3):
            value, pos = decoder.raw_decode(page, pos)
            args.append(value)
            pos = re.compile(r"\s*,\s*").match(page, pos).end()
        found.append(args[2])
    return found


def test_every_written_figure_carries_plotly_white(data, other_default_template):
    ev, f = data
    graphs, files, _ = render_graphs(ev, f, tz=TZ, lang="en", png=False)
    assert len(graphs) == 6
    template = plotly_white()
    for g in graphs:
        for page in (g["div"], files[f"{g['name']}.html"].decode()):
            (layout,) = layouts(page)
            assert layout["template"] == template, g["name"]
            # the figure's own layout is there beside it
            assert layout["title"]["text"] and layout["separators"]


def test_the_template_is_read_once_not_copied_into_every_figure(data, monkeypatch):
    import plotly.basedatatypes

    ev, f = data
    render_graphs(ev, f, tz=TZ, lang="en", png=False)  # the template read, once per process
    set_on_a_figure = []
    setitem = plotly.basedatatypes.BasePlotlyType.__setitem__

    def spy(self: Any, prop: Any, value: Any) -> None:
        if prop == "template" and value not in ({}, None):
            set_on_a_figure.append(prop)
        setitem(self, prop, value)

    monkeypatch.setattr(plotly.basedatatypes.BasePlotlyType, "__setitem__", spy)
    graphs, _, _ = render_graphs(ev, f, tz=TZ, lang="en", png=False)
    assert len(graphs) == 6 and set_on_a_figure == []


def test_the_png_export_is_given_each_figure_with_its_template(data, monkeypatch):
    """What kaleido is asked to draw (no browser started): the template, and the PNG's own
    layout (whole alert lanes) over the page's."""
    ev, f = data
    drawn = draw_figures(ev, f, tz=TZ, lang="en")
    given: list[dict[str, Any]] = []

    class Kaleido:
        def __init__(self, **_options: Any) -> None:
            pass

        async def __aenter__(self) -> Kaleido:
            return self

        async def __aexit__(self, *_exc: Any) -> None:
            return None

        async def calc_fig(self, fig: Any, opts: dict[str, Any]) -> bytes:
            # a figure or its JSON, as kaleido takes either
            given.append(fig.to_dict() if hasattr(fig, "to_dict") else fig)
            return b"png"

    monkeypatch.setitem(sys.modules, "kaleido", type(sys)("kaleido"))
    monkeypatch.setattr(sys.modules["kaleido"], "Kaleido", Kaleido, raising=False)
    monkeypatch.setenv("BROWSER_PATH", sys.executable)
    images, warning = export_pngs(drawn)
    assert warning is None and set(images) == {d.name for d in drawn}
    import plotly.graph_objects as go

    assert len(given) == len(drawn) and any(d.png_layout for d in drawn)
    template = plotly_white()
    for d, fig in zip(drawn, given):
        layout = dict(fig["layout"])
        assert layout.pop("template") == template, d.name
        png = go.Figure(d.fig).update_layout(d.png_layout or {}).to_dict()["layout"]
        png.pop("template")
        assert layout == png, d.name


@pytest.mark.chromium
def test_a_png_is_drawn_with_the_templates_grid(data, other_default_template):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine")
    ev, f = data
    drawn = [d for d in draw_figures(ev, f, tz=TZ, lang="en") if d.name == "latency"]
    images, warning = export_pngs(drawn)
    assert warning is None
    width, _height, rows = png_pixels(images["latency"])
    channels = len(rows[0]) // width
    pixels = Counter(
        bytes(row[x * channels : x * channels + 3]) for row in rows for x in range(width)
    )
    # ggplot2's grey plot area would fill much of the image; plotly_white's grid is there.
    assert pixels[GRID] > 200, pixels.most_common(5)


def test_the_template_read_from_plotlys_file_is_the_one_plotly_validates(monkeypatch):
    import pkgutil

    import plotly.graph_objects as go

    from pmrecon.report.graphs.canvas import template_json

    validated = go.Layout(template="plotly_white").to_plotly_json()["template"]
    assert template_json() == validated == plotly_white()
    # plotly without that file (another layout of its package): the same, through plotly
    template_json.cache_clear()
    monkeypatch.setattr(pkgutil, "get_data", lambda *_a: None)
    try:
        assert template_json() == validated
    finally:
        template_json.cache_clear()
