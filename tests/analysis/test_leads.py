"""Leads on factory-built evidence: the cascade, the detection gaps and the ranked suspects.

Each case is small and states its true answer by hand (factory semantics in
tests/evidence_factory.py: a phase ``[a, b)`` on the 60 s grid impacts from ``a`` to ``b``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from pmrecon.analysis import analyse
from pmrecon.analysis.detection import GAP_KINDS
from pmrecon.findings import findings_to_json, validate_findings
from pmrecon.model import ErrorSignature, Event, Evidence, QueryRecord, Series, SourceInfo
from tests.analysis.test_analysis_properties import evidences
from tests.evidence_factory import AlertDecl, Deg, LogDecl, Svc, T, build
from tests.schemacheck import as_written

W0, W1 = T("2026-03-02 10:00"), T("2026-03-02 12:00")
CHANGES_QUERY = "es:q-changes"


def D(hhmm: str) -> dt.datetime:
    return T(f"2026-03-02 {hhmm}")


def iso(d: dt.datetime) -> str:
    return d.isoformat(timespec="seconds")


def run(ev: Evidence, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """findings.json's content, schema-checked, deterministic, every lead's evidence resolving."""
    data = findings_to_json(analyse(ev, copy.deepcopy(settings or {})))
    validate_findings(as_written(data))
    assert data == findings_to_json(analyse(ev, copy.deepcopy(settings or {})))
    assert_evidence_resolves(data)
    return data


def assert_evidence_resolves(data: dict[str, Any], *, every_lead_has_some: bool = True) -> None:
    """Each suspect's evidence names a query of sources[].queries of the same findings; ranks,
    scores and the cascade's lags are in order."""
    ids = {q["id"] for s in data["sources"] for q in s["queries"]}
    for suspect in data["suspects"]:
        assert suspect["evidence"] or not every_lead_has_some, suspect
        assert set(suspect["evidence"]) <= ids, suspect
        assert 0 <= suspect["score"] <= 1
    assert [s["rank"] for s in data["suspects"]] == list(range(1, len(data["suspects"]) + 1))
    scores = [s["score"] for s in data["suspects"]]
    assert scores == sorted(scores, reverse=True)
    lags = [c["lag_seconds"] for c in data["incident"]["cascade"] if c["lag_seconds"] is not None]
    assert lags == sorted(lags) and all(lag >= 0 for lag in lags)


def change(at: dt.datetime, service: str, kind: str = "deploy", version: str = "2.0") -> Event:
    verb = {"deploy": "Deployed", "rollback": "Rolled back"}.get(kind, "Changed")
    return Event(
        at=at,
        kind=kind,
        source="es",
        text=f"{verb} {service} to {version}",
        ref=CHANGES_QUERY,
        labels={"service": service, "version": version},
    )


def with_changes(ev: Evidence, *events: Event) -> Evidence:
    """The evidence plus change events, read by a query its sources list."""
    ev.events.extend(events)
    ev.sources.append(
        SourceInfo(
            "es",
            "elasticsearch",
            queries=[QueryRecord(CHANGES_QUERY, "es", "change events", {"size": 200})],
        )
    )
    return ev


def failing(name: str, start: str, end: str, **kw: Any) -> Svc:
    return Svc(name, phases=[Deg(D(start), D(end), error_ratio=kw.pop("ratio", 0.3), **kw)])


def api_failing(alerts: list[AlertDecl]) -> Evidence:
    """api failing from 10:30 to 11:00, with ``alerts``."""
    return build(W0, W1, [failing("api", "10:30", "11:00")], alerts=alerts)


# --------------------------------------------------------------------------- cascade


