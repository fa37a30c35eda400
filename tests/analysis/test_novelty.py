"""Novelty of error signatures when the logs cannot tell (issue 15, item 6): null, and said."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import read_bundle, write_bundle
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import ErrorSignature, Evidence
from pmrecon.wording import catalogue
from tests.clihelp import run_cli
from tests.evidence_factory import Deg, LogDecl, Svc, T, build, evidence_from_scenario
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


# --------------------------------------------------------------------------- a baseline that
# holds the incident's start (issue 20): judged by each signature's first sighting there

W0, W1 = T("2026-03-02 11:00"), T("2026-03-02 12:00")
MIN = dt.timedelta(minutes=1)


def _contaminated(signatures: list[ErrorSignature], impact_from: dt.datetime) -> Evidence:
    svc = Svc("api", phases=[Deg(impact_from, W0 + 20 * MIN, error_ratio=0.3)])
    logs = LogDecl(signatures=signatures)
    return build(W0, W1, [svc], step=60.0, logs=logs, baseline_phases=True)


def _signature(name: str, baseline_first: dt.datetime | None, count: int = 30) -> ErrorSignature:
    return ErrorSignature(
        name,
        300,
        W0,
        W0 + 20 * MIN,
        ["api"],
        baseline_count=count,
        baseline_first_seen=baseline_first,
        baseline_last_seen=W0 - MIN if baseline_first else None,
    )


def _novelty(found: dict[str, Any]) -> dict[str, bool | None]:
    return {e["signature"]: e["new_since_baseline"] for e in found["top_errors"]}


def _warnings(found: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [w for w in found["warnings"] if w["code"] == code]


def test_a_signature_first_seen_after_the_incident_began_in_the_baseline_is_new() -> None:
    signatures = [
        _signature("Pool exhausted", W0 - 9 * MIN),  # after the impact start (W0 - 10 min)
        _signature("TimeoutError: upstream", W0 - 50 * MIN),  # in the clean part
        _signature("Written before first sightings", None),  # an older bundle
        ErrorSignature("Brand new failure", 50, W0 + 2 * MIN, W0 + 20 * MIN, ["api"]),
    ]
    found = findings_to_json(analyse(_contaminated(signatures, W0 - 10 * MIN), {}))
    assert _novelty(found) == {
        "Pool exhausted": True,
        "TimeoutError: upstream": False,
        "Written before first sightings": None,
        "Brand new failure": True,
    }
    (judged,) = _warnings(found, "novelty_from_baseline_start")
    assert (judged["params"]["count"], judged["params"]["new"], judged["params"]["known"]) == (
        2,
        1,
        1,
    )
    (unsure,) = _warnings(found, "novelty_unreliable")
    assert unsure["params"]["count"] == 1
    # the new one is a lead and a row of the timeline, at its first sighting in the baseline
    leads = [s["summary"] for s in found["suspects"] if s["kind"] == "new_error"]
    assert "Pool exhausted" in leads and "TimeoutError: upstream" not in leads
    (row,) = [r for r in found["timeline"] if r["kind"] == "new_error" and "Pool" in r["text"]]
    assert dt.datetime.fromisoformat(row["at"]) == W0 - 9 * MIN


def test_the_incidents_onset_just_before_its_start_stays_new() -> None:
    # first seen 5 min before the impact start found in the baseline: within the stability
    # period (15 min), the incident's own onset, like the same rule inside the window
    signatures = [_signature("Pool exhausted", W0 - 15 * MIN)]
    found = findings_to_json(analyse(_contaminated(signatures, W0 - 10 * MIN), {}))
    assert _novelty(found) == {"Pool exhausted": True}
    far = [_signature("Pool exhausted", W0 - 40 * MIN)]
    assert _novelty(findings_to_json(analyse(_contaminated(far, W0 - 10 * MIN), {}))) == {
        "Pool exhausted": False
    }


def test_a_clean_baseline_keeps_its_sightings_old_whatever_their_time() -> None:
    # the incident begins inside the window: the baseline holds none of it
    signatures = [_signature("Pool exhausted", W0 - 5 * MIN)]
    found = findings_to_json(analyse(_contaminated(signatures, W0 + 10 * MIN), {}))
    assert _novelty(found) == {"Pool exhausted": False}
    assert not _warnings(found, "novelty_from_baseline_start")


def test_first_sightings_in_the_baseline_round_trip_through_the_bundle(tmp_path: Path) -> None:
    signatures = [_signature("Pool exhausted", W0 - 9 * MIN), _signature("Old", None)]
    evidence = _contaminated(signatures, W0 - 10 * MIN)
    write_bundle(evidence, tmp_path / "evidence")
    logs = json.loads((tmp_path / "evidence" / "logs.json").read_text())
    written = {s["signature"]: s for s in logs["signatures"]}
    assert written["Pool exhausted"]["baseline_first_seen"] == "2026-03-02T10:51:00Z"
    assert "baseline_first_seen" not in written["Old"]  # as a bundle written before them
    back = read_bundle(tmp_path / "evidence")
    assert back.logs is not None
    assert [s.baseline_first_seen for s in back.logs.signatures] == [W0 - 9 * MIN, None]
    assert [s.baseline_last_seen for s in back.logs.signatures] == [W0 - MIN, None]
