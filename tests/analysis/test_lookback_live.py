"""Ground truth through a real Prometheus: an incident that began before ``--from``.

The impact began 10 minutes before the window; the baseline (just before the window)
holds its first 10 minutes, and its alert was already firing at the window's start. The
analysis must walk back to the true impact start and first alert (within one step, marked
``found_before_window``), fill duration, MTTD and MTTR, and keep the incident's minutes
out of the baseline the thresholds are derived from.

Through the whole build: an impact that began 90 minutes before a one-hour window, so
before its one-hour baseline, is found in the stretch the build fetches further back
(``analysis.lookback_max``), and a rebuild from the bundle finds it with no server; one
that began before the bound stays unknown, and the build says how far back it looked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import MIN_ERROR_RATIO_THRESHOLD, analyse
from pmrecon.api import BuildRequest, build
from pmrecon.config import Config
from pmrecon.findings import findings_to_json
from pmrecon.look_back_fetch import QUERY_SUFFIX
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


#: A one-hour window whose one-hour baseline the incident already fills.
FROM = t("2026-03-03 11:00")
TO = FROM + dt.timedelta(hours=1)
EARLY_IMPACT = FROM - dt.timedelta(minutes=90)
EARLY_ACTIVATION = EARLY_IMPACT + dt.timedelta(minutes=1)
EARLY_RESOLUTION = FROM + dt.timedelta(minutes=20)
#: The same, a day later, begun four hours before the window: past a three-hour bound.
FAR_FROM = FROM + dt.timedelta(days=1)
FAR_IMPACT = FAR_FROM - dt.timedelta(hours=4)


def started_before_the_baseline(
    name: str, start: dt.datetime, impact: dt.datetime, alert: str
) -> Scenario:
    """One service failing from ``impact``; data from 7 h before ``start`` (the window, 1 h)."""
    end = start + dt.timedelta(minutes=20)
    svc = ServiceProfile("checkout", rps=20, phases=(Phase(impact, end, 0.25),))
    return Scenario(
        name,
        # the scenario's own span only decides how far back the data goes (its baseline)
        start - dt.timedelta(hours=3),
        start + dt.timedelta(hours=1),
        services=[svc, ServiceProfile("cart", rps=10)],
        alerts=[
            AlertSpec(
                alert,
                "checkout",
                ((impact + dt.timedelta(minutes=1), end + dt.timedelta(minutes=2)),),
                for_seconds=FOR_SECONDS,
            )
        ],
        description="the impact began before the baseline of a one-hour window",
    )


def _scenarios() -> list[Scenario]:
    return [
        started_before_from(),
        started_before_the_baseline("began_before_baseline", FROM, EARLY_IMPACT, "EarlyErrors"),
        started_before_the_baseline("began_past_the_bound", FAR_FROM, FAR_IMPACT, "FarErrors"),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = Path(tmp_path_factory.mktemp("lookback"))
    scenarios = _scenarios()
    backfill(scenarios, root / "data", root / "openmetrics")
    prom = PrometheusServer(root, root / "data", rules=rules_yaml(scenarios))
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


def _config(url: str | None, **analysis: object) -> Config:
    # a breach that fills the baseline gives no threshold to derive: it is set
    sources = {"prom": {"type": "prometheus", "url": url, "preset": "http_requests_total"}}
    return Config.from_dict(
        {
            "language": "en",
            "sources": sources if url else {},
            "analysis": {"error_ratio_threshold": 0.05, **analysis},
        }
    )


def test_a_start_before_the_baseline_is_fetched_found_and_rebuilt_offline(
    server: PrometheusServer, tmp_path: Path
) -> None:
    result = build(
        _config(server.url),
        BuildRequest(window=Window(FROM, TO), out=tmp_path / "live", png=False),
    )
    found = result.findings
    step = started_before_from().scrape_interval
    impact, alert = found["instants"]["impact_start"], found["instants"]["first_alert"]
    assert abs((_at(impact["at"]) - EARLY_IMPACT).total_seconds()) <= step
    assert impact["found_before_window"] is True
    first_eval = -(-ts(EARLY_ACTIVATION) // 15) * 15
    fired = dt.datetime.fromtimestamp(first_eval + FOR_SECONDS, tz=dt.UTC)
    assert abs((_at(alert["at"]) - fired).total_seconds()) <= step
    assert alert["found_before_window"] is True
    incident = found["incident"]
    duration = (EARLY_RESOLUTION - EARLY_IMPACT).total_seconds()
    assert incident["duration_seconds"] == pytest.approx(duration, abs=2 * step)
    assert incident["mttr_seconds"] == incident["duration_seconds"]
    assert incident["mttd_seconds"] == pytest.approx(
        (fired - EARLY_IMPACT).total_seconds(), abs=step
    )
    codes = {w["code"] for w in found["warnings"]}
    assert "impact_found_before_window" in codes
    assert not {"impact_start_beyond_lookback", "source_unavailable"} & codes

    # the stretch's queries are on record: the checkout SLIs only, up to 6 h before --from
    (prom,) = [s for s in found["sources"] if s["name"] == "prom"]
    further = [q for q in prom["queries"] if q["id"].endswith(QUERY_SUFFIX)]
    slis = [q for q in further if q.get("sli")]
    # (grouped queries name no service: their selector does)
    assert slis and all("checkout" in q["query"] and "cart" not in q["query"] for q in slis)
    assert not any("ALERTS" in str(q["query"]) for q in further)  # the window's tell activation
    # (request counts start one count step in, so that each counts a whole step)
    assert min(_at(q["start"]) for q in slis) == FROM - dt.timedelta(hours=6)
    assert all(_at(q["start"]) < FROM - dt.timedelta(hours=5) for q in slis)
    assert {_at(q["end"]) for q in slis} == {FROM - dt.timedelta(hours=1)}

    # rebuilt from the bundle, with no source configured: the same findings
    again = build(
        _config(None),
        BuildRequest(source_dir=tmp_path / "live" / "evidence", out=tmp_path / "again", png=False),
    )
    for key in ("incident", "instants", "warnings", "thresholds", "timeline"):
        assert again.findings[key] == found[key], key


def test_a_start_past_the_bound_stays_unknown_and_says_how_far_back(
    server: PrometheusServer, tmp_path: Path
) -> None:
    result = build(
        _config(server.url, lookback_max="3h"),
        BuildRequest(
            window=Window(FAR_FROM, FAR_FROM + dt.timedelta(hours=1)), out=tmp_path, png=False
        ),
    )
    found = result.findings
    impact = found["instants"]["impact_start"]
    assert impact["at"] is None and "found_before_window" not in impact
    assert found["incident"]["ongoing_at_start"] is True
    assert found["incident"]["duration_seconds"] is None
    (beyond,) = [w for w in found["warnings"] if w["code"] == "impact_start_beyond_lookback"]
    assert beyond["params"] == {
        "at": (FAR_FROM - dt.timedelta(hours=3)).isoformat(),
        "hours": "3",
    }
    # the report says so (Markdown escapes the key's underscore)
    report = (tmp_path / "postmortem.md").read_text(encoding="utf-8").replace("\\", "")
    assert "3 h before the window" in report and "`analysis.lookback_max`" in report
