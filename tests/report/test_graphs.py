"""Figures: what each one shows, its offline HTML, and PNG export in one Chromium session."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
import subprocess
import sys
import time

import pytest

from pmrecon.report.graphs import NO_CHROMIUM, draw_figures, find_chromium, render_graphs
from tests.report_data import HOSTILE_SERVICE, distinct_colors, evidence, findings_for, png_pixels

TZ = "Europe/Paris"
#: The figures the shared report data has data for, in the report's order.
FIGURES = ("error_ratio", "latency", "throughput", "log_volume", "alerts", "cascade")


@pytest.fixture(scope="module")
def data():
    ev = evidence()
    return ev, findings_for(ev, TZ)


@pytest.fixture(scope="module")
def drawn(data):
    ev, f = data
    return {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="fr")}


def test_one_figure_per_sli_plus_logs_alerts_and_the_cascade(drawn):
    assert list(drawn) == list(FIGURES)
    assert drawn["error_ratio"].title == "Taux d'erreur"


def test_key_instants_are_labelled_markers_on_every_figure(drawn, data):
    _, f = data
    expected = {
        name: f["instants"][name]["at"][11:16]
        for name in ("impact_start", "first_alert", "mitigation_start", "resolution", "end")
    }
    assert all(expected.values())
    for d in drawn.values():
        layout = d.fig.layout
        verticals = [s for s in layout.shapes if s.x0 == s.x1 and s.yref == "paper"]
        assert len(verticals) == 5, d.name
        texts = " ".join(a.text for a in layout.annotations)
        for hhmm in expected.values():
            assert hhmm in texts, (d.name, hhmm)
        assert "Début d'impact" in texts and "Résolution" in texts


def test_time_axis_is_in_the_configured_zone(drawn):
    for d in drawn.values():
        # 09:00Z-11:00Z is 10:00-12:00 in Paris (CET) on 2026-03-01.
        assert list(d.fig.layout.xaxis.range) == ["2026-03-01 10:00:00", "2026-03-01 12:00:00"]
        # Named once, under the lowest panel (the throughput figure has two).
        lowest = d.fig.layout.xaxis2 if "xaxis2" in d.fig.layout else d.fig.layout.xaxis
        assert "Europe/Paris" in lowest.title.text
    first = drawn["error_ratio"].fig.data[0]
    assert first.x[0].startswith("2026-03-01 10:")


def test_per_service_traces_baseline_faint_thresholds_drawn(drawn):
    fig = drawn["error_ratio"].fig
    solid = [t for t in fig.data if t.legendgroup != "baseline"]
    faint = [t for t in fig.data if t.legendgroup == "baseline"]
    assert [t.name for t in solid] == ["checkout", html.escape(HOSTILE_SERVICE, quote=False)]
    assert len(faint) == 2
    assert all(t.opacity < 1 and t.line.dash == "dot" for t in faint)
    assert sum(1 for t in faint if t.showlegend is not False) == 1  # one legend entry
    # The baseline window (2 h before) is shifted under the incident window.
    assert faint[0].x[0] >= "2026-03-01 10:00:00"
    horizontals = [s for s in fig.layout.shapes if s.y0 == s.y1 and s.xref == "paper"]
    assert horizontals, "threshold line missing"
    latency = drawn["latency"].fig
    assert {t.name for t in latency.data if t.legendgroup != "baseline"} >= {
        "checkout p50",
        "checkout p99",
    }


def test_alert_swimlane_has_pending_and_firing_spans(drawn):
    fig = drawn["alerts"].fig
    names = [t.name for t in fig.data]
    assert names == ["en attente", "déclenchée"]
    firing = fig.data[1]
    lanes = set(firing.y)
    assert any(lane.startswith("HighErrorRate") for lane in lanes)
    assert len(firing.base) == len(firing.x) == len(firing.y)
    assert all(w > 0 for w in firing.x)


def test_log_volume_is_stacked_by_level(drawn):
    fig = drawn["log_volume"].fig
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["error", "info"]


def test_text_from_the_data_is_shown_literally(drawn):
    # plotly reads <b>, <br>, <a> in strings as markup: data must be escaped for it.
    for d in drawn.values():
        for t in d.fig.data:
            assert "<b>" not in (t.name or "")
    names = [t.name for t in drawn["error_ratio"].fig.data]
    assert any("&lt;b&gt;west&lt;/b&gt;" in n for n in names)


def test_html_figures_are_self_contained_and_hold_their_data(data):
    ev, f = data
    graphs, files, warnings = render_graphs(ev, f, tz=TZ, lang="fr", png=False)
    assert warnings == []
    assert [g["name"] for g in graphs] == list(FIGURES)
    for g in graphs:
        assert g["png"] is None and g["html"] == f"graphs/{g['name']}.html"
        page = files[f"{g['name']}.html"].decode()
        assert 'src="http' not in page and "cdn" not in page.lower().split("<body>")[1]
        assert page.count("Plotly.newPlot(") == 1
        assert "Content-Security-Policy" in page
        assert g["div"] in page
        # The library from the one copy beside the pages, shared with report.html.
        assert '<script src="plotly.min.js"></script>' in page and "plotly.js v" not in page
        assert files["plotly.min.js"].startswith(b"/**\n* plotly.js")
        # The figure's data is in the page, as JSON.
        payload = json.loads(
            re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", page, re.S).group(1)
        )
        assert payload and all(len(t.get("x") or t.get("y") or []) > 0 for t in payload)
    checkout = next(
        s
        for s in ev.series
        if s.kind == "error_ratio" and s.service == "checkout" and not s.baseline
    )
    page = files["error_ratio.html"].decode()
    assert json.dumps(max(checkout.values)) in page
    assert set(files) == {f"{g['name']}.html" for g in graphs} | {"plotly.min.js"}


def test_missing_chromium_is_one_warning_and_no_png(data, monkeypatch):
    ev, f = data
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    graphs, files, warnings = render_graphs(ev, f, tz=TZ, lang="en", png=True)
    assert len(warnings) == 1 and warnings[0].code == "png_skipped"
    assert "\n" not in warnings[0].message and "--no-png" in warnings[0].message
    assert all(g["png"] is None for g in graphs)
    assert not any(name.endswith(".png") for name in files)
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("os.path.isfile", lambda _p: False)
    assert find_chromium() is None
    _, _, warnings = render_graphs(ev, f, tz=TZ, lang="en", png=True)
    assert [w.message for w in warnings] == [NO_CHROMIUM]


def test_empty_evidence_draws_nothing():
    from pmrecon.model import Evidence, Window
    from tests.report_data import W0, W1

    ev = Evidence(window=Window(W0, W1))
    f = {"window": {"from": "2026-03-01T09:00:00Z", "to": "2026-03-01T11:00:00Z"}, "instants": {}}
    assert render_graphs(ev, f, tz="UTC", lang="en", png=True) == ([], {}, [])


def test_plotly_is_not_imported_by_the_cli_or_the_output_modules():
    code = "import sys, pmrecon.cli, pmrecon.output, pmrecon.report.graphs; print(sorted(m for m in ('plotly', 'kaleido', 'markdown_it') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.chromium
def test_every_png_is_a_real_image_of_the_requested_size(data):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine")
    ev, f = data
    started = time.monotonic()
    graphs, files, warnings = render_graphs(ev, f, tz=TZ, lang="fr", png=True)
    elapsed = time.monotonic() - started
    assert warnings == []
    drawn = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="fr")}
    assert [g["name"] for g in graphs] == list(drawn) and "cascade" in drawn
    for g in graphs:
        assert g["png"] == f"graphs/{g['name']}.png"
        width, height, rows = png_pixels(files[f"{g['name']}.png"])
        assert (width, height) == (drawn[g["name"]].width, drawn[g["name"]].height)
        assert distinct_colors(rows, width) > 20, f"{g['name']}.png looks blank"
    # Six figures in one browser session: far from six browser starts (~3 s each).
    assert elapsed < 30, elapsed


def test_long_series_are_thinned_keeping_peaks_troughs_and_gaps(data):
    """A day at 15 s is 5,760 points a line: drawn as at most MAX_TRACE_POINTS, exactly."""
    import math

    from pmrecon.model import Series
    from pmrecon.report.graphs import MAX_TRACE_POINTS, FigureContext

    ev, f = data
    ctx = FigureContext(ev, f, TZ, "fr")
    t0 = ev.window.start.timestamp()
    ts = [t0 + 15 * i for i in range(5760) if not 2000 <= i < 2100]  # a 25-minute gap
    values = [0.01 + 0.001 * math.sin(i / 50) for i in range(len(ts))]
    values[3333], values[4444] = 0.97, -0.5  # a one-sample spike and a one-sample dip
    s = Series("error_ratio", "error_ratio", "api", "ratio", ts, values, 15.0)
    xs, ys = ctx.xy(s)
    assert len(xs) == len(ys) <= MAX_TRACE_POINTS + 5
    assert 0.97 in ys and -0.5 in ys
    assert ys.count(None) == 1  # the gap, and nothing else, breaks the line
    gap = ys.index(None)
    local = ctx.local
    assert xs[gap - 1] == local(ts[1999]) and xs[gap + 1] == local(ts[2000])
    assert xs[0] == local(ts[0]) and xs[-1] == local(ts[-1])
    assert xs == sorted(xs)
    short = Series("error_ratio", "error_ratio", "api", "ratio", ts[:100], values[:100], 15.0)
    assert ctx.xy(short) == ([local(t) for t in ts[:100]], values[:100])


def test_alert_lanes_are_cut_on_the_page_and_whole_in_the_png(drawn):
    """A phone needs short tick labels; the 1,200 px PNG shows every lane's whole name."""
    import plotly.graph_objects as go

    from pmrecon.report.graphs.bars import wrapped

    d = drawn["alerts"]
    lanes = list(d.fig.layout.yaxis.tickvals)
    assert list(d.fig.layout.yaxis.ticktext) == [wrapped(lane) for lane in lanes]
    png = go.Figure(d.fig).update_layout(d.png_layout)  # what the PNG export draws
    assert list(png.layout.yaxis.ticktext) == lanes
    long = "KubeDeploymentReplicasMismatch · very-long-service-name"
    assert wrapped(long) == "KubeDeploymentRep…<br>· very-long-servi…"
    assert all(len(line) <= 18 for line in wrapped(long).split("<br>"))


