"""The look-back's further fetch before the baseline, with hand-made sources (see "Look-back"
in docs/definitions.md): when it is asked for, of whom, what it adds, and a rebuild from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connectors.base import CheckResult, CollectRequest, MetricsSource
from connectors.bundle import bundle_files, evidence_from_files
from pmrecon.analysis import analyse
from pmrecon.api import collect, look_back
from pmrecon.config import Config
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.findings import findings_to_json
from pmrecon.look_back_fetch import QUERY_SUFFIX, add_look_back, look_back_stretch
from pmrecon.model import Evidence, Window
from pmrecon.report.graphs.canvas import FigureContext
from tests.evidence_factory import Deg, Svc, T, build

W0, W1 = T("2026-03-02 11:00"), T("2026-03-02 12:00")
MIN, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)
REQUEST = CollectRequest(window=Window(W0, W1), baseline=Window(W0 - HOUR, W0))


def _services(impact_from: dt.datetime, ratio: float = 0.3) -> list[Svc]:
    return [Svc("api", phases=[Deg(impact_from, W0 + 20 * MIN, error_ratio=ratio)]), Svc("web")]


def _window_evidence(impact_from: dt.datetime) -> Evidence:
    return build(W0, W1, _services(impact_from), step=60.0, baseline_phases=True)


def _stretch(impact_from: dt.datetime, stretch: Window, services: tuple[str, ...]) -> Evidence:
    """What a metrics source answers a look-back: baseline series over the stretch, named services."""
    wanted = [s for s in _services(impact_from) if s.name in services]
    # one sample at the stretch's end too: Prometheus answers [start, end] inclusive
    evidence = build(stretch.start, stretch.end + MIN, wanted, step=60.0, baseline=False)
    for s in evidence.series:
        s.baseline = True
    return evidence


class Metrics:
    """A metrics source whose incident began at ``impact_from``; it keeps what it was asked."""

    kind = "prometheus"

    def __init__(self, impact_from: dt.datetime, fail_look_back: bool = False) -> None:
        self.name = "prom"
        self.impact_from = impact_from
        self.fail_look_back = fail_look_back
        self.requests: list[CollectRequest] = []

    def collect(self, request: CollectRequest) -> Evidence:
        self.requests.append(request)
        if request.look_back is None:
            return _window_evidence(self.impact_from)
        if self.fail_look_back:
            raise ConnectorError("source 'prom': connection refused; check the URL")
        return _stretch(self.impact_from, request.look_back, request.services)

    def check(self) -> list[CheckResult]:
        return []

    def scrape_interval(self) -> float | None:
        return 60.0


class Logs:
    """A logs source: never asked for a look-back."""

    kind = "elasticsearch"

    def __init__(self) -> None:
        self.name = "es"
        self.requests: list[CollectRequest] = []

    def collect(self, request: CollectRequest) -> Evidence:
        self.requests.append(request)
        return Evidence(window=request.window, baseline=request.baseline)

    def check(self) -> list[CheckResult]:
        return []


def _config(**analysis: object) -> Config:
    return Config.from_dict({"analysis": {"error_ratio_threshold": 0.05, **analysis}})


def _gathered(metrics: Metrics, config: Config, strict: bool = False) -> tuple[Evidence, dict]:  # type: ignore[type-arg]
    sources = [metrics, Logs()]
    assert isinstance(metrics, MetricsSource) and not isinstance(sources[1], MetricsSource)
    evidence = collect(sources, REQUEST, strict=strict)
    evidence = look_back(config, sources, REQUEST, evidence, strict=strict)  # type: ignore[arg-type]
    found = findings_to_json(analyse(evidence, config["analysis"], language="en"))
    return evidence, found


def _at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


def _codes(found: dict) -> set[str]:  # type: ignore[type-arg]
    return {w["code"] for w in found["warnings"]}


def test_an_impact_before_the_baseline_is_fetched_and_found() -> None:
    metrics = Metrics(W0 - 90 * MIN)
    evidence, found = _gathered(metrics, _config())
    first, further = metrics.requests
    assert first.look_back is None
    # only the breached service, over the stretch up to 6 h before the window
    assert further.look_back == Window(W0 - 6 * HOUR, W0 - HOUR)
    assert further.services == ("api",)
    assert (further.window, further.baseline) == (REQUEST.window, REQUEST.baseline)

    impact = found["instants"]["impact_start"]
    assert abs((_at(impact["at"]) - (W0 - 90 * MIN)).total_seconds()) <= 60
    assert impact["found_before_window"] is True
    assert found["incident"]["duration_seconds"] == pytest.approx(110 * 60, abs=60)
    assert found["incident"]["mttr_seconds"] == found["incident"]["duration_seconds"]
    assert "impact_found_before_window" in _codes(found)
    assert "impact_start_beyond_lookback" not in _codes(found)

    # the stretch lies in front of the baseline series, the window's series untouched
    (ratio,) = [s for s in evidence.series if s.id == "error_ratio.api-baseline"]
    assert ratio.timestamps[0] == (W0 - 6 * HOUR).timestamp()
    assert list(ratio.timestamps) == sorted(set(ratio.timestamps))
    assert not any(
        s.service == "web" and s.timestamps[0] < (W0 - HOUR).timestamp() for s in evidence.series
    )
    # its queries are traceable, apart from the first collect's
    ids = [q.id for info in evidence.sources for q in info.queries]
    assert len(ids) == len(set(ids))
    assert any(i.endswith(QUERY_SUFFIX) for i in ids)


def test_a_rebuild_from_the_bundle_gives_the_same_findings() -> None:
    config = _config()
    evidence, found = _gathered(Metrics(W0 - 90 * MIN), config)
    again = evidence_from_files(bundle_files(evidence))
    assert findings_to_json(analyse(again, config["analysis"], language="en")) == found


def test_beyond_the_bound_the_start_stays_unknown_and_says_how_far_back() -> None:
    metrics = Metrics(W0 - 8 * HOUR)
    _, found = _gathered(metrics, _config(lookback_max="3h"))
    assert metrics.requests[1].look_back == Window(W0 - 3 * HOUR, W0 - HOUR)
    impact = found["instants"]["impact_start"]
    assert impact["at"] is None and "found_before_window" not in impact
    assert found["incident"]["duration_seconds"] is None
    (beyond,) = [w for w in found["warnings"] if w["code"] == "impact_start_beyond_lookback"]
    assert beyond["params"] == {"at": (W0 - 3 * HOUR).isoformat(), "hours": "3"}


def test_no_further_fetch_when_the_baseline_shows_the_start() -> None:
    metrics = Metrics(W0 - 10 * MIN)
    _, found = _gathered(metrics, _config())
    assert len(metrics.requests) == 1
    assert found["instants"]["impact_start"]["found_before_window"] is True


def test_zero_keeps_the_look_back_to_the_baseline() -> None:
    metrics = Metrics(W0 - 90 * MIN)
    _, found = _gathered(metrics, _config(lookback_max=0))
    assert len(metrics.requests) == 1
    (beyond,) = [w for w in found["warnings"] if w["code"] == "impact_start_beyond_lookback"]
    assert beyond["params"]["hours"] == "1"


def test_no_stretch_when_the_baseline_reaches_as_far() -> None:
    long_baseline = dataclasses.replace(REQUEST, baseline=Window(W0 - 8 * HOUR, W0))
    assert look_back_stretch(_config(), long_baseline) is None
    assert look_back_stretch(_config(), dataclasses.replace(REQUEST, baseline=None)) is None
    assert look_back_stretch(_config(lookback_max="2h"), REQUEST) == Window(
        W0 - 2 * HOUR, W0 - HOUR
    )


def test_a_failed_look_back_is_a_warning_or_with_strict_an_error() -> None:
    _, found = _gathered(Metrics(W0 - 90 * MIN, fail_look_back=True), _config())
    (failed,) = [w for w in found["warnings"] if w["code"] == "source_unavailable"]
    assert "look-back" in failed["message"] and "connection refused" in failed["message"]
    assert "impact_start_beyond_lookback" in _codes(found)
    with pytest.raises(ConnectorError, match="connection refused"):
        _gathered(Metrics(W0 - 90 * MIN, fail_look_back=True), _config(), strict=True)


def test_the_stretch_leaves_the_thresholds_and_the_graphs_to_the_baseline() -> None:
    evidence = _window_evidence(W0 - 10 * MIN)
    before = findings_to_json(analyse(evidence, {}, language="en"))["thresholds"]
    # a stretch in breach throughout, which would raise a threshold read from it
    stretch = _stretch(W0 - 6 * HOUR, Window(W0 - 6 * HOUR, W0 - HOUR), ("api", "web"))
    add_look_back(evidence, stretch)
    assert findings_to_json(analyse(evidence, {}, language="en"))["thresholds"] == before
    (ratio,) = [s for s in evidence.series if s.id == "error_ratio.api-baseline"]
    assert ratio.timestamps[0] < (W0 - HOUR).timestamp()
    figure = FigureContext(evidence, {}, "UTC", "en")
    xs, _ = figure.xy(ratio, shift=figure.baseline_shift(ratio))
    assert xs[0] == figure.local(W0)  # the baseline's first sample, under the window's start


def test_lookback_max_is_a_duration_up_to_a_week() -> None:
    assert _config(lookback_max="90m")["analysis"]["lookback_max"] == 5400
    assert _config()["analysis"]["lookback_max"] == 6 * 3600
    for bad in ("8d", "-1h", "soon"):
        with pytest.raises(ConfigError, match="lookback_max"):
            _config(lookback_max=bad)


def test_the_prometheus_look_back_reads_the_stretch_at_the_baselines_step() -> None:
    from connectors.base import SourceContext
    from connectors.prometheus import PrometheusSource
    from connectors.prometheus.source import Resolution

    source = PrometheusSource(
        "prom", {"url": "http://127.0.0.1:9", "preset": "http_requests_total"}, SourceContext()
    )
    res = Resolution(scrape=15, max_points=11_000, step=15, count_step=30, rate_window=60)
    (base,) = source._spans(REQUEST, res)[1:]
    stretch = Window(W0 - 6 * HOUR, W0 - HOUR)
    (span,) = source._spans(dataclasses.replace(REQUEST, look_back=stretch), res)
    assert (span.start, span.end) == (stretch.start.timestamp(), stretch.end.timestamp())
    assert span.baseline and (span.step, span.count_step, span.rate_window) == (
        base.step,
        base.count_step,
        base.rate_window,
    )
    # a week at 15 s would pass 11,000 points: a coarser step, still far below the join gap
    week = Window(W0 - 7 * 24 * HOUR, W0 - HOUR)
    (span,) = source._spans(dataclasses.replace(REQUEST, look_back=week), res)
    assert (week.end - week.start).total_seconds() / span.step + 1 <= 11_000
    assert 15 < span.step <= 60 and span.count_step >= span.step


def test_a_source_failing_only_in_the_look_back_is_said_so() -> None:
    metrics, other = Metrics(W0 - 90 * MIN), Metrics(W0 - 90 * MIN, fail_look_back=True)
    other.name = "prom-b"
    sources = [metrics, other]
    config = _config()
    evidence = collect(sources, REQUEST)  # type: ignore[arg-type]
    evidence = look_back(config, sources, REQUEST, evidence)  # type: ignore[arg-type]
    (failed,) = [w for w in evidence.warnings if w.code == "source_unavailable"]
    assert failed.source == "prom-b" and failed.message.startswith("in the look-back")
    found = findings_to_json(analyse(evidence, config["analysis"], language="en"))
    assert found["instants"]["impact_start"]["found_before_window"] is True