def test_the_dependency_that_breaks_first_leads_the_cascade() -> None:
    data = run(
        build(
            W0, W1, [failing("checkout", "10:33", "11:00"), failing("payments", "10:30", "11:00")]
        )
    )
    cascade = data["incident"]["cascade"]
    assert [c["service"] for c in cascade] == ["payments", "checkout"]
    assert cascade[0]["first_breach_at"] == iso(D("10:30")) and cascade[0]["lag_seconds"] == 0
    assert cascade[1]["lag_seconds"] == 180 and cascade[1]["sli"] == "error_ratio"
    (upstream,) = [s for s in data["suspects"] if s["kind"] == "upstream"]
    assert upstream["service"] == "payments" and upstream["score"] <= 0.5


def test_the_cascade_names_the_sli_that_broke_first() -> None:
    slow = Svc(
        "search",
        phases=[
            Deg(D("10:30"), D("11:00"), latency=2.0),
            Deg(D("10:35"), D("11:00"), error_ratio=0.3, latency=2.0),
        ],
    )
    (step,) = run(build(W0, W1, [slow]))["incident"]["cascade"]
    assert step == {
        "service": "search",
        "first_breach_at": iso(D("10:30")),
        "sli": "latency",
        "lag_seconds": 0.0,
    }


def test_a_breach_already_running_at_the_window_start_comes_first_with_no_time() -> None:
    data = run(build(W0, W1, [failing("db", "09:00", "10:40"), failing("api", "10:10", "10:40")]))
    first, second = data["incident"]["cascade"]
    assert first == {
        "service": "db",
        "first_breach_at": None,
        "sli": "error_ratio",
        "lag_seconds": None,
    }
    assert second["service"] == "api" and second["lag_seconds"] is None


def test_no_incident_no_cascade_no_lead_no_gap() -> None:
    data = run(build(W0, W1, [Svc("api")]))
    assert data["incident"]["cascade"] == [] and data["suspects"] == [] and data["detection"] == []


# --------------------------------------------------------------------------- detection


def test_an_incident_no_alert_saw_says_so_and_leaves_mttd_unknown() -> None:
    data = run(build(W0, W1, [failing("api", "10:30", "11:00")]))
    assert data["detection"][0]["kind"] == "no_alert"
    assert data["detection"][0]["at"] == iso(D("10:30"))
    assert data["incident"]["first_alert"] is None and data["incident"]["mttd_seconds"] is None
    assert [g["kind"] for g in data["detection"]] == ["no_alert"]  # not also "unalerted"


def test_a_late_first_alert_is_a_gap_and_the_delay_is_configurable() -> None:
    ev = api_failing(alerts=[AlertDecl("HighErrorRate", "api", [(D("10:40"), D("11:01"))])])
    (late,) = [g for g in run(ev)["detection"] if g["kind"] == "late_alert"]
    assert late["alert"] == "HighErrorRate" and late["seconds"] == 600
    assert late["at"] == iso(D("10:40"))
    relaxed = run(ev, {"late_alert_after": "15m"})["detection"]
    assert "late_alert" not in [g["kind"] for g in relaxed]


def test_an_alert_firing_three_times_in_the_incident_flaps() -> None:
    fires = [(D("10:32"), D("10:36")), (D("10:40"), D("10:44")), (D("10:48"), D("10:58"))]
    ev = api_failing(alerts=[AlertDecl("HighErrorRate", "api", fires)])
    (flap,) = [g for g in run(ev)["detection"] if g["kind"] == "flapping"]
    assert flap["episodes"] == 3 and flap["alert"] == "HighErrorRate"
    assert flap["at"] == iso(D("10:32"))
    twice = api_failing(alerts=[AlertDecl("HighErrorRate", "api", fires[:2])])
    assert "flapping" not in [g["kind"] for g in run(twice)["detection"]]


