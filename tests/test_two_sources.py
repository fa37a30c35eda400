"""Two sources that report the same service are kept apart, never mixed into one series.

Issue 14: two Prometheus sources that both report ``checkout`` merged into one series with
repeated timestamps (each point twice, the figures of both mixed). Their series now keep
their source in their name (``error_ratio@prom-a``) with a warning; two sources of logs
are refused (a build reads the logs of one source).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from connectors.base import CheckResult, CollectRequest
from connectors.bundle import bundle_files, evidence_from_files
from pmrecon.api import analyse_evidence, collect
from pmrecon.config import load_config
from pmrecon.errors import EXIT_USAGE, ConfigError
from pmrecon.model import Evidence
from tests.report_data import evidence


class _Server:
    """A source answering the typical incident at its own error ratio, after ``wait``."""

    kind = "prometheus"

    def __init__(self, name: str, error_ratio: float, wait: threading.Event | None = None) -> None:
        self.name, self.error_ratio, self.wait = name, error_ratio, wait

    def collect(self, request: CollectRequest) -> Evidence:
        if self.wait is not None:
            self.wait.wait(10)
        ev = evidence(self.error_ratio)
        ev.logs = None  # metrics only
        for q in (q for s in ev.sources for q in s.queries):
            q.id = f"{self.name}:{q.id}"
        return ev

    def check(self) -> list[CheckResult]:
        return []


def _collect(*sources: Any) -> Evidence:
    window = evidence().window
    return collect(list(sources), CollectRequest(window=window, baseline=evidence().baseline))


def _by_id(ev: Evidence) -> dict[str, Any]:
    return {s.id: s for s in ev.series}


@pytest.mark.parametrize("first", ["prom-a", "prom-b"])
def test_two_sources_of_one_service_are_kept_apart(first: str) -> None:
    """Whichever answers first, each series keeps its own source's points and a name saying whose."""
    later = threading.Event()
    a = _Server("prom-a", 0.3, None if first == "prom-a" else later)
    b = _Server("prom-b", 0.05, None if first == "prom-b" else later)
    threading.Timer(0.3, later.set).start()
    ev = _collect(b, a)
    alone = _by_id(evidence(0.3))
    ids = [s.id for s in ev.series]
    assert len(ids) == len(set(ids)) == 2 * len(alone)
    for sid, own in alone.items():
        name, service = own.name, own.service
        suffix = "-baseline" if own.baseline else ""
        mine = _by_id(ev)[f"{name}@prom-a.{service}{suffix}"]
        assert (mine.timestamps, mine.values) == (own.timestamps, own.values), sid
        theirs = _by_id(ev)[f"{name}@prom-b.{service}{suffix}"]
        assert len(theirs.timestamps) == len(own.timestamps)  # never both sets of points
    warned = [w for w in ev.warnings if w.code == "service_in_two_sources"]
    assert {w.message.split("'")[1] for w in warned} == {s.service for s in alone.values()}
    assert all("'prom-a', 'prom-b'" in w.message for w in warned)
    # the order of the answers changes nothing
    assert [s.id for s in ev.series] == [s.id for s in _collect(a, b).series]


def test_two_sources_of_one_service_analyse_and_round_trip() -> None:
    ev = _collect(_Server("prom-a", 0.3), _Server("prom-b", 0.05))
    back = evidence_from_files(bundle_files(ev))  # one series per id: the bundle reads it
    findings = analyse_evidence(back, load_config(None))
    assert findings["incident"]["impact_start"] is not None


def test_two_sources_of_logs_are_refused() -> None:
    class _Logs(_Server):
        def collect(self, request: CollectRequest) -> Evidence:
            return dataclasses.replace(evidence(self.error_ratio), series=[])

    with pytest.raises(ConfigError) as caught:
        _collect(_Logs("es-2", 0.3), _Logs("es-1", 0.3))
    assert caught.value.exit_code == EXIT_USAGE
    assert "sources 'es-1', 'es-2' all return logs" in caught.value.format_message()
