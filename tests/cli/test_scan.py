"""Scheduled mode (issue 7): ``pmrecon scan`` over long windows, against real servers.

The scan scenarios (``tests.scenarios.SCAN_SCENARIOS``) are backfilled into this module's
own Prometheus (one block per scenario: a month of data would otherwise be read by
promtool once per 2-hour block). Every expected incident comes from the scenario's
declaration (``scenario.truth``), never from pmrecon's code.

Tolerance: an incident's start and resolution within two steps of the truth (two log
buckets when the logs alone show it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import read_bundle
from pmrecon.config import Config, validate
from pmrecon.errors import EXIT_CONFLICT, EXIT_DEGRADED, EXIT_INCIDENT, EXIT_OK
from pmrecon.model import Window
from pmrecon.scanning import (
    RECORD,
    Candidate,
    ScanIncident,
    ScanResult,
    collect_coarse,
    detail_windows,
    exit_code,
    find_candidates,
    format_table,
    incident_id_for,
    match_draft,
    read_drafts,
    scan,
    table_rows,
    to_json,
)
from tests import evidence_factory as ef
from tests.clihelp import run_cli
from tests.docblocks import ROOT, run_blocks
from tests.infra.es import free_port, pinned_version
from tests.infra.prometheus import PrometheusServer, backfill
from tests.scenarios import SCAN_SCENARIOS, Scenario, rules_yaml

UTC = dt.timezone.utc

#: The scan is about finding incidents, not about Elasticsearch versions (the connector's
#: own tests cover both majors): one node, the newest, keeps this module quick.
NEWEST_ES = pytest.mark.parametrize(
    "es_node", [pytest.param(pinned_version(9), id="es9")], indirect=True
)


# --------------------------------------------------------------------------- servers


@dataclasses.dataclass
class ScanProm:
    url: str
    scenarios: dict[str, Scenario]


@pytest.fixture(scope="module")
def scan_prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScanProm]:
    """A Prometheus holding the scan scenarios (3 days at 60 s, 30 days at 5 min)."""
    root = Path(tmp_path_factory.mktemp("scan-prometheus"))
    scenarios = [f() for f in SCAN_SCENARIOS.values()]
    # each scenario into one block: fast for weeks of data
    backfill(
        scenarios,
        root / "data",
        root / "openmetrics",
        max_block_duration="2000h",
        workers=2,
        keep_files=False,
    )
    server = PrometheusServer(
        root,
        root / "data",
        scrape_interval="60s",
        evaluation_interval="60s",
        rules=rules_yaml(scenarios, interval=60),
    )
    server.start()
    try:
        yield ScanProm(server.url, {sc.name: sc for sc in scenarios})
    finally:
        server.stop()


def make_config(
    prom_url: str | None = None, es: Any = None, scrape: float | None = None, **extra: Any
) -> Config:
    sources: dict[str, Any] = {}
    if prom_url:
        sources["prom"] = {"type": "prometheus", "url": prom_url, "preset": "http_requests_total"}
        if scrape:  # the server's global interval is 60 s; the month's data is at 5 min
            sources["prom"]["scrape_interval"] = scrape
    if es is not None:
        sources["logs"] = {"type": "elasticsearch", "hosts": [es[0]], "index": [es[1]]}
    return Config(validate({"language": "en", "sources": sources, **extra}))


# --------------------------------------------------------------------------- truth


def _bundle_steps(path: Path) -> dict[str, float]:
    """Step and log bucket of the data a draft was built from."""
    ev = read_bundle(path / "evidence")
    out: dict[str, float] = {}
    for src in ev.sources:
        if src.kind == "prometheus":
            out["step"] = float(src.settings["step"])
        if src.kind == "elasticsearch":
            out["log_interval"] = float(src.settings["interval"])
    return out


def assert_matches_truth(result: ScanResult, truth: list[dict[str, Any]]) -> None:
    """Exactly the truth's incidents, each within the tolerances of the module docstring."""
    got = sorted(result.incidents, key=lambda i: i.span[0])
    want = sorted(truth, key=lambda t: t["impact_start"])
    assert [sorted(i.services) for i in got] == [sorted(t["services"]) for t in want], (
        [(i.impact_start, i.services) for i in got],
        want,
    )
    for inc, t in zip(got, want):
        steps = _bundle_steps(inc.path)
        logs_only = t["first_alert"] is None and "log_interval" in steps
        unit = steps["log_interval"] if logs_only else steps["step"]
        assert inc.impact_start is not None and inc.resolution is not None
        start_err = abs((inc.impact_start - t["impact_start"]).total_seconds())
        end_err = abs((inc.resolution - t["resolution"]).total_seconds())
        assert start_err <= 2 * unit, (inc.id, inc.impact_start, t["impact_start"])
        assert end_err <= 2 * unit, (inc.id, inc.resolution, t["resolution"], steps)
        # the draft was built from a window around the incident, padded by the margin
        assert inc.window.start <= t["impact_start"] and inc.window.end >= t["resolution"]