# --------------------------------------------------------------------------- the cascade


def cascade_case(*changes):
    """payments fails at 10:30, checkout at 10:33; search's latency breaks at 10:40, its
    errors at 10:42 (UTC; the report's zone is Paris, one hour ahead)."""
    from pmrecon.analysis import analyse
    from pmrecon.findings import findings_to_json
    from tests.analysis.test_leads import W0, W1, D, failing, with_changes
    from tests.evidence_factory import Deg, Svc, build

    search = Svc(
        "search",
        phases=[
            Deg(D("10:40"), D("11:10"), latency=2.0),
            Deg(D("10:42"), D("11:10"), error_ratio=0.3, latency=2.0),
        ],
    )
    services = [
        failing("checkout", "10:33", "11:00"),
        search,
        failing("payments", "10:30", "11:00"),
    ]
    ev = with_changes(build(W0, W1, services), *changes)
    return ev, findings_to_json(analyse(ev, {}))


def test_the_cascade_has_a_row_per_service_in_order_with_each_slis_breach_spans():
    from tests.analysis.test_leads import D, change

    ev, f = cascade_case(change(D("10:27"), "payments"))
    d = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="fr")}["cascade"]
    assert d.title == "Cascade : dépassements des SLI par service"
    order = [c["service"] for c in f["incident"]["cascade"]]
    assert order == ["payments", "checkout", "search"]
    y = d.fig.layout.yaxis
    # top to bottom in cascade order (a category axis lists its rows bottom-up)
    assert list(y.tickvals) == order and list(reversed(y.categoryarray)) == order
    whole = d.png_layout["yaxis"]["ticktext"]
    assert whole == ["payments", "checkout (+3 minutes)", "search (+10 minutes)"]
    by_sli = {t.name: t for t in d.fig.data}
    assert list(by_sli) == ["taux d'erreur", "latence"]
    assert all(t.orientation == "h" for t in d.fig.data) and d.fig.layout.barmode == "group"
    colors = {t.marker.color for t in d.fig.data}
    assert len(colors) == 2  # one colour per SLI
    # every breach of findings.json is one bar, from its start to its end (Paris time)
    breaches = {
        (b["service"], b["sli"]): b for s in f["incident"]["services"] for b in s["sli_breaches"]
    }
    bars = {
        (service, sli): (base, width)
        for sli, t in zip(("error_ratio", "latency"), d.fig.data)
        for service, base, width in zip(t.y, t.base, t.x)
    }
    assert (
        set(bars)
        == set(breaches)
        == {
            ("payments", "error_ratio"),
            ("checkout", "error_ratio"),
            ("search", "error_ratio"),
            ("search", "latency"),
        }
    )
    assert bars["search", "latency"] == ("2026-03-02 11:40:00", 30 * 60 * 1000)
    assert bars["search", "error_ratio"] == ("2026-03-02 11:42:00", 28 * 60 * 1000)
    assert bars["payments", "error_ratio"] == ("2026-03-02 11:30:00", 30 * 60 * 1000)
    # the key instants, like every figure, and the change lead at its time, by its rank
    shapes = {s.name: s for s in d.fig.layout.shapes if s.x0 == s.x1}
    assert shapes["impact_start"].x0 == "2026-03-02 11:30:00"
    (rank,) = [s["rank"] for s in f["suspects"] if s["kind"] == "change"]
    assert shapes[f"lead_{rank}"].x0 == "2026-03-02 11:27:00"
    texts = [a.text for a in d.fig.layout.annotations]
    assert f"piste {rank}" in texts and any(t.startswith("Résolution") for t in texts)


