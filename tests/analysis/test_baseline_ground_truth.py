"""Ground truth through real Prometheus and Elasticsearch: what the baseline period holds.

Two incidents, backfilled into a Prometheus of this module's own and their ECS logs (errors,
change events) into an index of their own on the session's Elasticsearch node:

- the impact began 10 minutes before ``--from``, and with it a new error signature: its
  first lines are in the baseline period, after the impact start found there, so it is
  reported new; a signature logged all along (in the clean part of the baseline too) is not;
- a deploy before the window (in the baseline period), undone by a rollback inside it that
  recovery followed: rank 1 is that deploy, kind ``rollback_recovery``, and it is on the
  timeline although it predates the window; with ``changes.max_events`` below the
  baseline's changes, the newest (nearest the window) are kept, and a warning says so.

See "Top errors" (novelty rule), "Suspects" and "Timeline" in docs/definitions.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.elasticsearch import ElasticsearchSource
from pmrecon.model import Window
from tests.analysis.live_truth import at, collect_findings, load_logs
from tests.analysis.test_leads_live_prometheus import serving
from tests.infra.es import ElasticsearchNode
from tests.scenarios import ChangeEvent, LogSignature, Phase, Scenario, ServiceProfile, t

pytestmark = [pytest.mark.prometheus, pytest.mark.elasticsearch]

DAY = "2026-05-04"
DAY2 = "2026-05-05"  # the other incident's day: its logs stay out of the first one's periods
INDEX = "pmrecon-baselinetest-logs"
IMPACT_START = t(f"{DAY} 10:50")


def began_before_from() -> Scenario:
    """checkout failing from 10:50, ten minutes before the window; its pool errors with it."""
    return Scenario(
        "baseline_new_signature",
        t(f"{DAY} 11:00"),
        t(f"{DAY} 12:30"),
        services=[
            ServiceProfile(
                "checkout", rps=20, phases=(Phase(IMPACT_START, t(f"{DAY} 11:30"), 0.25),)
            ),
            ServiceProfile("cart", rps=10),
        ],
        log_signatures=[
            LogSignature(
                key="checkout-pool",
                service="checkout",
                template="Connection pool exhausted: {n} waiting, handle {hex}",
                error_type="PoolExhaustedError",
                per_failures=20,
            ),
            LogSignature(
                key="checkout-legacy",
                service="checkout",
                template="Legacy endpoint /v1/cart called by client {hex} ({n} calls today)",
                error_type="DeprecatedApiError",
                mode="periodic",
                every_seconds=420,
            ),
        ],
        description="the impact and its new error began 10 minutes before --from",
    )


def deployed_before_window() -> Scenario:
    """payments deployed at 09:15 (before the window), failing from 10:30, rolled back at
    10:55, healthy at 11:00; ledger's config changed at 08:30, two hours before impact."""
    return Scenario(
        "baseline_rolled_back",
        t(f"{DAY2} 10:00"),
        t(f"{DAY2} 12:00"),
        services=[
            ServiceProfile(
                "payments", rps=16, phases=(Phase(t(f"{DAY2} 10:30"), t(f"{DAY2} 11:00"), 0.25),)
            ),
        ],
        log_signatures=[
            LogSignature(
                key="payments-timeout",
                service="payments",
                template="Upstream ledger timed out after {n}ms for order {uuid}",
                error_type="LedgerTimeoutError",
                per_failures=25,
            )
        ],
        change_events=[
            ChangeEvent(t(f"{DAY2} 08:30"), "ledger", "config_change", "cfg-3"),
            ChangeEvent(t(f"{DAY2} 09:15"), "payments", "deploy", "3.0.0"),
            ChangeEvent(t(f"{DAY2} 10:55"), "payments", "rollback", "2.9.4", actor="alice"),
        ],
        description="a deploy before the window, undone by a rollback inside it",
    )


SCENARIOS = {sc.name: sc for sc in (began_before_from(), deployed_before_window())}


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("baseline-truth-prometheus")
    with serving(root, list(SCENARIOS.values())) as url:
        yield url


@pytest.fixture
def logs_url(es_node: ElasticsearchNode) -> str:
    return load_logs(es_node, INDEX, SCENARIOS.values())