# --------------------------------------------------------------------------- the 3-day scan


@dataclasses.dataclass
class FirstScan:
    scenario: Scenario
    config: Config
    out: Path
    result: ScanResult


@pytest.fixture(scope="module")
def three_days(scan_prom: ScanProm, tmp_path_factory: pytest.TempPathFactory) -> FirstScan:
    """The 3-day window scanned once into a fresh folder (Prometheus only)."""
    sc = scan_prom.scenarios["scan_three_days"]
    config = make_config(scan_prom.url)
    out = Path(tmp_path_factory.mktemp("three-days")) / "pm"
    return FirstScan(sc, config, out, scan(config, sc.start, sc.end, out, png=False))


@pytest.mark.prometheus
def test_three_day_scan_finds_the_metric_incidents(three_days: FirstScan) -> None:
    sc, result, out = three_days.scenario, three_days.result, three_days.out
    # Without logs the worker's incident is invisible (0.8 % errors, under every threshold).
    metric_truth = [t for t in sc.truth["incidents"] if t["services"] != ["worker"]]
    assert len(metric_truth) == 2
    assert_matches_truth(result, metric_truth)
    assert result.discarded == [] and result.failed == [] and result.skipped == []
    assert [i.status for i in result.incidents] == ["new", "new"]

    storm = result.incidents[0]
    # Two alert storms 10 minutes apart are one incident: both storms' firings are in it.
    assert storm.alerts == ["CheckoutDegraded", "HighErrorRate"]
    findings = json.loads((storm.path / "findings.json").read_text())
    checkout = [
        a
        for a in findings["alerts"]
        if a["name"] == "HighErrorRate" and a["labels"]["service"] == "checkout"
    ]
    assert len(checkout) == 1 and len(checkout[0]["firing"]) == 2 and checkout[0]["in_incident"]

    # Folder names: <YYYY-MM-DD-HHMM>-<slug>, the time being the incident start.
    assert sorted(p.name for p in out.iterdir()) == [i.id for i in result.incidents]
    assert storm.id.startswith("2026-07-06-1000-")
    assert result.incidents[1].id == "2026-07-07-1400-payments-higherrorrate"
    for inc in result.incidents:
        for name in ("postmortem.md", "findings.json", "report.html", "evidence", RECORD):
            assert (inc.path / name).exists(), name


@pytest.mark.prometheus
def test_rescan_creates_nothing_new_and_keeps_a_hand_edit(three_days: FirstScan) -> None:
    sc, config, out, first = (
        three_days.scenario,
        three_days.config,
        three_days.out,
        three_days.result,
    )
    draft = first.incidents[0].path / "postmortem.md"
    text = draft.read_text()
    placeholder = "**Number of users affected**: [Number or %]"
    assert placeholder in text
    draft.write_text(
        text.replace(placeholder, "**Number of users affected**: about 1,200 (support desk)")
    )
    before = sorted(p.name for p in out.iterdir())

    # A nightly job an hour later: the window has moved and holds a little more data.
    again = scan(
        config, sc.start + dt.timedelta(hours=1), sc.end + dt.timedelta(minutes=20), out, png=False
    )
    assert sorted(p.name for p in out.iterdir()) == before
    assert [i.status for i in again.incidents] == ["updated", "updated"]
    assert [i.id for i in again.incidents] == [i.id for i in first.incidents]
    assert all(i.conflicts == 0 for i in again.incidents)
    assert "about 1,200 (support desk)" in draft.read_text()
    record = json.loads((first.incidents[0].path / RECORD).read_text())
    assert record["id"] == first.incidents[0].id
    assert record["first_seen"] < record["last_scan"]


