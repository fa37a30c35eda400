"""The leads in the report: suggestions beside the team's placeholders, never conclusions.

One incident no alert saw, with two changes before it (the later one 3 minutes before
impact) and a dependency that broke first: the cause analysis shows the cascade and the
ranked leads, each "to be confirmed" with a footnote naming its query; the contributing
factors list the leads after the first; "what can be improved" says no alert fired. The
human placeholders of each section stay.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon.api import BuildRequest, build
from pmrecon.config import Config, validate
from pmrecon.report.graphs import find_chromium
from pmrecon.report.htmlreport import markdown_to_html
from pmrecon.report.leads import lead_graph
from tests.analysis.test_leads import W0, W1, D, change, failing, with_changes
from tests.evidence_factory import build as build_evidence
from tests.report_data import distinct_colors, png_pixels

WORDS = {
    "fr": {
        "cause": "### Cause racine (Root Cause)",
        "contributing": "### Facteurs contributifs",
        "improve": "### Ce qui peut être amélioré",
        "confirm": "à confirmer",
        "cascade": "*Cascade (pmrecon)* : payments (taux d'erreur, 10:30) → checkout (+3 minutes)",
        "no_alert": "Aucune alerte ne s'est déclenchée pendant l'incident",
        "placeholders": (
            "[Description détaillée de la cause principale]",
            "3. Facteur 3: [Description]",
            "- Point d'amélioration 3",
        ),
    },
    "en": {
        "cause": "### Root cause",
        "contributing": "### Contributing factors",
        "improve": "### What can be improved",
        "confirm": "to be confirmed",
        "cascade": "*Cascade (pmrecon)*: payments (error ratio, 10:30) → checkout (+3 minutes)",
        "no_alert": "No alert fired during the incident",
        "placeholders": (
            "[Detailed description of the main cause]",
            "3. Factor 3: [Description]",
            "- Improvement 3",
        ),
    },
}


def section(md: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading."""
    after = md.split(heading + "\n", 1)[1]
    return re.split(r"^#{1,6} ", after, maxsplit=1, flags=re.M)[0]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ev = build_evidence(
        W0, W1, [failing("payments", "10:30", "11:00"), failing("checkout", "10:33", "11:00")]
    )
    with_changes(ev, change(D("10:05"), "checkout", version="8.0"), change(D("10:27"), "payments"))
    folder = tmp_path_factory.mktemp("leads") / "evidence"
    write_bundle(ev, folder)
    return folder


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_leads_are_suggestions_beside_the_placeholders(
    bundle: Path, tmp_path: Path, lang: str
) -> None:
    words = WORDS[lang]
    config = Config(validate({"language": lang, "timezone": "UTC"}))
    now = dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc)
    build(config, BuildRequest(source_dir=bundle, out=tmp_path / "out", png=False, now=now))
    md = (tmp_path / "out" / "postmortem.md").read_text(encoding="utf-8")

    cause = section(md, words["cause"])
    assert words["cascade"] in cause
    leads = re.findall(r"^(\d+)\. (.*)$", cause, flags=re.M)
    assert [n for n, _ in leads] == ["1", "2", "3"]  # the change, upstream, the older change
    assert "Deployed payments to 2.0" in leads[0][1]
    for n, line in leads:
        # each ends "to be confirmed", its footnote, then a link to the graph that shows it
        ending = re.search(
            rf"{words['confirm']}\[\^lead_{n}\] \(\[\w+\]\((graphs/\w+\.html)\)\)$", line
        )
        assert ending and (tmp_path / "out" / ending[1]).is_file(), line
        assert re.search(rf"^\[\^lead_{n}\]: .*`es:q-changes`|^\[\^lead_{n}\]: .*`q-w-", md, re.M)

    contributing = section(md, words["contributing"])
    suggested = re.findall(r"^- (.*)$", contributing, flags=re.M)
    assert suggested == [line for _, line in leads[1:]]

    improve = section(md, words["improve"])
    assert words["no_alert"] in improve and words["confirm"] in improve

    for placeholder in words["placeholders"]:
        assert placeholder in md


