"""French reports show every definition in French; findings.json keeps the English ones."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pmrecon.report.definitions import in_language
from pmrecon.report.markdown import footnotes
from tests.analysis import test_analysis_scenarios as scenarios_test
from tests.scenarios import SCENARIOS

#: Words that would betray an English sentence left in a French footnote.
ENGLISH = re.compile(r"\b(the|of|when|over|any|every|first|highest|given|else|and)\b")


def _definitions(findings: dict[str, Any]) -> set[str]:
    items = list((findings.get("figures") or {}).values())
    items += [i for i in (findings.get("instants") or {}).values() if i]
    return {str(i["definition"]) for i in items if i.get("definition")}


@pytest.fixture(scope="module")
def all_findings() -> list[dict[str, Any]]:
    return [scenarios_test.run(SCENARIOS[name]()) for name in sorted(SCENARIOS)]


def test_every_definition_the_analysis_writes_has_a_french_wording(all_findings) -> None:  # noqa: ANN001
    definitions = set().union(*(_definitions(f) for f in all_findings))
    assert len(definitions) >= 25  # every instant and figure, with and without an incident
    untranslated = sorted(d for d in definitions if ENGLISH.search(in_language(d, "fr")))
    assert not untranslated, untranslated


def test_french_footnotes_keep_the_queries_and_english_ones_stay_english(all_findings) -> None:  # noqa: ANN001
    findings = next(f for f in all_findings if (f.get("incident") or {}).get("found"))
    fr = {n["key"]: n["text"] for n in footnotes(findings, "fr")}
    en = {n["key"]: n["text"] for n in footnotes(findings, "en")}
    assert fr.keys() == en.keys()
    assert fr["mttr"].startswith("MTTR = résolution − début d'impact.")
    assert "source : " in fr["availability"] and "source: " in en["availability"]
    # the query references and texts are the same in both languages
    for key in fr:
        assert re.findall(r"`[^`]+`", fr[key]) == re.findall(r"`[^`]+`", en[key]), key


def test_unknown_sentences_are_kept_not_dropped() -> None:
    text = "Something new the analysis says. MTTR = resolution − impact start."
    assert (
        in_language(text, "fr")
        == "Something new the analysis says. MTTR = résolution − début d'impact."
    )