@pytest.mark.prometheus
def test_severity_filter_keeps_warning_alerts_out(scan_prom: ScanProm, tmp_path: Path) -> None:
    sc = scan_prom.scenarios["scan_three_days"]
    # 2026-07-07 00:00-07:00 holds only a warning-level HighLatency on cart, no impact.
    start, end = sc.start + dt.timedelta(days=1), sc.start + dt.timedelta(days=1, hours=7)
    quiet = scan(make_config(scan_prom.url), start, end, tmp_path / "a", png=False)
    assert quiet.incidents == [] and quiet.candidates == []
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    assert exit_code(quiet, fail_on_incident=True) == EXIT_OK
    # With every severity allowed, the warning alert opens an (alerts-only) incident.
    every = make_config(scan_prom.url, scan={"severities": []})
    loud = scan(every, start, end, tmp_path / "b", png=False)
    assert [(i.services, i.alerts) for i in loud.incidents] == [(["cart"], ["HighLatency"])]
    assert loud.incidents[0].impact_start is not None
    assert loud.incidents[0].impact_start.strftime("%H:%M") == "03:00"


# --------------------------------------------------------------------------- 30 days


#: Queries one pass may send, per source kind (see connectors/prometheus.py):
#: server facts (buildinfo, config, rules), service discovery, and per service the SLI
#: templates of the preset (error ratio, throughput, requests total and bad, uptime) plus
#: one latency query per quantile. Alerts are read as raw samples, two queries per day.
PROM_FIXED = 3 + 1
#: The detail pass also looks up the metrics that show changes (build info, start time,
#: kube-state-metrics): one call, and no range query when the server has none of them.
PROM_DETAIL_FIXED = PROM_FIXED + 1
PROM_PER_SERVICE_COARSE = 5 + 1  # one quantile on coarse data
PROM_PER_SERVICE_DETAIL = 2 * (5 + 3)  # window and baseline, three quantiles
#: Where the errors were (connectors/prometheus/concentration.py), whatever the number of
#: services: the counted metric's label names, then window and baseline for each of at
#: most four labels (none when the metric has no instance, route or method label).
PROM_BREAKDOWNS = 1 + 2 * 4


@pytest.mark.prometheus
def test_thirty_day_scan_is_bounded(scan_prom: ScanProm, tmp_path: Path) -> None:
    sc = scan_prom.scenarios["scan_month"]
    config = make_config(scan_prom.url, scrape=sc.scrape_interval)
    days = math.ceil((sc.end - sc.start).total_seconds() / 86400)
    services = len(sc.services)

    # The coarse pass never asks for more than 600 points per series.
    coarse = collect_coarse(config, Window(sc.start, sc.end))
    ranges = [q for s in coarse.sources for q in s.queries if q.step_seconds]
    assert ranges
    for q in ranges:
        assert q.start is not None and q.end is not None
        assert (q.end - q.start).total_seconds() / q.step_seconds + 1 <= 600, q

    t0 = time.monotonic()
    result = scan(config, sc.start, sc.end, tmp_path / "pm", png=False)
    wall = time.monotonic() - t0
    assert_matches_truth(result, sc.truth["incidents"])

    coarse_bound = PROM_FIXED + 2 * days + services * PROM_PER_SERVICE_COARSE
    detail_days = max(math.ceil(i.window.seconds / 86400) for i in result.incidents)
    per_incident = (
        PROM_DETAIL_FIXED + 2 * detail_days + services * PROM_PER_SERVICE_DETAIL + PROM_BREAKDOWNS
    )
    assert result.queries["coarse"] <= coarse_bound
    assert result.queries["detail"] <= len(result.incidents) * per_incident
    assert result.total_queries <= coarse_bound + len(result.incidents) * per_incident
    summary = (
        f"30-day scan: {len(result.incidents)} incidents, {result.total_queries} queries "
        f"(coarse {result.queries['coarse']} ≤ {coarse_bound}, detail {result.queries['detail']} "
        f"≤ {len(result.incidents)} × {per_incident}), wall {wall:.1f}s "
        f"(coarse {result.seconds['coarse']:.1f}s, detail {result.seconds['detail']:.1f}s)"
    )
    print(summary)
    (tmp_path / "bench.txt").write_text(summary + "\n")


# --------------------------------------------------------------------------- the CLI


