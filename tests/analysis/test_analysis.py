"""Analysis on factory-built evidence: each case states its true answers by hand.

Factory semantics (tests/evidence_factory.py): samples every ``step`` from the window
start; the sample at ``t`` describes the step ``(t - step, t]``; a phase ``[a, b)``
aligned on the grid therefore owns the samples ``a + step … b``, so its impact starts
at ``a`` and resolves at ``b``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pmrecon.analysis import analyse
from pmrecon.findings import Findings, findings_to_json, validate_findings
from pmrecon.model import (
    ErrorSignature,
    Event,
    Evidence,
    SourceInfo,
    from_jsonable,
    to_jsonable,
)
from tests.evidence_factory import AlertDecl, Deg, LogDecl, Svc, T, build
from tests.schemacheck import as_written

W0, W1 = T("2026-03-02 10:00"), T("2026-03-02 12:00")


def D(hhmm: str) -> dt.datetime:
    return T(f"2026-03-02 {hhmm}")


def run(
    ev: Evidence, settings: dict[str, Any] | None = None, **kw: Any
) -> tuple[Findings, dict[str, Any]]:
    """Analyse, validate against the schema, and check determinism."""
    f = analyse(ev, settings or {}, **kw)
    data = findings_to_json(f)
    validate_findings(as_written(data))
    again = findings_to_json(analyse(ev, copy.deepcopy(settings or {}), **kw))
    assert json.dumps(data) == json.dumps(again)
    json.dumps(data, allow_nan=False)
    return f, data


def at(data: dict[str, Any], key: str) -> dt.datetime | None:
    v = data["incident"][key]
    return None if v is None else dt.datetime.fromisoformat(v)


def clean_evidence(**kw: Any) -> Evidence:
    svc = Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2, latency=1.0)])
    return build(
        W0,
        W1,
        [svc, Svc("web", rps=5)],
        alerts=[AlertDecl("HighErrorRate", "api", [(D("10:33"), D("11:02"))])],
        events=[
            Event(D("10:29:30"), "deploy", "es", "Deployed api 2.0", ref="ev-1"),
            Event(D("10:50"), "rollback", "es", "Rolled back api to 1.9", ref="ev-2"),
        ],
        logs=LogDecl(
            bursts=[(D("10:30"), D("11:00"), "api", 30)],
            users=42,
            signatures=[
                ErrorSignature("OldError", 5, D("10:05"), D("11:50"), ["web"], False, 7),
                ErrorSignature("PoolExhausted", 90, D("10:30:10"), D("10:59"), ["api"], True),
                ErrorSignature("Timeout", 300, D("10:30:05"), D("10:59"), ["api"], True),
            ],
        ),
        **kw,
    )


# --------------------------------------------------------------------------- the clean case


def test_clean_single_incident_every_key_instant_and_figure() -> None:
    f, d = run(clean_evidence(), timezone="Europe/Paris")
    inc = d["incident"]
    assert inc["found"] and inc["status"] == "resolved"
    assert not inc["ongoing_at_start"] and not inc["ongoing_at_end"]
    assert inc["impact_start"] == "2026-03-02T11:30:00+01:00"
    assert at(d, "first_alert") == D("10:33")
    assert at(d, "resolution") == D("11:00")
    assert at(d, "end") == D("11:10")  # resolution + stability (10 min) after the alert resolved
    # the deploy at 10:29:30 caused it (inside the first step): the rollback is the mitigation
    assert at(d, "mitigation_start") == D("10:50")
    assert d["instants"]["mitigation_start"]["source"] == "event"
    assert d["instants"]["mitigation_start"]["ref"] == "ev-2"
    assert inc["mttd_seconds"] == 180 and inc["mttr_seconds"] == 1800
    assert inc["duration_seconds"] == 1800 and inc["mtta_seconds"] is None
    # api (impacted): 30 steps × 600 requests, 20 % failed; web (fine): 30 × 300 at 0.1 %
    assert inc["failed_requests"] == pytest.approx(3600)
    assert inc["availability"]["value"] == pytest.approx(1 - 3600 / 18000)
    assert inc["failed_requests_all_services"] == pytest.approx(3600 + 9)
    assert inc["availability_all_services"] == pytest.approx(1 - 3609 / 27000)
    assert "ratio of sums" in inc["availability"]["definition"]
    assert inc["max_error_rate"] == {
        "value": 0.2,
        "at": "2026-03-02T11:31:00+01:00",
        "service": "api",
        "quantile": None,
        "series": "error_ratio.api",
    }
    assert inc["max_latency_seconds"]["value"] == pytest.approx(1.0)
    assert inc["max_latency_seconds"]["quantile"] == 0.99
    assert [q["quantile"] for q in inc["max_latency_by_quantile"]] == [0.5, 0.99]
    assert inc["max_latency_by_quantile"][0]["value"] == pytest.approx(0.25)
    assert inc["impacted_users"] == 42
    assert inc["impact_level_suggested"] == "Majeur"
    budget = inc["error_budget_consumed"]
    # over the impacted service (api), not diluted by web
    assert budget["value"] == pytest.approx((3600 / 18000) * 1800 / (0.001 * 30 * 86400))
    assert budget["slo_target"] == 0.999 and budget["slo_period_seconds"] == 30 * 86400
    (api,) = inc["services"]
    assert api["name"] == "api"
    assert api["signals"] == ["alert", "error_logs", "error_ratio", "latency"]
    assert api["alerts"] == ["HighErrorRate"]
    assert api["error_logs"] == 30 * 30
    assert {b["sli"] for b in api["sli_breaches"]} == {"error_ratio", "latency"}
    assert api["availability"] == pytest.approx(0.8)
    assert inc["error_logs"] == 30 * 30
    assert d["other_incidents"] == [] and d["gaps"] == []


def test_clean_single_provenance() -> None:
    _, d = run(clean_evidence())
    ins = d["instants"]
    assert ins["impact_start"]["source"] == "series"
    assert ins["impact_start"]["uncertainty_seconds"] == 60
    assert ins["impact_start"]["ref"] == "q-w-error_ratio-api"
    assert ins["first_alert"]["source"] == "alert"
    assert ins["first_alert"]["uncertainty_seconds"] == 60  # evaluation interval
    assert ins["resolution"]["source"] == "series"
    for key in ("acknowledged", "declared", "investigation_start", "cause_identified"):
        assert ins[key]["at"] is None and ins[key]["definition"]
    figs = d["figures"]
    for name in (
        "duration",
        "mttd",
        "mtta",
        "mttr",
        "max_error_rate",
        "max_latency",
        "max_latency_p50",
        "max_latency_p99",
        "availability",
        "failed_requests",
        "impacted_users",
        "error_budget_consumed",
        "impact_level_suggested",
    ):
        assert figs[name]["definition"], name
    assert figs["max_error_rate"]["query_refs"] == ["q-w-error_ratio-api"]
    assert figs["max_error_rate"]["source"] == "prom"
    assert figs["availability"]["query_refs"] == ["q-w-requests_bad-api", "q-w-requests_total-api"]
    assert figs["availability_all_services"]["query_refs"] == [
        "q-w-requests_bad-api",
        "q-w-requests_bad-web",
        "q-w-requests_total-api",
        "q-w-requests_total-web",
    ]
    assert figs["impacted_users"]["source"] == "es"
    assert figs["mttd"]["value"] == 180 and figs["mttd"]["unit"] == "s"
    assert [s["name"] for s in d["sources"]] == ["prom", "es"]
    assert d["sources"][0]["queries"][0]["id"].startswith("q-")
    origins = {(t["service"], t["sli"]): (t["origin"], t["value"]) for t in d["thresholds"]}
    assert origins[("api", "error_ratio")] == ("baseline", pytest.approx(0.01))
    assert origins[("api", "latency")] == ("baseline", pytest.approx(0.6))


def test_clean_single_timeline() -> None:
    _, d = run(clean_evidence())
    rows = d["timeline"]
    times = [dt.datetime.fromisoformat(r["at"]) for r in rows]
    assert times == sorted(times)
    assert len({(r["at"], r["kind"], r["text"]) for r in rows}) == len(rows)
    kinds = [r["kind"] for r in rows]
    for k in (
        "deploy",
        "impact_start",
        "sli_breach",
        "log_burst",
        "new_error",
        "alert_pending",
        "alert_firing",
        "first_alert",
        "rollback",
        "mitigation_start",
        "sli_recovery",
        "resolution",
        "alert_resolved",
        "end",
    ):
        assert k in kinds, k
    assert kinds.index("deploy") < kinds.index("impact_start") < kinds.index("first_alert")
    first = next(r for r in rows if r["kind"] == "impact_start")
    assert first["text"] == "Début de l'incident"
    new = [r for r in rows if r["kind"] == "new_error"]
    assert [r["text"].split(":")[1].split()[0] for r in new] == ["Timeout", "PoolExhausted"]
    _, en = run(clean_evidence(), language="en")
    assert (
        next(r for r in en["timeline"] if r["kind"] == "impact_start")["text"] == "Incident start"
    )
    assert [e["signature"] for e in d["top_errors"]] == ["Timeout", "PoolExhausted", "OldError"]


def test_alerts_listed_with_intervals() -> None:
    _, d = run(clean_evidence())
    (a,) = d["alerts"]
    assert a["name"] == "HighErrorRate" and a["severity"] == "critical"
    assert a["firing"] == [["2026-03-02T10:33:00+00:00", "2026-03-02T11:02:00+00:00"]]
    assert a["pending"] == [["2026-03-02T10:32:00+00:00", "2026-03-02T10:33:00+00:00"]]
    assert a["active_at"] == "2026-03-02T10:32:00+00:00"
    assert a["in_incident"] and a["labels"]["service"] == "api"


# --------------------------------------------------------------------------- edge cases


def test_no_incident() -> None:
    ev = build(W0, W1, [Svc("api")], logs=LogDecl())
    _, d = run(ev)
    inc = d["incident"]
    assert inc["found"] is False and inc["status"] == "none"
    for key in ("impact_start", "first_alert", "mitigation_start", "resolution", "end"):
        assert inc[key] is None and d["instants"][key]["at"] is None
    assert inc["mttd_seconds"] is None and inc["mttr_seconds"] is None
    assert inc["impact_level_suggested"] is None and inc["services"] == []
    # what the window looked like is still said, over the whole window
    assert inc["availability"]["value"] == pytest.approx(0.999)
    assert "whole window" in d["figures"]["availability"]["definition"]
    assert not any(r["kind"] in ("impact_start", "resolution") for r in d["timeline"])


def test_incident_in_progress_at_window_start() -> None:
    svc = Svc("api", phases=[Deg(D("09:00"), D("10:20"), error_ratio=0.3)])
    _, d = run(build(W0, W1, [svc]))
    inc = d["incident"]
    assert inc["ongoing_at_start"] is True and inc["impact_start"] is None
    assert at(d, "resolution") == D("10:20") and inc["status"] == "resolved"
    assert inc["mttr_seconds"] is None and inc["duration_seconds"] is None
    assert "ongoing_at_start" in {w["code"] for w in d["warnings"]}
    # availability over what the window shows: (10:00, 10:20]
    assert inc["availability"]["value"] == pytest.approx(0.7)


def test_incident_in_progress_at_window_end() -> None:
    svc = Svc("api", phases=[Deg(D("11:30"), D("13:00"), error_ratio=0.2)])
    alert = AlertDecl("HighErrorRate", "api", [(D("11:32"), None)])
    _, d = run(build(W0, W1, [svc], alerts=[alert]))
    inc = d["incident"]
    assert inc["status"] == "ongoing" and inc["ongoing_at_end"] is True
    assert inc["resolution"] is None and inc["end"] is None and inc["mttr_seconds"] is None
    assert inc["elapsed_seconds"] == 1800 and inc["mttd_seconds"] == 120
    assert inc["availability"]["value"] == pytest.approx(0.8)
    assert d["alerts"][0]["firing"] == [["2026-03-02T11:32:00+00:00", None]]


def test_resolution_needs_the_stability_period() -> None:
    svc = Svc("api", phases=[Deg(D("11:00"), D("11:55"), error_ratio=0.2)])
    ev = build(W0, W1, [svc])
    _, d = run(ev)
    assert d["incident"]["status"] == "ongoing" and d["incident"]["resolution"] is None
    assert "resolution_unconfirmed" in {w["code"] for w in d["warnings"]}
    _, d = run(ev, {"stability_period": "2m"})  # raw config forms are accepted too
    assert at(d, "resolution") == D("11:55") and d["incident"]["status"] == "resolved"


def test_short_blip_is_not_an_incident_and_consecutive_steps_is_honoured() -> None:
    svc = Svc("api", phases=[Deg(D("10:30"), D("10:32"), error_ratio=0.5)])
    _, d = run(build(W0, W1, [svc]))
    assert d["incident"]["found"] is False
    _, d = run(build(W0, W1, [svc]), {"consecutive_steps": 2})
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("10:32")


def test_blip_within_stability_period_delays_resolution() -> None:
    svc = Svc(
        "api",
        phases=[
            Deg(D("10:30"), D("11:00"), error_ratio=0.2),
            Deg(D("11:05"), D("11:07"), error_ratio=0.2),  # 2 steps: not an impact on its own
        ],
    )
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("11:07")
    assert at(d, "end") == D("11:17")


def test_two_incidents_main_is_the_larger_and_the_other_is_listed() -> None:
    svc = Svc(
        "api",
        phases=[
            Deg(D("10:10"), D("10:20"), error_ratio=0.5),
            Deg(D("11:00"), D("11:40"), error_ratio=0.1),
        ],
    )
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("11:00") and at(d, "resolution") == D("11:40")
    assert d["other_incidents"] == [
        {
            "impact_start": "2026-03-02T10:10:00+00:00",
            "resolution": "2026-03-02T10:20:00+00:00",
            "services": ["api"],
            "first_alert": None,
            "status": "resolved",
        }
    ]
    assert "several_incidents" in {w["code"] for w in d["warnings"]}
    # each incident's max is its own
    assert d["incident"]["max_error_rate"]["value"] == pytest.approx(0.1)


def test_signals_closer_than_merge_gap_are_one_incident() -> None:
    a = Svc("a", phases=[Deg(D("10:10"), D("10:20"), error_ratio=0.5)])
    b = Svc("b", phases=[Deg(D("10:30"), D("10:40"), error_ratio=0.5)])
    _, d = run(build(W0, W1, [a, b]))
    assert at(d, "impact_start") == D("10:10") and at(d, "resolution") == D("10:40")
    assert [s["name"] for s in d["incident"]["services"]] == ["a", "b"]
    _, d = run(build(W0, W1, [a, b]), {"merge_gap": 300, "stability_period": 300})
    assert len(d["other_incidents"]) == 1


def test_logs_only_incident() -> None:
    ev = build(W0, W1, [Svc("api")], logs=LogDecl(bursts=[(D("10:30"), D("10:40"), "api", 40)]))
    _, d = run(ev)
    inc = d["incident"]
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("10:40")
    assert d["instants"]["impact_start"]["source"] == "logs"
    assert d["instants"]["impact_start"]["uncertainty_seconds"] == 60
    assert inc["services"][0]["signals"] == ["error_logs"]
    assert inc["mitigation_start"] is None  # no change event, no SLI to improve
    burst = next(r for r in d["timeline"] if r["kind"] == "log_burst")
    assert "410" in burst["text"]  # 10 buckets × (40 + 1)


def test_log_bursts_need_min_count_and_factor() -> None:
    low = LogDecl(bursts=[(D("10:30"), D("10:40"), "api", 8)])  # 9 per bucket < 10
    assert run(build(W0, W1, [Svc("api")], logs=low))[1]["incident"]["found"] is False
    noisy = LogDecl(base_errors=20, bursts=[(D("10:30"), D("10:40"), "api", 30)])  # 50 < 5 × 20
    assert run(build(W0, W1, [Svc("api")], logs=noisy))[1]["incident"]["found"] is False
    found = run(build(W0, W1, [Svc("api")], logs=noisy), {"log_burst_factor": 2})[1]
    assert found["incident"]["found"] is True
    no_base = LogDecl(with_baseline=False, bursts=[(D("10:30"), D("10:40"), "api", 30)])
    _, d = run(build(W0, W1, [Svc("api")], logs=no_base))
    assert d["incident"]["found"] and "log_baseline_missing" in {w["code"] for w in d["warnings"]}


def test_alerts_only_incident() -> None:
    alert = AlertDecl("DiskFull", "db", [(D("10:30"), D("10:45"))], pending_for=120)
    _, d = run(build(W0, W1, [Svc("api")], alerts=[alert]))
    inc = d["incident"]
    assert at(d, "impact_start") == D("10:28")  # activeAt
    assert d["instants"]["impact_start"]["source"] == "alert"
    assert at(d, "first_alert") == D("10:30") and inc["mttd_seconds"] == 120
    assert at(d, "resolution") == D("10:45") and at(d, "end") == D("10:55")
    assert inc["services"][0]["name"] == "db"


def test_standing_and_quiet_alerts_open_no_incident() -> None:
    alerts = [
        AlertDecl("Watchdog", "prom", [(D("08:00"), None)], severity="none"),
        AlertDecl("AlwaysOn", "api", [(D("08:00"), None)]),
        AlertDecl("Info", "api", [(D("10:30"), D("10:40"))], severity="info"),
    ]
    _, d = run(build(W0, W1, [Svc("api")], alerts=alerts))
    assert d["incident"]["found"] is False
    assert len(d["alerts"]) == 3 and not any(a["in_incident"] for a in d["alerts"])
    watchdog = next(a for a in d["alerts"] if a["name"] == "Watchdog")
    assert watchdog["firing"] == [[None, None]]


def test_latency_only_slow_degradation_with_configured_threshold() -> None:
    svc = Svc(
        "api",
        phases=[
            Deg(D("10:00"), D("10:45"), latency=2.0, ramp=1800),
            Deg(D("10:45"), D("11:00"), latency=1.2),
        ],
    )
    _, d = run(build(W0, W1, [svc]), {"latency_threshold": 1.0})
    # p99 = 0.2 + 1.8 × elapsed/1800 crosses 1.0 s at 10:13:20
    assert abs((at(d, "impact_start") - D("10:13:20")).total_seconds()) <= 60  # type: ignore[operator]
    assert at(d, "resolution") == D("11:00")
    # no change event: mitigation is when the p99 last stood near its peak
    assert at(d, "mitigation_start") == D("10:45")
    assert d["instants"]["mitigation_start"]["source"] == "series"
    (svc_out,) = d["incident"]["services"]
    assert svc_out["signals"] == ["latency"]
    assert d["incident"]["max_latency_seconds"]["value"] == pytest.approx(2.0)
    assert d["incident"]["impact_level_suggested"] == "Majeur"  # 1h... < 3600 but ≥ 900
    assert {t["origin"] for t in d["thresholds"] if t["sli"] == "latency"} == {"config"}


def test_gap_inside_the_incident() -> None:
    svc = Svc(
        "api",
        phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)],
        gaps=[(D("10:40"), D("10:45"))],
    )
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("11:00")
    (gap,) = d["gaps"]
    assert gap["service"] == "api" and gap["seconds"] == 300
    assert gap["start"] == "2026-03-02T10:39:00+00:00" and gap["end"] == "2026-03-02T10:44:00+00:00"
    assert "error_ratio.api" in gap["series"]
    assert "gaps" in {w["code"] for w in d["warnings"]}
    # availability over the samples that exist: still 0.8
    assert d["incident"]["availability"]["value"] == pytest.approx(0.8)


def test_gap_before_the_first_breach_widens_the_uncertainty() -> None:
    svc = Svc(
        "api",
        phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)],
        gaps=[(D("10:25"), D("10:35"))],
    )
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("10:34")  # first sample after the gap
    assert d["instants"]["impact_start"]["uncertainty_seconds"] == 660


def test_uptime_probe_down() -> None:
    svc = Svc("api", uptime=True, phases=[Deg(D("10:30"), D("10:40"), uptime=0.0)])
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("10:40")
    kinds = [r["kind"] for r in d["timeline"]]
    assert "target_down" in kinds and "target_up" in kinds
    assert d["incident"]["availability"]["uptime"] == 0.0
    assert d["figures"]["availability_uptime"]["value"] == 0.0


def test_error_ratio_derived_from_request_counts() -> None:
    svc = Svc(
        "api",
        kinds=("requests_total", "requests_bad", "latency"),
        phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)],
    )
    _, d = run(build(W0, W1, [svc]))
    assert at(d, "impact_start") == D("10:30")
    assert d["incident"]["max_error_rate"]["value"] == pytest.approx(0.2)
    assert d["incident"]["max_error_rate"]["series"] == "requests_bad/requests_total.api"
    thr = next(t for t in d["thresholds"] if t["sli"] == "error_ratio")
    assert thr["origin"] == "baseline" and thr["baseline_level"] == pytest.approx(0.001)


def test_availability_estimated_from_rates_without_counts() -> None:
    svc = Svc(
        "api",
        kinds=("error_ratio", "throughput"),
        phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)],
    )
    _, d = run(build(W0, W1, [svc]))
    av = d["incident"]["availability"]
    assert av["value"] == pytest.approx(0.8) and "estimated" in av["definition"]
    assert d["incident"]["failed_requests"] == pytest.approx(3600)


def test_no_request_data_gives_null_not_invented() -> None:
    svc = Svc("api", kinds=("latency",), phases=[Deg(D("10:30"), D("11:00"), latency=2.0)])
    _, d = run(build(W0, W1, [svc]))
    inc = d["incident"]
    assert inc["found"] and inc["availability"]["value"] is None
    assert inc["failed_requests"] is None and inc["error_budget_consumed"]["value"] is None
    assert inc["max_error_rate"]["value"] is None and inc["impacted_users"] is None


def test_thresholds_without_baseline_come_from_the_window() -> None:
    svc = Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2, latency=1.0)])
    _, d = run(build(W0, W1, [svc], baseline=False))
    assert {t["origin"] for t in d["thresholds"]} == {"window", "default"} - {"default"}
    assert "threshold_from_window" in {w["code"] for w in d["warnings"]}
    assert at(d, "impact_start") == D("10:30")
    _, d = run(build(W0, W1, [svc], baseline=False), {"error_ratio_threshold": 0.5})
    thr = next(t for t in d["thresholds"] if t["sli"] == "error_ratio")
    assert thr["origin"] == "config" and thr["value"] == 0.5


def test_human_instants_and_mtta() -> None:
    human = {"acknowledged": D("10:40"), "declared": D("10:45"), "investigation_start": None}
    _, d = run(clean_evidence(), human=human)
    inc = d["incident"]
    assert at(d, "acknowledged") == D("10:40") and inc["mtta_seconds"] == 420
    assert d["instants"]["acknowledged"]["source"] == "human"
    assert at(d, "declared") == D("10:45") and inc["investigation_start"] is None
    kinds = [r["kind"] for r in d["timeline"]]
    assert "acknowledged" in kinds and "declared" in kinds
    assert "investigation_start" not in kinds


def test_an_acknowledgement_before_the_first_alert_gives_no_negative_mtta() -> None:
    # First alert at 10:33 (see above); an --ack of 10:20 is a mistake or another alert's.
    _, d = run(clean_evidence(), human={"acknowledged": D("10:20")})
    assert at(d, "acknowledged") == D("10:20")
    assert d["incident"]["mtta_seconds"] is None
    assert d["figures"]["mtta"]["value"] is None
    warning = next(w for w in d["warnings"] if w["code"] == "ack_before_first_alert")
    assert "before the first alert" in warning["message"]


def test_silence_offered_as_acknowledgement() -> None:
    ev = clean_evidence()
    ev.events.append(
        Event(
            D("10:36"),
            "silence",
            "alertmanager",
            "silence by bob",
            "sil-1",
            {"alertname": "HighErrorRate"},
        )
    )
    ev.events.append(
        Event(D("10:35"), "silence", "alertmanager", "other", "sil-0", {"alertname": "Other"})
    )
    _, d = run(ev)
    assert at(d, "acknowledged") == D("10:36")
    assert d["instants"]["acknowledged"]["source"] == "silence"
    assert d["incident"]["mtta_seconds"] == 180
    # a human time wins over the silence
    _, d = run(ev, human={"acknowledged": D("10:50")})
    assert at(d, "acknowledged") == D("10:50")


def test_dst_change_in_paris() -> None:
    w0, w1 = T("2026-03-29 00:00"), T("2026-03-29 03:00")
    svc = Svc("api", phases=[Deg(T("2026-03-29 00:50"), T("2026-03-29 01:20"), error_ratio=0.2)])
    _, d = run(build(w0, w1, [svc]), timezone="Europe/Paris")
    assert d["window"] == {
        "from": "2026-03-29T01:00:00+01:00",
        "to": "2026-03-29T05:00:00+02:00",
        "timezone": "Europe/Paris",
    }
    assert d["incident"]["impact_start"] == "2026-03-29T01:50:00+01:00"
    assert d["incident"]["resolution"] == "2026-03-29T03:20:00+02:00"
    assert d["incident"]["duration_seconds"] == 1800  # not 1 h 30 by the wall clock
    assert d["baseline"] == {"from": "2026-03-28T22:00:00+01:00", "to": "2026-03-29T01:00:00+01:00"}


def test_across_midnight_in_paris() -> None:
    w0, w1 = T("2026-03-02 22:00"), T("2026-03-03 01:00")
    svc = Svc("api", phases=[Deg(T("2026-03-02 22:40"), T("2026-03-02 23:20"), error_ratio=0.2)])
    _, d = run(build(w0, w1, [svc]), timezone="Europe/Paris")
    assert d["incident"]["impact_start"] == "2026-03-02T23:40:00+01:00"
    assert d["incident"]["resolution"] == "2026-03-03T00:20:00+01:00"


def test_saved_bundle_gives_the_same_findings() -> None:
    ev = clean_evidence()
    loaded = from_jsonable(Evidence, json.loads(json.dumps(to_jsonable(ev))))
    assert findings_to_json(analyse(loaded, {})) == findings_to_json(analyse(ev, {}))


def test_messy_series_are_tolerated() -> None:
    ev = clean_evidence()
    s = next(x for x in ev.series if x.kind == "error_ratio" and not x.baseline)
    s.values[5] = float("nan")
    s.values[6] = float("inf")
    s.timestamps.reverse()
    s.values.reverse()
    s.timestamps.append(s.timestamps[0])  # a duplicate timestamp
    s.values.append(0.2)
    s.step_seconds = 0
    _, d = run(ev)
    assert at(d, "impact_start") == D("10:30")


def test_schema_rejects_what_breaks_the_contract() -> None:
    _, d = run(clean_evidence())
    d = as_written(d)
    validate_findings(d)
    bad = copy.deepcopy(d)
    bad["incident"]["availability"]["value"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validate_findings(bad)
    bad = copy.deepcopy(d)
    bad["incident"]["impact_start"] = "2026-03-02T10:30:00"  # no offset
    with pytest.raises(jsonschema.ValidationError):
        validate_findings(bad)
    bad = copy.deepcopy(d)
    del bad["timeline"]
    with pytest.raises(jsonschema.ValidationError):
        validate_findings(bad)


def test_first_alert_unknown_when_an_incident_alert_fired_before_the_window() -> None:
    svc = Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)])
    alerts = [
        AlertDecl("Early", "api", [(D("09:50"), D("10:40"))]),
        AlertDecl("HighErrorRate", "api", [(D("10:33"), D("11:02"))]),
    ]
    _, d = run(build(W0, W1, [svc], alerts=alerts))
    assert d["incident"]["first_alert"] is None and d["incident"]["mttd_seconds"] is None
    assert at(d, "impact_start") == D("10:30")


def test_rate_window_lag_is_taken_off_breach_ends() -> None:
    svc = Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)])
    ev = build(W0, W1, [svc])
    # the same samples, said to come from rate(x[3m]): a breach shows 2 steps after it ended
    ev.sources[0].settings["rate_window"] = 180.0  # seconds, as the Prometheus connector writes it
    assert ev.sources[0].rate_window_seconds == 180.0
    _, d = run(ev)
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("10:58")
    (b,) = [x for x in d["incident"]["services"][0]["sli_breaches"] if x["sli"] == "error_ratio"]
    assert b["end"] == "2026-03-02T10:58:00+00:00"


def test_rate_window_survives_the_bundle_without_a_new_key(tmp_path: Path) -> None:
    from connectors.bundle import bundle_files, read_bundle, write_files

    ev = build(W0, W1, [Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.2)])])
    ev.sources[0].settings["rate_window"] = 180.0
    files = bundle_files(ev)
    (saved,) = [s for s in json.loads(files["sources.json"]) if s["name"] == "prom"]
    assert "rate_window_seconds" not in saved and saved["settings"]["rate_window"] == 180.0
    write_files(files, tmp_path / "evidence")
    back = read_bundle(tmp_path / "evidence")
    assert back.sources[0].rate_window_seconds == 180.0
    assert bundle_files(back)["sources.json"] == files["sources.json"]
    assert (
        findings_to_json(analyse(back, {}))["incident"]
        == findings_to_json(analyse(ev, {}))["incident"]
    )


@pytest.mark.parametrize(
    ("recorded", "seconds"),
    [(60, 60.0), (0.5, 0.5), (0, 0.0), (None, None), ("3m", None), (True, None), (-5.0, None)]
    + [(float("nan"), None), (float("inf"), None), (1e12, None)],
)
def test_source_intervals_are_read_as_seconds_or_not_at_all(recorded: Any, seconds: Any) -> None:
    src = SourceInfo("prom", "prometheus", settings={"rate_window": recorded})
    src.settings.update(scrape_interval=recorded, evaluation_interval=recorded)
    assert src.rate_window_seconds == seconds
    assert src.scrape_interval_seconds == seconds == src.evaluation_interval_seconds


def test_every_instant_and_figure_is_defined_in_the_docs() -> None:

    docs = (Path(__file__).resolve().parents[2] / "docs" / "definitions.md").read_text("utf-8")
    _, d = run(clean_evidence())
    for name in list(d["instants"]) + list(d["figures"]):
        if name.startswith("max_latency_"):
            name = "max_latency_p99"  # one per quantile, defined together
        assert f"`{name}`" in docs, name


def test_silence_marked_by_the_source_wins() -> None:
    ev = clean_evidence()
    ev.events += [
        Event(
            D("10:34"), "silence", "am", "silence created by eve for alerts HighErrorRateX", "s0"
        ),
        Event(D("10:37"), "silence", "am", "silence created by bob for alerts HighErrorRate", "s1"),
        Event(
            D("10:39"),
            "silence",
            "am",
            "silence created by ann for team=web",
            "s2",
            {"ack": "true"},
        ),
    ]
    _, d = run(ev)
    assert at(d, "acknowledged") == D("10:39") and d["instants"]["acknowledged"]["ref"] == "s2"
    ev.events[-1].labels = {}
    _, d = run(ev)
    assert at(d, "acknowledged") == D("10:37")  # whole alert names only


def test_per_service_thresholds_override_the_global_ones() -> None:
    api = Svc("api", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.04)])
    web = Svc("web", phases=[Deg(D("10:30"), D("11:00"), error_ratio=0.04)])
    ev = build(W0, W1, [api, web], baseline=False)
    settings = {"error_ratio_threshold": 0.1, "thresholds": {"web": {"error_ratio": 0.02}}}
    _, d = run(ev, settings)
    by_service = {t["service"]: t for t in d["thresholds"] if t["sli"] == "error_ratio"}
    assert by_service["api"]["value"] == 0.1 and by_service["web"]["value"] == 0.02
    assert {t["origin"] for t in by_service.values()} == {"config"}
    # only web (4 % errors against its own 2 %) is in breach: api stays under 10 %
    assert at(d, "impact_start") == D("10:30")
    assert [s["name"] for s in d["incident"]["services"]] == ["web"]


def test_per_service_thresholds_are_validated() -> None:
    from pmrecon.errors import ConfigError

    with pytest.raises(ConfigError, match=r"analysis\.thresholds\.web\.error_ratio"):
        run(clean_evidence(), {"thresholds": {"web": {"error_ratio": 3}}})
    with pytest.raises(ConfigError, match=r"analysis\.thresholds\.web.*latencyy"):
        run(clean_evidence(), {"thresholds": {"web": {"latencyy": 1}}})


def _codes(d: dict[str, Any]) -> set[str]:
    return {w["code"] for w in d["warnings"]}


def test_a_baseline_before_the_logs_begin_is_not_a_quiet_baseline() -> None:
    """Zero error logs in the baseline while the window has some in most buckets: the
    baseline predates the logs (it cannot be the reference), not a perfectly healthy time."""
    steady = LogDecl(base_errors=20)
    ev = build(W0, W1, [Svc("api")], logs=steady)
    assert ev.logs is not None
    ev.logs.baseline_error_documents = 0
    _, d = run(ev)
    assert d["incident"]["found"] is False and "log_baseline_empty" in _codes(d)
    burst = LogDecl(base_errors=20, bursts=[(D("10:30"), D("10:40"), "api", 150)])
    ev = build(W0, W1, [Svc("api")], logs=burst)
    assert ev.logs is not None
    ev.logs.baseline_error_documents = 0
    _, d = run(ev)
    assert at(d, "impact_start") == D("10:30") and at(d, "resolution") == D("10:40")
    # a healthy service with no error at all, before and during: still no reference problem
    quiet = LogDecl(base_errors=0, bursts=[(D("10:30"), D("10:40"), "api", 30)])
    ev = build(W0, W1, [Svc("api")], logs=quiet)
    assert ev.logs is not None
    ev.logs.baseline_error_documents = 0
    _, d = run(ev)
    assert at(d, "impact_start") == D("10:30") and "log_baseline_empty" not in _codes(d)


def test_stretches_without_any_log_are_missing_data_not_a_quiet_reference() -> None:
    """No baseline, and no log of any level in the first 60% of the window (retention,
    ingestion starting): the median is taken where logs exist, so steady errors are no burst."""
    logs = LogDecl(
        base_errors=20, with_baseline=False, bursts=[(D("11:30"), D("11:35"), "api", 150)]
    )
    ev = build(W0, W1, [Svc("api")], logs=logs)
    assert ev.logs is not None
    hist = ev.logs.volume_by_level
    cut = sum(1 for t in hist.timestamps if t < D("11:12").timestamp())
    for level in hist.counts:
        hist.counts[level] = [0] * cut + list(hist.counts[level])[cut:]
    for name in ev.logs.errors_by_service.counts:
        column = ev.logs.errors_by_service.counts[name]
        ev.logs.errors_by_service.counts[name] = [0] * cut + list(column)[cut:]
    _, d = run(ev)
    assert at(d, "impact_start") == D("11:30") and at(d, "resolution") == D("11:35")
    assert "log_baseline_missing" in _codes(d)
