"""The leads in the report: suggestions beside the team's placeholders, never conclusions.

One incident no alert saw, with two changes before it (the later one 3 minutes before
impact) and a dependency that broke first: the cause analysis shows the cascade and the
ranked leads, each "to be confirmed" with a footnote naming its query; the contributing
factors list the leads after the first; "what can be improved" says no alert fired. The
human placeholders of each section stay.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon.api import BuildRequest, build
from pmrecon.config import Config, validate
from tests.analysis.test_leads import W0, W1, D, change, failing, with_changes
from tests.evidence_factory import build as build_evidence

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
