"""Look-back and clean baseline on hand-made evidence (see "Look-back" in docs/definitions.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from pmrecon.analysis import MIN_ERROR_RATIO_THRESHOLD, analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import ErrorSignature, Evidence
from pmrecon.output import notices
from pmrecon.wording import text
from tests.evidence_factory import AlertDecl, Deg, LogDecl, Svc, T, build

W0, W1 = T("2026-03-02 11:00"), T("2026-03-02 12:00")
MIN = dt.timedelta(minutes=1)


def _evidence(
    impact_from: dt.datetime,
    *,
    alert_from: dt.datetime | None = None,
    for_seconds: float | None = 60.0,
    gap: tuple[dt.datetime, dt.datetime] | None = None,
) -> Evidence:
    svc = Svc(
        "api",
        phases=[Deg(impact_from, W0 + 20 * MIN, error_ratio=0.3)],
        gaps=[gap] if gap else [],
    )
    alerts = (
        [AlertDecl("HighErrorRate", "api", [(alert_from, W0 + 22 * MIN)])] if alert_from else []
    )
    evidence = build(W0, W1, [svc, Svc("web")], step=60.0, alerts=alerts, baseline_phases=True)
    for alert in evidence.alerts:
        alert.for_seconds, alert.evaluation_seconds = for_seconds, 60.0
    return evidence


def _found(evidence: Evidence, **settings: float) -> dict:  # type: ignore[type-arg]
    return findings_to_json(analyse(evidence, settings, language="en"))


def _at(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _codes(found: dict) -> set[str]:  # type: ignore[type-arg]
    return {w["code"] for w in found["warnings"]}


def test_impact_start_walks_back_through_the_baseline() -> None:
    found = _found(_evidence(W0 - 10 * MIN, alert_from=W0 - 7 * MIN))
    impact, alert = found["instants"]["impact_start"], found["instants"]["first_alert"]
    assert abs((_at(impact["at"]) - (W0 - 10 * MIN)).total_seconds()) <= 60
    assert impact["found_before_window"] is True
    # activation one `for` (60 s) before it fired, found from the activation time
    assert _at(alert["at"]) == W0 - 7 * MIN
    assert alert["found_before_window"] is True
    incident = found["incident"]
    assert incident["duration_seconds"] == pytest.approx(30 * 60, abs=60)
    assert incident["mttr_seconds"] == incident["duration_seconds"]
    assert incident["mttd_seconds"] == pytest.approx(3 * 60, abs=60)
    assert {"impact_found_before_window", "first_alert_found_before_window"} <= _codes(found)
    assert "ongoing_at_start" not in _codes(found)


def test_unknown_when_the_baseline_is_in_breach_all_along() -> None:
    # before the baseline's start (W0 - 60 min); a threshold set, as none can be derived
    found = _found(_evidence(W0 - 90 * MIN), error_ratio_threshold=0.05)
    impact = found["instants"]["impact_start"]
    assert impact["at"] is None and "found_before_window" not in impact
    assert found["incident"]["duration_seconds"] is None
    # it says how far back it looked: to the baseline's first sample, an hour before
    (beyond,) = [w for w in found["warnings"] if w["code"] == "impact_start_beyond_lookback"]
    assert beyond["params"] == {"at": (W0 - 60 * MIN).isoformat(), "hours": "1"}
    assert "ongoing_at_start" not in _codes(found)


def test_a_gap_longer_than_the_join_gap_stops_the_walk() -> None:
    # 20 minutes without samples (longer than the 15-minute stability period) just before
    # the window: the breach seen in the baseline is not known to be the same one
    found = _found(_evidence(W0 - 40 * MIN, gap=(W0 - 20 * MIN, W0)))
    assert found["instants"]["impact_start"]["at"] is None
    assert "ongoing_at_start" in _codes(found)


def test_first_alert_stays_unknown_without_the_rules_for() -> None:
    found = _found(_evidence(W0 - 10 * MIN, alert_from=W0 - 7 * MIN, for_seconds=None))
    assert found["instants"]["first_alert"]["at"] is None
    assert "found_before_window" not in found["instants"]["first_alert"]
    assert found["instants"]["impact_start"]["found_before_window"] is True
    assert found["incident"]["mttd_seconds"] is None


def test_baseline_stretch_in_breach_is_left_out_of_the_threshold() -> None:
    found = _found(_evidence(W0 - 10 * MIN))
    (api,) = [x for x in found["thresholds"] if x["service"] == "api" and x["sli"] == "error_ratio"]
    assert api["baseline_level"] == pytest.approx(0.001, abs=1e-6)
    assert api["value"] == MIN_ERROR_RATIO_THRESHOLD
    (warning,) = [w for w in found["warnings"] if w["code"] == "baseline_in_breach"]
    assert warning["params"]["sli"] == api["series"]
    assert warning["params"]["samples"] == 10
    assert "baseline_unreliable" not in _codes(found)


def test_baseline_mostly_in_breach_makes_the_threshold_unreliable() -> None:
    found = _found(_evidence(W0 - 40 * MIN))  # 40 of the baseline's 60 minutes
    codes = _codes(found)
    assert {"baseline_in_breach", "baseline_unreliable"} <= codes
    impact = found["instants"]["impact_start"]
    assert abs((_at(impact["at"]) - (W0 - 40 * MIN)).total_seconds()) <= 60


def test_a_clean_baseline_is_left_whole() -> None:
    found = _found(_evidence(W0 + 10 * MIN))
    assert not {"baseline_in_breach", "baseline_unreliable"} & _codes(found)
    assert "found_before_window" not in found["instants"]["impact_start"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_report_notices_say_where_the_start_was_found(lang: str) -> None:
    found = findings_to_json(
        analyse(_evidence(W0 - 10 * MIN, alert_from=W0 - 7 * MIN), {}, language=lang)
    )
    may_be_earlier = text(lang, "notice.ongoing_start", start=found["window"]["from"])
    lines = notices(found, lang, str, {})
    assert not any(line.startswith(may_be_earlier) for line in lines)
    assert any(found["instants"]["impact_start"]["at"] in line for line in lines)
    unknown = findings_to_json(
        analyse(_evidence(W0 - 90 * MIN), {"error_ratio_threshold": 0.05}, language=lang)
    )
    assert any(line.startswith(may_be_earlier) for line in notices(unknown, lang, str, {}))


def test_alerts_only_incident_starts_at_its_activation_before_the_window() -> None:
    alerts = [AlertDecl("HighErrorRate", "api", [(W0 - 5 * MIN, W0 + 10 * MIN)])]
    evidence = build(W0, W1, [Svc("api"), Svc("web")], step=60.0, alerts=alerts)
    for alert in evidence.alerts:
        alert.for_seconds, alert.evaluation_seconds = 60.0, 60.0
    found = _found(evidence)
    impact, first = found["instants"]["impact_start"], found["instants"]["first_alert"]
    assert _at(impact["at"]) == W0 - 6 * MIN  # activation: one `for` before it fired
    assert impact["found_before_window"] is True and impact["source"] == "alert"
    assert _at(first["at"]) == W0 - 5 * MIN and first["found_before_window"] is True
    assert found["incident"]["mttd_seconds"] == 60
    assert "impact_activated_before_window" in _codes(found)


def _with_signatures(impact_from: dt.datetime) -> Evidence:
    signatures = [
        ErrorSignature(
            "TimeoutError: upstream", 300, W0, W0 + 20 * MIN, ["api"], baseline_count=40
        ),
        ErrorSignature("Brand new failure", 50, W0 + 2 * MIN, W0 + 20 * MIN, ["api"]),
    ]
    svc = Svc("api", phases=[Deg(impact_from, W0 + 20 * MIN, error_ratio=0.3)])
    return build(
        W0, W1, [svc], step=60.0, logs=LogDecl(signatures=signatures), baseline_phases=True
    )


def test_novelty_is_unknown_for_signatures_the_contaminated_baseline_holds() -> None:
    found = _found(_with_signatures(W0 - 10 * MIN))
    novelty = {e["signature"]: e["new_since_baseline"] for e in found["top_errors"]}
    assert novelty == {"TimeoutError: upstream": None, "Brand new failure": True}
    (warning,) = [w for w in found["warnings"] if w["code"] == "novelty_unreliable"]
    assert warning["params"]["count"] == 1
    # an incident that began inside the window: the baseline's sightings are old
    clean = _found(_with_signatures(W0 + 10 * MIN))
    assert {e["signature"]: e["new_since_baseline"] for e in clean["top_errors"]} == {
        "TimeoutError: upstream": False,
        "Brand new failure": True,
    }
    assert "novelty_unreliable" not in _codes(clean)


def test_a_breach_ending_just_after_the_start_is_sustained_by_its_samples_before() -> None:
    # two samples in breach inside the window (fewer than consecutive_steps = 3), ten before
    found = _found(_evidence_until(W0 - 10 * MIN, W0 + MIN))
    assert found["incident"]["found"] is True
    assert _at(found["instants"]["impact_start"]["at"]) == W0 - 10 * MIN
    assert found["incident"]["duration_seconds"] == pytest.approx(11 * 60, abs=60)
    # the same two samples with a healthy baseline are no incident
    assert _found(_evidence_until(W0, W0 + MIN))["incident"]["found"] is False


def _evidence_until(start: dt.datetime, end: dt.datetime) -> Evidence:
    svc = Svc("api", phases=[Deg(start, end, error_ratio=0.3)])
    return build(W0, W1, [svc, Svc("web")], step=60.0, baseline_phases=True)
