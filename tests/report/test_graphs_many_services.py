"""The figures of a 30-service incident: every series drawn, in order, with one legend entry
for the baselines, one dashed line and label per threshold, the key instants after them.

The line figures are built in batches (all traces of a panel at once, shapes and annotations
gathered then set once: one plotly call per object grows as the square of the services);
these are the facts a wrong batch would break. Speed is measured in bench/, not here.
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from pmrecon.report.graphs import data as graph_data
from pmrecon.report.graphs import draw_figures
from pmrecon.report.graphs.data import availability_series, key_instants, thresholds
from pmrecon.report.graphs.style import PALETTE
from tests.evidence_factory import AlertDecl, Deg, Svc, T, build
from tests.report_data import findings_for

TZ = "Europe/Paris"
SERVICES = [f"svc-{i:02d}" for i in range(30)]
COUNTED = ("error_ratio", "requests_total", "requests_bad", "latency", "throughput")
#: Every third service has no request counts: its availability is drawn from ``up``.
UP_ONLY = SERVICES[::3]


@pytest.fixture(scope="module")
def case():
    # every service drawn, as a figure of few services is: what these tests check is how a
    # figure of many lines is built (the cap on the services drawn is tested below)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_data, "MAX_SERVICES_DRAWN", len(SERVICES))
        return _case()


def _case():
    degraded = Deg(T("2026-03-01 09:40"), T("2026-03-01 10:10"), error_ratio=0.2, latency=2.0)
    services = [
        Svc(
            name,
            rps=5 + i,
            # a p99 per service, so that each has a latency threshold of its own
            latency={0.5: 0.02 + i / 1000, 0.99: 0.1 + i / 100},
            phases=[degraded] if i < 4 else [],
            kinds=("error_ratio", "latency", "throughput") if name in UP_ONLY else COUNTED,
            uptime=name in UP_ONLY,
        )
        for i, name in enumerate(SERVICES)
    ]
    alert = AlertDecl("HighErrorRate", "svc-00", [(T("2026-03-01 09:44"), T("2026-03-01 10:10"))])
    ev = build(T("2026-03-01 09:00"), T("2026-03-01 11:00"), services, alerts=[alert])
    f = findings_for(ev, TZ, "en")
    return ev, f, {d.name: d.fig for d in draw_figures(ev, f, tz=TZ, lang="en")}


def _axis(trace: Any) -> str:
    return trace.yaxis or "y"


def _is_baseline(trace: Any) -> bool:
    return trace.legendgroup == "baseline"


@pytest.mark.parametrize("kind", ["error_ratio", "latency"])
def test_every_series_is_one_line_window_first_coloured_by_service(case, kind):
    ev, _, figs = case
    traces = figs[kind].data
    series = [s for s in ev.series if s.kind == kind and s.timestamps]
    assert len(traces) == len(series) == 2 * len(SERVICES) * (2 if kind == "latency" else 1)
    window = [t for t in traces if not _is_baseline(t)]
    # the window's lines first, services in order (p50 before p99), then the baselines'
    assert list(traces[: len(window)]) == window
    expected = [
        name if kind == "error_ratio" else f"{name} {q}"
        for name in SERVICES
        for q in (("",) if kind == "error_ratio" else ("p50", "p99"))
    ]
    assert [t.name for t in window] == expected
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(SERVICES)}
    assert [t.line.color for t in window] == [colors[t.legendgroup] for t in window]
    baselines = traces[len(window) :]
    assert [t.line.color for t in baselines] == [t.line.color for t in window]


@pytest.mark.parametrize("name", ["error_ratio", "latency", "throughput"])
def test_the_baselines_share_one_legend_entry(case, name):
    _, _, figs = case
    faint = [t for t in figs[name].data if _is_baseline(t)]
    assert len(faint) >= len(SERVICES)
    # the first baseline line holds the entry, on the throughput figure across both panels
    assert [t.showlegend for t in faint] == [True] + [False] * (len(faint) - 1)
    assert all(t.opacity < 1 and t.line.dash == "dot" for t in faint)


def test_throughput_above_and_availability_below_every_line_in_its_panel(case):
    ev, _, figs = case
    traces = figs["throughput"].data
    avail = availability_series(ev)
    lower = [t for t in traces if _axis(t) == "y2"]
    upper = [t for t in traces if _axis(t) == "y"]
    assert len(lower) == len(avail) == 2 * len(SERVICES)
    assert len(upper) + len(lower) == len(traces)
    assert list(traces) == upper + lower
    assert all(t.xaxis == "x2" for t in lower) and all(t.xaxis in (None, "x") for t in upper)
    up_based = {t.legendgroup for t in lower if not _is_baseline(t) and "(up)" in t.name}
    assert up_based == set(UP_ONLY)


def _threshold_marks(fig: Any) -> tuple[list[Any], list[Any]]:
    lines = [s for s in fig.layout.shapes if s.xref == "paper" and s.y0 == s.y1]
    labels = [a for a in fig.layout.annotations if a.xref == "paper" and a.x == 1]
    return lines, labels


def test_one_dashed_line_and_one_label_per_latency_threshold(case):
    _, f, figs = case
    expected = thresholds(f, "latency")
    assert len(expected) == len(SERVICES)  # one p99 threshold per service
    lines, labels = _threshold_marks(figs["latency"])
    assert [s.y0 for s in lines] == pytest.approx([v * 1000 for v, _, _ in expected])
    assert all(s.line.dash == "dash" and s.yref == "y" for s in lines)
    assert [a.y for a in labels] == [s.y0 for s in lines]
    for label, (_, services, _) in zip(labels, expected):
        assert label.text.endswith(f" ms ({', '.join(services)})"), label.text


def test_the_uptime_threshold_is_drawn_once_in_the_availability_panel(case):
    _, f, figs = case
    lines, labels = _threshold_marks(figs["throughput"])
    values = [v for v, services, _ in thresholds(f, "uptime") if set(services) & set(UP_ONLY)]
    assert len(lines) == len(labels) == len(values) == 1
    assert lines[0].yref == labels[0].yref == "y2"
    assert lines[0].y0 == labels[0].y == pytest.approx(values[0] * 100)
    # merged: the first three services named, the others counted by "…"
    assert labels[0].text.endswith("(svc-00, svc-03, svc-06…)"), labels[0].text


@pytest.mark.parametrize("name", ["error_ratio", "latency", "throughput", "alerts", "cascade"])
def test_the_incident_and_key_instants_are_marked_after_the_thresholds(case, name):
    _, f, figs = case
    fig = figs[name]
    instants = [n for n, _ in sorted(key_instants(f), key=lambda m: m[1])]
    assert len(instants) >= 3
    lines, labels = _threshold_marks(fig)
    shapes = fig.layout.shapes
    # thresholds first, then the shaded incident, then a line per instant in time order
    assert list(shapes[: len(lines)]) == lines
    assert list(fig.layout.annotations[: len(labels)]) == labels
    assert shapes[len(lines)].name == "incident" and shapes[len(lines)].type == "rect"
    marks = [s for s in shapes[len(lines) + 1 :] if s.name in instants]
    assert [s.name for s in marks] == instants
    assert all(s.x0 == s.x1 and s.yref == "paper" for s in marks)
    notes = [a for a in fig.layout.annotations if a not in labels and a.xref == "x"]
    assert [a.x for a in notes if a.y == 1] == [s.x0 for s in marks]
    assert all(html.unescape(a.text).split()[-1] == a.x[11:16] for a in notes if a.y == 1)


def test_a_figure_of_many_services_draws_the_incidents_then_the_highest(case):
    """Past MAX_SERVICES_DRAWN, a line figure draws the incident's services first, then the
    others by the highest value their window reaches, and says how many it draws."""
    ev, f, _ = case
    cap = graph_data.MAX_SERVICES_DRAWN
    assert cap < len(SERVICES)
    figs = {d.name: d for d in draw_figures(ev, f, tz=TZ, lang="en")}
    impacted = [s["name"] for s in f["incident"]["services"]]
    assert impacted and set(impacted) <= set(SERVICES[:4])  # the degraded ones
    for name in ("error_ratio", "latency", "throughput"):
        fig = figs[name].fig
        drawn = {t.legendgroup for t in fig.data if not _is_baseline(t)}
        assert len(drawn) == cap, name
        assert set(impacted) <= drawn, name
        notes = [a.text for a in fig.layout.annotations if "services drawn" in (a.text or "")]
        assert notes == [
            f"{cap} of {len(SERVICES)} services drawn: the incident's, then the highest"
        ]
    # latency: p99 grows with the service's index, so the highest of the rest are the last ones
    lat = {t.legendgroup for t in figs["latency"].fig.data if not _is_baseline(t)}
    rest = [s for s in SERVICES if s not in impacted]
    assert lat - set(impacted) == set(rest[-(cap - len(impacted)) :])
    # thresholds drawn for the services drawn only
    labels = [
        a.text for a in figs["latency"].fig.layout.annotations if "threshold" in (a.text or "")
    ]
    assert labels and all(
        all(svc in lat for svc in html.unescape(t).split("(")[1].rstrip(")…").split(", ") if svc)
        for t in labels
        if "(" in t
    )


def test_a_figure_of_few_services_draws_them_all_and_says_nothing():
    from pmrecon.model import Series
    from pmrecon.report.graphs.data import drawn_services

    few = [Series("e", "error_ratio", f"s{i}", "", [1.0], [0.1], 15.0) for i in range(12)]
    assert drawn_services({}, few) is None
    many = few + [Series("e", "error_ratio", "s12", "", [1.0], [0.9], 15.0)]
    assert drawn_services({"incident": {"services": [{"name": "s3"}]}}, many)[:2] == ["s3", "s12"]
