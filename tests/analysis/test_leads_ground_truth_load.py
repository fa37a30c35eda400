"""Ground truth for the suspects where no change is the trigger: a surge, and nothing at all.

Two incidents backfilled into a Prometheus of this module's own, their ECS logs (errors and
change events) into an index of their own on the session's Elasticsearch node; both
sources collect, the evidence merges, the analysis ranks:

- a traffic surge (×50 throughput on checkout from 09:57, failing from 10:00), with the new
  error signature it brings and an unrelated config change 40 minutes earlier: rank 1 is
  ``load`` on checkout, above the new error (which would be rank 1 without the load rule);
- flat noise: search's traffic wanders ±40 % from minute to minute all day, its errors
  rise at 10:00 with nothing in the evidence to explain them; its own deploy 20 minutes
  before and cart's config change 5 minutes before are leads, but none scores above 0.5
  (docs/definitions.md: "flat evidence gives no lead above 0.5"). A change rule that
  forgot the lead time or the service's relevance would put one of them above it.

Each lead's evidence names queries of the same findings' sources.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.analysis.live_truth import collect_findings, load_logs
from tests.analysis.test_leads_live_prometheus import serving
from tests.infra.es import ElasticsearchNode
from tests.scenarios import ChangeEvent, LogSignature, Phase, Scenario, ServiceProfile, t

pytestmark = [pytest.mark.prometheus, pytest.mark.elasticsearch]

DAY = "2026-04-27"
#: The other incident's day: its logs and changes must not fall in the first one's window.
DAY2 = "2026-04-28"
INDEX = "pmrecon-leadsload-logs"
SURGE = 50


def surge() -> Scenario:
    """checkout's traffic jumps ×50 at 09:57; from 10:00 to 10:30 a fifth of it fails; no deploy."""
    return Scenario(
        "leads_surge",
        t(f"{DAY} 09:00"),
        t(f"{DAY} 11:30"),
        services=[
            ServiceProfile(
                "checkout",
                rps=10,
                phases=(
                    Phase(t(f"{DAY} 09:57"), t(f"{DAY} 10:00"), rps=10 * SURGE),
                    Phase(t(f"{DAY} 10:00"), t(f"{DAY} 10:30"), 0.2, 0.6, rps=10 * SURGE),
                ),
            ),
            ServiceProfile("cart", rps=10),
        ],
        log_signatures=[
            LogSignature(
                key="checkout-pool",
                service="checkout",
                template="Connection pool exhausted after {n}ms for order {uuid}",
                error_type="PoolExhaustedError",
                per_failures=400,
            )
        ],
        change_events=[ChangeEvent(t(f"{DAY} 09:20"), "cart", "config_change", "cfg-7")],
        description="a traffic surge with no change",
    )


def wandering(day: str, rps: float, seed: str) -> tuple[Phase, ...]:
    """Traffic drawn anew every minute between 0.6 and 1.4 × ``rps``, over the whole data span."""
    rng = random.Random(seed)
    start, end = t(f"{day} 05:30"), t(f"{day} 12:30")
    minutes = int((end - start).total_seconds() // 60)
    return tuple(
        Phase(
            start + dt.timedelta(minutes=m),
            start + dt.timedelta(minutes=m + 1),
            rps=round(rps * rng.uniform(0.6, 1.4), 1),
        )
        for m in range(minutes)
    )


def flat_noise() -> Scenario:
    """search fails from 10:00 to 10:30 with nothing but noise around it."""
    failing = Phase(t(f"{DAY2} 10:00"), t(f"{DAY2} 10:30"), 0.15, rps=20)
    return Scenario(
        "leads_flat_noise",
        t(f"{DAY2} 09:00"),
        t(f"{DAY2} 11:30"),
        services=[
            # the last phase that matches wins: the failing half hour keeps its own traffic
            ServiceProfile("search", rps=20, phases=(*wandering(DAY2, 20, "search"), failing)),
            ServiceProfile("cart", rps=10, phases=wandering(DAY2, 10, "cart")),
        ],
        log_signatures=[
            # an error logged all day long, the baseline included: not new, not a lead
            LogSignature(
                key="search-slow-shard",
                service="search",
                template="Shard {n} answered slowly for query {hex}",
                mode="periodic",
                every_seconds=300,
            )
        ],
        change_events=[
            ChangeEvent(t(f"{DAY2} 09:40"), "search", "deploy", "7.1.0"),
            ChangeEvent(t(f"{DAY2} 09:55"), "cart", "config_change", "cfg-31"),
        ],
        description="an incident in flat noise, with no trigger in the evidence",
    )


SCENARIOS = {sc.name: sc for sc in (surge(), flat_noise())}


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("leads-load-prometheus")
    with serving(root, list(SCENARIOS.values())) as url:
        yield url


@pytest.fixture
def logs_url(es_node: ElasticsearchNode) -> str:
    """The node, holding this module's logs in an index of their own (loaded once per node)."""
    return load_logs(es_node, INDEX, list(SCENARIOS.values()))


def findings_of(prometheus_url: str, logs_url: str, name: str) -> dict[str, Any]:
    return collect_findings(prometheus_url, logs_url, INDEX, SCENARIOS[name])


def at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


def test_a_traffic_surge_with_no_change_is_a_load_lead_at_rank_one(
    prometheus_url: str, logs_url: str
) -> None:
    data = findings_of(prometheus_url, logs_url, "leads_surge")
    assert at(data["incident"]["impact_start"]) == t(f"{DAY} 10:00")
    first = data["suspects"][0]
    assert first["kind"] == "load" and first["service"] == "checkout", data["suspects"]
    # the rise began at 09:57 (a rate over a minute sees it whole a minute later)
    assert abs((at(first["at"]) - t(f"{DAY} 09:57")).total_seconds()) <= 60
    assert first["ratio"] == pytest.approx(SURGE, rel=0.1) and first["score"] == 1.0
    # the surge's own errors are a new signature, a symptom ranked below the surge
    kinds = [s["kind"] for s in data["suspects"]]
    assert "new_error" in kinds[1:] and "load" not in kinds[1:]
    assert all(s["score"] < 0.1 for s in data["suspects"] if s["service"] == "cart")


def test_flat_noise_gives_no_lead_above_one_half(prometheus_url: str, logs_url: str) -> None:
    data = findings_of(prometheus_url, logs_url, "leads_flat_noise")
    inc = data["incident"]
    assert inc["found"] and at(inc["impact_start"]) == t(f"{DAY2} 10:00")
    assert [c["service"] for c in inc["cascade"]] == ["search"]
    # the leads were weighed (both changes are there), and none is above one half
    changes = {s["service"]: s for s in data["suspects"] if s["kind"] == "change"}
    assert set(changes) == {"search", "cart"}
    assert {s["kind"] for s in data["suspects"]} == {"change"}  # no load, no new error
    assert max(s["score"] for s in data["suspects"]) <= 0.5, data["suspects"]
