"""Ground truth for the leads through a real Prometheus: scenarios whose answer is known.

Each scenario is backfilled into a Prometheus of this module's own (only these three, so
the module starts fast); the connector reads them back with the preset's queries and the
analysis must find the known cascade and detection gaps:

- no alert at all: ``detection[0]`` is ``no_alert``, first alert and MTTD stay unknown;
- a dependency (payments) failing four minutes before its caller (checkout): payments
  leads the cascade, checkout follows about 240 s later, and payments, which has no
  alert, is named as an unalerted service;
- an alert flapping (the shared ``flapping`` scenario, four firing episodes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Window
from tests.infra.prometheus import PrometheusServer, backfill
from tests.scenarios import AlertSpec, Phase, Scenario, ServiceProfile, flapping, rules_yaml, t

pytestmark = pytest.mark.prometheus

DAY = "2026-04-14"


def unnoticed() -> Scenario:
    """checkout fails for 30 min and no alerting rule ever fires."""
    svc = ServiceProfile(
        "checkout", rps=20, phases=(Phase(t(f"{DAY} 10:00"), t(f"{DAY} 10:30"), 0.3),)
    )
    return Scenario(
        "leads_unnoticed",
        t(f"{DAY} 09:00"),
        t(f"{DAY} 11:30"),
        services=[svc, ServiceProfile("cart", rps=10)],
        description="an outage no alert saw",
    )


def dependency_first() -> Scenario:
    """payments fails at 14:00; checkout, which calls it, follows at 14:04."""
    return Scenario(
        "leads_dependency_first",
        t(f"{DAY} 13:00"),
        t(f"{DAY} 15:30"),
        services=[
            ServiceProfile(
                "payments", rps=12, phases=(Phase(t(f"{DAY} 14:00"), t(f"{DAY} 14:40"), 0.4),)
            ),
            ServiceProfile(
                "checkout", rps=20, phases=(Phase(t(f"{DAY} 14:04"), t(f"{DAY} 14:40"), 0.2),)
            ),
        ],
        alerts=[AlertSpec("HighErrorRate", "checkout", ((t(f"{DAY} 14:05"), t(f"{DAY} 14:41")),))],
        description="a dependency fails first, its caller follows",
    )


@contextlib.contextmanager
def serving(root: Path, scenarios: list[Scenario]) -> Iterator[str]:
    """A Prometheus of its own holding only ``scenarios`` (with their rules); its URL."""
    backfill(scenarios, root / "data", root / "openmetrics")
    prometheus = PrometheusServer(root, root / "data", rules=rules_yaml(scenarios))
    prometheus.start()
    try:
        yield prometheus.url
    finally:
        prometheus.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Scenario]]]:
    scenarios = [unnoticed(), dependency_first(), flapping()]
    with serving(tmp_path_factory.mktemp("leads-prometheus"), scenarios) as url:
        yield url, {sc.name: sc for sc in scenarios}


def findings_of(server: tuple[str, dict[str, Scenario]], name: str) -> dict[str, Any]:
    url, scenarios = server
    sc = scenarios[name]
    source = PrometheusSource("prom", {"url": url, "preset": sc.convention}, SourceContext())
    evidence = source.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    )
    data = findings_to_json(analyse(evidence, {}))
    ids = {q["id"] for s in data["sources"] for q in s["queries"]}
    assert all(set(s["evidence"]) <= ids for s in data["suspects"])
    return data


def seconds_between(a: str | None, b: dt.datetime) -> float:
    assert a is not None
    return abs((dt.datetime.fromisoformat(a) - b).total_seconds())


def test_an_incident_no_alert_saw(server: tuple[str, dict[str, Scenario]]) -> None:
    data = findings_of(server, "leads_unnoticed")
    inc = data["incident"]
    assert inc["found"] and inc["first_alert"] is None and inc["mttd_seconds"] is None
    assert data["figures"]["mttd"]["value"] is None
    assert data["detection"][0]["kind"] == "no_alert"
    assert data["detection"][0]["alert"] is None
    assert seconds_between(data["detection"][0]["at"], t(f"{DAY} 10:00")) <= 15
    assert [c["service"] for c in inc["cascade"]] == ["checkout"]


def test_a_dependency_failing_first_leads_the_cascade(
    server: tuple[str, dict[str, Scenario]],
) -> None:
    data = findings_of(server, "leads_dependency_first")
    first, second = data["incident"]["cascade"]
    assert first["service"] == "payments" and second["service"] == "checkout"
    assert first["sli"] == "error_ratio" and first["lag_seconds"] == 0
    assert seconds_between(first["first_breach_at"], t(f"{DAY} 14:00")) <= 15
    assert second["lag_seconds"] == pytest.approx(240, abs=30)
    kinds = {g["kind"]: g for g in data["detection"]}
    assert "no_alert" not in kinds and kinds["unalerted_service"]["service"] == "payments"
    upstream = [s for s in data["suspects"] if s["kind"] == "upstream"]
    assert [s["service"] for s in upstream] == ["payments"]


def test_a_flapping_alert_counts_its_episodes(server: tuple[str, dict[str, Scenario]]) -> None:
    data = findings_of(server, "flapping")
    (flap,) = [g for g in data["detection"] if g["kind"] == "flapping"]
    assert flap["alert"] == "HighErrorRate" and flap["episodes"] == 4
