"""Ground truth through a real Prometheus: an incident that began before ``--from``.

The impact began 10 minutes before the window; the baseline (just before the window)
holds its first 10 minutes, and its alert was already firing at the window's start. The
analysis must walk back to the true impact start and first alert (within one step, marked
``found_before_window``), fill duration, MTTD and MTTR, and keep the incident's minutes
out of the baseline the thresholds are derived from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import MIN_ERROR_RATIO_THRESHOLD, analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Window
from tests.infra.prometheus import PrometheusServer, backfill
from tests.scenarios import (
    BASE_ERROR_RATIO,
    AlertSpec,
    Phase,
    Scenario,
    ServiceProfile,
    rules_yaml,
    t,
    ts,
)

pytestmark = pytest.mark.prometheus

IMPACT_START = t("2026-03-02 10:50")
ACTIVATION = t("2026-03-02 10:51")
FOR_SECONDS = 60
RESOLUTION = t("2026-03-02 11:30")


def started_before_from() -> Scenario:
    """One service failing from 10 minutes before the window's start, its alert already firing."""
    svc = ServiceProfile("checkout", rps=20, phases=(Phase(IMPACT_START, RESOLUTION, 0.25, 0.6),))
    return Scenario(
        "started_before_from",
        t("2026-03-02 11:00"),
        t("2026-03-02 12:30"),
        services=[svc, ServiceProfile("cart", rps=10)],
        alerts=[
            AlertSpec(
                "HighErrorRate",
                "checkout",
                ((ACTIVATION, t("2026-03-02 11:32")),),
                for_seconds=FOR_SECONDS,
            )
        ],
        description="the impact began 10 minutes before --from",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = Path(tmp_path_factory.mktemp("lookback"))
    sc = started_before_from()
    backfill([sc], root / "data", root / "openmetrics")
    prom = PrometheusServer(root, root / "data", rules=rules_yaml([sc]))
    prom.start()
    try:
        yield prom
    finally:
        prom.stop()


def _findings(server: PrometheusServer) -> dict:  # type: ignore[type-arg]
    sc = started_before_from()
    source = PrometheusSource(
        "prom", {"url": server.url, "preset": "http_requests_total"}, SourceContext()
    )
    evidence = source.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    )
    return findings_to_json(analyse(evidence, {}, language="en"))


def _at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


def test_impact_start_and_first_alert_found_before_the_window(server: PrometheusServer) -> None:
    found = _findings(server)
    sc = started_before_from()
    step = sc.scrape_interval
    impact, alert = found["instants"]["impact_start"], found["instants"]["first_alert"]
    assert abs((_at(impact["at"]) - IMPACT_START).total_seconds()) <= step
    assert impact["found_before_window"] is True
    # Prometheus fires at the first evaluation `for` after activation (evaluations every 15 s)
    first_eval = -(-ts(ACTIVATION) // sc.eval_interval) * sc.eval_interval
    fired = dt.datetime.fromtimestamp(first_eval + FOR_SECONDS, tz=dt.UTC)
    assert abs((_at(alert["at"]) - fired).total_seconds()) <= step
    assert alert["found_before_window"] is True

    incident = found["incident"]
    assert incident["ongoing_at_start"] is True
    duration = (RESOLUTION - IMPACT_START).total_seconds()
    assert incident["duration_seconds"] == pytest.approx(duration, abs=2 * step)
    assert incident["mttr_seconds"] == incident["duration_seconds"]
    assert incident["mttd_seconds"] == pytest.approx(
        (fired - IMPACT_START).total_seconds(), abs=step
    )
    codes = {w["code"] for w in found["warnings"]}
    assert {"impact_found_before_window", "first_alert_found_before_window"} <= codes
    assert "ongoing_at_start" not in codes
    # instants inside the window are not marked
    assert "found_before_window" not in found["instants"]["resolution"]


def test_baseline_holding_the_incidents_start_does_not_raise_the_threshold(
    server: PrometheusServer,
) -> None:
    found = _findings(server)
    (checkout,) = [
        x for x in found["thresholds"] if x["service"] == "checkout" and x["sli"] == "error_ratio"
    ]
    # 10 of the baseline's 90 minutes at 25 % errors would lift the mean to ~3 % (threshold ~6 %)
    assert checkout["origin"] == "baseline"
    assert checkout["baseline_level"] == pytest.approx(BASE_ERROR_RATIO, abs=0.002)
    assert checkout["value"] == MIN_ERROR_RATIO_THRESHOLD
    left_out = [w for w in found["warnings"] if w["code"] == "baseline_in_breach"]
    assert {w["params"]["sli"] for w in left_out} >= {checkout["series"]}
    assert all(w["code"] != "baseline_unreliable" for w in found["warnings"])
    # the healthy service's baseline is left whole
    assert not any("cart" in w["params"]["sli"] for w in left_out)
