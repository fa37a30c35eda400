"""Session fixtures: a backfilled Prometheus, a live one evaluating rules, an Alertmanager.

Import them in ``tests/conftest.py``::

    from tests.infra.prom_fixtures import alertmanager, live_prometheus, prometheus  # noqa: F401
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.infra.prometheus import (
    AlertmanagerServer,
    MetricsTarget,
    PrometheusServer,
    backfill,
    live_rules,
)
from tests.scenarios import Scenario, all_scenarios, rules_yaml

#: The live timeline (seconds after the target is first scraped): error counter on/off.
LIVE_SCHEDULE: tuple[tuple[float, bool], ...] = (
    (3.0, True),
    (9.0, False),
    (14.0, True),
    (20.0, False),
)
LIVE_SETTLE_S = 4.0


@dataclass
class BackfilledPrometheus:
    """The running server plus the scenarios it holds."""

    server: PrometheusServer
    scenarios: dict[str, Scenario]

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class LivePrometheus:
    """A Prometheus scraping ``target`` every second; ``flips`` are (UTC time, failing) switches."""

    server: PrometheusServer
    target: MetricsTarget
    started: dt.datetime
    flips: list[tuple[dt.datetime, bool]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the whole on/off timeline has played and Prometheus has settled."""
        if not self.done.wait(timeout):
            raise TimeoutError("live timeline did not finish")


@contextlib.contextmanager
def backfilled_prometheus(root: Path, scenarios: list[Scenario]) -> Iterator[BackfilledPrometheus]:
    """A Prometheus in ``root`` holding ``scenarios`` (backfilled once), stopped on exit."""
    backfill(scenarios, root / "data", root / "openmetrics")
    server = PrometheusServer(root, root / "data", rules=rules_yaml(scenarios))
    server.start()
    try:
        yield BackfilledPrometheus(server, {sc.name: sc for sc in scenarios})
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    """A Prometheus holding every scenario of tests.scenarios.SCENARIOS (backfilled once)."""
    with backfilled_prometheus(Path(tmp_path_factory.mktemp("prometheus")), all_scenarios()) as p:
        yield p


@pytest.fixture(scope="session")
def live_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePrometheus]:
    """Prometheus evaluating a ``for: 2s`` rule against a live target; the timeline runs in a thread."""
    root = Path(tmp_path_factory.mktemp("live-prometheus"))
    target = MetricsTarget("live").start()
    server = PrometheusServer(
        root,
        root / "data",
        scrape_interval="1s",
        evaluation_interval="1s",
        rules=live_rules("live"),
        scrape_configs=[{"job_name": "live", "static_configs": [{"targets": [target.address]}]}],
    )
    server.start()
    live = LivePrometheus(server, target, started=dt.datetime.now(dt.timezone.utc))

    def timeline() -> None:
        # the clock starts once Prometheus has scraped the target twice (rates need two samples)
        limit = time.monotonic() + 30
        while target.scrapes < 2 and time.monotonic() < limit:
            time.sleep(0.05)
        t0 = time.monotonic()
        for at, failing in LIVE_SCHEDULE:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            target.failing = failing
            live.flips.append((dt.datetime.now(dt.timezone.utc), failing))
        time.sleep(LIVE_SETTLE_S)
        live.done.set()

    thread = threading.Thread(target=timeline, daemon=True, name="live-timeline")
    thread.start()
    try:
        yield live
    finally:
        thread.join(timeout=60)
        server.stop()
        target.stop()


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerServer]:
    """prometheus-alertmanager on 127.0.0.1 with its cluster listener off."""
    server = AlertmanagerServer(Path(tmp_path_factory.mktemp("alertmanager")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