def test_an_alert_firing_long_after_resolution_is_stale() -> None:
    ev = api_failing(alerts=[AlertDecl("HighErrorRate", "api", [(D("10:32"), D("11:40"))])])
    (stale,) = [g for g in run(ev)["detection"] if g["kind"] == "stale_alert"]
    assert stale["seconds"] == 40 * 60 and stale["at"] == iso(D("11:40"))
    forever = api_failing(alerts=[AlertDecl("HighErrorRate", "api", [(D("10:32"), None)])])
    (still,) = [g for g in run(forever)["detection"] if g["kind"] == "stale_alert"]
    assert still["at"] is None and still["seconds"] == 60 * 60
    prompt = api_failing(alerts=[AlertDecl("HighErrorRate", "api", [(D("10:32"), D("11:05"))])])
    assert "stale_alert" not in [g["kind"] for g in run(prompt)["detection"]]


def test_an_impacted_service_without_any_alert_is_named() -> None:
    ev = build(
        W0,
        W1,
        [failing("api", "10:30", "11:00"), failing("db", "10:31", "11:00")],
        alerts=[AlertDecl("HighErrorRate", "api", [(D("10:32"), D("11:01"))])],
    )
    (gap,) = [g for g in run(ev)["detection"] if g["kind"] == "unalerted_service"]
    assert gap["service"] == "db" and gap["at"] == iso(D("10:31"))


# --------------------------------------------------------------------------- suspects


def test_a_deploy_three_minutes_before_impact_ranks_first() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:00"), Svc("web")])
    with_changes(ev, change(D("10:27"), "api"), change(D("10:05"), "web", version="9.1"))
    first, *others = run(ev)["suspects"]
    assert first["kind"] == "change" and first["summary"] == "Deployed api to 2.0"
    assert first["at"] == iso(D("10:27")) and first["lead_seconds"] == 180
    assert first["score"] > 0.8 and first["evidence"] == [CHANGES_QUERY]
    assert all(s["score"] < 0.5 for s in others)  # the other service's deploy, long before


def test_a_change_after_impact_start_is_no_suspect() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    with_changes(ev, change(D("10:45"), "api", "config_change"))
    assert run(ev)["suspects"] == []


def test_a_rollback_followed_by_recovery_points_at_the_change_it_undid() -> None:
    # The deploy is two hours before impact (in the baseline period): its lead time alone
    # would score it near zero; the rollback at 10:55, recovery at 11:00, makes it rank 1.
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    with_changes(
        ev,
        change(D("08:30"), "api", version="3.0"),
        change(D("10:20"), "api", "config_change", version="cfg-7"),
        change(D("10:55"), "api", "rollback", version="2.9"),
    )
    first, *_ = run(ev)["suspects"]
    assert first["kind"] == "rollback_recovery" and first["at"] == iso(D("10:20"))
    assert first["related"] == "Rolled back api to 2.9" and first["score"] == 0.95
    # without the config change in between, the rollback undid the deploy two hours earlier
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    with_changes(
        ev, change(D("08:30"), "api", version="3.0"), change(D("10:55"), "api", "rollback")
    )
    first, *_ = run(ev)["suspects"]
    assert first["kind"] == "rollback_recovery" and first["at"] == iso(D("08:30"))
    assert first["lead_seconds"] == 2 * 3600


def test_a_rollback_not_followed_by_recovery_is_no_lead() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:40")])
    with_changes(ev, change(D("08:30"), "api"), change(D("10:35"), "api", "rollback"))
    kinds = [s["kind"] for s in run(ev)["suspects"]]
    assert "rollback_recovery" not in kinds


def test_a_traffic_surge_with_no_change_ranks_load_first() -> None:
    ev = build(W0, W1, [failing("api", "10:30", "11:00")])
    (throughput,) = [s for s in ev.series if s.kind == "throughput" and not s.baseline]
    times = np.array(throughput.timestamps)
    surge = (times > T("2026-03-02 10:28").timestamp()) & (
        times <= T("2026-03-02 11:00").timestamp()
    )
    throughput.values = np.where(
        surge, np.array(throughput.values) * 88, throughput.values
    ).tolist()
    first, *_ = run(ev)["suspects"]
    assert first["kind"] == "load" and first["service"] == "api"
    assert first["ratio"] == pytest.approx(88) and first["score"] == 1.0
    assert first["at"] == iso(D("10:28"))
    assert set(first["evidence"]) == {"q-w-throughput-api", "q-b-throughput-api"}


