"""One language per report: every built-in template, rendered in each language from the demo
and from the report test data, carries no word of the other language.

What comes from the data (service, alert and source names, change-event messages, error
signatures, log lines, queries) is the team's own text and is taken out first; so are the
words the team's French seed template itself writes in English ("Root Cause", "Draft").
"""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path

import pytest

from tests.clihelp import run_cli
from tests.report.test_html_report import make_report
from tests.report.test_template_structure import SEED

#: English words that have no business in a French report's own text.
ENGLISH = {
    "the",
    "and",
    "for",
    "of",
    "with",
    "from",
    "to",
    "by",
    "in",
    "on",
    "at",
    "is",
    "was",
    "no",
    "not",
    "found",
    "skipped",
    "install",
    "pass",
    "fix",
    "series",
    "alert",
    "alerts",
    "event",
    "events",
    "analysis",
    "baseline",
    "threshold",
    "query",
    "queries",
    "raw",
    "samples",
    "distinct",
    "users",
    "user",
    "error",
    "errors",
    "per",
    "level",
    "over",
    "change",
    "changes",
    "deploys",
    "rollbacks",
    "data",
    "back",
    "within",
    "beyond",
    "firing",
    "pending",
    "resolved",
    "already",
    "window",
    "start",
    "end",
    "metrics",
    "Critical",
    "Major",
    "Minor",
    "latency",
    "availability",
    "throughput",
    "requests",
    "failed",
    "burst",
    "logs per",
    "given",
    "hand",
    "graphs",
    "sources",
}
#: French words that have no business in an English report's own text.
FRENCH = {
    "le",
    "la",
    "les",
    "des",
    "du",
    "une",
    "sur",
    "pour",
    "avec",
    "dans",
    "et",
    "ou",
    "sous",
    "seuil",
    "revenu",
    "erreur",
    "erreurs",
    "alerte",
    "alertes",
    "Critique",
    "Majeur",
    "Mineur",
    "racine",
    "requêtes",
    "déclenchée",
    "Début",
    "début",
    "fin",
    "heures",
    "métriques",
    "changements",
    "analyse",
    "disponibilité",
    "latence",
    "taux",
    "à",
    "pas",
    "confirmer",
    "selon",
    "quand",
    "sinon",
    "résolution",
    "graphiques",
}
ACCENTED = re.compile(r"[éèêëàâùûçôîïœ]", re.IGNORECASE)


def data_strings(findings: dict) -> set[str]:
    """Text that comes from the incident's data, in whatever language the team wrote it."""
    out: set[str] = set()
    for s in findings.get("services", []):
        out.add(str(s.get("name", "")))
    for a in findings.get("alerts", []):
        out.update(str(a.get(k, "")) for k in ("name", "service"))
    for src in findings.get("sources", []):
        out.add(str(src.get("name", "")))
    for e in findings.get("timeline", []):
        if e.get("kind") in ("deploy", "rollback", "config_change", "change", "silence"):
            out.update(str(e.get(k, "")) for k in ("text", "source"))
    for e in findings.get("top_errors", []):
        out.add(str(e.get("signature", "")))
    return {s for s in out if s}


def own_text(markdown: str, data: set[str]) -> str:
    """The report's own words: no data, no code, no link targets, no links to other tools."""
    text = markdown.replace("\\", "")
    for d in sorted(data, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(d)}(?!\w)", " ", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    # Links to Grafana or Kibana: their titles are the team's own query names.
    text = re.sub(r"\[[^\]]*\]\(https?://\S*", " ", text)
    text = re.sub(r"\]\([^)\s]*\)", "]", text)
    text = re.sub(r"\[\^[^\]]*\]", " ", text)
    text = re.sub(r"\b(graphs|evidence)/[\w./-]*", " ", text)  # file names
    return text


def html_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<pre\b.*?</pre>|<code\b.*?</code>", " ", page, flags=re.S | re.I)
    # Links to Grafana or Kibana: their titles are the team's own query names.
    page = re.sub(r'<a href="https?:[^"]*">.*?</a>', " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def other_language_words(text: str, lang: str) -> list[str]:
    seed_words = set(re.findall(r"[\w'-]+", SEED.read_text(encoding="utf-8").lower()))
    words = re.findall(r"[\w'-]+", text)
    if lang == "fr":
        found = [w for w in words if w in ENGLISH and w.lower() not in seed_words]
    else:
        found = [w for w in words if w in FRENCH]
        found += [w for w in words if ACCENTED.search(w)]
    return sorted(set(found))


def demo(tmp: Path, lang: str) -> Path:
    out = tmp / f"demo-{lang}"
    # A browser path that does not exist: the report's notice on missing PNGs shows too.
    r = run_cli(
        "demo",
        "--out",
        str(out),
        "--lang",
        lang,
        "-q",
        cwd=tmp,
        env={"BROWSER_PATH": "/nonexistent"},
    )
    assert r.code == 0, r.err
    return out


@pytest.fixture(scope="module", params=["fr", "en"])
def reports(request, tmp_path_factory) -> tuple[str, list[Path]]:
    lang = request.param
    tmp = tmp_path_factory.mktemp(f"lang-{lang}")
    return lang, [demo(tmp, lang), make_report(tmp / "data", lang=lang)]


def test_markdown_has_no_word_of_the_other_language(reports):
    lang, outs = reports
    for out in outs:
        findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
        md = (out / "postmortem.md").read_text(encoding="utf-8")
        found = other_language_words(own_text(md, data_strings(findings)), lang)
        assert found == [], f"{out.name}: {found}"


def test_html_has_no_word_of_the_other_language(reports):
    lang, outs = reports
    for out in outs:
        findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
        page = html_text((out / "report.html").read_text(encoding="utf-8"))
        found = other_language_words(own_text(page, data_strings(findings)), lang)
        assert found == [], f"{out.name}: {found}"


def test_the_demo_shows_the_missing_png_notice(reports):
    lang, outs = reports
    md = (outs[0] / "postmortem.md").read_text(encoding="utf-8")
    assert {"fr": "Chromium introuvable", "en": "no Chromium found"}[lang] in md
