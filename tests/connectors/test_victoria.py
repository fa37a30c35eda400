"""The Prometheus connector against a real VictoriaMetrics holding every ground-truth scenario.

The very samples the Prometheus tests backfill with promtool (``Scenario.openmetrics()``)
go in through VictoriaMetrics' import API, and the scenarios' alerting rules into the
package's vmalert, which VictoriaMetrics proxies ``/api/v1/rules`` to. The Prometheus
tests of alert intervals, error ratio, latency and availability then run here unchanged,
on this server's ``collected``: same truth, same tolerances. A second VictoriaMetrics,
alone as most are run, shows what it lacks (configuration, version, rules) and that
``pmrecon build`` and ``check`` say so. Where its figures legitimately differ — its
``rate()``/``increase()`` and lookback rules are its own — the difference is measured
beside the real Prometheus of the suite and documented in docs/definitions.md
("Prometheus-compatible servers").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.errors import EXIT_OK
from pmrecon.findings import findings_to_json
from pmrecon.model import Evidence, Window
from tests.clihelp import run_cli
from tests.connectors.test_prometheus_backfill import (  # noqa: F401 - collected here, on VictoriaMetrics
    ALL,
    PRESET,
    SETTINGS,
    _main,
    test_alert_intervals_match_truth,
    test_availability_as_ratio_of_sums_matches_truth,
    test_max_error_ratio_matches_truth,
    test_p99_lies_in_the_true_bucket_on_the_plateau,
)
from tests.infra.prometheus import http_get
from tests.infra.victoria import VictoriaMetricsServer, VmalertServer, import_scenarios
from tests.scenarios import Scenario, all_scenarios, rules_yaml

#: Samples written "now" for `pmrecon check`, which looks at the last hour.
RECENT_SERVICE = "recent"


def _recent_lines(now: int, scrape: int = 15) -> Iterator[str]:
    """Half an hour of a healthy service up to ``now``: what `check` looks for in the last hour."""
    s = RECENT_SERVICE
    for i, t in enumerate(range(now - 1800, now + 1, scrape)):
        yield f'http_requests_total{{service="{s}",code="200"}} {i * 100} {t * 1000}'
        yield f'http_requests_total{{service="{s}",code="500"}} 0 {t * 1000}'
        yield f'up{{job="{s}",instance="{s}-0:8080"}} 1 {t * 1000}'


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """VictoriaMetrics holding every scenario (imported once), its rules served by vmalert."""
    root = Path(tmp_path_factory.mktemp("victoria"))
    scenarios = all_scenarios()
    server = VictoriaMetricsServer(root / "victoria-metrics")
    rules = VmalertServer(root / "vmalert", server.url, rules_yaml(scenarios))
    server.extra_args.append(f"-vmalert.proxyURL={rules.url}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(server)
        stack.enter_context(rules)
        import_scenarios(server, scenarios)
        yield server


@pytest.fixture(scope="module")
def bare_victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """VictoriaMetrics alone, as most run it: one scenario, and recent samples for `check`."""
    with VictoriaMetricsServer(Path(tmp_path_factory.mktemp("bare-victoria"))) as server:
        assert isinstance(server, VictoriaMetricsServer)
        import_scenarios(server, [s for s in all_scenarios() if s.name == "clean_single"])
        server.import_lines(_recent_lines(int(time.time()) - 60))
        yield server


def _collect(url: str, sc: Scenario, **settings: object) -> Evidence:
    src = PrometheusSource(
        "vm",
        {
            "url": url,
            "preset": PRESET[sc.convention],
            **SETTINGS.get(sc.convention, {}),
            **settings,
        },
        SourceContext(),
    )
    return src.collect(CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline)))


@pytest.fixture(scope="module")
def collected(victoria: VictoriaMetricsServer):  # noqa: ANN201 - the Prometheus tests' fixture, on VictoriaMetrics
    cache: dict[tuple[str, str], tuple[Scenario, Evidence]] = {}

    def get(name: str, **settings: object) -> tuple[Scenario, Evidence]:
        key = (name, json.dumps(settings, sort_keys=True, default=str))
        if key not in cache:
            sc = victoria.scenarios[name]
            cache[key] = (sc, _collect(victoria.url, sc, **settings))
        return cache[key]

    return get


def _close(got: str | None, want: dt.datetime | None, tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs((dt.datetime.fromisoformat(got) - want).total_seconds()) <= tol


SINGLE = sorted(sc.name for sc in all_scenarios() if len(sc.truth["incidents"]) == 1)


@pytest.mark.parametrize("name", SINGLE)
def test_instants_and_availability_within_the_prometheus_tolerances(collected, name: str) -> None:
    """Instants within one step, MTTD within two, availability within 0.001, as from Prometheus."""
    sc, ev = collected(name)
    data = findings_to_json(analyse(ev, {}))
    inc = data["incident"]
    (truth,) = sc.truth["incidents"]
    step = sc.scrape_interval
    assert _close(inc["impact_start"], truth["impact_start"], step)
    assert _close(inc["first_alert"], truth["first_alert"], step)
    assert _close(inc["resolution"], truth["resolution"], step)
    mttd = (truth["first_alert"] - truth["impact_start"]).total_seconds()
    assert abs(inc["mttd_seconds"] - mttd) <= 2 * step
    assert inc["availability"]["value"] == pytest.approx(sc.truth["availability"], abs=0.001)
    assert inc["max_error_rate"]["value"] == pytest.approx(
        sc.truth["max_error_ratio"]["value"], abs=0.01
    )


def test_alone_it_lists_no_rule_and_alerts_keep_their_intervals(bare_victoria) -> None:  # noqa: ANN001
    """Without vmalert: alert intervals from raw samples still, no annotations, and it is said."""
    sc = bare_victoria.scenarios["clean_single"]
    ev = _collect(bare_victoria.url, sc)
    e = sc.truth["eval_interval"]
    got = {a.name: a for a in ev.alerts}
    assert set(got) == {a["name"] for a in sc.truth["alerts"]}
    for want in sc.truth["alerts"]:
        alert = got[want["name"]]
        assert [iv.start for iv in alert.firing] == [s0 for s0, _ in want["firing"]]
        for iv, (_, s1) in zip(alert.firing, want["firing"]):
            assert abs((iv.end - s1).total_seconds()) <= e
        assert alert.annotations == {}
    (no_rules,) = [w for w in ev.warnings if w.code == "no_rules_listed"]
    assert "lists no alerting rule" in no_rules.message and "vmalert" in no_rules.message


def test_what_the_server_lacks_is_said_not_guessed(bare_victoria) -> None:  # noqa: ANN001
    """Empty config and buildinfo: scrape interval measured, version null, each warned."""
    sc = bare_victoria.scenarios["clean_single"]
    ev = _collect(bare_victoria.url, sc)
    (src,) = ev.sources
    assert src.version is None and src.settings["server"] is None
    # measured from the raw samples' spacing, not Prometheus's 60 s default
    assert src.settings["scrape_interval"] == sc.scrape_interval == 15
    assert src.settings["step"] == 15 and src.settings["rate_window"] == 60
    by_code = {w.code: w.message for w in ev.warnings}
    assert "empty configuration" in by_code["no_server_config"]
    assert (
        "scrape interval taken as 15s, the spacing of the raw samples of"
        in (by_code["no_server_config"])
    )
    assert "/api/v1/status/buildinfo is empty" in by_code["unknown_server_version"]
    measured = [q for q in src.queries if q.purpose.startswith("scrape interval")]
    assert [q.endpoint for q in measured] == ["/api/v1/query", "/api/v1/query"]


def test_a_configured_scrape_interval_wins_and_nothing_is_measured(bare_victoria) -> None:  # noqa: ANN001
    ev = _collect(bare_victoria.url, bare_victoria.scenarios["clean_single"], scrape_interval=30)
    (src,) = ev.sources
    assert src.settings["scrape_interval"] == 30
    assert not [q for q in src.queries if q.purpose.startswith("scrape interval")]
    assert "no_server_config" not in {w.code for w in ev.warnings}


# ---------------------------------------------------------------- measured differences


def _point_at(ev: Evidence, kind: str, service: str, t: float, baseline: bool) -> float:
    (series,) = [
        s for s in ev.series if s.kind == kind and s.service == service and s.baseline is baseline
    ]
    return dict(zip(series.timestamps, series.values))[t]


def test_rate_over_a_series_first_samples(victoria, prometheus) -> None:  # noqa: ANN001
    """docs/definitions.md: Prometheus extrapolates over the whole range, VictoriaMetrics does not.

    One scrape after a counter's first sample, ``rate(x[60s])`` holds two samples 15 s
    apart: Prometheus divides their increase by the range (extrapolated at most to where
    the counter would be zero, here the first sample), VictoriaMetrics by the 15 s they span.
    """
    sc = victoria.scenarios["clean_single"]
    first, second = sc.steps("checkout")[:2]
    t = float(second["t"])
    true_rate = second["total"] / (second["t"] - first["t"])
    at_vm = _point_at(_collect(victoria.url, sc), "throughput", "checkout", t, True)
    at_prom = _point_at(_collect(prometheus.url, sc), "throughput", "checkout", t, True)
    assert at_vm == pytest.approx(true_rate, rel=1e-9)
    assert at_prom == pytest.approx(true_rate * 15 / 60, rel=1e-9)  # a quarter of it


def test_requests_during_a_scrape_gap(victoria, prometheus) -> None:  # noqa: ANN001
    """docs/definitions.md: VictoriaMetrics' increase() starts from the sample before its range.

    After a scrape gap longer than the count step, Prometheus's ``increase(x[30s])`` holds
    one sample and nothing is counted: the gap's requests are lost. VictoriaMetrics counts
    from the last sample before the range, so the gap's requests land in the first step
    after it and the totals equal the truth.
    """
    sc = victoria.scenarios["scrape_gap"]
    tr = sc.truth
    a, b = (x.timestamp() for x in tr["availability_interval"])

    def totals(ev: Evidence) -> tuple[float, float]:
        def one(kind: str) -> float:
            return sum(
                v for s in _main(ev, kind) for x, v in zip(s.timestamps, s.values) if a < x <= b
            )

        return one("requests_total"), one("requests_bad")

    g0, g1, svc = sc.gaps[0]
    gap_requests = sc.service(svc).rps * (g1 - g0).total_seconds()
    vm_total, vm_bad = totals(_collect(victoria.url, sc))
    prom_total, prom_bad = totals(_collect(prometheus.url, sc))
    assert vm_total == tr["requests_total_all_services"]
    assert vm_bad == tr["failed_requests_all_services"]
    assert prom_total == pytest.approx(vm_total - gap_requests, abs=1)
    # the ratio inside the gap is the incident's: both availabilities agree all the same
    assert 1 - vm_bad / vm_total == pytest.approx(1 - prom_bad / prom_total, abs=0.001)


def _last_point(url: str, promql: str, start: float, end: float, step: int) -> float:
    params = {"query": promql, "start": str(start), "end": str(end), "step": str(step)}
    status, body = http_get(f"{url}/api/v1/query_range?{urllib.parse.urlencode(params)}", 10)
    assert status == 200, body
    (series,) = json.loads(body)["data"]["result"]
    return float(series["values"][-1][0])


def test_lookback_after_a_series_stops(victoria, prometheus) -> None:  # noqa: ANN001
    """docs/definitions.md: a series without a staleness marker lasts 5 min on Prometheus.

    A backfilled or imported series that stops (here the ``ALERTS`` of a resolved alert)
    goes on for Prometheus's 5-minute lookback in ``query_range``; VictoriaMetrics ends it
    within one step of its last sample. pmrecon reads alerts from raw samples, so neither
    shows in its alert intervals; an SLI template over a gauge that vanishes would.
    """
    sc = victoria.scenarios["clean_single"]
    spec = next(a for a in sc.alerts if a.name == "HighErrorRate")
    last = float(sc.alert_ticks(spec)[-1]["firing"][-1])  # the last ALERTS sample
    q = 'ALERTS{alertname="HighErrorRate",alertstate="firing"}'
    lo, hi = last - 600, last + 900
    assert _last_point(prometheus.url, q, lo, hi, 15) == last + 300
    assert last <= _last_point(victoria.url, q, lo, hi, 15) <= last + 15


# ---------------------------------------------------------------- pmrecon build


def test_build_against_victoria_metrics_writes_the_report_with_its_warnings(
    tmp_path: Path, bare_victoria: VictoriaMetricsServer
) -> None:
    """The whole command, as a user runs it: exit 0, true instants, what is missing said."""
    sc = bare_victoria.scenarios["clean_single"]
    cfg = tmp_path / "pmrecon.yaml"
    source = {"type": "prometheus", "url": bare_victoria.url}
    cfg.write_text(yaml.safe_dump({"timezone": "UTC", "sources": {"vm": source}}), encoding="utf-8")
    out = tmp_path / "out"
    run = run_cli(
        "build", "-c", str(cfg), "--from", sc.start.isoformat(), "--to", sc.end.isoformat(),
        "-o", str(out), "--no-png", timeout=180,
    )  # fmt: skip
    assert run.code == EXIT_OK, run.err
    found = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    (truth,) = sc.truth["incidents"]
    for key in ("impact_start", "first_alert", "resolution"):
        assert _close(found["incident"][key], truth[key], sc.scrape_interval), key
    codes = {w["code"] for w in found["warnings"]}
    assert {"no_server_config", "unknown_server_version", "no_rules_listed"} <= codes
    # The French report words the cause; findings.json keeps the English detail
    assert "pas d'intervalle de collecte : 15 s retenus" in (out / "postmortem.md").read_text(
        encoding="utf-8"
    )
    assert any("scrape interval taken as 15s" in w["message"] for w in found["warnings"])


# ---------------------------------------------------------------- pmrecon check


def test_check_says_what_the_server_lacks_without_failing(
    tmp_path: Path, bare_victoria: VictoriaMetricsServer
) -> None:
    cfg = tmp_path / "pmrecon.yaml"
    source: dict[str, Any] = {
        "type": "prometheus",
        "url": bare_victoria.url,
        "slis": {"latency": "off"},
    }
    cfg.write_text(yaml.safe_dump({"sources": {"vm": source}}), encoding="utf-8")
    run = run_cli("check", "-c", str(cfg), env={"NO_COLOR": "1"}, timeout=60)
    assert run.code == EXIT_OK, run.out + run.err
    lines = {line.split()[2]: line for line in run.out.splitlines() if line.split()[1:2] == ["vm"]}
    assert (
        lines["version"].startswith("ok ")
        and "unknown (empty /api/v1/status/buildinfo" in (lines["version"])
    )
    assert lines["intervals"].startswith("ok ")
    assert "empty configuration (VictoriaMetrics?)" in lines["intervals"]
    assert "measures it from the samples' spacing" in lines["intervals"]
    metrics = [line for line in run.out.splitlines() if " vm metric " in line]
    assert metrics and all(line.startswith("ok ") for line in metrics), metrics
    assert "FAIL" not in run.out and "Traceback" not in run.err