def test_a_new_error_signature_at_impact_start_is_a_lead_below_a_close_change() -> None:
    signature = ErrorSignature(
        "PoolExhausted", 120, D("10:30"), D("11:00"), ["api"], False, 0, None, "q-logs-services"
    )
    ev = build(
        W0,
        W1,
        [failing("api", "10:30", "11:00")],
        logs=LogDecl(signatures=[signature]),
    )
    with_changes(ev, change(D("10:28"), "api"))
    suspects = run(ev)["suspects"]
    assert [s["kind"] for s in suspects] == ["change", "new_error"]
    assert suspects[1]["summary"] == "PoolExhausted" and suspects[1]["lead_seconds"] == 0


@pytest.mark.parametrize("seed", range(6))
def test_flat_noise_names_no_suspect_above_one_half(seed: int) -> None:
    rng = np.random.default_rng(seed)
    services = [Svc(f"svc{i}", noise=0.6, error_ratio=0.01) for i in range(3)]
    ev = build(W0, W1, services)
    for s in ev.series:  # jitter every series, baseline too: nothing but noise
        values = np.array(s.values)
        s.values = (values * (1 + 0.3 * np.abs(rng.standard_normal(len(values))))).tolist()
    # a threshold just above the usual level: the noise itself makes an incident
    data = run(ev, {"error_ratio_threshold": 0.012, "consecutive_steps": 2})
    assert data["incident"]["found"] and len(data["incident"]["cascade"]) == 3
    assert all(s["score"] <= 0.5 for s in data["suspects"]), json.dumps(data["suspects"])


def test_the_demo_leads_point_at_the_rolled_back_deploy() -> None:
    from connectors.bundle import read_bundle
    from pmrecon.demo import demo_bundle_dir

    data = run(read_bundle(demo_bundle_dir()))
    first = data["suspects"][0]
    assert first["kind"] == "rollback_recovery" and first["service"] == "payments"
    assert first["summary"].startswith("Deployed payments to 3.2.0")


# --------------------------------------------------------------------------- metric changes


def with_start_time(ev: Evidence, service: str, restarts: list[dt.datetime]) -> Evidence:
    """An ``extra`` series of ``service``'s process start time, rising at each restart."""
    (like,) = [
        s for s in ev.series if s.kind == "throughput" and s.service == service and not s.baseline
    ]
    started = T("2026-03-01 06:00").timestamp()
    values = []
    for at in like.timestamps:
        for restart in restarts:
            if restart.timestamp() <= at:
                started = max(started, restart.timestamp())
        values.append(started)
    query = f'max(process_start_time_seconds{{job="{service}"}})'
    ev.series.append(
        Series(
            "process_start",
            "extra",
            service,
            "s",
            list(like.timestamps),
            values,
            like.step_seconds,
            "q-start",
        )
    )
    ev.sources[0].queries.append(QueryRecord("q-start", "prom", "extra", query))
    return ev


def test_a_restart_seen_in_process_start_time_is_a_change() -> None:
    ev = with_start_time(build(W0, W1, [failing("api", "10:30", "11:00")]), "api", [D("10:28")])
    before = copy.deepcopy(ev)
    data = run(ev)
    assert ev == before  # the evidence given is not changed
    (row,) = [r for r in data["timeline"] if r["kind"] == "restart"]
    assert row["at"] == iso(D("10:28")) and row["ref"] == "q-start"
    assert row["text"] == "api redémarré (vu dans process_start_time_seconds)"
    first = data["suspects"][0]
    assert first["kind"] == "change" and first["at"] == iso(D("10:28"))
    assert first["evidence"] == ["q-start"] and first["lead_seconds"] == 120


