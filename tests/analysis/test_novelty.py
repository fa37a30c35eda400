"""Novelty of error signatures when the logs cannot tell (issue 15, item 6): null, and said."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.wording import catalogue
from tests.clihelp import run_cli
from tests.evidence_factory import evidence_from_scenario
from tests.scenarios import SCENARIOS


def _logs_from_impact():  # noqa: ANN202
    """The logs begin when the impact does: nothing before it, nothing in the baseline."""
    sc = SCENARIOS["logs_from_window_start"]()
    return dataclasses.replace(sc, logs_start=sc.services[0].phases[0].t0)


def test_novelty_is_null_when_no_log_precedes_the_impact() -> None:
    sc = _logs_from_impact()
    data = findings_to_json(analyse(evidence_from_scenario(sc), {}))
    assert data["top_errors"] and all(e["new_since_baseline"] is None for e in data["top_errors"])
    assert "new_error" not in {r["kind"] for r in data["timeline"]}
    assert sc.truth["unknown_novelty"] and not sc.truth["new_signatures"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_report_says_novelty_is_unknown(tmp_path: Path, lang: str) -> None:
    write_bundle(evidence_from_scenario(_logs_from_impact()), tmp_path / "evidence")
    out = tmp_path / "out"
    r = run_cli(
        "build", "--source", str(tmp_path / "evidence"), "--out", str(out), "--no-png",
        "--lang", lang, cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    report = (out / "postmortem.md").read_text(encoding="utf-8")
    assert catalogue(lang)["report.novelty_unknown"] in report
