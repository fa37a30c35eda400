"""The demo post-mortem as GitHub and GitLab show it: rendered by ``cmark-gfm``, GitHub's own
Markdown renderer, with the extensions GitHub turns on.

cmark-gfm drops a footnote definition nothing references and moves every footnote to the
end of the document; a line break in the source is a space unless it is a hard break.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pmrecon.report.graphs import find_chromium
from tests.clihelp import run_cli

CMARK = shutil.which("cmark-gfm")
EXTENSIONS = ("table", "footnotes", "autolink", "strikethrough")
#: The executive-summary and footer labels of each language: one item per line in the seed.
SUMMARY = {
    "fr": [
        "Date de l'incident",
        "Durée",
        "Impact",
        "Services affectés",
        "Nombre d'utilisateurs impactés",
    ],
    "en": ["Incident date", "Duration", "Impact", "Affected services", "Number of users affected"],
}
FOOTER = {
    "fr": ["Document créé le", "Dernière mise à jour", "Auteur principal", "Statut"],
    "en": ["Document created on", "Last updated", "Main author", "Status"],
}
SOURCES_HEADING = {"fr": "Sources des chiffres", "en": "Where the figures come from"}

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(
        CMARK is None, reason="cmark-gfm is not installed (apt-get install cmark-gfm)"
    ),
]


def github_html(markdown: str) -> str:
    """``markdown`` rendered as GitHub renders it."""
    assert CMARK is not None
    args = [CMARK, *(a for e in EXTENSIONS for a in ("-e", e))]
    run = subprocess.run(args, input=markdown, capture_output=True, text=True, check=True)
    return run.stdout


@pytest.fixture(scope="module", params=["fr", "en"])
def demo(request, tmp_path_factory) -> tuple[str, str, str]:
    """(language, Markdown source, GitHub HTML) of the demo report, PNG graphs included."""
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: the demo's PNG graphs need it")
    lang = request.param
    out = tmp_path_factory.mktemp(f"demo-{lang}") / "report"
    r = run_cli("demo", "--out", str(out), "--lang", lang, "-q", cwd=out.parent)
    assert r.code == 0, r.err
    assert list((out / "graphs").glob("*.png")), "the demo wrote no PNG graph"
    source = (out / "postmortem.md").read_text(encoding="utf-8")
    return lang, source, github_html(source)


def footnote_definitions(source: str) -> list[str]:
    return re.findall(r"^\[\^([^\]]+)\]:", source, re.M)


def test_every_footnote_defined_is_referenced_and_shown(demo):
    _lang, source, html = demo
    defined = footnote_definitions(source)
    assert defined, "the demo report has no footnote"
    shown = set(re.findall(r'<li id="fn-([^"]+)"', html))
    assert sorted(set(defined) - shown) == [], "footnotes GitHub drops (defined, never referenced)"
    referenced = set(re.findall(r'href="#fn-([^"]+)"', html))
    assert shown <= referenced


def test_each_graph_image_appears_once(demo):
    _lang, _source, html = demo
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images, "no graph image in the report"
    doubled = sorted({i for i in images if images.count(i) > 1})
    assert doubled == []


def _paragraph_lines(html: str, labels: list[str]) -> list[str]:
    """The rendered lines (split at <br /> and block ends) that hold each label."""
    lines = re.split(r"<br />|</p>|</li>", html)
    return [next((line for line in lines if f"{label}</strong>" in line), "") for label in labels]


@pytest.mark.parametrize("part", ["summary", "footer"])
def test_one_item_per_rendered_line(demo, part):
    lang, _source, html = demo
    labels = (SUMMARY if part == "summary" else FOOTER)[lang]
    lines = _paragraph_lines(html, labels)
    for label, line in zip(labels, lines):
        assert line, f"{label!r} not found in the rendered report"
        others = [o for o in labels if o != label and f"{o}</strong>" in line]
        assert others == [], f"{label!r} runs into {others} on one rendered line"


def test_notices_are_separate_lines(demo):
    _lang, _source, html = demo
    quote = html.split("<blockquote>", 1)[1].split("</blockquote>", 1)[0]
    # The draft notice and each notice after it (masked data in the demo) on their own lines.
    assert quote.count("<p>") + quote.count("<br />") >= 2


def test_sources_section_is_not_empty_as_rendered(demo):
    lang, _source, html = demo
    heading = SOURCES_HEADING[lang]
    after = html.split(heading, 1)[1].split("</h3>", 1)[1]
    # What GitHub shows under the heading before the next heading: some text, not nothing.
    body = re.split(r"<h[1-6]", after, maxsplit=1)[0]
    assert re.sub(r"<[^>]+>|\s", "", body), f"{heading!r} is empty on GitHub"
    # The footnotes themselves are at the end, after every heading.
    assert html.rfind('<section class="footnotes"') > html.rfind("<h2")


def test_no_table_breaks_as_rendered(demo):
    _lang, source, html = demo
    assert html.count("<table>") == len(re.findall(r"^\|[-| ]+\|$", source, re.M))


def test_script_installs_cmark_gfm():
    script = Path(__file__).resolve().parents[2] / "scripts" / "test"
    assert "command -v cmark-gfm >/dev/null || need+=(cmark-gfm)" in script.read_text()
