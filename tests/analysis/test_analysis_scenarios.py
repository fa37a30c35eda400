"""Ground truth: analysis over the shared scenario catalogue, compared with ``scenario.truth``.

The evidence is what the connectors would return for each scenario
(:func:`tests.evidence_factory.evidence_from_scenario`); the true answers come from
the scenario's declaration (``tests/scenarios.py``), never from pmrecon's code.
Tolerances (issue 5): instants within one step, ratios within 0.01, availability
within 0.001, MTTD/MTTR within two steps. Each scenario runs twice: with exact per-step
samples, and with error ratio and latency computed over a 60 s rate window at a 15 s step,
as the Prometheus connector's PromQL does (a breach then shows for a window after it ended).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json, validate_findings
from tests.evidence_factory import evidence_from_scenario
from tests.scenarios import SCENARIOS, Scenario
from tests.schemacheck import as_written

PARIS = ("midnight_paris", "dst_paris", "clean_single", "two_incidents")


def run(
    sc: Scenario, rate_window: float | None = None, count_step: float | None = None
) -> dict[str, Any]:
    tz = "Europe/Paris" if sc.name in PARIS else "UTC"
    ev = evidence_from_scenario(sc, rate_window=rate_window, count_step=count_step)
    data = findings_to_json(analyse(ev, {}, timezone=tz))
    validate_findings(as_written(data))
    return data


def parse(s: str | None) -> dt.datetime | None:
    return None if s is None else dt.datetime.fromisoformat(s)


def close(got: str | None, want: dt.datetime | None, tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs((parse(got) - want).total_seconds()) <= tol  # type: ignore[operator]


@pytest.fixture(
    scope="module",
    params=[
        (name, w, c)
        for name in sorted(SCENARIOS)
        for w, c in ((None, None), (60.0, None), (60.0, 30.0))
    ],
    ids=lambda p: f"{p[0]}-{'exact' if not p[1] else 'rate60s' if not p[2] else 'counts30s'}",
)
def case(request: pytest.FixtureRequest) -> tuple[Scenario, dict[str, Any]]:
    """Each scenario three times: exact per-step samples, PromQL-like ``rate(x[60s])``
    samples, and those with request counts per 30 s (two scrapes) as the connector reads them."""
    name, rate_window, count_step = request.param
    sc = SCENARIOS[name]()
    return sc, run(sc, rate_window, count_step)


def _main_truth(sc: Scenario, inc: dict[str, Any]) -> dict[str, Any]:
    """The truth incident that the analysed (main) incident corresponds to."""
    start = parse(inc["impact_start"])
    assert start is not None
    return min(
        sc.truth["incidents"], key=lambda t: abs((t["impact_start"] - start).total_seconds())
    )


def test_incidents_found_match_truth(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    step = sc.scrape_interval
    truth = sc.truth["incidents"]
    inc = data["incident"]
    if not truth:
        assert inc["found"] is False and inc["status"] == "none"
        assert data["other_incidents"] == []
        assert all(v["at"] is None for k, v in data["instants"].items())
        return
    assert inc["found"] is True
    found = [(inc["impact_start"], inc["resolution"], inc["services"])] + [
        (o["impact_start"], o["resolution"], o["services"]) for o in data["other_incidents"]
    ]
    assert len(found) == len(truth)
    for t in truth:
        match = [f for f in found if close(f[0], t["impact_start"], step)]
        assert match, f"no incident starting near {t['impact_start']}: {found}"
        start, res, services = match[0]
        assert close(res, t["resolution"], step), (res, t["resolution"])
        names = services if isinstance(services[0], str) else [s["name"] for s in services]
        assert sorted(names) == sorted(t["services"])


def test_key_instants_within_one_step(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    step = sc.scrape_interval
    inc = data["incident"]
    if not sc.truth["incidents"]:
        # nothing to place on the timeline: every derived instant is null, never invented
        assert inc["found"] is False
        for key in ("impact_start", "first_alert", "mitigation_start", "resolution", "end"):
            assert inc[key] is None and data["instants"][key]["at"] is None, key
        return
    t = _main_truth(sc, inc)
    assert close(inc["impact_start"], t["impact_start"], step)
    assert close(inc["first_alert"], t["first_alert"], step)
    assert close(inc["resolution"], t["resolution"], step)
    if sc.truth["mitigation_start"] is not None:
        assert close(inc["mitigation_start"], sc.truth["mitigation_start"], step)
    assert inc["status"] == ("ongoing" if t["resolution"] is None else "resolved")
    # the instants block says the same as the incident block
    for key in ("impact_start", "first_alert", "mitigation_start", "resolution", "end"):
        assert data["instants"][key]["at"] == inc[key]
    assert data["instants"]["impact_start"]["uncertainty_seconds"] <= step


def test_mttd_mttr_within_two_steps(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    step = sc.scrape_interval
    inc = data["incident"]
    if not sc.truth["incidents"]:
        assert inc["mttd_seconds"] is None and inc["mttr_seconds"] is None
        return
    t = _main_truth(sc, inc)
    mttd = (t["first_alert"] - t["impact_start"]).total_seconds()
    assert abs(inc["mttd_seconds"] - mttd) <= 2 * step
    if t["resolution"] is None:
        assert inc["mttr_seconds"] is None and inc["duration_seconds"] is None
        assert inc["ongoing_at_end"] is True
    else:
        mttr = (t["resolution"] - t["impact_start"]).total_seconds()
        assert abs(inc["mttr_seconds"] - mttr) <= 2 * step
        assert inc["duration_seconds"] == inc["mttr_seconds"]
    assert inc["mtta_seconds"] is None  # no acknowledgement given


def test_availability_and_failed_requests(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    inc = data["incident"]
    truth = sc.truth
    # the interval's ends are known within one step: allow one count step of failed requests
    count_step = max(
        [q["step_seconds"] or 0 for src in data["sources"] for q in src["queries"]]
        + [sc.scrape_interval]
    )
    one_step = sum(s.rps for s in sc.services) * count_step * truth["max_error_ratio"]["value"]
    if len(truth["incidents"]) <= 1:
        assert inc["availability"]["value"] == pytest.approx(truth["availability"], abs=0.001)
        assert inc["failed_requests"] == pytest.approx(truth["failed_requests"], abs=one_step)
        every = truth["availability_all_services"]
        assert inc["availability_all_services"] == pytest.approx(every, abs=0.001)
        assert data["figures"]["availability_all_services"]["value"] == pytest.approx(
            every, abs=0.001
        )
        failed_all = truth["failed_requests_all_services"]
        assert inc["failed_requests_all_services"] == pytest.approx(failed_all, abs=one_step)
        return
    # several incidents: the truth's figure spans them all; recompute it for the main one
    # from the generator's own per-step counts
    a = parse(inc["impact_start"]).timestamp()  # type: ignore[union-attr]
    b = parse(inc["resolution"]).timestamp()  # type: ignore[union-attr]
    total = bad = 0
    for svc in sc.services:
        for r in sc._steps[svc.name]:
            if a < r["t"] <= b:
                total += r["total"]
                bad += r["bad"]
    assert inc["availability"]["value"] == pytest.approx(1 - bad / total, abs=0.001)
    assert inc["failed_requests"] == pytest.approx(bad, abs=0.5)


def test_headline_availability_is_the_impacted_services(
    case: tuple[Scenario, dict[str, Any]],
) -> None:
    """A busier service that was fine does not dilute the headline (issue 15, item 6)."""
    sc, data = case
    if sc.name != "busy_neighbour":
        return
    inc = data["incident"]
    (checkout,) = inc["services"]
    assert checkout["name"] == "checkout" and sc.truth["impacted_services"] == ["checkout"]
    assert inc["availability"]["value"] == pytest.approx(checkout["availability"], abs=0.001)
    assert inc["availability"]["value"] == pytest.approx(0.85, abs=0.001)
    assert inc["availability_all_services"] == pytest.approx(1 - 0.15 / 4, abs=0.002)
    assert "impacted services" in data["figures"]["availability"]["definition"]
    budget = inc["error_budget_consumed"]
    want = (1 - inc["availability"]["value"]) * inc["duration_seconds"] / (0.001 * 30 * 86400)
    assert budget["value"] == pytest.approx(want, rel=1e-6)


def test_novelty_judged_against_baseline_and_before_impact(
    case: tuple[Scenario, dict[str, Any]],
) -> None:
    """New means absent from the baseline and from the window before impact; else unknown."""
    sc, data = case
    if len(sc.truth["incidents"]) > 1:
        return  # the truth judges against the first incident, the analysis the main one
    truth = {x["error_type"]: x["new"] for x in sc.truth["signatures"] if x["level"] == "error"}
    got = {e["signature"]: e["new_since_baseline"] for e in data["top_errors"]}
    for error_type, new in truth.items():
        assert got[error_type] is new, (error_type, got)
    if sc.name == "logs_from_window_start":
        # no log in the baseline; the steady error is there from the first minute
        assert got["LedgerRetryError"] is False and got["UpstreamTimeoutError"] is True
        first = parse(
            next(e for e in data["top_errors"] if e["signature"] == "LedgerRetryError")[
                "first_seen"
            ]
        )
        assert first - sc.start < dt.timedelta(minutes=1)  # type: ignore[operator]


def test_peaks(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    step = sc.scrape_interval
    inc = data["incident"]
    truth = sc.truth
    if len(truth["incidents"]) == 1 or not truth["incidents"]:
        want = truth["max_error_ratio"]
        got = inc["max_error_rate"]
        assert got["value"] == pytest.approx(want["value"], abs=0.01)
        if want["value"] > 0.01:  # a baseline-level maximum has no meaningful time
            assert got["service"] == want["service"]
            # on a plateau the measured maximum may be any of its steps (counts are integers)
            plateau_end = sc.truth["resolution"] or sc.end
            at = parse(got["at"])
            assert want["at"] - dt.timedelta(seconds=step) <= at <= plateau_end  # type: ignore[operator]
    p99 = inc["max_latency_seconds"]
    assert p99["quantile"] == 0.99
    # the highest p99 lies in the histogram bucket of the worst declared latency
    want = max(truth["p99"].values(), key=lambda x: x["latency"])
    if not truth["incidents"] or len(truth["incidents"]) == 1:
        assert want["lo"] <= p99["value"] <= want["hi"]
    q = [x["quantile"] for x in inc["max_latency_by_quantile"]]
    assert q == sorted(q) and q[-1] == 0.99


def test_timezone_offsets_in_output(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    assert data["window"]["timezone"] == ("Europe/Paris" if sc.name in PARIS else "UTC")
    if sc.name == "midnight_paris":
        assert data["incident"]["impact_start"] == "2026-02-23T23:45:00+01:00"
        assert data["incident"]["resolution"] == "2026-02-24T00:25:00+01:00"
    if sc.name == "dst_paris":
        # 00:40 UTC is 01:40 CET; 01:30 UTC is 03:30 CEST (clocks jumped at 02:00 CET)
        assert data["incident"]["impact_start"] == "2026-03-29T01:40:00+01:00"
        assert data["incident"]["resolution"] == "2026-03-29T03:30:00+02:00"
        assert data["window"]["from"].endswith("+01:00") and data["window"]["to"].endswith("+02:00")
    if sc.name not in PARIS:
        assert data["window"]["from"].endswith("+00:00")


def test_edge_cases_said_plainly(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    codes = {w["code"] for w in data["warnings"]}
    if sc.name == "in_progress":
        assert data["incident"]["status"] == "ongoing"
        assert data["incident"]["end"] is None and data["incident"]["elapsed_seconds"] > 0
        assert "ongoing_at_end" in codes
    if sc.name == "two_incidents":
        assert len(data["other_incidents"]) == 1 and "several_incidents" in codes
    if sc.name == "scrape_gap":
        gaps = [g for g in data["gaps"] if g["service"] == "shipping"]
        assert gaps and "gaps" in codes
        g0, g1 = sc.gaps[0][0], sc.gaps[0][1]
        assert any(close(g["start"], g0, 15) and close(g["end"], g1, 15) for g in gaps), gaps
    elif data["incident"]["found"]:
        assert data["gaps"] == []
    if sc.name == "flapping":
        alert = next(a for a in data["alerts"] if a["name"] == "HighErrorRate")
        assert len(alert["firing"]) == 4 and alert["in_incident"]
        assert data["other_incidents"] == []
    if sc.name == "latency_only":
        (svc,) = data["incident"]["services"]
        assert "latency" in svc["signals"] and "error_ratio" not in svc["signals"]


def test_timeline_and_top_errors(case: tuple[Scenario, dict[str, Any]]) -> None:
    sc, data = case
    at = [parse(r["at"]) for r in data["timeline"]]
    assert at == sorted(at)  # type: ignore[type-var]
    kinds = [r["kind"] for r in data["timeline"]]
    if data["incident"]["found"]:
        assert "impact_start" in kinds and "first_alert" in kinds
    for ch in sc.truth["change_events"]:
        assert any(
            r["kind"] == ch["kind"] and close(r["at"], ch["at"], 0) for r in data["timeline"]
        )
    new = [e for e in data["top_errors"] if e["new_since_baseline"]]
    assert data["top_errors"][: len(new)] == new  # new signatures first
    if sc.truth["new_signatures"] and len(sc.truth["incidents"]) <= 1:
        assert "new_error" in kinds
