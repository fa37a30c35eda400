"""report.html: the Markdown's content, figures embedded, inert data, strict CSP; and the links."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from connectors.bundle import bundle_files, write_files
from pmrecon.links import incident_window, make_links
from pmrecon.model import Evidence
from pmrecon.output import write_outputs
from pmrecon.report.graphs import draw_figures, find_chromium
from pmrecon.report.htmlreport import markdown_to_html
from pmrecon.report.offline import (
    BASIC_BUNDLE,
    BASIC_TRACE_TYPES,
    bundle_version,
    full_bundle,
    inline_scripts,
)
from tests.report_data import (
    HOSTILE_LOG,
    HOSTILE_SERVICE,
    artifacts_dir,
    config,
    distinct_colors,
    evidence,
    findings_for,
    png_pixels,
)

FIGURES = ("error_ratio", "latency", "throughput", "log_volume", "alerts", "cascade")


def make_report(out: Path, lang: str = "fr", png: bool = False, ev: Evidence | None = None) -> Path:
    ev = ev or evidence()
    files = bundle_files(ev)
    write_outputs(
        out,
        config=config(
            lang=lang,
            grafana_url="https://grafana.example.org",
            grafana_datasource="prom-main",
            kibana_url="https://kibana.example.org",
        ),
        evidence=ev,
        findings=findings_for(ev, lang=lang),
        title='Checkout "down" <i>again</i>',
        generated_at="2026-03-01T12:00:00Z",
        png=png,
        force=False,
        write_evidence=lambda target: write_files(files, target),
        progress=lambda _m: None,
    )
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = make_report(tmp_path_factory.mktemp("report") / "out")
    return out, (out / "report.html").read_text(encoding="utf-8")


def test_raw_html_in_markdown_stays_text():
    body, placed = markdown_to_html(
        "Texte <script>alert(1)</script> et <img src=x onerror=alert(2)>\n\n"
        "[clic](javascript:alert(3)) ![x](https://tracker.example/p.png) ![c](captures/a.png)\n",
        [],
    )
    assert "<script>" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'href="javascript' not in body  # markdown-it refuses the link: it stays text
    assert '<img src="captures/a.png"' in body  # local images stay images
    assert '<a href="https://tracker.example/p.png">' in body  # remote ones become links
    assert placed == []


def test_graph_images_become_interactive_figures_once():
    fig = {
        "name": "latency",
        "title": "Latence",
        "png": "graphs/latency.png",
        "html": "graphs/latency.html",
        "div": "<div id='pm-fig-latency'></div>",
    }
    md = "![Latence](graphs/latency.png)\n\nTexte.\n\n![Latence](graphs/latency.png)\n"
    body, placed = markdown_to_html(md, [fig])
    assert placed == ["latency"]
    assert body.count("<div id='pm-fig-latency'></div>") == 1
    assert '<div class="pm-figures"><figure class="pm-figure" id="fig-latency">' in body
    assert '<a class="pm-figref" href="#fig-latency">Latence</a>' in body


def test_report_has_the_markdown_content(report):
    out, page = report
    md = (out / "postmortem.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{1,4} (.+)$", md, re.M)
    assert len(headings) > 30
    for h in headings:
        text = (
            h.replace("\\", "")
            .replace("&", "&amp;")
            .replace('"', "&quot;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
        )
        assert text in page or text.replace("&quot;", '"') in page, h
    table_rows = [
        line for line in md.split("\n") if line.startswith("| ") and not line.startswith("|--")
    ]
    assert page.count("<tr>") == len(table_rows)
    assert "Taux d'erreur max: 30,00 %" in page.replace("&#x27;", "'")


def test_report_embeds_every_figure_and_plotly_once(report):
    out, page = report
    for name in FIGURES:
        assert page.count(f'id="pm-fig-{name}"') == 1, name
    assert page.count("Plotly.newPlot(") == len(FIGURES)
    # plotly.js from the one copy in the folder, shared with the graph pages; nothing
    # loaded from elsewhere.
    assert page.count('<script src="graphs/plotly.min.js"></script>') == 1
    for name in FIGURES:
        fig_page = (out / "graphs" / f"{name}.html").read_text(encoding="utf-8")
        assert fig_page.count('<script src="plotly.min.js"></script>') == 1
    copies = [
        f
        for f in out.rglob("*")
        if f.is_file() and re.search(rb"plotly\.js[^\n]* v\d", f.read_bytes()[:300])
    ]
    assert copies == [out / "graphs" / "plotly.min.js"]
    assert not re.search(r"plotly\.js[^\n]* v\d", page)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?https?:", page)


def test_the_shipped_plotly_bundle_matches_plotly_and_draws_every_figure(report):
    out, _ = report
    # The basic bundle is used only at plotly's own plotly.js version: refresh it (see
    # pmrecon/report/vendor/README.md) when this fails after a plotly upgrade.
    assert bundle_version(BASIC_BUNDLE.read_bytes()) == bundle_version(full_bundle())
    assert (out / "graphs" / "plotly.min.js").read_bytes() == BASIC_BUNDLE.read_bytes()
    drawn = draw_figures(evidence(), findings_for(evidence()), tz="Europe/Paris", lang="fr")
    assert {d.name for d in drawn} == set(FIGURES)
    types = {trace.type for d in drawn for trace in d.fig.data}
    assert types <= BASIC_TRACE_TYPES, types - BASIC_TRACE_TYPES


def test_report_csp_allows_exactly_its_own_scripts(report):
    _, page = report
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    script_src = directives["script-src"]
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    allowed = set(script_src.split())
    scripts = inline_scripts(page)
    assert len(scripts) == len(FIGURES)
    # Beyond the inline scripts' hashes, only the page's own files (the shared plotly.js).
    assert allowed - {f"'sha256-{d}'" for d in _digests(scripts)} == {"'self'"}
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert directives["connect-src"] == "'none'"


def _digests(scripts: list[str]) -> set[str]:
    return {base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in scripts}


def test_hostile_text_is_inert_in_html(report):
    out, page = report
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>west</b>" not in page and "<i>again</i>" not in page
    assert "&lt;b&gt;west&lt;/b&gt;" in page
    assert "<title>Post-Mortem : Checkout &#34;down&#34; &lt;i&gt;again&lt;/i&gt;</title>" in page
    for name in FIGURES:
        fig_page = (out / "graphs" / f"{name}.html").read_text(encoding="utf-8")
        assert "<b>west</b>" not in fig_page and "<script>alert(1)" not in fig_page


def test_english_report(tmp_path):
    page = (make_report(tmp_path / "out", lang="en") / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Executive summary" in page


def test_links_to_grafana_and_kibana_cover_the_incident(report):
    out, page = report
    md = (out / "postmortem.md").read_text(encoding="utf-8")
    assert "https://grafana.example.org/explore?schemaVersion=1&panes=" in md
    assert "https://kibana.example.org/app/discover#/?_g=" in md
    assert 'href="https://grafana.example.org/explore?' in page


def _findings(queries, es_index="logs-app-*"):
    return {
        "window": {"from": "2026-03-01T10:00:00+01:00", "to": "2026-03-01T12:00:00+01:00"},
        "incident": {
            "impact_start": "2026-03-01T10:40:00+01:00",
            "resolution": "2026-03-01T11:10:00+01:00",
            "end": "2026-03-01T11:20:00+01:00",
        },
        "sources": [
            {"name": "prom", "kind": "prometheus", "queries": queries},
            {
                "name": "es",
                "kind": "elasticsearch",
                "queries": [
                    {"id": "e1", "purpose": "levels", "query": {"size": 0}, "index": es_index}
                ],
            },
        ],
    }


def test_grafana_links_carry_the_exact_query_and_window():
    hostile = 'sum(rate(http_requests_total{service="a&b \\"q\\"",code=~"5.."}[5m]))'
    queries = [
        {"id": "p1", "purpose": "server version", "query": ""},
        {"id": "p2", "purpose": "SLI error_ratio for checkout", "query": hostile},
        {"id": "p3", "purpose": "baseline SLI error_ratio for checkout", "query": hostile},
        {"id": "p4", "purpose": "alerts (raw ALERTS samples)", "query": "ALERTS[2h]"},
        {
            "id": "p5",
            "purpose": "SLI latency_p99 for checkout",
            "query": "histogram_quantile(0.99, x)",
        },
    ]
    cfg = config(grafana_url="https://g.example/grafana/", grafana_datasource="uid-1")
    links = make_links(cfg, _findings(queries))
    assert [link["title"] for link in links["grafana"]] == [
        "SLI error_ratio for checkout",
        "SLI latency_p99 for checkout",
    ]
    url = links["grafana"][0]["url"]
    assert url.startswith("https://g.example/grafana/explore?schemaVersion=1&panes=")
    assert " " not in url and '"' not in url and "(" not in url
    params = parse_qs(urlsplit(url).query)
    pane = json.loads(params["panes"][0])["pm"]
    assert pane["queries"][0]["expr"] == hostile
    assert pane["datasource"] == "uid-1" and pane["queries"][0]["datasource"]["uid"] == "uid-1"
    start, end = incident_window(_findings(queries))
    assert (pane["range"]["from"], pane["range"]["to"]) == (
        str(int(start.timestamp() * 1000)),
        str(int(end.timestamp() * 1000)),
    )
    # 10:40 − 10 min and 11:20 + 10 min, Paris time.
    assert (
        start.isoformat() == "2026-03-01T09:30:00+00:00"
        and end.isoformat() == "2026-03-01T10:30:00+00:00"
    )
    assert links["kibana"] is None


def test_kibana_link_has_window_and_index_pattern_escaped():
    cfg = config(kibana_url="https://k.example")
    url = make_links(cfg, _findings([], es_index="logs-'app'!-*"))["kibana"]
    assert url.startswith(
        "https://k.example/app/discover#/?_g=(time:(from:'2026-03-01T09:30:00.000Z',to:'2026-03-01T10:30:00.000Z'))&_a=("
    )
    index = re.search(r"index:'([^']*)'", url).group(1)
    assert unquote(index) == "logs-!'app!'!!-*"  # rison escapes, URL-encoded inside the quotes
    assert " " not in url
    assert make_links(config(), _findings([])) == {"grafana": [], "kibana": None}


def _chromium(browser: str, profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.chromium
def test_report_renders_in_headless_chromium_without_console_errors(tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine")
    out = make_report(tmp_path / "out")
    url = (out / "report.html").resolve().as_uri()
    shot = artifacts_dir() / "report-html.png"
    with tempfile.TemporaryDirectory() as profile:
        run = _chromium(browser, profile, f"--screenshot={shot}", "--window-size=1280,6000", url)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 6000) and distinct_colors(rows, width) > 50
    with tempfile.TemporaryDirectory() as profile:
        dom = _chromium(browser, profile, "--dump-dom", url)
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE" in line] == []
    # Each figure drawn by plotly (an SVG root per figure), data intact and inert.
    assert dom.stdout.count('class="plot-container plotly"') == len(FIGURES)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
    assert HOSTILE_LOG.split("|")[0].strip() not in dom.stdout  # never as a live element
    assert "pay" in dom.stdout and HOSTILE_SERVICE not in dom.stdout
    # A graph page draws its figure from the same shared plotly.js.
    graph = (out / "graphs" / "latency.html").resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = _chromium(browser, profile, "--dump-dom", graph)
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE" in line] == []
    assert dom.stdout.count('class="plot-container plotly"') == 1


# The page a phone shows: an iframe 390 px wide (headless Chromium will not make its own
# window narrower than 500 px), measured from the parent once plotly has drawn.
_PHONE_PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="%s" style="width:390px;height:844px;border:0"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => setTimeout(() => {
  const d = document.getElementById('f').contentDocument, w = d.defaultView;
  const width = d.documentElement.clientWidth, out = {width, scroll: d.documentElement.scrollWidth,
    outside: [], covered: [], figures: []};
  const scrolls = el => { for (let p = el.parentElement; p && p !== d.body; p = p.parentElement) {
      const x = w.getComputedStyle(p).overflowX; if (x === 'auto' || x === 'scroll') return true; }
    return false; };
  for (const el of d.querySelectorAll('main h1, main h2, main h3, main p, main li, main th, main td, main pre, main table, footer *')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > width + 1 || r.left < -1) && !scrolls(el))
      out.outside.push(el.tagName + ' ' + (el.textContent || '').slice(0, 50));
  }
  for (const fig of d.querySelectorAll('figure.pm-figure')) {
    const box = fig.getBoundingClientRect(), plot = fig.querySelector('.nsewdrag');
    if (plot) { const r = plot.getBoundingClientRect();
      out.figures.push([fig.id, Math.round(r.left - box.left), Math.round(box.right - r.right), Math.round(r.width)]); }
    const bar = fig.querySelector('.modebar-container'), title = fig.querySelector('.gtitle');
    if (bar && title && w.getComputedStyle(bar).display !== 'none') {
      const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) out.covered.push(fig.id);
    }
  }
  const pre = document.createElement('pre'); pre.id = 'pm-measure';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
}, 1500));
</script></body></html>"""


@pytest.mark.chromium
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_report_is_readable_on_a_phone(tmp_path, lang):
    """At 390 px: nothing scrolls sideways but a wide table in its own box, titles wrap,
    every graph keeps a plot area inside its frame, no toolbar covers a graph's title."""
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine")
    out = make_report(tmp_path / "out", lang=lang)
    probe = out / "phone.html"
    probe.write_text(_PHONE_PROBE % (out / "report.html").resolve().as_uri(), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        run = _chromium(
            browser,
            profile,
            "--allow-file-access-from-files",
            "--window-size=800,900",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.resolve().as_uri(),
        )
    found = re.search(r'<pre id="pm-measure">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-3000:]
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["width"] <= 390 and seen["scroll"] == seen["width"], seen
    assert seen["outside"] == [], seen["outside"]
    assert seen["covered"] == [], seen["covered"]
    assert len(seen["figures"]) == len(FIGURES)
    for name, left, right, plot_width in seen["figures"]:
        assert left >= 0 and right >= 0 and plot_width >= 120, (name, left, right, plot_width)