def test_a_change_before_the_window_is_named_at_its_left_edge():
    from tests.analysis.test_leads import D, change

    # the rollback at 10:55, recovery at 11:00: the lead is the deploy of 08:10, before 10:00
    ev, f = cascade_case(
        change(D("08:10"), "payments", version="3.0"),
        change(D("10:55"), "payments", kind="rollback", version="2.9"),
    )
    (lead,) = [s for s in f["suspects"] if s["kind"] == "rollback_recovery"]
    d = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="en")}["cascade"]
    assert not [s for s in d.fig.layout.shapes if s.name == f"lead_{lead['rank']}"]
    (note,) = [a for a in d.fig.layout.annotations if f"lead {lead['rank']}" in a.text]
    assert note.text == f"← lead {lead['rank']} 09:10" and note.x == "2026-03-02 11:00:00"
    # a change on another day than the window's first says which day
    ev, f = cascade_case(
        change(D("10:55"), "payments", kind="rollback", version="2.9"),
        change(D("10:00") - dt.timedelta(days=1), "payments", version="3.0"),
    )
    d = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="fr")}["cascade"]
    (note,) = [a for a in d.fig.layout.annotations if a.text.startswith("← piste")]
    assert note.text.endswith(" 01/03/2026 11:00"), note.text


def test_no_cascade_no_cascade_figure(data):
    ev, f = data
    flat = {**f, "incident": {**f["incident"], "cascade": []}}
    assert "cascade" not in [d.name for d in draw_figures(ev, flat, tz=TZ, lang="fr")]