def test_a_steady_start_time_or_one_before_the_window_gives_no_restart() -> None:
    ev = with_start_time(build(W0, W1, [failing("api", "10:30", "11:00")]), "api", [])
    assert [r for r in run(ev)["timeline"] if r["kind"] == "restart"] == []
    ev = with_start_time(build(W0, W1, [failing("api", "10:30", "11:00")]), "api", [D("09:00")])
    assert run(ev)["suspects"] == []


def test_an_alert_of_a_quiet_severity_does_not_count_as_detection() -> None:
    ev = api_failing(alerts=[AlertDecl("Watchdog", "api", [(D("10:31"), D("10:50"))], "info")])
    assert [g["kind"] for g in run(ev)["detection"]] == ["no_alert"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences())
def test_lead_invariants_on_any_well_formed_evidence(
    case: tuple[Evidence, dict[str, Any], dict[str, Any]],
) -> None:
    ev, cfg, human = case
    data = findings_to_json(analyse(ev, cfg, human=human))
    # ranks, scores, lags in order; references resolve (the drawn events cite no query)
    assert_evidence_resolves(data, every_lead_has_some=False)
    inc, gaps = data["incident"], data["detection"]
    kinds = [g["kind"] for g in gaps]
    assert kinds == sorted(kinds, key=GAP_KINDS.index)
    if not inc["found"]:
        assert data["suspects"] == [] and gaps == [] and inc["cascade"] == []
    if "no_alert" in kinds:
        assert inc["first_alert"] is None and inc["mttd_seconds"] is None
        assert "late_alert" not in kinds and "unalerted_service" not in kinds
    breached = {s["name"] for s in inc["services"] if s["sli_breaches"]}
    assert {c["service"] for c in inc["cascade"]} == breached


def test_a_rollback_of_a_service_not_impacted_is_a_weaker_lead() -> None:
    # web is healthy; its rollback at 10:55 precedes api's recovery at 11:00 by chance
    ev = build(W0, W1, [failing("api", "10:30", "11:00"), Svc("web")])
    with_changes(
        ev,
        change(D("10:10"), "web", version="4.0"),
        change(D("10:27"), "api"),
        change(D("10:55"), "web", "rollback", version="3.9"),
    )
    first, second, *_ = run(ev)["suspects"]
    assert first["kind"] == "change" and first["service"] == "api"
    assert second["kind"] == "rollback_recovery" and second["service"] == "web"
    assert second["score"] == 0.75 and second["at"] == iso(D("10:10"))


# --------------------------------------------------------------------------- changes seen in metrics


def with_metric(
    ev: Evidence,
    service: str,
    metric: str,
    steps: list[tuple[dt.datetime, dict[str, str] | float]],
    **labels: str,
) -> Evidence:
    """``change_metric`` series of ``service`` as the Prometheus source collects them, over the
    baseline and the window: a dict step starts a series with those labels (a version, a
    ReplicaSet), a number is the value of the one series from its time on."""
    for baseline in (True, False):
        (like,) = [
            s
            for s in ev.series
            if s.kind == "throughput" and s.service == service and s.baseline == baseline
        ]
        ref = f"q-{metric}-{'b' if baseline else 'w'}-{service}"
        runs: dict[tuple[tuple[str, str], ...], tuple[list[float], list[float]]] = {}
        bounds = [at.timestamp() for at, _ in steps] + [float("inf")]
        for (_, value), lo, hi in zip(steps, bounds, bounds[1:]):
            extra = value if isinstance(value, dict) else {}
            key = tuple(sorted({**labels, **extra, "__name__": metric}.items()))
            xs, ys = runs.setdefault(key, ([], []))
            for x in like.timestamps:
                if lo <= x < hi:
                    xs.append(x)
                    ys.append(1.0 if isinstance(value, dict) else float(value))
        for key, (xs, ys) in runs.items():
            if xs:
                shown = ",".join(f'{k}="{v}"' for k, v in key if k != "__name__")
                ev.series.append(
                    Series(
                        f"{metric}{{{shown}}}",
                        "change_metric",
                        service,
                        "",
                        xs,
                        ys,
                        like.step_seconds,
                        ref,
                        labels=dict(key),
                        baseline=baseline,
                    )
                )
        ev.sources[0].queries.append(QueryRecord(ref, "prom", "changes", f"max({metric})"))
    return ev


