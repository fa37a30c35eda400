"""Where the errors concentrate: breakdowns by instance, route and status, the lead they make.

Each case builds the breakdowns by hand, so its true answer is stated here: one instance of
five failing is one node; one route failing on every instance is not a node; errors that
follow the traffic, or too few of them, are no lead.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.bundle import bundle_files, evidence_from_files
from pmrecon.analysis.concentration import excess, service_concentration
from pmrecon.errors import EvidenceError
from pmrecon.model import Breakdown, Evidence, QueryRecord, SourceInfo
from tests.analysis.test_leads import W0, W1, D, failing, iso, run
from tests.evidence_factory import build

STEP = 60.0
INSTANCES = [f"10.0.0.{i}:8080" for i in range(1, 6)]


def counts(start: float, end: float, bad: float, total: float) -> tuple[list[float], ...]:
    """One value's steps in (start, end]: ``bad`` and ``total`` requests each."""
    grid = [start + STEP * (i + 1) for i in range(int((end - start) // STEP))]
    return grid, [bad] * len(grid), [total] * len(grid)


def breakdown(
    service: str,
    label: str,
    role: str,
    value: str,
    bad: float,
    total: float,
    *,
    span: tuple[float, float] = (W0.timestamp(), W1.timestamp()),
    baseline: bool = False,
    ref: str = "prom:q-by",
) -> Breakdown:
    grid, b, t = counts(*span, bad, total)
    return Breakdown(service, label, role, value, grid, b, t, STEP, baseline, ref)


def node_failing(service: str = "api", bad_instance: int = 2) -> list[Breakdown]:
    """``service`` on five instances; only one answers with errors (60 of its 100 a step)."""
    out = [
        breakdown(service, "instance", "location", inst, 60.0 if i == bad_instance else 0.0, 100)
        for i, inst in enumerate(INSTANCES)
    ]
    out += [
        breakdown(service, "route", "route", route, 30.0, 250)
        for route in ("/api/pay", "/api/cart")
    ]
    out.append(breakdown(service, "code", "status", "500", 60.0, 60))
    out.append(breakdown(service, "code", "status", "200", 0.0, 440))
    return out


def route_failing(service: str = "api") -> list[Breakdown]:
    """``service`` on three instances; route /api/pay fails on all of them alike, with 503s."""
    out = [breakdown(service, "instance", "location", inst, 20.0, 100) for inst in INSTANCES[:3]]
    out.append(breakdown(service, "route", "route", "/api/pay", 60.0, 100))
    out.append(breakdown(service, "route", "route", "/api/cart", 0.0, 200))
    out.append(breakdown(service, "code", "status", "503", 60.0, 60))
    out.append(breakdown(service, "code", "status", "200", 0.0, 240))
    return out


def test_one_instance_of_five_is_one_node() -> None:
    found = service_concentration(node_failing(), "api", None, None)
    assert found is not None and found.node
    best = found.best
    assert (best.label, best.value) == ("instance", INSTANCES[2])
    assert best.share == 1.0 and best.traffic_share == pytest.approx(0.2)
    assert best.excess == 1.0 and found.spread is None
    assert found.location is not None and found.location.values == 5
    assert found.status is not None and found.status.value == "500"


def test_one_route_failing_on_every_instance_is_not_a_node() -> None:
    found = service_concentration(route_failing(), "api", None, None)
    assert found is not None and not found.node
    assert [(s.label, s.value) for s in found.labels] == [("route", "/api/pay")]
    assert found.best.traffic_share == pytest.approx(1 / 3)
    assert found.spread == 3
    assert found.status is not None and found.status.value == "503"


def test_errors_that_follow_the_traffic_are_no_lead() -> None:
    flat = [breakdown("api", "instance", "location", i, 1.0, 100) for i in INSTANCES]
    flat += [
        breakdown("api", "route", "route", "/a", 3.0, 300),
        breakdown("api", "route", "route", "/b", 2.0, 200),
    ]
    assert service_concentration(flat, "api", None, None) is None


def test_a_value_serving_most_of_the_traffic_is_no_lead_for_holding_most_errors() -> None:
    busy = [
        breakdown("api", "route", "route", "/", 9.0, 900),
        breakdown("api", "route", "route", "/health", 1.0, 100),
    ]
    assert excess(0.9, 0.9) == 0.0
    assert service_concentration(busy, "api", None, None) is None


def test_too_few_bad_requests_say_nothing() -> None:
    few = [
        breakdown("api", "instance", "location", i, 0.1 if n == 0 else 0.0, 100)
        for n, i in enumerate(INSTANCES)
    ]
    assert sum(sum(b.bad) for b in few) < 20
    assert service_concentration(few, "api", None, None) is None


def test_only_the_steps_of_the_incident_count() -> None:
    """Before the incident one instance held every error; during it, all five did alike."""
    w0, w1 = W0.timestamp(), W1.timestamp()
    mid = w0 + 3600
    before = [
        breakdown("api", "instance", "location", inst, 20.0 if n == 0 else 0.0, 100, span=(w0, mid))
        for n, inst in enumerate(INSTANCES)
    ]
    during = [
        breakdown("api", "instance", "location", inst, 1.0, 100, span=(mid, w1))
        for inst in INSTANCES
    ]
    assert service_concentration(before + during, "api", None, None) is not None
    assert service_concentration(before + during, "api", mid, w1) is None


def evidence_with(breakdowns: list[Breakdown], *failing_services: Any) -> Evidence:
    """api failing from 10:30 to 11:00 (factory series), plus ``breakdowns`` read by prom:q-by."""
    ev = build(W0, W1, list(failing_services) or [failing("api", "10:30", "11:00")])
    ev.breakdowns = breakdowns
    ev.sources.append(
        SourceInfo("by", "prometheus", queries=[QueryRecord("prom:q-by", "by", "breakdown", "q")])
    )
    return ev


def incident_span() -> tuple[float, float]:
    return D("10:30").timestamp(), D("11:00").timestamp()


def test_an_instance_holding_the_errors_is_a_concentration_lead_naming_it() -> None:
    data = run(evidence_with(node_failing()))
    (lead,) = [s for s in data["suspects"] if s["kind"] == "concentration"]
    assert lead["service"] == "api" and lead["summary"] == f'instance="{INSTANCES[2]}", code="500"'
    assert lead["evidence"] == ["prom:q-by"] and lead["at"] == iso(D("10:30"))
    assert lead["score"] == pytest.approx(0.9)  # api is first in its cascade
    figures = lead["concentration"]
    assert figures["node"] and figures["locations"] == 5 and figures["spread"] is None
    assert figures["share"] == 1.0 and figures["traffic_share"] == pytest.approx(0.2)
    assert data["suspects"][0]["kind"] == "concentration"


def test_a_route_failing_everywhere_is_named_with_its_spread() -> None:
    data = run(evidence_with(route_failing()))
    (lead,) = [s for s in data["suspects"] if s["kind"] == "concentration"]
    assert lead["summary"] == 'route="/api/pay", code="503"'
    figures = lead["concentration"]
    assert not figures["node"] and figures["spread"] == 3
    assert lead["score"] == pytest.approx(0.9 * (1 - 1 / 3) / (1 - 1 / 3))


def test_a_weak_spot_already_there_in_the_baseline_counts_half() -> None:
    b0, b1 = (W0 - (W1 - W0)).timestamp(), W0.timestamp()
    known = node_failing() + [
        breakdown(
            "api",
            "instance",
            "location",
            inst,
            1.0 if n == 2 else 0.0,
            100,
            span=(b0, b1),
            baseline=True,
        )
        for n, inst in enumerate(INSTANCES)
    ]
    (lead,) = [s for s in run(evidence_with(known))["suspects"] if s["kind"] == "concentration"]
    assert lead["concentration"]["baseline_share"] == 1.0
    assert lead["score"] == pytest.approx(0.45)


def test_no_breakdowns_no_concentration_and_no_key_on_other_leads() -> None:
    data = run(evidence_with([]))
    assert all(s["kind"] != "concentration" for s in data["suspects"])
    assert all("concentration" not in s for s in data["suspects"])


def test_breakdowns_of_a_service_not_impacted_make_no_lead() -> None:
    data = run(evidence_with(node_failing("quiet")))
    assert all(s["kind"] != "concentration" for s in data["suspects"])


def test_breakdowns_survive_the_bundle_exactly() -> None:
    ev = evidence_with(node_failing() + route_failing("web"))
    back = evidence_from_files(bundle_files(ev))
    assert back.breakdowns == ev.breakdowns
    assert run(back)["suspects"] == run(ev)["suspects"]


def test_a_bundle_without_breakdowns_has_no_breakdowns_file() -> None:
    assert "breakdowns.json" not in bundle_files(evidence_with([]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.bad.pop(), "1 bad"),
        (lambda b: b.total.__setitem__(0, float("nan")), "not a finite number"),
        (lambda b: b.bad.__setitem__(0, 1e200), "not a finite number"),
        (lambda b: b.timestamps.reverse(), "back in time"),
        (lambda b: setattr(b, "role", "node"), "role 'node' is not one of location"),
    ],
)
def test_a_malformed_breakdown_is_refused_by_name(change: Any, message: str) -> None:
    ev = evidence_with([breakdown("api", "instance", "location", "a", 1.0, 2.0, span=(0, 120))])
    change(ev.breakdowns[0])
    with pytest.raises(EvidenceError, match=rf"breakdowns\.json: \[0\].*{message}"):
        evidence_from_files(bundle_files(ev))