def test_cascade_rows_are_cut_on_the_page_and_whole_in_the_png():
    import plotly.graph_objects as go

    from pmrecon.report.graphs.bars import wrapped

    ev, f = cascade_case()
    d = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="en")}["cascade"]
    labels = ["payments", "checkout (+3 minutes)", "search (+10 minutes)"]
    assert list(d.fig.layout.yaxis.ticktext) == [wrapped(label) for label in labels]
    assert list(go.Figure(d.fig).update_layout(d.png_layout).layout.yaxis.ticktext) == labels


def _points_one_by_one(s, local, *, scale=1.0, shift=0.0):
    """The rule of a line's points written sample by sample: the reference ``points`` keeps."""
    from pmrecon.report.graphs.thinning import kept, segments

    segment = segments(s)
    seg = segment.tolist()
    xs, ys, previous = [], [], None
    for i in kept(s, segment):
        value = s.values[i]
        if previous is not None and seg[i] != seg[previous]:
            xs.append(local(s.timestamps[previous] + s.step_seconds + shift))
            ys.append(None)
        xs.append(local(s.timestamps[i] + shift))
        ys.append(None if not math.isfinite(value) else value * scale)
        previous = i
    return xs, ys


@pytest.mark.parametrize("n", [1, 7, 1200, 1201, 5760, 20160])
def test_a_lines_points_follow_the_sample_by_sample_rule(n):
    """Breaks, NaN and infinities, thinning, shift and scale: what the arrays give is what a
    walk over the samples gives, point for point."""
    import random

    from pmrecon.model import Series
    from pmrecon.report.graphs.thinning import points

    rng = random.Random(n)
    ts, t = [], 1_780_000_000.0
    for _ in range(n):
        t += 15.0 if rng.random() > 0.01 else 15.0 * rng.randint(2, 40)  # gaps now and then
        ts.append(t)
    values = [rng.choice([rng.random(), rng.random() * 1e3, -0.5, 0.0]) for _ in ts]
    for i in rng.sample(range(n), min(n, 5)):
        values[i] = rng.choice([math.nan, math.inf, -math.inf, 1e306])
    s = Series("latency", "latency", "api", "s", ts, values, 15.0)

    def local(x):
        return repr(x)  # every bit of the instant shows

    for scale, shift in ((1.0, 0.0), (1000.0, 0.0), (100.0, 86400.0), (1.0, 7.5)):
        assert points(s, local, scale=scale, shift=shift) == _points_one_by_one(
            s, local, scale=scale, shift=shift
        )


