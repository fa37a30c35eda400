"""What the report says agrees with itself and with French grammar: a figure and the
services it names, the title and the first alert, adjectives and their nouns."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.bundle import read_bundle
from pmrecon.api import default_title
from pmrecon.demo import demo_bundle_dir
from tests.report_data import evidence, findings_for

#: The French SLI labels the analysis writes, and their grammatical gender.
FEMININE = ("Latence", "Disponibilité")


@pytest.fixture(scope="module", params=["fr", "en"])
def demo_findings(request) -> tuple[str, dict[str, Any]]:
    return request.param, findings_for(read_bundle(demo_bundle_dir()), lang=request.param)


def test_log_burst_row_says_its_count_covers_every_service(demo_findings):
    lang, findings = demo_findings
    rows = [e for e in findings["timeline"] if e.get("kind") == "log_burst"]
    assert rows, "the demo has an error-log burst"
    per_service = {s["name"]: s.get("error_logs") or 0 for s in findings["incident"]["services"]}
    for row in rows:
        count = int(re.search(r"(\d+)", row["text"]).group(1))
        named = [s for s in per_service if re.search(rf"\b{re.escape(s)}\b", row["text"])]
        # Either the count is that of the services named, or the text says it is everyone's.
        total_said = {"fr": "tous services confondus", "en": "all services"}[lang] in row["text"]
        assert total_said or count == sum(per_service[s] for s in named), row["text"]


def test_french_recovery_rows_agree_with_their_noun():
    findings = findings_for(evidence(), lang="fr")
    rows = [e["text"] for e in findings["timeline"] if e.get("kind") == "sli_recovery"]
    assert rows
    for text in rows:
        if text.startswith(FEMININE):
            assert not re.search(r"\brevenu\b", text), text
        else:
            assert not re.search(r"\brevenue\b", text), text


def test_title_names_the_alert_of_the_first_alert():
    findings = findings_for(read_bundle(demo_bundle_dir()), lang="fr")
    first = findings["instants"]["first_alert"]["ref"].split(" (")[0]
    # Two alerts fire at the same step in the demo: the title must name the one the
    # report calls the first alert.
    firing = {a["name"]: min(i[0] for i in a["firing"]) for a in findings["alerts"]}
    assert len(set(firing.values())) == 1 and len(firing) == 2
    assert default_title(findings, "fr").endswith(f"({first})")
    assert default_title(findings, "en").endswith(f"({first})")


def test_title_without_first_alert_names_the_earliest_most_severe():
    findings: dict[str, Any] = {
        "window": {"from": "2026-03-01T09:00:00Z"},
        "incident": {"impact_start": "2026-03-01T09:10:00Z", "services": [{"name": "api"}]},
        "instants": {"first_alert": {"at": None}},
        "alerts": [
            {"name": "AWarning", "severity": "warning", "firing": [["2026-03-01T09:12:00Z", None]]},
            {
                "name": "ZCritical",
                "severity": "critical",
                "firing": [["2026-03-01T09:12:00Z", None]],
            },
            {"name": "Early", "severity": "info", "firing": [["2026-03-01T09:11:00Z", None]]},
            {"name": "Pending", "severity": "critical", "firing": []},
        ],
    }
    assert default_title(findings, "en") == "Incident of 2026-03-01 — api (Early)"
    findings["alerts"] = findings["alerts"][:2]
    assert default_title(findings, "en") == "Incident of 2026-03-01 — api (ZCritical)"