def api_incident() -> Evidence:
    """api failing from 10:30 to 11:00, web steady."""
    return build(W0, W1, [failing("api", "10:30", "11:00"), Svc("web")])


def test_a_new_build_info_version_is_a_deploy_that_ranks_first() -> None:
    ev = with_metric(
        api_incident(),
        "api",
        "myapp_build_info",
        [(D("06:00"), {"version": "1.4.2"}), (D("10:27"), {"version": "1.5.0"})],
    )
    with_metric(ev, "web", "myapp_build_info", [(D("06:00"), {"version": "9.0"})])
    data = run(ev, {})
    (row,) = [r for r in data["timeline"] if r["kind"] == "deploy"]
    assert row["text"] == "api déployé : version 1.4.2 → 1.5.0 (vu dans myapp_build_info)"
    assert row["at"] == iso(D("10:27")) and row["ref"] == "q-myapp_build_info-w-api"
    first, *others = data["suspects"]
    assert first["kind"] == "change" and first["summary"] == row["text"]
    assert first["evidence"] == ["q-myapp_build_info-w-api"] and first["lead_seconds"] == 180
    assert [s for s in others if s["kind"] == "change"] == []  # web's steady build


def test_a_steady_build_info_or_one_seen_from_the_start_gives_no_event() -> None:
    ev = with_metric(api_incident(), "api", "myapp_build_info", [(D("06:00"), {"version": "1"})])
    # a build info that starts showing mid-way, with nothing before it, is no change either
    with_metric(ev, "web", "other_build_info", [(D("10:20"), {"revision": "abc"})])
    data = run(ev, {})
    assert [r for r in data["timeline"] if r["kind"] in ("deploy", "rollback")] == []
    assert data["suspects"] == []


def test_a_build_rolled_back_in_the_metrics_points_at_the_deploy_in_the_baseline() -> None:
    # 1.5.0 deployed at 08:30 (in the baseline), 1.4.2 back at 10:55, recovery at 11:00
    ev = with_metric(
        api_incident(),
        "api",
        "myapp_build_info",
        [
            (D("06:00"), {"version": "1.4.2"}),
            (D("08:30"), {"version": "1.5.0"}),
            (D("10:55"), {"version": "1.4.2"}),
        ],
    )
    data = run(ev, {})
    first = data["suspects"][0]
    assert first["kind"] == "rollback_recovery" and first["at"] == iso(D("08:30"))
    assert first["summary"] == "api déployé : version 1.4.2 → 1.5.0 (vu dans myapp_build_info)"
    assert first["related"] == (
        "Retour arrière de api : version 1.5.0 → 1.4.2 (vu dans myapp_build_info)"
    )
    assert first["evidence"] == ["q-myapp_build_info-b-api", "q-myapp_build_info-w-api"]
    # the deploy before the window is on the timeline because the lead names it
    # (docs/definitions.md, Timeline: before the window, only the events of the story)
    assert [r["kind"] for r in data["timeline"] if r["kind"] in ("deploy", "rollback")] == [
        "deploy",
        "rollback",
    ]


