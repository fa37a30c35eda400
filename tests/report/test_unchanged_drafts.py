"""A rebuild over the same data changes nothing on disk (issue 18: scheduled scans committed churn).

Every nightly scan rebuilds the drafts it finds. When the data, the settings and the
templates are those of the last build, the files must keep their bytes and modification
times (generation times aside, nothing changed); anything that does change the report
(new evidence, a human edit, another title) still rebuilds it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import pmrecon.scanning as scanning
from connectors.bundle import read_bundle
from pmrecon.api import BuildRequest, build
from pmrecon.config import Config, validate
from pmrecon.demo import demo_bundle_dir
from pmrecon.scanning import RECORD, scan

UTC = dt.timezone.utc
FIRST = dt.datetime(2026, 3, 2, 6, 17, tzinfo=UTC)
NEXT_NIGHT = FIRST + dt.timedelta(days=1)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and its modification time (ns)."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def config(**extra: Any) -> Config:
    return Config(validate({"language": "en", "timezone": "Europe/Paris", **extra}))


def demo_build(out: Path, now: dt.datetime, cfg: Config | None = None) -> Any:
    request = BuildRequest(source_dir=demo_bundle_dir(), out=out, png=False, now=now)
    return build(cfg or config(), request)


def test_a_rebuild_of_the_same_evidence_touches_no_file(tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = demo_build(out, FIRST)
    assert first.changed
    before = snapshot(out)
    again = demo_build(out, NEXT_NIGHT)
    assert snapshot(out) == before
    assert not again.changed
    assert again.findings == first.findings and again.files == first.files


def test_a_fresh_checkout_lacking_a_file_gets_it_back_byte_for_byte(tmp_path: Path) -> None:
    # CI commits the drafts but not report.html: the next run writes it back, the same.
    out = tmp_path / "report"
    demo_build(out, FIRST)
    before = {k: v[0] for k, v in snapshot(out).items()}
    (out / "report.html").unlink()
    again = demo_build(out, NEXT_NIGHT)
    after = {k: v[0] for k, v in snapshot(out).items()}
    # pmrecon's record of what it wrote notes each file's mtime: report.html has a new one.
    state = ".pmrecon/state.json"
    assert (
        json.loads(after.pop(state))["files"].keys()
        == json.loads(before.pop(state))["files"].keys()
    )
    assert after == before
    assert not again.changed


def test_a_hand_edit_rebuilds_and_keeps_the_generation_time(tmp_path: Path) -> None:
    out = tmp_path / "report"
    demo_build(out, FIRST)
    md = out / "postmortem.md"
    md.write_text(md.read_text(encoding="utf-8") + "\nNote from the on-call.\n", encoding="utf-8")
    html_before = (out / "report.html").read_bytes()
    again = demo_build(out, NEXT_NIGHT)
    assert again.changed
    assert "Note from the on-call." in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "report.html").read_bytes() != html_before
    # the data did not change: the report still says when it was generated from it
    assert again.findings["generated_at"] == "2026-03-02T06:17:00Z"


def test_another_title_rebuilds_with_a_new_generation_time(tmp_path: Path) -> None:
    out = tmp_path / "report"
    demo_build(out, FIRST)
    again = demo_build(out, NEXT_NIGHT, config(title="Checkout outage"))
    assert again.changed
    assert again.findings["generated_at"] == "2026-03-03T06:17:00Z"
    assert "Checkout outage" in (out / "postmortem.md").read_text(encoding="utf-8")


def test_a_second_scan_over_the_same_data_leaves_every_file_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan's sources answer with the demo incident, as a server holding it would."""
    evidence = read_bundle(demo_bundle_dir())
    monkeypatch.setattr(
        scanning, "collect_coarse", lambda *_a, **_k: read_bundle(demo_bundle_dir())
    )
    monkeypatch.setattr(
        scanning, "gather_evidence", lambda *_a, **_k: read_bundle(demo_bundle_dir())
    )
    cfg = config()
    start, end = evidence.window.start, evidence.window.end
    out = tmp_path / "postmortems"
    first = scan(cfg, start, end, out, png=False, now=FIRST)
    assert [i.status for i in first.incidents] == ["new"]
    before = snapshot(out)
    assert RECORD in {k.split("/", 1)[1] for k in before}
    again = scan(cfg, start, end, out, png=False, now=NEXT_NIGHT)
    assert [i.status for i in again.incidents] == ["updated"]
    assert snapshot(out) == before
    record = json.loads((first.incidents[0].path / RECORD).read_text(encoding="utf-8"))
    assert record["last_scan"] == record["first_seen"] == "2026-03-02T06:17:00Z"
