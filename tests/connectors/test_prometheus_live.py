"""Alerts written by Prometheus itself: a live target, a ``for: 2s`` rule, stale markers included.

The fixture's timeline switches the target's error counter on at +3 s, off at +9 s,
on at +14 s and off at +20 s (scrape and evaluation every second). Prometheus then
writes ALERTS/ALERTS_FOR_STATE and, when the alert resolves, stale markers; the
connector must end each interval at its last sample plus one evaluation interval,
not five minutes later through the query lookback.
"""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.model import Window

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def live_evidence(live_prometheus):  # noqa: ANN001, ANN201
    live_prometheus.wait()
    window = Window(
        live_prometheus.started - dt.timedelta(seconds=5), dt.datetime.now(dt.timezone.utc)
    )
    src = PrometheusSource(
        "live", {"url": live_prometheus.url, "services": ["live"]}, SourceContext()
    )
    return live_prometheus, window, src, src.collect(CollectRequest(window=window))


def test_live_alert_intervals_follow_the_flips(live_evidence) -> None:
    live, window, _, ev = live_evidence
    (alert,) = ev.alerts
    assert alert.name == "LiveErrors" and alert.severity == "critical"
    assert alert.labels["service"] == "live" and alert.labels["instance"] == live.target.address
    assert alert.annotations["summary"] == "live returns errors"
    ons = [t for t, failing in live.flips if failing]
    offs = [t for t, failing in live.flips if not failing]
    assert len(alert.firing) == len(ons) == 2, alert.firing
    assert len(alert.pending) == 2
    for iv, on, off, pend in zip(alert.firing, ons, offs, alert.pending):
        # pending as soon as a scrape shows errors, firing 2 s (the rule's `for`) later
        lag = (iv.start - on).total_seconds()
        assert 2.0 <= lag <= 5.0, lag
        assert abs((pend.end - iv.start).total_seconds()) <= 1.0
        assert 0 <= (pend.start - on).total_seconds() <= 3.0
        # resolved within the rule's 3 s range + scrape + evaluation: never the 5-minute lookback
        tail = (iv.end - off).total_seconds()
        assert 0 <= tail <= 7.0, tail
        assert not iv.open_end
    assert alert.active_at is not None
    assert abs((alert.active_at - alert.pending[0].start).total_seconds()) <= 1.0


def test_live_source_info_uses_the_rule_group_interval(live_evidence) -> None:
    _, _, _, ev = live_evidence
    (src,) = ev.sources
    assert src.settings["scrape_interval"] == 1.0
    assert src.settings["evaluation_interval"] == 1.0
    assert any("ALERTS_FOR_STATE" in str(q.query) for q in src.queries)


def test_live_error_ratio_reaches_one_half(live_evidence) -> None:
    _, _, _, ev = live_evidence
    (ratio,) = [s for s in ev.series if s.kind == "error_ratio"]
    assert max(ratio.values) == pytest.approx(0.5, abs=0.01)
    assert min(ratio.values) == 0.0


def test_live_check_finds_the_scraped_metrics(live_evidence) -> None:
    _, _, src, _ = live_evidence
    results = {r.check: r for r in src.check()}
    assert results["metric http_requests_total"].ok
    assert results["metric http_requests_total"].detail.startswith("2 series")
    assert results["metric up"].ok
    missing = results["metric http_request_duration_seconds_bucket"]
    assert not missing.ok and missing.fix
