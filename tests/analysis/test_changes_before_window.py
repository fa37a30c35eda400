"""Change events from the baseline period (issue 17): a lead, and on the timeline only when
they belong to the story (see "Timeline" in docs/definitions.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pmrecon.model import Event
from tests.analysis.test_leads import W0, W1, D, change, failing, iso, run, with_changes
from tests.evidence_factory import build


def _rows(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in data["timeline"] if r["kind"] == kind]


def _silence(at: str) -> Event:
    return Event(at=D(at), kind="silence", source="am", text="Silenced HighErrorRate")


def test_the_change_a_rollback_undid_is_on_the_timeline_before_the_window() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    with_changes(
        ev,
        change(D("08:30"), "api", version="3.0"),  # undone by the rollback below
        change(D("08:40"), "web", "config_change"),  # long before, on another service
        change(D("10:55"), "api", "rollback", version="2.9"),
    )
    ev.events.append(_silence("09:10"))  # a silence of the baseline: no part of this story
    data = run(ev)
    first = data["suspects"][0]
    assert first["kind"] == "rollback_recovery" and first["at"] == iso(D("08:30"))
    (deploy,) = _rows(data, "deploy")
    assert deploy["at"] == iso(D("08:30")) and deploy["text"] == "Deployed api to 3.0"
    assert not _rows(data, "config_change") and not _rows(data, "silence")
    assert [r["at"] for r in _rows(data, "rollback")] == [iso(D("10:55"))]


def test_events_after_an_impact_start_found_before_the_window_are_on_the_timeline() -> None:
    # the incident began at 09:50, ten minutes before the window: what happened since is its own
    ev = build(W0, W1, [failing("api", "09:50", "10:30")], baseline_phases=True)
    with_changes(ev, change(D("09:40"), "web", "config_change"))
    ev.events.append(_silence("09:55"))
    data = run(ev)
    assert data["instants"]["impact_start"]["found_before_window"] is True
    assert [r["at"] for r in _rows(data, "silence")] == [iso(D("09:55"))]
    # ten minutes before the impact start, on another service: a lead, so on the timeline
    (lead,) = [s for s in data["suspects"] if s["kind"] == "change"]
    assert lead["at"] == iso(D("09:40")) and lead["service"] == "web"
    assert [r["at"] for r in _rows(data, "config_change")] == [iso(D("09:40"))]


def test_events_after_the_window_stay_out() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    late = dataclasses.replace(change(D("12:30"), "api"), text="Deployed api to 4.0")
    with_changes(ev, late)
    assert not _rows(run(ev), "deploy")
