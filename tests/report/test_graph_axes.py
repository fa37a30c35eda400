"""Every figure's axes, units, lines, incident span and key instants, read from the figure data.

For the demo incident, the report-test incident and the shared scenarios: what a reader of
the PNG sees is in the plotly figure (axis ranges and titles, traces, shapes, annotations),
so that is what is checked, against the findings the report text is written from.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from connectors.bundle import read_bundle
from pmrecon.analysis import analyse
from pmrecon.config import Config
from pmrecon.demo import demo_bundle_dir
from pmrecon.findings import findings_to_json
from pmrecon.model import Evidence, parse_rfc3339
from pmrecon.report.formatting import Formatter
from pmrecon.report.graphs import draw_figures
from pmrecon.report.graphs.canvas import FigureContext
from pmrecon.report.graphs.style import MARKED_INSTANTS, esc
from tests.evidence_factory import evidence_from_scenario
from tests.report_data import evidence, findings_for
from tests.scenarios import SCENARIOS

TZ = "Europe/Paris"

PERCENT_AXIS = {"fr": "(%)", "en": "(%)"}
AVAILABILITY_WORD = {"fr": "disponibilité", "en": "availability"}
BASIS_WORD = {
    "fr": {"requests": "(requêtes)", "up": "(up)"},
    "en": {"requests": "(requests)", "up": "(up)"},
}


def _demo(tmp: Path) -> tuple[Evidence, dict[str, Any]]:
    from pmrecon.api import BuildRequest, build

    config = Config.from_dict({"language": "fr", "timezone": TZ, "title": None})
    build(config, BuildRequest(out=tmp, source_dir=demo_bundle_dir(), png=False))
    return read_bundle(demo_bundle_dir()), json.loads((tmp / "findings.json").read_text())


def _scenario(name: str, *, counts: bool = True) -> tuple[Evidence, dict[str, Any]]:
    ev = evidence_from_scenario(SCENARIOS[name]())
    if not counts:  # a source without request counts: availability can only come from `up`
        ev.series = [s for s in ev.series if s.kind not in ("requests_bad", "requests_total")]
    return ev, findings_to_json(analyse(ev, {}, timezone=TZ))


CASES = [
    "demo",
    "report_data",
    "clean_single",
    "latency_only",
    "in_progress",
    "two_services",
    "up_only",
]


@pytest.fixture(scope="module", params=CASES)
def case(request, tmp_path_factory):
    if request.param == "demo":
        return _demo(tmp_path_factory.mktemp("demo"))
    if request.param == "report_data":
        ev = evidence()
        return ev, findings_for(ev, TZ)
    if request.param == "up_only":
        return _scenario("clean_single", counts=False)
    return _scenario(request.param)


def _figs(case: tuple[Evidence, dict[str, Any]], lang: str) -> dict[str, dict[str, Any]]:
    ev, f = case
    return {d.name: json.loads(d.fig.to_json()) for d in draw_figures(ev, f, tz=TZ, lang=lang)}


def _ys(trace: dict[str, Any]) -> list[float]:
    """The plotted values of a trace (plotly's JSON packs number arrays as base64)."""
    y = trace["y"]
    if isinstance(y, dict):
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return [float(v) for v in y if v is not None and math.isfinite(float(v))]


def _yaxes(fig: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The y axes of a figure by trace reference ("y", "y2", …)."""
    layout = fig["layout"]
    return {("y" + k[5:]): v for k, v in layout.items() if k.startswith("yaxis")}


def _instants_in_window(ev: Evidence, f: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in MARKED_INSTANTS:
        at = (f["instants"].get(name) or {}).get("at")
        if at and ev.window.start <= parse_rfc3339(at) <= ev.window.end:
            out[name] = at
    return out


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_key_instant_is_a_labelled_line_and_the_incident_is_shaded(case, lang):
    ev, f = case
    ctx = FigureContext(ev, f, TZ, lang)
    marks = _instants_in_window(ev, f)
    figs = _figs(case, lang)
    assert figs
    for name, fig in figs.items():
        shapes = fig["layout"].get("shapes", [])
        lines = {s["name"]: s for s in shapes if s.get("type") == "line" and s["yref"] == "paper"}
        # the cascade marks the change leads too ("lead_<rank>"), and only the cascade
        leads = {n for n in lines if n.startswith("lead_")}
        assert not leads or name == "cascade", name
        assert set(lines) - leads == set(marks), name
        texts = [a["text"] for a in fig["layout"].get("annotations", [])]
        for mark, at in marks.items():
            assert lines[mark]["x0"] == lines[mark]["x1"] == ctx.local(parse_rfc3339(at))
            label = f"{ctx.text(f'graph.instant.{mark}')} {ctx.local(parse_rfc3339(at))[11:16]}"
            assert label.replace("'", "&#x27;") in texts or label in texts, (name, label)
        spans = [s for s in shapes if s.get("name") == "incident"]
        if "impact_start" not in marks:
            assert not spans, name
            continue
        assert len(spans) == 1, name
        span = spans[0]
        assert span["type"] == "rect" and span["yref"] == "paper"
        assert span["x0"] == ctx.local(parse_rfc3339(marks["impact_start"]))
        last = marks.get("end") or marks.get("resolution")
        want_end = ctx.local(parse_rfc3339(last)) if last else ctx.local(ev.window.end)
        assert span["x1"] == want_end, name


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_axes_units_and_thresholds_read_as_the_text_writes_them(case, lang):
    ev, f = case
    fmt = Formatter(lang, TZ)
    figs = _figs(case, lang)
    if "error_ratio" in figs:
        fig = figs["error_ratio"]
        y = _yaxes(fig)["y"]
        assert y["title"]["text"].endswith(PERCENT_AXIS[lang])
        assert "tickformat" not in y  # values are already percentages
        peak = max(v for t in fig["data"] for v in _ys(t))
        top = max(s["value"] for s in [f["incident"]["max_error_rate"]] if s.get("value"))
        assert peak == pytest.approx(top * 100)
    if "latency" in figs:
        fig = figs["latency"]
        assert _yaxes(fig)["y"]["title"]["text"].endswith("(ms)")
        texts = [a["text"] for a in fig["layout"].get("annotations", [])]
        for t in f["thresholds"]:
            if t["sli"] == "latency":
                want = fmt.ms(t["value"])
                assert any(x.split(" (")[0].endswith(want) for x in texts), (want, texts)
                assert any(
                    s.get("y0") == pytest.approx(t["value"] * 1000) for s in fig["layout"]["shapes"]
                )


def test_availability_has_its_own_0_100_panel_from_requests_before_up(case):
    ev, f = case
    lang = "fr"
    figs = _figs(case, lang)
    kinds = {s.kind for s in ev.series}
    if "throughput" not in figs:
        assert not kinds & {"throughput", "requests_total", "uptime"}
        return
    fig = figs["throughput"]
    axes = _yaxes(fig)
    # A baseline line is named "référence"; the service line it stands under is in its hover.
    avail_traces = [
        t for t in fig["data"] if AVAILABILITY_WORD[lang] in t["name"] + t["hovertemplate"]
    ]
    rate_traces = [t for t in fig["data"] if t not in avail_traces]
    counted = {esc(s.service) for s in ev.series if s.kind == "requests_bad"} & {
        esc(s.service) for s in ev.series if s.kind == "requests_total"
    }
    assert avail_traces
    ref = avail_traces[0].get("yaxis", "y")
    assert all(t.get("yaxis", "y") == ref for t in avail_traces)
    if rate_traces:
        assert all(t.get("yaxis", "y") != ref for t in rate_traces)
        # Its own panel: the two y axes do not share any height.
        other = axes[rate_traces[0].get("yaxis", "y")]["domain"]
        mine = axes[ref]["domain"]
        assert mine[1] <= other[0] or other[1] <= mine[0]
    axis = axes[ref]
    assert axis["title"]["text"] == "disponibilité (%)"
    assert axis["range"][0] == 0 and 100 <= axis["range"][1] <= 105
    assert max(axis["tickvals"]) == 100
    for t in avail_traces:
        values = _ys(t)
        assert all(0 <= v <= 100 for v in values)
        if t.get("legendgroup") == "baseline":
            continue
        service = t["name"].split(f" {AVAILABILITY_WORD[lang]}")[0]
        basis = "requests" if service in counted else "up"
        assert t["name"].endswith(BASIS_WORD[lang][basis]), t["name"]
    # A threshold line on the availability panel only for a service drawn from `up`.
    on_panel = [
        s
        for s in fig["layout"].get("shapes", [])
        if s.get("yref") == ref and s.get("xref") == "paper"
    ]
    ups = [t for t in avail_traces if t["name"].endswith(BASIS_WORD[lang]["up"])]
    if not ups:
        assert not on_panel
    elif any(t["sli"] == "uptime" for t in f["thresholds"]):
        assert on_panel


def test_demo_availability_is_the_request_based_one(tmp_path):
    """The demo's `up` stays at 100 %: the drawn availability must dip as the report's does."""
    ev, f = _demo(tmp_path)
    fig = _figs((ev, f), "fr")["throughput"]
    checkout = next(t for t in fig["data"] if t["name"] == "checkout disponibilité (requêtes)")
    low = min(_ys(checkout))
    by_service = {s["name"]: s["availability"] for s in f["incident"]["services"]}
    assert low == pytest.approx(by_service["checkout"] * 100, abs=0.5)
    assert low < 90