@pytest.mark.prometheus
def test_cli_scan_json_on_stdout_logs_on_stderr_exit_8(scan_prom: ScanProm, tmp_path: Path) -> None:
    cfg = tmp_path / "pmrecon.yaml"
    cfg.write_text(
        "language: en\nsources:\n  prom:\n    type: prometheus\n"
        f"    url: {scan_prom.url}\n    preset: http_requests_total\n"
    )
    args = ["scan", "--from", "2026-07-07T12:00:00Z", "--to", "2026-07-07T18:00:00Z"]
    args += ["-c", str(cfg), "-o", str(tmp_path / "pm"), "--no-png"]
    run = run_cli(*args, "--json", "--fail-on-incident", env={"NO_COLOR": "1"})
    assert run.code == EXIT_INCIDENT, run.err
    data = json.loads(run.out)  # stdout holds the JSON and nothing else (run_cli validated it)
    (inc,) = data["incidents"]
    assert inc["id"] == "2026-07-07-1400-payments-higherrorrate" and inc["status"] == "new"
    # docs/findings-in-ci.md's scan commands, on this very output
    (tmp_path / "scan.json").write_text(run.out)
    assert run_blocks(ROOT / "docs" / "findings-in-ci.md", "scan", tmp_path) >= 4
    assert inc["services"] == ["payments"] and inc["impact_suggested"]
    assert data["queries"]["total"] == data["queries"]["coarse"] + data["queries"]["detail"]
    # not a terminal: no progress (lines only with -v), no progress bar, no colour
    assert "pmrecon: scan: 1 candidate(s)" not in run.err
    assert "\r" not in run.err and "\x1b[" not in run.err + run.out

    table = run_cli(*args, env={"NO_COLOR": "1"})
    assert table.code == 0, table.err  # no --fail-on-incident: found incidents are not a failure
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "WINDOW", "SERVICES", "DURATION", "IMPACT", "STATUS", "PATH"]
    assert row.startswith("2026-07-07-1400-payments-higherrorrate") and " updated " in row
    assert "\x1b[" not in table.out

    empty = run_cli(
        "scan", "--from", "2026-07-08T18:00:00Z", "--to", "2026-07-08T23:00:00Z",
        "-c", str(cfg), "-o", str(tmp_path / "none"), "--fail-on-incident",
    )  # fmt: skip
    assert empty.code == 0 and empty.out == "", empty.err
    assert "0 incident(s)" in empty.err


@pytest.mark.prometheus
def test_a_source_failing_in_the_coarse_pass_makes_the_scan_degraded(
    scan_prom: ScanProm, tmp_path: Path
) -> None:
    sc = scan_prom.scenarios["scan_three_days"]
    config = make_config(scan_prom.url)
    config.data["sources"]["logs"] = validate(
        {
            "sources": {
                "logs": {
                    "type": "elasticsearch",
                    "hosts": [f"http://127.0.0.1:{free_port()}"],
                    "retries": 0,
                }
            }
        }
    )["sources"]["logs"]
    start = sc.start + dt.timedelta(days=1)
    result = scan(config, start, start + dt.timedelta(hours=7), tmp_path / "pm", png=False)
    assert result.degraded and result.incidents == []
    assert any(w.startswith("logs: ") for w in result.warnings)
    assert exit_code(result) == EXIT_DEGRADED
    assert to_json(result)["degraded"] is True


def test_cli_scan_refuses_bad_windows(tmp_path: Path) -> None:
    long = run_cli("scan", "--from", "now-100d", "--to", "now", cwd=tmp_path)
    assert long.code == 2 and "longer than the maximum of 92 days" in long.err
    future = run_cli("scan", "--from", "now-1h", "--to", "2099-01-01T00:00:00Z", cwd=tmp_path)
    assert future.code == 2 and "in the future" in future.err
    assert len(future.error_lines) == 1


def test_examples_and_docs_use_real_options() -> None:
    """The CI examples parse, and every option they (and the docs) pass to scan exists."""
    import re

    import yaml

    root = Path(__file__).resolve().parents[2]
    help_text = run_cli("scan", "--help").out + run_cli("check", "--help").out
    texts = {}
    for name in ("examples/github-actions.yml", "examples/gitlab-ci.yml"):
        text = (root / name).read_text(encoding="utf-8")
        assert yaml.safe_load(text), name
        assert "pmrecon check" in text and "pmrecon scan" in text, name
        texts[name] = text
    texts["docs/scheduled-mode.md"] = (root / "docs/scheduled-mode.md").read_text()
    texts["examples/README.md"] = (root / "examples/README.md").read_text()
    seen: set[str] = set()
    for name, text in texts.items():
        joined = text.replace("\\\n", " ")
        # a command: `pmrecon scan …` up to a redirection, a pipe or a comment, quotes dropped
        for m in re.finditer(r"(?:^|[\s(`])pmrecon (?:scan|check)([^>|;&#`\n]*)", joined):
            args = re.sub(r'"[^"]*"', "ARG", m.group(1))
            for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]+", args):
                assert opt in help_text, (name, opt)
                seen.add(opt)
    assert {"--from", "--to", "--out", "--json", "--fail-on-incident", "--no-png"} <= seen