def test_availability_points_follow_the_step_by_step_rule():
    """1 − bad/total where both counts are usable at one instant, as a walk over them gives."""
    import random

    from pmrecon.model import Series
    from pmrecon.report.graphs.data import _availability_points

    def walk(bad, total):
        by_ts = dict(zip(total.timestamps, total.values))
        ts, values = [], []
        for t, count in zip(bad.timestamps, bad.values):
            tot = by_ts.get(t)
            if tot is None or not math.isfinite(tot) or tot <= 0 or not math.isfinite(count):
                continue
            ts.append(t)
            values.append(max(0.0, 1.0 - count / tot))
        return ts, values

    rng = random.Random(7)
    for _ in range(50):
        grid = [1_780_000_000.0 + 60 * i for i in range(rng.randint(0, 300))]
        bad_ts, total_ts = (sorted(rng.sample(grid, rng.randint(0, len(grid)))) for _ in "bt")
        odd = [0.0, -1.0, math.nan, math.inf]
        bad_v = [rng.choice([rng.random() * 50, *odd]) for _ in bad_ts]
        total_v = [rng.choice([rng.random() * 40, *odd]) for _ in total_ts]
        bad = Series("b", "requests_bad", "api", "", bad_ts, bad_v, 60.0)
        total = Series("t", "requests_total", "api", "", total_ts, total_v, 60.0)
        assert _availability_points(bad, total) == walk(bad, total)
