"""The benchmark's smoke mode, end to end, so that bench/ cannot rot.

``bench/run.py --smoke`` generates two tiny datasets (3 and 12 services, cached like the real
ones), starts the real Prometheus for each (and Elasticsearch for the first, unless
``PMRECON_SKIP_ES=1``),
measures one build of each with its floor and its minimal floor, and writes ``latest.md`` and
``latest.json``. This test checks that both files are produced and well formed, that the
measured builds found the generated incident, and that the Prometheus query count of a build
does not grow with the services; it never checks speed (the machine is shared: timings here
mean nothing). The minimal query set (bench/minimal.py) is also checked on records alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def servers_test(fn: Callable[..., None]) -> Callable[..., None]:
    """Marks a test that runs the benchmark (the records-alone ones at the end need no server)."""
    return pytest.mark.slow(pytest.mark.prometheus(fn))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("bench-results")
    argv = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)]
    if os.environ.get("PMRECON_SKIP_ES") == "1":
        argv.append("--no-es")
    env = {k: v for k, v in os.environ.items() if k != "PMRECON_CONFIG"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert proc.returncode == 0, f"bench/run.py --smoke failed:\n{proc.stderr[-4000:]}"
    report = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    return out, report, (out / "latest.md").read_text(encoding="utf-8")


@servers_test
def test_describes_the_machine_and_versions(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    m = report["machine"]
    assert m["nproc"] >= 1 and m["memory_gib"] > 0 and m["cpu_model"]
    assert report["versions"]["pmrecon"] and report["versions"]["prometheus"]
    assert report["smoke"] is True
    assert report["dataset"]["prometheus"]["samples"] > 0


@servers_test
def test_every_cell_has_every_figure(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    assert report["results"], "no build measured"
    for cell in report["results"]:
        s = cell["summary"]
        for key in ("wall", "cpu", "rss_mb", "floor_wall", "ratio", "min_floor_wall", "min_ratio"):
            assert isinstance(s[key], (int, float)) and s[key] > 0, (key, s)
        assert s["queries"] > 0 and s["bytes"] > 0
        # the minimal set drops discovery and merges nothing here (the connector groups):
        # fewer queries than the build sent, never none
        assert 0 < s["min_queries"] < s["queries"], s
        assert 0 < s["prom_queries"] <= s["queries"], s
        # the servers' CPU is read from /proc in clock ticks: a tiny build may round to 0
        assert isinstance(s["servers_cpu"], (int, float)) and s["servers_cpu"] >= 0, s
        # the server's own count of API requests matches the bundle's records
        assert s["prom_requests_served"] == s["prom_queries"], s
        assert s["incident_found"] is True, "the generated incident was not found"
        assert not s["degraded"], cell["runs"][-1]["warnings"]
        for run in cell["runs"]:
            floor = run["floor"]
            assert not floor["errors"], floor["errors"]
            assert floor["requests"] >= run["queries"]
            prom = floor["per_source"]["prometheus"]
            # the floor replays what the Prometheus connector asked: same answers, give or
            # take a few bytes (/api/v1/rules shows the time of the last rule evaluation)
            assert prom["bytes"] == pytest.approx(
                run["per_source"]["prometheus"]["bytes"], rel=0.01
            )
            assert prom["mismatched_sizes"] == 0
            least = run["minimal_floor"]
            assert not least["errors"], least["errors"]
            assert least["requests"] >= least["queries"] > 0
            assert least["per_source"]["prometheus"]["mismatched_sizes"] == 0


@servers_test
def test_elasticsearch_is_measured_unless_skipped(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    docs = {cell["docs"] for cell in report["results"]}
    if os.environ.get("PMRECON_SKIP_ES") == "1" or any(
        "Elasticsearch not measured" in n for n in report["notes"]
    ):
        assert docs == {None}
    else:
        assert report["versions"]["elasticsearch"]
        # the second size is measured on Prometheus alone in smoke mode
        first = [c for c in report["results"] if c["services"] == 3]
        assert first and None not in {c["docs"] for c in first}
        for cell in first:
            assert cell["runs"][-1]["per_source"]["elasticsearch"]["queries"] > 0


@servers_test
def test_both_sizes_are_measured_with_the_same_prometheus_query_count(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    assert [d["services"] for d in report["datasets"]] == [3, 12]
    counts = {c["services"]: c["summary"]["prom_queries"] for c in report["results"]}
    assert set(counts) == {3, 12}
    row = next(t for t in report["targets"] if t["target"].startswith("Prometheus queries"))
    assert row["target"] == "Prometheus queries per build, 3 vs 12 services"
    assert row["counts"] == {"3": counts[3], "12": counts[12]}
    assert row["ok"] is True, row


@servers_test
def test_targets_and_markdown_table(smoke) -> None:  # noqa: ANN001
    _, report, md = smoke
    names = [t["target"] for t in report["targets"]]
    assert len(names) == 8 and any("minimal floor" in n for n in names), names
    assert any("30-day scan" in n for n in names)
    earlier = [t["target"] for t in report["earlier_targets"]]
    assert any("floor" in n for n in earlier) and any("--help" in n for n in earlier)
    help_target = next(t for t in report["earlier_targets"] if "--help" in t["target"])
    assert help_target["value"] is not None
    header = next(line for line in md.splitlines() if line.startswith("| services | logs |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    figures = ("Prometheus queries", "minimal queries", "minimal floor s", "÷ minimal floor")
    figures += ("servers CPU s", "CPU bound s")
    for name in figures:
        assert name in columns, columns
    rows = [line for line in md.splitlines() if line.startswith("| ") and " | off |" in line]
    assert len(rows) == len(report["results"])
    for row in rows:  # every figure of a cell is a number
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in figures:
            float(cells[columns.index(name)])
        # the bound is pmrecon's CPU and the servers' over the cores
        cpu, servers = (
            float(cells[columns.index("CPU s")]),
            float(cells[columns.index("servers CPU s")]),
        )
        cores = report["machine"]["nproc"]
        assert float(cells[columns.index("CPU bound s")]) == pytest.approx(
            (cpu + servers) / cores, abs=0.011
        )
    assert "## Targets (issue 19)" in md and "## Earlier targets (issue 9)" in md
    assert "| case | now | target | met |" in md


# --------------------------------------------------------------------------- records alone


def _record(sli: str, query: str, service: str | None = None, **extra: object) -> dict:
    rec = {
        "sli": sli,
        "query": query,
        "start": "2026-06-07T13:50:00Z",
        "end": "2026-06-07T14:50:00Z",
        "step_seconds": 15.0,
        "endpoint": "/api/v1/query_range",
        "purpose": f"SLI {sli}",
        "bytes_received": 100,
        **extra,
    }
    if service:
        rec["service"] = service
    return rec


def test_minimal_set_groups_per_service_sli_queries() -> None:
    from bench.minimal import prometheus_minimal

    services = ["checkout", "payments", "cart"]
    ratio = (
        'sum(rate(http_requests_total{service="%s",code=~"5.."}[60s])) '
        '/ sum(rate(http_requests_total{service="%s"}[60s]))'
    )
    p99 = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{service="%s"}[60s])))'
    unsafe = 'sum without (code) (rate(http_requests_total{service="%s"}[60s]))'
    records = [
        {"purpose": "server version", "endpoint": "/api/v1/status/buildinfo", "query": ""},
        {"purpose": "discover services", "endpoint": "/api/v1/query", "query": "count by …"},
        {
            "purpose": "alerts (raw ALERTS samples)",
            "endpoint": "/api/v1/query",
            "query": "ALERTS[1h]",
        },
    ]
    for svc in services:
        records += [
            _record("error_ratio", ratio % (svc, svc), svc),
            _record("latency_p99", p99 % svc, svc),
            _record("latency_p99", p99 % svc, svc, baseline=True),
            _record("odd", unsafe % svc, svc),
        ]
    records.append(_record("throughput", 'sum by (service) (rate(y{service=~"a|b"}[60s]))'))
    got = prometheus_minimal(records)
    queries = [r["query"] for r in got]
    assert queries[0] == "ALERTS[1h]"  # discovery dropped, report data kept, order kept
    assert queries[1] == (
        'sum by (service) (rate(http_requests_total{service=~"cart|checkout|payments",'
        'code=~"5.."}[60s])) / sum by (service) '
        '(rate(http_requests_total{service=~"cart|checkout|payments"}[60s]))'
    )
    p99s = [r for r in got if r.get("sli") == "latency_p99"]
    assert [r.get("baseline", False) for r in p99s] == [False, True]
    for r in p99s:  # one per period, grouped, with no recorded size to compare with
        assert "sum by (le, service)" in r["query"] or "sum by (service, le)" in r["query"]
        assert r["merged_records"] == 3 and r["bytes_received"] is None
    # `without` cannot be grouped without changing a figure: one query per service stays
    assert [r.get("service") for r in got if r.get("sli") == "odd"] == services
    assert [r["query"] for r in got if r.get("sli") == "throughput"] == [records[-1]["query"]]
    assert len(got) == 1 + 1 + 2 + 3 + 1


def test_minimal_set_keeps_log_searches_and_drops_lookups() -> None:
    from bench.minimal import minimal_sources

    es = {
        "name": "elasticsearch",
        "kind": "elasticsearch",
        "queries": [
            {"endpoint": "/", "purpose": "server version"},
            {"endpoint": "/_nodes/_local", "purpose": "server version"},
            {"endpoint": "/logs-*/_field_caps", "purpose": "field mapping"},
            {"endpoint": "/logs-*/_search", "purpose": "error logs per service over time"},
        ],
    }
    (got,) = minimal_sources([es])
    assert [q["endpoint"] for q in got["queries"]] == ["/logs-*/_search"]
    assert len(es["queries"]) == 4  # the bundle's own records are left as they were