def test_scan_help_has_examples() -> None:
    run = run_cli("scan", "--help")
    assert run.code == 0
    for text in ("Examples:", "--fail-on-incident", "--json", "--no-png", "now-24h"):
        assert text in run.out


# --------------------------------------------------------------------------- with the logs


@pytest.mark.elasticsearch
@pytest.mark.prometheus
@NEWEST_ES
def test_three_day_scan_with_logs_finds_all_three(
    scan_prom: ScanProm, es_node: Any, tmp_path: Path
) -> None:
    from tests.infra.es import bulk_load

    sc = scan_prom.scenarios["scan_three_days"]
    index = "logs-scan-three-days"
    bulk_load(es_node.url, index, sc.log_docs(), major=es_node.major)
    config = make_config(scan_prom.url, (es_node.url, index))
    out = tmp_path / "pm"
    result = scan(config, sc.start, sc.end, out, png=False)
    assert_matches_truth(result, sc.truth["incidents"])
    worker = result.incidents[-1]
    assert worker.services == ["worker"] and worker.alerts == []
    assert worker.id == "2026-07-08-0900-worker"
    # a second scan: nothing new
    again = scan(config, sc.start, sc.end, out, png=False)
    assert [i.status for i in again.incidents] == ["updated"] * 3
    assert sorted(p.name for p in out.iterdir()) == sorted(i.id for i in result.incidents)


# --------------------------------------------------------------------------- pure parts


T = ef.T


def _config(**extra: Any) -> Config:
    return Config(validate({"language": "en", **extra}))


def test_candidates_group_alert_storms_and_filter_severities() -> None:
    svc = ef.Svc("api", phases=[ef.Deg(T("2026-03-02 10:00"), T("2026-03-02 10:40"), 0.3)])
    quiet = ef.Svc("batch")
    ev = ef.build(
        T("2026-03-01 00:00"),
        T("2026-03-04 00:00"),
        [svc, quiet],
        step=600,
        baseline=False,
        alerts=[
            # two storms 10 minutes apart: one candidate
            ef.AlertDecl("Storm", "api", [(T("2026-03-02 10:02"), T("2026-03-02 10:15"))]),
            ef.AlertDecl("Storm2", "api", [(T("2026-03-02 10:25"), T("2026-03-02 10:41"))]),
            # a warning alone: no candidate with the default severities
            ef.AlertDecl(
                "Disk", "batch", [(T("2026-03-03 03:00"), T("2026-03-03 03:20"))], "warning"
            ),
            # a page-level alert alone: a candidate
            ef.AlertDecl(
                "Paged", "batch", [(T("2026-03-03 12:00"), T("2026-03-03 12:10"))], "page"
            ),
        ],
    )
    got = find_candidates(ev, _config())
    assert [(c.services, c.alerts) for c in got] == [
        (("api",), ("Storm", "Storm2")),
        (("batch",), ("Paged",)),
    ]
    assert got[0].start <= T("2026-03-02 10:00") and got[0].end >= T("2026-03-02 10:40")
    every = find_candidates(ev, _config(scan={"severities": []}))
    assert [c.alerts for c in every] == [("Storm", "Storm2"), ("Disk",), ("Paged",)]


def test_detail_windows_are_padded_but_stop_halfway_to_a_neighbour() -> None:
    a = Candidate(T("2026-03-02 10:00"), T("2026-03-02 10:40"), ("api",), ())
    b = Candidate(T("2026-03-02 11:20"), T("2026-03-02 11:30"), ("web",), ())
    c = Candidate(T("2026-03-03 23:50"), T("2026-03-04 00:00"), ("db",), (), ongoing=True)
    end = T("2026-03-04 00:00")
    wa, wb, wc = detail_windows([a, b, c], _config(scan={"margin": "30m"}), end)
    assert (wa.start, wa.end) == (T("2026-03-02 09:30"), T("2026-03-02 11:00"))
    assert (wb.start, wb.end) == (T("2026-03-02 11:00"), T("2026-03-02 12:00"))
    assert (wc.start, wc.end) == (T("2026-03-03 23:20"), end)  # never past the scan's end