def findings_of(prometheus_url: str, logs_url: str, name: str) -> dict[str, Any]:
    return collect_findings(prometheus_url, logs_url, INDEX, SCENARIOS[name], language="en")


def first_line(sc: Scenario, error_type: str) -> dt.datetime:
    """When the scenario's first line of ``error_type`` was logged."""
    first = next(d for d in sc.log_docs() if d.get("error.type") == error_type)
    return at(first["@timestamp"].replace("Z", "+00:00"))


def test_a_signature_that_began_with_the_incident_in_the_baseline_is_new(
    prometheus_url: str, logs_url: str
) -> None:
    sc = SCENARIOS["baseline_new_signature"]
    data = findings_of(prometheus_url, logs_url, sc.name)
    impact = data["instants"]["impact_start"]
    assert impact["found_before_window"] is True
    assert abs((at(impact["at"]) - IMPACT_START).total_seconds()) <= sc.scrape_interval
    errors = {e["signature"]: e for e in data["top_errors"]}
    pool, legacy = errors["PoolExhaustedError"], errors["DeprecatedApiError"]
    assert pool["baseline_count"] > 0 and pool["new_since_baseline"] is True
    assert legacy["baseline_count"] > 0 and legacy["new_since_baseline"] is False
    # its timeline row and its lead are at its first line, before the window
    pool_first = first_line(sc, "PoolExhaustedError")
    assert IMPACT_START <= pool_first < sc.start
    (row,) = [r for r in data["timeline"] if r["kind"] == "new_error"]
    assert "PoolExhaustedError" in row["text"] and at(row["at"]) == pool_first
    (lead,) = [s for s in data["suspects"] if s["kind"] == "new_error"]
    assert lead["summary"] == "PoolExhaustedError" and at(lead["at"]) == pool_first
    (judged,) = [w for w in data["warnings"] if w["code"] == "novelty_from_baseline_start"]
    assert (judged["params"]["new"], judged["params"]["known"]) == (1, 1)
    assert not [w for w in data["warnings"] if w["code"] == "novelty_unreliable"]


def test_a_deploy_before_the_window_undone_by_a_rollback_is_rank_one(
    prometheus_url: str, logs_url: str
) -> None:
    sc = SCENARIOS["baseline_rolled_back"]
    data = findings_of(prometheus_url, logs_url, sc.name)
    first = data["suspects"][0]
    assert first["rank"] == 1 and first["kind"] == "rollback_recovery"
    assert first["service"] == "payments" and at(first["at"]) == t(f"{DAY2} 09:15")
    assert first["summary"] == "Deployed payments to 3.0.0 by ci-bot"
    assert first["related"] == "Rolled back payments to 2.9.4 by alice"
    # the query that read it, over the baseline period, is one of the lead's references
    queries = {q["id"]: q for s in data["sources"] for q in s["queries"]}
    assert any("baseline period" in queries[ref]["purpose"] for ref in first["evidence"])
    # the deploy is on the timeline (a lead names it), before the window; ledger's change two
    # hours before impact is in the evidence, too far to be a lead, and off the timeline
    deploys = [r for r in data["timeline"] if r["kind"] == "deploy"]
    assert [at(r["at"]) for r in deploys] == [t(f"{DAY2} 09:15")]
    assert not [r for r in data["timeline"] if r["kind"] == "config_change"]


def test_the_changes_nearest_the_window_are_kept_when_the_baseline_holds_too_many(
    logs_url: str,
) -> None:
    sc = SCENARIOS["baseline_rolled_back"]
    source = ElasticsearchSource(
        "logs",
        {"hosts": [logs_url], "index": INDEX, "changes": {"max_events": 1}},
        SourceContext(),
    )
    evidence = source.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    )
    assert [(e.at, e.kind) for e in evidence.events] == [
        (t(f"{DAY2} 09:15"), "deploy"),
        (t(f"{DAY2} 10:55"), "rollback"),
    ]
    (cut,) = [w for w in evidence.warnings if w.code.startswith("changes_")]
    assert cut.code == "changes_before_truncated" and cut.params == {"total": 2, "read": 1}
