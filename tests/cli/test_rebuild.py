"""A rebuild from a bundle reproduces the original build (issue 15, item 6).

``pmrecon build --source DIR/evidence --out DIR`` with no config must give the same
findings.json (generation time aside) as the build that wrote DIR, even when that build
used a non-default zone, language, title, thresholds and hand-given times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import write_bundle
from tests.clihelp import run_cli
from tests.evidence_factory import evidence_from_scenario
from tests.scenarios import SCENARIOS

CONFIG = """\
timezone: America/New_York
language: en
title: Checkout outage after the 2.4.0 deploy
analysis:
  error_ratio_threshold: 0.05
  consecutive_steps: 2
  stability_period: 5m
  slo_target: 0.995
  thresholds:
    checkout:
      latency: 0.4
"""


def _findings(folder: Path) -> dict[str, Any]:
    data = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    data.pop("generated_at", None)
    return data


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report built with non-default settings, from a bundle of the clean_single scenario."""
    tmp = tmp_path_factory.mktemp("rebuild")
    write_bundle(evidence_from_scenario(SCENARIOS["clean_single"]()), tmp / "bundle")
    (tmp / "cfg.yaml").write_text(CONFIG, encoding="utf-8")
    out = tmp / "report"
    r = run_cli(
        "build", "--source", str(tmp / "bundle"), "--out", str(out), "--no-png",
        "-c", str(tmp / "cfg.yaml"), "--ack", "2026-01-12 06:10", cwd=tmp,
    )  # fmt: skip
    assert r.code == 0, r.err
    return out


def test_rebuild_without_config_gives_identical_findings(original: Path, tmp_path: Path) -> None:
    before = _findings(original)
    assert before["window"]["timezone"] == "America/New_York"
    assert before["settings"]["consecutive_steps"] == 2
    assert before["incident"]["acknowledged"] is not None
    # the whole folder, pmrecon's record of what it wrote (.pmrecon/) included
    copy = tmp_path / "report"
    shutil.copytree(original, copy)
    # in place, as the README says, with no config anywhere
    r = run_cli(
        "build", "--source", str(copy / "evidence"), "--out", str(copy), "--no-png", cwd=tmp_path
    )
    assert r.code == 0, r.err
    assert _findings(copy) == before
    assert "Checkout outage" in (copy / "postmortem.md").read_text(encoding="utf-8")
    assert (copy / "postmortem.md").read_text(encoding="utf-8").count("Impact on users") == 1


def test_a_flag_still_wins_over_the_recorded_settings(original: Path, tmp_path: Path) -> None:
    out = tmp_path / "utc"
    r = run_cli(
        "build", "--source", str(original / "evidence"), "--out", str(out), "--no-png",
        "--tz", "UTC", "--lang", "fr", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    data = _findings(out)
    assert data["window"]["timezone"] == "UTC"
    assert data["settings"]["consecutive_steps"] == 2  # not given: still the recorded one
    assert "Impact sur les utilisateurs" in (out / "postmortem.md").read_text(encoding="utf-8")


def test_a_config_value_wins_over_the_recorded_one(original: Path, tmp_path: Path) -> None:
    (tmp_path / "pmrecon.yaml").write_text("analysis:\n  consecutive_steps: 3\n", encoding="utf-8")
    out = tmp_path / "cfg"
    r = run_cli(
        "build", "--source", str(original / "evidence"), "--out", str(out), "--no-png", cwd=tmp_path
    )
    assert r.code == 0, r.err
    data = _findings(out)
    assert data["settings"]["consecutive_steps"] == 3  # the default, but said in the config
    assert data["window"]["timezone"] == "America/New_York"


def test_a_default_title_is_written_again_in_the_rebuilds_language(tmp_path: Path) -> None:
    """Only a given title is recorded: a French build rebuilt in English gets an English one."""
    write_bundle(evidence_from_scenario(SCENARIOS["clean_single"]()), tmp_path / "bundle")
    fr = tmp_path / "fr"
    r = run_cli(
        "build", "--source", str(tmp_path / "bundle"), "--out", str(fr), "--no-png",
        "--lang", "fr", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    recorded = json.loads((fr / "evidence" / "build.json").read_text(encoding="utf-8"))
    assert recorded["language"] == "fr" and recorded["title"] is None
    assert (
        (fr / "postmortem.md").read_text(encoding="utf-8").startswith("# Post-Mortem: Incident du ")
    )
    en = tmp_path / "en"
    r = run_cli(
        "build", "--source", str(fr / "evidence"), "--out", str(en), "--no-png",
        "--lang", "en", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert (
        (en / "postmortem.md").read_text(encoding="utf-8").startswith("# Post-Mortem: Incident of ")
    )


def test_the_configs_other_sections_hold_in_a_rebuild(original: Path, tmp_path: Path) -> None:
    """The recorded settings replace theirs only: the config's report section still counts."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "templates"
    (tmp_path / "pmrecon.yaml").write_text(
        f"report:\n  template_dir: {json.dumps(str(examples))}\n", encoding="utf-8"
    )
    out = tmp_path / "custom"
    r = run_cli(
        "build", "--source", str(original / "evidence"), "--out", str(out), "--no-png", cwd=tmp_path
    )
    assert r.code == 0, r.err
    assert "#### Key figures (pmrecon" in (out / "postmortem.md").read_text(encoding="utf-8")