def test_drafts_match_by_overlapping_span(tmp_path: Path) -> None:
    def record(name: str, start: str, end: str | None) -> None:
        folder = tmp_path / name / ".pmrecon"
        folder.mkdir(parents=True)
        (folder / "scan.json").write_text(
            json.dumps(
                {
                    "id": name,
                    "impact_start": start,
                    "resolution": end,
                    "window": {"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T13:00:00Z"},
                }
            )
        )

    record("one", "2026-03-02T10:00:00Z", "2026-03-02T10:40:00Z")
    record("two", "2026-03-02T11:30:00Z", None)  # ongoing when last scanned
    (tmp_path / "broken" / ".pmrecon").mkdir(parents=True)
    (tmp_path / "broken" / RECORD).write_text("{not json")
    drafts = read_drafts(tmp_path)
    assert sorted(d["id"] for d in drafts) == ["one", "two"]
    near = match_draft((T("2026-03-02 10:02"), T("2026-03-02 10:45")), drafts, set())
    assert near is not None and near["id"] == "one"
    later = match_draft((T("2026-03-02 11:31"), T("2026-03-02 14:00")), drafts, set())
    assert later is not None and later["id"] == "two"
    assert match_draft((T("2026-03-02 15:00"), T("2026-03-02 15:30")), drafts, set()) is None
    claimed = {Path(near["path"]).resolve()}
    assert match_draft((T("2026-03-02 10:02"), T("2026-03-02 10:45")), drafts, claimed) is None


def test_incident_id_in_the_configured_zone() -> None:
    paris = _config(timezone="Europe/Paris")
    got = incident_id_for(paris, T("2026-07-06 10:00"), ["checkout", "cart"], ["HighErrorRate"])
    assert got == "2026-07-06-1200-checkout-cart-higherrorrate"
    assert incident_id_for(_config(), T("2026-07-06 10:00"), [], []) == "2026-07-06-1000-incident"


def _inc(**kw: Any) -> ScanIncident:
    base: dict[str, Any] = {
        "id": "2026-07-06-1000-api",
        "path": Path("pm/2026-07-06-1000-api"),
        "status": "new",
        "window": Window(T("2026-07-06 09:30"), T("2026-07-06 11:30")),
        "impact_start": T("2026-07-06 10:00"),
        "resolution": T("2026-07-06 11:05"),
        "services": ["api"],
        "alerts": ["HighErrorRate"],
        "duration_seconds": 3900.0,
        "impact": "Critique",
    }
    return ScanIncident(**{**base, **kw})


def test_exit_codes_and_summary() -> None:
    window = Window(T("2026-07-06 00:00"), T("2026-07-07 00:00"))
    none = ScanResult(window, Path("pm"))
    assert exit_code(none, fail_on_incident=True) == EXIT_OK
    one = ScanResult(window, Path("pm"), incidents=[_inc()])
    assert exit_code(one) == EXIT_OK
    assert exit_code(one, fail_on_incident=True) == EXIT_INCIDENT
    assert exit_code(ScanResult(window, Path("pm"), incidents=[_inc(degraded=True)])) == (
        EXIT_DEGRADED
    )
    assert exit_code(ScanResult(window, Path("pm"), degraded=True)) == EXIT_DEGRADED
    assert exit_code(ScanResult(window, Path("pm"), incidents=[_inc(conflicts=2)]), True) == (
        EXIT_CONFLICT
    )
    lines = format_table(table_rows(one, "UTC"))
    assert lines[1].split("  ")[0] == "2026-07-06-1000-api"
    assert "2026-07-06 10:00 → 11:05" in lines[1] and "1h05" in lines[1]
    ongoing = ScanResult(window, Path("pm"), incidents=[_inc(resolution=None)])
    assert "2026-07-06 10:00 → …" in format_table(table_rows(ongoing))[1]
    data = to_json(one, "Europe/Paris")
    assert data["incidents"][0]["impact_start"] == "2026-07-06T12:00:00+02:00"
    assert data["queries"] == {"coarse": 0, "detail": 0, "total": 0}