def plotly_figure(page: str, div_id: str) -> tuple[list[dict], dict]:
    """(data, layout) of the figure report.html draws in ``div_id``, parsed from its JSON."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{div_id}",\s*', page)
    assert call, div_id
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(page, call.end())
    layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())
    return data, layout


@pytest.mark.chromium
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_cascade_is_drawn_and_each_lead_links_to_its_graph(
    bundle: Path, tmp_path: Path, lang: str
) -> None:
    """With PNGs: the cascade figure under the cascade's line, each lead linking to the PNG of
    its graph in the Markdown and to the figure itself in report.html."""
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine")
    words = WORDS[lang]
    config = Config(validate({"language": lang, "timezone": "UTC"}))
    now = dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc)
    out = tmp_path / "out"
    build(config, BuildRequest(source_dir=bundle, out=out, png=True, now=now))
    md = (out / "postmortem.md").read_text(encoding="utf-8")
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))

    cause = section(md, words["cause"])
    after_cascade = cause.split(words["cascade"], 1)[1]
    assert re.match(r"[^\n]*\n\n!\[[^\]]+\]\(graphs/cascade\.png\)\n", after_cascade)
    # shown there, it is not shown again with the other graphs
    images = re.findall(r"!\[[^\]]*\]\((graphs/\w+\.png)\)", md)
    assert images.count("graphs/cascade.png") == 1 and len(images) == len(set(images)) > 1
    width, height, rows = png_pixels((out / "graphs" / "cascade.png").read_bytes())
    assert width == 1200 and height >= 300 and distinct_colors(rows, width) > 20

    # the change and upstream leads show on the cascade, the others on the graph of their kind
    links = dict(re.findall(r"^(\d+)\. .*\(\[\w+\]\((graphs/\w+\.png)\)\)$", cause, re.M))
    expected = {"change": "cascade", "upstream": "cascade"}
    assert links == {
        str(s["rank"]): f"graphs/{expected[s['kind']]}.png" for s in findings["suspects"]
    }
    for link in links.values():
        assert (out / link).is_file()

    page = (out / "report.html").read_text(encoding="utf-8")
    # in report.html the figure stands where the Markdown shows its PNG: in the cause analysis
    body = page.split(html.escape(words["contributing"][4:], quote=False), 1)[0]
    assert 'id="fig-cascade"' in body.split(html.escape(words["cause"][4:], quote=False), 1)[1]
    word = {"fr": "graphe", "en": "graph"}[lang]
    hrefs = re.findall(rf'<a href="([^"]+)">{word}</a>', body.split('id="fig-cascade"', 1)[1])
    assert len(hrefs) == len(links) and set(hrefs) == {"#fig-cascade"}
    assert not re.search(r'href="graphs/\w+\.png"', page)
    data, layout = plotly_figure(page, "pm-fig-cascade")
    order = [c["service"] for c in findings["incident"]["cascade"]]
    assert order == ["payments", "checkout"]
    assert layout["yaxis"]["tickvals"] == order
    assert list(reversed(layout["yaxis"]["categoryarray"])) == order
    assert {y for trace in data for y in trace["y"]} == set(order)


def test_a_lead_links_to_the_first_of_its_graphs_that_was_drawn() -> None:
    drawn = [{"name": n} for n in ("error_ratio", "latency", "throughput", "log_volume")]
    with_cascade = [*drawn, {"name": "cascade"}]
    assert lead_graph({"kind": "change"}, with_cascade) == "cascade"
    assert lead_graph({"kind": "rollback_recovery"}, with_cascade) == "cascade"
    assert lead_graph({"kind": "change"}, drawn) == "error_ratio"  # no cascade: the impact
    assert lead_graph({"kind": "upstream", "related": "latency"}, with_cascade) == "cascade"
    assert lead_graph({"kind": "upstream", "related": "latency"}, drawn) == "latency"
    assert lead_graph({"kind": "upstream", "related": "uptime"}, drawn) == "throughput"
    assert lead_graph({"kind": "load"}, with_cascade) == "throughput"
    assert lead_graph({"kind": "new_error"}, with_cascade) == "log_volume"
    assert lead_graph({"kind": "concentration", "related": "latency"}, drawn) == "latency"
    assert lead_graph({"kind": "concentration"}, drawn) == "error_ratio"
    assert lead_graph({"kind": "load"}, [{"name": "error_ratio"}]) is None  # no link
    assert lead_graph({"kind": "load"}) == "throughput"  # without the list: the first


def test_in_report_html_a_link_to_a_graph_goes_to_its_figure_on_the_page() -> None:
    figure = {
        "name": "latency",
        "title": "Latence",
        "png": "graphs/latency.png",
        "html": "graphs/latency.html",
        "div": "<div id='pm-fig-latency'></div>",
    }
    md = "1. a lead ([graphe](graphs/latency.png)) or ([page](graphs/latency.html))\n\n[x](notes.md)\n"
    body, placed = markdown_to_html(md, [figure])
    assert re.findall(r'href="([^"]+)"', body) == ["#fig-latency", "#fig-latency", "notes.md"]
    assert placed == []  # a link is not the figure: the page shows it with the others
