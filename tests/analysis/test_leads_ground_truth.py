"""Ground truth for the suspects through real Prometheus and Elasticsearch servers.

Two incidents whose trigger is known, backfilled into a Prometheus of this module's own
and their ECS logs (errors and change events) into an index of their own on the session's
Elasticsearch node; both sources collect, the evidence merges, the analysis ranks:

- a deploy 3 minutes before impact (and an unrelated config change 40 minutes earlier):
  rank 1 is that deploy, kind ``change``;
- a deploy two hours before impact, undone by a rollback that recovery followed:
  rank 1 is that deploy, kind ``rollback_recovery``, however old it is.

Each lead's evidence names queries of the same findings' sources.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.analysis.live_truth import at, collect_findings, load_logs
from tests.analysis.test_leads_live_prometheus import serving
from tests.infra.es import ElasticsearchNode
from tests.scenarios import (
    AlertSpec,
    ChangeEvent,
    LogSignature,
    Phase,
    Scenario,
    ServiceProfile,
    t,
)

pytestmark = [pytest.mark.prometheus, pytest.mark.elasticsearch]

DAY = "2026-04-21"
#: The other incident's day: its logs and changes must not fall in the first one's window.
DAY2 = "2026-04-22"
INDEX = "pmrecon-leadstest-logs"


def timeouts(service: str) -> LogSignature:
    return LogSignature(
        key=f"{service}-timeout",
        service=service,
        template="Upstream ledger timed out after {n}ms for order {uuid}",
        error_type="LedgerTimeoutError",
        per_failures=25,
    )


def deploy_before() -> Scenario:
    """checkout fails at 10:00, three minutes after its deploy; cart's config changed at 09:17."""
    return Scenario(
        "leads_deploy_before",
        t(f"{DAY} 09:00"),
        t(f"{DAY} 11:30"),
        services=[
            ServiceProfile(
                "checkout", rps=20, phases=(Phase(t(f"{DAY} 10:00"), t(f"{DAY} 10:30"), 0.3),)
            ),
            ServiceProfile("cart", rps=10),
        ],
        alerts=[AlertSpec("HighErrorRate", "checkout", ((t(f"{DAY} 10:02"), t(f"{DAY} 10:31")),))],
        log_signatures=[timeouts("checkout")],
        change_events=[
            ChangeEvent(t(f"{DAY} 09:17"), "cart", "config_change", "cfg-12"),
            ChangeEvent(t(f"{DAY} 09:57"), "checkout", "deploy", "5.2.0"),
        ],
        description="a deploy three minutes before impact",
    )


def rolled_back() -> Scenario:
    """payments deployed at 07:45, failing from 09:45; rolled back at 10:10, healthy at 10:15."""
    return Scenario(
        "leads_rolled_back",
        t(f"{DAY2} 07:30"),
        t(f"{DAY2} 11:30"),
        services=[
            ServiceProfile(
                "payments", rps=16, phases=(Phase(t(f"{DAY2} 09:45"), t(f"{DAY2} 10:15"), 0.25),)
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "payments", ((t(f"{DAY2} 09:47"), t(f"{DAY2} 10:16")),))
        ],
        log_signatures=[timeouts("payments")],
        change_events=[
            ChangeEvent(t(f"{DAY2} 07:45"), "payments", "deploy", "3.0.0"),
            ChangeEvent(t(f"{DAY2} 10:10"), "payments", "rollback", "2.9.4", actor="alice"),
        ],
        description="a deploy two hours before impact, undone by a rollback before recovery",
    )


SCENARIOS = {sc.name: sc for sc in (deploy_before(), rolled_back())}


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("leads-truth-prometheus")
    with serving(root, list(SCENARIOS.values())) as url:
        yield url


@pytest.fixture
def logs_url(es_node: ElasticsearchNode) -> str:
    return load_logs(es_node, INDEX, SCENARIOS.values())


def findings_of(prometheus_url: str, logs_url: str, name: str) -> dict[str, Any]:
    return collect_findings(prometheus_url, logs_url, INDEX, SCENARIOS[name])


def test_a_deploy_three_minutes_before_impact_is_rank_one(
    prometheus_url: str, logs_url: str
) -> None:
    data = findings_of(prometheus_url, logs_url, "leads_deploy_before")
    first = data["suspects"][0]
    assert first["kind"] == "change" and first["service"] == "checkout"
    assert first["summary"] == "Deployed checkout to 5.2.0 by ci-bot"
    assert at(first["at"]) == t(f"{DAY} 09:57")
    assert first["lead_seconds"] == pytest.approx(180, abs=15) and first["score"] > 0.8
    cart = [s for s in data["suspects"] if s["service"] == "cart"]
    assert all(s["score"] < 0.5 for s in cart)


def test_a_rolled_back_deploy_two_hours_earlier_is_rank_one(
    prometheus_url: str, logs_url: str
) -> None:
    data = findings_of(prometheus_url, logs_url, "leads_rolled_back")
    first = data["suspects"][0]
    assert first["kind"] == "rollback_recovery" and first["service"] == "payments"
    assert at(first["at"]) == t(f"{DAY2} 07:45")
    assert first["summary"] == "Deployed payments to 3.0.0 by ci-bot"
    assert first["related"] == "Rolled back payments to 2.9.4 by alice"
    assert first["lead_seconds"] == pytest.approx(2 * 3600, abs=15)