def test_one_deploy_seen_several_ways_is_one_lead() -> None:
    # the build info, the restart, the new ReplicaSet and the generation all show the
    # deploy at 10:27; a logged deploy of web and a restart of web 2 min later are one too
    ev = api_incident()
    with_metric(
        ev,
        "api",
        "myapp_build_info",
        [(D("06:00"), {"version": "1.4.2"}), (D("10:27"), {"version": "1.5.0"})],
    )
    start = T("2026-03-01 06:00").timestamp()
    with_metric(
        ev,
        "api",
        "process_start_time_seconds",
        [(D("06:00"), start), (D("10:28"), D("10:28").timestamp())],
    )
    with_metric(
        ev,
        "api",
        "kube_replicaset_owner",
        [(D("06:00"), {"replicaset": "api-1"}), (D("10:27"), {"replicaset": "api-2"})],
        owner_name="api",
        namespace="shop",
    )
    with_metric(
        ev,
        "api",
        "kube_deployment_metadata_generation",
        [(D("06:00"), 4), (D("10:27"), 5)],
        deployment="api",
        namespace="shop",
    )
    with_changes(ev, change(D("10:10"), "web"))
    with_metric(
        ev,
        "web",
        "process_start_time_seconds",
        [(D("06:00"), start), (D("10:12"), D("10:12").timestamp())],
    )
    data = run(ev, {})
    changes = [s for s in data["suspects"] if s["kind"] == "change"]
    assert [s["summary"] for s in changes] == [
        "api déployé : version 1.4.2 → 1.5.0 (vu dans myapp_build_info)",
        "Deployed web to 2.0",
    ]


def test_a_deployment_seen_only_in_kube_state_metrics() -> None:
    # a new ReplicaSet is a deploy; a generation rise with no new ReplicaSet, a change
    ev = api_incident()
    with_metric(
        ev,
        "api",
        "kube_replicaset_owner",
        [(D("06:00"), {"replicaset": "api-1"}), (D("10:26"), {"replicaset": "api-2"})],
        owner_name="api",
        namespace="shop",
    )
    with_metric(
        ev,
        "web",
        "kube_deployment_status_observed_generation",
        [(D("06:00"), 4), (D("10:29"), 5)],
        deployment="web",
        namespace="shop",
    )
    data = run(ev, {})
    rows = [(r["kind"], r["text"]) for r in data["timeline"] if r["kind"] in ("deploy", "change")]
    assert rows == [
        (
            "deploy",
            "api déployé : nouveau ReplicaSet api-2 du Deployment api (vu dans "
            "kube_replicaset_owner)",
        ),
        (
            "change",
            "Deployment web de web modifié : génération 4 → 5 (vu dans "
            "kube_deployment_status_observed_generation)",
        ),
    ]
    first = data["suspects"][0]
    assert first["kind"] == "change" and first["service"] == "api"


def test_a_restart_in_the_baseline_is_ranked_and_on_the_timeline_as_a_named_lead() -> None:
    start = T("2026-03-01 06:00").timestamp()
    ev = with_metric(
        api_incident(),
        "api",
        "process_start_time_seconds",
        [(D("06:00"), start), (D("09:50"), D("09:50").timestamp())],
    )
    data = run(ev, {})
    # before the window, the timeline keeps the changes a lead names: this one, not 06:00's
    assert [r["at"] for r in data["timeline"] if r["kind"] == "restart"] == [iso(D("09:50"))]
    (lead,) = [s for s in data["suspects"] if s["kind"] == "change"]
    assert lead["at"] == iso(D("09:50")) and lead["evidence"] == [
        "q-process_start_time_seconds-b-api"
    ]


def test_changes_seen_in_metrics_rebuild_from_the_saved_bundle(tmp_path: Any) -> None:
    from connectors.bundle import read_bundle, write_bundle

    ev = with_metric(
        api_incident(),
        "api",
        "myapp_build_info",
        [(D("06:00"), {"version": "1.4.2"}), (D("10:27"), {"version": "1.5.0"})],
    )
    write_bundle(ev, tmp_path / "evidence")
    again = read_bundle(tmp_path / "evidence")
    assert {s.kind for s in again.series} >= {"change_metric"}
    assert run(again)["suspects"] == run(ev)["suspects"]
    assert run(again)["suspects"][0]["summary"].startswith("api déployé : version 1.4.2")
