"""pmrecon's benchmark against the real Prometheus and Elasticsearch of the test suite.

One command generates and loads production-like data (cached), then measures ``pmrecon
build`` for each log dataset × window × PNG on/off, the floor (the same queries replayed
raw over HTTP) and the minimal floor (the fewest queries that return the report's data,
bench/minimal.py), for 19 services and the scale case of 200 (1 h and 24 h, PNG off), then a
30-day ``pmrecon scan`` of each, and writes ``latest.md`` and ``latest.json``::

    .venv/bin/python bench/run.py                      # 1 M and 5 M docs; 1 h, 24 h, 7 d windows
    .venv/bin/python bench/run.py --smoke              # small data, 3 and 12 services (a test runs it)
    .venv/bin/python bench/run.py --docs 1000000 --windows 24h --png off --repeat 5
    .venv/bin/python bench/run.py --services 200 --docs 1000000 --windows 1h --png off

See docs/benchmark.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import measure, minimal, servers  # noqa: E402
from bench.dataset import Dataset  # noqa: E402

TARGETS = {
    # issue 19
    "wall_1h_no_png": 1.0,
    "wall_24h_5m_no_png": 5.0,
    "wall_24h_5m_png": 8.0,
    "minimal_ratio_24h_5m_no_png": 1.5,
    "prom_queries": 40,
    "rss_mb": 300.0,
    "wall_24h_scale_no_png": 10.0,
    "rss_24h_scale_mb": 500.0,
    "scan_30d_scale": 60.0,
    # issue 9, not superseded
    "ratio_24h_no_png": 1.25,
    "rss_spread": 0.10,
    "help_seconds": 0.5,
}
SCHEMA = 2
#: The services of the main dataset (a week of data, three incidents).
DEFAULT_SERVICES = 19
#: The scale case: as many services as a large organisation runs.
SCALE_SERVICES = 200
#: Days of data of any other service count: the main incident alone, room for a 24 h window
#: and its baseline, and a tenth of the 200-service week's 130 million samples.
SCALE_DAYS = 2.0


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def label_docs(n: int | None) -> str:
    if n is None:
        return "none"
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g} M"
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g} k"
    return str(n)


def pmrecon_argv() -> list[str]:
    exe = Path(sys.executable).parent / "pmrecon"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "pmrecon"]


def pmrecon_command(
    verb: str, start: dt.datetime, end: dt.datetime, config: Path, out: Path, png: bool
) -> list[str]:
    """``pmrecon -q VERB --from … --to … -c CONFIG -o OUT --json`` (``--no-png`` unless ``png``)."""
    argv = [
        *pmrecon_argv(),
        "-q",
        verb,
        "--from",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--to",
        end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "-c",
        str(config),
        "-o",
        str(out),
        "--json",
    ]
    return argv if png else [*argv, "--no-png"]


def run_counted(
    argv: list[str],
    env: dict[str, str],
    prom_url: str,
    pids: measure.ServerPids | None = None,
    timeout: float | None = None,
) -> tuple[measure.Run, int]:
    """A measured run and the API requests Prometheus answered meanwhile (its own count)."""
    before = measure.prometheus_api_requests(prom_url)
    run = measure.run_measured(argv, env, pids, timeout=timeout)
    return run, measure.prometheus_api_requests(prom_url) - before


def es_connector_available() -> str | None:
    """None when the Elasticsearch connector imports, else why not."""
    try:
        import importlib

        importlib.import_module("connectors.elasticsearch")
    except ImportError as exc:
        return f"connector not importable ({exc})"
    return None


def write_config(
    path: Path, prom_url: str, es_url: str | None, index: str | None, prom_concurrency: int
) -> None:
    import yaml

    sources: dict[str, Any] = {
        "prometheus": {
            "type": "prometheus",
            "url": prom_url,
            "max_concurrency": prom_concurrency,
        }
    }
    if es_url and index:
        sources["elasticsearch"] = {"type": "elasticsearch", "hosts": [es_url], "index": index}
    config = {
        "timezone": "UTC",
        "language": "en",
        "timeout": "15m",
        "sources": sources,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def time_help(env: dict[str, str], runs: int) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        r = measure.run_measured([*pmrecon_argv(), "--help"], env)
        if r.exit_code != 0:
            raise RuntimeError(f"pmrecon --help failed: {r.stderr[-500:]}")
        times.append(r.wall)
    return {"median": statistics.median(times), "runs": [round(t, 3) for t in times]}


def dataset_for(services: int, smoke: bool) -> Dataset:
    """The dataset of ``services`` services: the week for the default count, else the scale preset."""
    if smoke:
        return Dataset(days=0.5, services=services, rps_min=5.0, rps_max=20.0)
    if services == DEFAULT_SERVICES:
        return Dataset()
    return Dataset(days=SCALE_DAYS, services=services)


def _floor_facts(fl: measure.FloorResult) -> dict[str, Any]:
    return {
        "wall": round(fl.wall, 3),
        "requests": fl.requests,
        "bytes": fl.bytes,
        "wire_bytes": fl.wire_bytes,
        "mismatched_sizes": fl.mismatched_sizes,
        "errors": fl.errors[:5],
        "per_source": {
            k: {kk: (round(vv, 3) if isinstance(vv, float) else vv) for kk, vv in v.items()}
            for k, v in fl.per_source.items()
        },
    }


def one_build(
    *,
    config: Path,
    window: tuple[dt.datetime, dt.datetime],
    png: bool,
    work: Path,
    env: dict[str, str],
    pids: measure.ServerPids,
    concurrency: dict[str, int],
    timeout: float,
    prom_url: str,
    minimal_first: bool = False,
) -> dict[str, Any]:
    """One measured build, then the floor of exactly the queries it sent and the minimal floor
    (the minimal one first when ``minimal_first``: repeats alternate, so that neither floor
    always runs on the caches the other warmed)."""
    out = Path(tempfile.mkdtemp(prefix="build-", dir=work))
    shutil.rmtree(out)
    argv = pmrecon_command("build", window[0], window[1], config, out, png)
    run, served = run_counted(argv, env, prom_url, pids, timeout)
    if run.exit_code not in (0, 7):
        raise RuntimeError(
            f"pmrecon build failed (exit {run.exit_code}): {' '.join(argv)}\n{run.stderr[-3000:]}"
        )
    summary = json.loads(run.stdout or "{}")
    sources = measure.bundle_queries(out / "evidence")
    totals = measure.bundle_totals(sources)
    least = minimal.minimal_sources(sources)
    if minimal_first:
        min_fl = measure.floor(least, concurrency)
        fl = measure.floor(sources, concurrency)
    else:
        fl = measure.floor(sources, concurrency)
        min_fl = measure.floor(least, concurrency)
    pngs = len(list((out / "graphs").glob("*.png"))) if (out / "graphs").is_dir() else 0
    # bytes received: what the bundle records; for a source whose records lack sizes, what
    # the floor received for the same requests
    received = 0
    measured_by_floor = []
    for name, t in totals["per_source"].items():
        # a source that records the size of (nearly) every answer is taken at its word;
        # one that records none is measured by the floor
        if t["unsized"] * 2 > t["queries"] and name in fl.per_source:
            received += fl.per_source[name]["bytes"]
            measured_by_floor.append(name)
        else:
            received += t["bytes"]
    shutil.rmtree(out, ignore_errors=True)
    return {
        "wall": round(run.wall, 3),
        "cpu": round(run.cpu, 3),
        "cpu_tree": round(run.cpu_tree, 3),
        "rss_mb": round(run.rss_mb, 1),
        "rss_tree_mb": round(run.rss_tree_mb, 1),
        "exit_code": run.exit_code,
        "degraded": bool(summary.get("degraded")),
        "incident_found": summary.get("incident_found"),
        "impact_start": summary.get("impact_start"),
        "warnings": len(summary.get("warnings") or []),
        "warnings_sample": (summary.get("warnings") or [])[:3],
        "pngs": pngs,
        "queries": totals["queries"],
        "prom_queries": totals["per_source"].get("prometheus", {}).get("queries", 0),
        "prom_requests_served": served,
        "bytes": received,
        "bundle_bytes": totals["bytes"],
        "bytes_from_floor": measured_by_floor,
        "per_source": totals["per_source"],
        "floor": _floor_facts(fl),
        "ratio": round(run.wall / fl.wall, 3) if fl.wall > 0 else None,
        "minimal_floor": {
            **_floor_facts(min_fl),
            "queries": sum(len(s["queries"]) for s in least),
            "per_source_queries": {s["name"]: len(s["queries"]) for s in least},
        },
        "minimal_ratio": round(run.wall / min_fl.wall, 3) if min_fl.wall > 0 else None,
        "servers_cpu": run.servers_cpu,
        "others_cpu": run.others_cpu,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats (wall, CPU, RSS, floor, ratio); the spread of wall times."""

    def med(key: str, sub: str | None = None) -> float:
        vals = [r[sub][key] if sub else r[key] for r in runs]
        return round(statistics.median(vals), 3)

    walls = [r["wall"] for r in runs]
    floors = [r["floor"]["wall"] for r in runs]
    least = [r["minimal_floor"]["wall"] for r in runs]
    return {
        "wall": med("wall"),
        "wall_min": round(min(walls), 3),
        "wall_max": round(max(walls), 3),
        "cpu": med("cpu"),
        "cpu_tree": med("cpu_tree"),
        "rss_mb": round(max(r["rss_mb"] for r in runs), 1),
        "rss_tree_mb": round(max(r["rss_tree_mb"] for r in runs), 1),
        "queries": runs[-1]["queries"],
        "bytes": runs[-1]["bytes"],
        "floor_wall": round(statistics.median(floors), 3),
        "floor_min": round(min(floors), 3),
        "floor_max": round(max(floors), 3),
        "ratio": round(statistics.median(walls) / statistics.median(floors), 3),
        "prom_queries": runs[-1]["prom_queries"],
        "prom_requests_served": runs[-1]["prom_requests_served"],
        "min_queries": runs[-1]["minimal_floor"]["queries"],
        "min_floor_wall": round(statistics.median(least), 3),
        "min_floor_min": round(min(least), 3),
        "min_floor_max": round(max(least), 3),
        "min_ratio": round(statistics.median(walls) / statistics.median(least), 3),
        "others_cpu": round(statistics.median([r["others_cpu"] or 0.0 for r in runs]), 2),
        "servers_cpu": round(
            statistics.median([sum((r.get("servers_cpu") or {}).values()) for r in runs]), 2
        ),
        "incident_found": all(r["incident_found"] for r in runs),
        "degraded": any(r["degraded"] for r in runs),
        "pngs": runs[-1]["pngs"],
    }


def _row(
    target: str, limit: str, value: Any, ok: bool | None, where: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"target": target, "limit": limit, "value": value, "ok": ok, "where": where, **extra}


def _cells(
    results: list[dict[str, Any]],
    *,
    services: int | None = None,
    window: str | None = None,
    png: bool | None = None,
    docs: int | None = None,
) -> list[dict[str, Any]]:
    return [
        r
        for r in results
        if (services is None or r["services"] == services)
        and (window is None or r["window"] == window)
        and (png is None or r["png"] == png)
        and (docs is None or r["docs"] == docs)
    ]


def _where(r: dict[str, Any]) -> str:
    return (
        f"{r['services']} services, {r['window']}, {label_docs(r['docs'])} docs, "
        f"PNG {'on' if r['png'] else 'off'}"
    )


def _worst(cells: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return max(cells, key=lambda r: r["summary"][key]) if cells else None


def _queries_row(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Prometheus queries per build for the fewest and the most services measured."""
    sizes = sorted({r["services"] for r in results})
    limit = f"the same count, ≤ {TARGETS['prom_queries']}"
    if len(sizes) < 2:  # the count is shown, but a comparison needs two sizes
        label = f"{sizes[0]} services only" if sizes else "two sizes"
        count = max((r["summary"]["prom_queries"] for r in results), default=None)
        return _row(f"Prometheus queries per build, {label}", limit, count, None)
    lo, hi = sizes[0], sizes[-1]
    pairs = []
    for r in _cells(results, services=hi):
        twins = _cells(results, services=lo, window=r["window"], png=r["png"])
        if twins:
            pairs.append((max(t["summary"]["prom_queries"] for t in twins), r))
    title = f"Prometheus queries per build, {lo} vs {hi} services"
    if not pairs:
        return _row(title, limit, None, None)
    counts = [(a, r["summary"]["prom_queries"]) for a, r in pairs]
    a, b = max(counts, key=lambda c: (c[0] != c[1], max(c)))
    ok = all(x == y for x, y in counts) and max(max(c) for c in counts) <= TARGETS["prom_queries"]
    windows = ", ".join(sorted({r["window"] for _, r in pairs}))
    return _row(title, limit, f"{a} vs {b}", ok, windows, counts={str(lo): a, str(hi): b})


def check_targets(
    results: list[dict[str, Any]], scans: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows of issue 19's table: each target with the measured value (None: not measured)."""
    out = []
    d = DEFAULT_SERVICES
    r = _worst(_cells(results, services=d, window="1h", png=False), "wall")
    out.append(
        _row(
            f"1 h window, {d} services, no PNG, wall",
            f"< {TARGETS['wall_1h_no_png']:g} s",
            r["summary"]["wall"] if r else None,
            r["summary"]["wall"] < TARGETS["wall_1h_no_png"] if r else None,
            _where(r) if r else None,
        )
    )
    for png, key in ((False, "wall_24h_5m_no_png"), (True, "wall_24h_5m_png")):
        r = _worst(_cells(results, services=d, window="24h", png=png, docs=5_000_000), "wall")
        out.append(
            _row(
                f"24 h, 5 M docs, {'with' if png else 'no'} PNG, wall",
                f"< {TARGETS[key]:g} s",
                r["summary"]["wall"] if r else None,
                r["summary"]["wall"] < TARGETS[key] if r else None,
            )
        )
    r = _worst(_cells(results, services=d, window="24h", png=False, docs=5_000_000), "min_ratio")
    out.append(
        _row(
            "24 h, 5 M docs, wall ÷ minimal floor",
            f"≤ {TARGETS['minimal_ratio_24h_5m_no_png']:g}",
            r["summary"]["min_ratio"] if r else None,
            r["summary"]["min_ratio"] <= TARGETS["minimal_ratio_24h_5m_no_png"] if r else None,
            "PNG off" if r else None,
        )
    )
    out.append(_queries_row(results))
    r = _worst(_cells(results, services=d), "rss_mb")
    out.append(
        _row(
            "peak RSS, any window, 1 M or 5 M docs",
            f"< {TARGETS['rss_mb']:g} MB",
            r["summary"]["rss_mb"] if r else None,
            r["summary"]["rss_mb"] < TARGETS["rss_mb"] if r else None,
            _where(r) if r else None,
        )
    )
    s = SCALE_SERVICES
    r = _worst(_cells(results, services=s, window="24h", png=False), "wall")
    wall_ok = r is not None and r["summary"]["wall"] < TARGETS["wall_24h_scale_no_png"]
    rss_ok = r is not None and r["summary"]["rss_mb"] < TARGETS["rss_24h_scale_mb"]
    out.append(
        _row(
            f"24 h, {s} services, no PNG, wall / peak RSS",
            f"< {TARGETS['wall_24h_scale_no_png']:g} s / < {TARGETS['rss_24h_scale_mb']:g} MB",
            f"{r['summary']['wall']} s / {r['summary']['rss_mb']:.0f} MB" if r else None,
            (wall_ok and rss_ok) if r else None,
            f"{label_docs(r['docs'])} docs" if r else None,
        )
    )
    scan = next((x for x in scans if x["services"] == s and x["days"] == 30), None)
    out.append(
        _row(
            f"30-day scan, {s} services",
            f"< {TARGETS['scan_30d_scale']:g} s",
            scan["wall"] if scan else None,
            scan["wall"] < TARGETS["scan_30d_scale"] if scan else None,
            f"{label_docs(scan['docs'])} docs" if scan else None,
        )
    )
    return out


def check_earlier_targets(results: list[dict[str, Any]], help_s: float) -> list[dict[str, Any]]:
    """Issue 9's targets that issue 19 did not replace."""
    out = []
    default = _cells(results, services=DEFAULT_SERVICES)
    cands = _cells(default, window="24h", png=False)
    r = max(cands, key=lambda x: x["docs"] or 0) if cands else None
    out.append(
        _row(
            "pmrecon ÷ floor, build --no-png, 24 h window",
            f"≤ {TARGETS['ratio_24h_no_png']}",
            r["summary"]["ratio"] if r else None,
            r["summary"]["ratio"] <= TARGETS["ratio_24h_no_png"] if r else None,
            f"{label_docs(r['docs'])} docs" if r else None,
        )
    )
    docs_sets = sorted({r["docs"] for r in default if r["docs"]})
    if len(docs_sets) >= 2:
        lo, hi = docs_sets[0], docs_sets[-1]
        spreads = []
        for r in _cells(default, docs=hi):
            twin = _cells(default, docs=lo, window=r["window"], png=r["png"])
            if twin:
                a, b = twin[0]["summary"]["rss_mb"], r["summary"]["rss_mb"]
                spreads.append((abs(b - a) / a, r))
        if spreads:
            spread, r = max(spreads, key=lambda x: x[0])
            out.append(
                _row(
                    f"peak RSS, {label_docs(hi)} vs {label_docs(lo)} docs (largest gap)",
                    f"within {TARGETS['rss_spread']:.0%}",
                    round(spread, 3),
                    spread <= TARGETS["rss_spread"],
                    f"{r['window']}, PNG {'on' if r['png'] else 'off'}",
                )
            )
    out.append(
        _row(
            "pmrecon --help",
            f"< {TARGETS['help_seconds']} s",
            round(help_s, 3),
            help_s < TARGETS["help_seconds"],
        )
    )
    return out


def fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _target_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| case | now | target | met |", "|---|---:|---|---|"]
    for t in rows:
        ok = "–" if t["ok"] is None else ("yes" if t["ok"] else "**no**")
        where = f" ({t['where']})" if t.get("where") else ""
        value = "not measured" if t["value"] is None else f"{t['value']}{where}"
        lines.append(f"| {t['target']} | {value} | {t['limit']} | {ok} |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# pmrecon benchmark — latest results",
        "",
        f"Measured {report['finished']} ({'smoke mode: tiny data, not a benchmark' if report['smoke'] else 'full run'}), "
        f"pmrecon {report['versions'].get('pmrecon')} at commit {m.get('git_commit')}"
        + (
            f" (+{m['git_dirty_files']} uncommitted files in the tree)"
            if m.get("git_dirty_files")
            else ""
        )
        + ".",
        "",
        f"Machine: {m.get('nproc')} cores ({m.get('cpu_model')}), {m.get('memory_gib')} GiB, "
        f"Linux {m.get('kernel')}, Python {m.get('python')}; "
        f"Prometheus {report['versions'].get('prometheus')}, "
        f"Elasticsearch {report['versions'].get('elasticsearch') or 'not used'}. "
        f"Load average at start {' '.join(report['load_start'])}, at end {' '.join(report['load_end'])}: "
        "other engineers' tests shared the machine, so single figures carry noise "
        "(the `others` column is CPU time used by other processes during each build).",
        "",
        "Data: "
        + " ".join(f"{d['services']} services: {d['description']}." for d in report["datasets"]),
        "",
        f"Each cell is the median of {report['repeat']} build(s); both floors are replayed right "
        "after each build from that build's own evidence bundle: the floor replays every query "
        "the build sent, the minimal floor the fewest that return the report's data "
        "(docs/benchmark.md). *servers CPU* is the CPU time Prometheus and Elasticsearch spent "
        "during the build; *CPU bound* is pmrecon's CPU plus theirs over the machine's cores: "
        "the wall time no build could go under on this machine, however well it overlapped.",
        "",
        "| services | logs | window | PNG | wall s | CPU s | peak RSS MB | queries | Prometheus queries "
        "| received MB | floor s | ÷ floor | minimal queries | minimal floor s | ÷ minimal floor "
        "| servers CPU s | CPU bound s | others CPU s |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cores = max(1, int(report["machine"].get("nproc") or 1))
    for r in report["results"]:
        s = r["summary"]
        servers = s.get("servers_cpu", 0.0)
        flag = "" if s["incident_found"] and not s["degraded"] else " ⚠"
        lines.append(
            f"| {r['services']} | {label_docs(r['docs'])} | {r['window']} | "
            f"{'on' if r['png'] else 'off'} | {s['wall']:.2f}{flag} | {s['cpu']:.2f} | "
            f"{s['rss_mb']:.0f} | {s['queries']} | {s['prom_queries']} | "
            f"{s['bytes'] / 1e6:.1f} | {s['floor_wall']:.2f} | {s['ratio']:.2f} | "
            f"{s['min_queries']} | {s['min_floor_wall']:.2f} | {s['min_ratio']:.2f} | "
            f"{servers:.2f} | {(s['cpu'] + servers) / cores:.2f} | {s['others_cpu']:.1f} |"
        )
    lines += [
        "",
        f"`pmrecon --help`: {report['help']['median']:.3f} s (median of {len(report['help']['runs'])}).",
    ]
    if report["scans"]:
        lines += [
            "",
            "## Scans",
            "",
            "`pmrecon scan --no-png` over the days ending with the data, once per dataset "
            "(Prometheus requests counted by the server itself).",
            "",
            "| services | days | logs | wall s | CPU s | peak RSS MB | queries | Prometheus requests | candidates | incidents |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for x in report["scans"]:
            lines.append(
                f"| {x['services']} | {x['days']} | {label_docs(x['docs'])} | {x['wall']:.2f} | "
                f"{x['cpu']:.2f} | {x['rss_mb']:.0f} | {x['queries']['total']} | "
                f"{x['prom_requests_served']} | {x['candidates']} | {len(x['incidents'])} |"
            )
    lines += ["", "## Targets (issue 19)", "", *_target_table(report["targets"])]
    lines += ["", "## Earlier targets (issue 9)", "", *_target_table(report["earlier_targets"])]
    notes = report.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines.append("")
    return "\n".join(lines)


@dataclass
class Size:
    """One dataset size and the cells measured on it."""

    services: int
    ds: Dataset
    docs: list[int]
    windows: list[str]
    png_modes: list[bool]
    tsdb: Path | None = None
    prom_facts: dict[str, Any] = field(default_factory=dict)
    es_cached: Path | None = None
    es_facts: dict[str, Any] = field(default_factory=dict)


def _numbers(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise SystemExit(f"bench/run.py: {option} {text!r}: expected positive numbers, e.g. 19,200")
    return values


def plan_sizes(args: argparse.Namespace) -> tuple[list[Size], int, int]:
    """The sizes to measure (the first with every cell, the others the scale cells), repeats
    and --help runs."""
    smoke = bool(args.smoke)
    docs = _numbers(args.docs or ("20000" if smoke else "1000000,5000000"), "--docs")
    windows = [w.strip() for w in (args.windows or ("1h" if smoke else "1h,24h,7d")).split(",")]
    png_modes = {"both": [False, True], "on": [True], "off": [False]}[
        args.png or ("off" if smoke else "both")
    ]
    scale_windows = [
        w.strip() for w in (args.scale_windows or ("1h" if smoke else "1h,24h")).split(",")
    ]
    default = "3,12" if smoke else f"{DEFAULT_SERVICES},{SCALE_SERVICES}"
    sizes = []
    for k, n in enumerate(_numbers(args.services or default, "--services")):
        ds = dataset_for(n, smoke)
        if k == 0:
            size = Size(n, ds, docs, windows, png_modes)
        else:  # the scale cells: the first log dataset, no PNG
            # (smoke: Prometheus alone, the query count is what it checks; a second
            # Elasticsearch node would double its time)
            size = Size(n, ds, [] if smoke else docs[:1], scale_windows, [False])
        for w in size.windows:
            ds.window(parse_duration(w))  # fails early when a window does not fit in the data
        sizes.append(size)
    return sizes, args.repeat or (1 if smoke else 3), 3 if smoke else 7


def measure_cells(
    size: Size,
    n: int | None,
    *,
    cell: Any,
    work: Path,
    prom_url: str,
    es_url: str | None,
    args: argparse.Namespace,
    repeat: int,
    results: list[dict[str, Any]],
) -> Path | None:
    """The cells of one log dataset (``n`` docs, None: no logs), appended to ``results``;
    the config of its first window."""
    ds = size.ds
    first = None
    for k, label in enumerate(size.windows):
        w = parse_duration(label)
        window = ds.window(w)
        config = work / f"pmrecon-{n}-{int(w)}.yaml"
        first = first or config
        write_config(
            config,
            prom_url,
            es_url,
            servers.index_prefix(n) + "-*" if n else None,
            args.concurrency,
        )
        if k == 0:  # one warm-up build per log dataset (caches, JIT)
            say("warm-up build (not measured)")
            cell(config=config, window=window, png=False)
        for png in size.png_modes:
            runs = []
            for i in range(repeat):
                say(
                    f"build: {size.services} services, {label_docs(n)} docs, "
                    f"{label} window, PNG {'on' if png else 'off'}, run {i + 1}/{repeat}"
                )
                r = cell(config=config, window=window, png=png, minimal_first=i % 2 == 1)
                say(
                    f"  wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s, "
                    f"rss {r['rss_mb']:.0f} MB, {r['queries']} queries "
                    f"({r['prom_queries']} Prometheus), {r['bytes'] / 1e6:.1f} MB; "
                    f"floor {r['floor']['wall']:.2f} s, ratio {r['ratio']}; minimal "
                    f"floor {r['minimal_floor']['wall']:.2f} s "
                    f"({r['minimal_floor']['queries']} queries), ratio {r['minimal_ratio']}"
                )
                runs.append(r)
            results.append(
                {
                    "services": size.services,
                    "docs": n,
                    "window": label,
                    "window_seconds": w,
                    "from": window[0].isoformat(),
                    "to": window[1].isoformat(),
                    "png": png,
                    "summary": summarize(runs),
                    "runs": runs,
                }
            )
    return first


def measure_size(
    size: Size,
    *,
    args: argparse.Namespace,
    env: dict[str, str],
    repeat: int,
    help_runs: int,
    es_version: str | None,
    versions: dict[str, Any],
    results: list[dict[str, Any]],
    scans: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Every cell of one size (and its scan), appended to ``results``; the --help timing when asked."""
    ds = size.ds
    help_t = None
    work = Path(tempfile.mkdtemp(prefix="pmrecon-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            assert size.tsdb is not None
            prom = stack.enter_context(servers.running_prometheus(ds, size.tsdb, work))
            versions["prometheus"] = _prom_version(prom.url)
            node = None
            if size.es_cached is not None and es_version:
                node = stack.enter_context(
                    servers.running_elasticsearch(es_version, size.es_cached, args.es_heap)
                )
                versions["elasticsearch"] = node.version
            pids = measure.ServerPids(
                prometheus=prom.proc.pid if prom.proc else None,
                es_group=node._proc.pid if node is not None and node._proc else None,
            )
            if help_runs:
                say("timing pmrecon --help")
                help_t = time_help(env, help_runs)
            cell = functools.partial(
                one_build,
                work=work,
                env=env,
                pids=pids,
                concurrency={"prometheus": args.concurrency, "elasticsearch": 4},
                timeout=args.build_timeout,
                prom_url=prom.url,
            )
            datasets: list[int | None] = list(size.docs) if node is not None else [None]
            scan_config = None
            for n in datasets:
                config = measure_cells(
                    size,
                    n,
                    cell=cell,
                    work=work,
                    prom_url=prom.url,
                    es_url=node.url if node is not None else None,
                    args=args,
                    repeat=repeat,
                    results=results,
                )
                scan_config = scan_config or config  # the first log dataset's
            if args.scan_days and scan_config is not None:
                from bench.scan import measure_scan, scan_facts

                say(f"pmrecon scan over {args.scan_days} days, {size.services} services")
                summary, run = measure_scan(
                    config=scan_config,
                    prom_url=prom.url,
                    days=args.scan_days,
                    png=False,
                    env=env,
                    out=work / "drafts",
                    timeout=args.build_timeout * 3,
                )
                scans.append(scan_facts(size.services, args.scan_days, datasets[0], summary, run))
                say(
                    f"  wall {run.wall:.2f} s, {summary['prom_requests_served']} Prometheus requests"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return help_t


def run_notes(results: list[dict[str, Any]]) -> list[str]:
    """What a reader of the table must know about its cells."""
    notes: list[str] = []
    for r in results:
        s = r["summary"]
        where = f"{r['services']} services, {r['window']} / {label_docs(r['docs'])}"
        if not s["incident_found"]:
            notes.append(f"{where}: no incident found (⚠ in the table).")
        if s["degraded"]:
            notes.append(f"{where}: degraded build (a source failed).")
        unsized = sorted({n for x in r["runs"] for n in x["bytes_from_floor"]})
        if unsized:
            note = (
                f"{', '.join(unsized)}: its query records carry no size (bytes_received), so "
                "'received MB' counts what the floor received for the same requests."
            )
            if note not in notes:
                notes.append(note)
        mism = max(x["floor"]["mismatched_sizes"] for x in r["runs"])
        if mism:
            notes.append(
                f"{where}: {mism} replayed answers differ in size from the recorded ones "
                "(the floor may not replay those queries exactly)."
            )
        served = {x["prom_requests_served"] - x["prom_queries"] for x in r["runs"]}
        if served != {0}:
            notes.append(
                f"{where}: Prometheus counted {sorted(served)} request(s) more than the "
                "bundle records (retries, or queries the bundle does not record)."
            )
    return notes


def describe(size: Size, docs: list[int]) -> str:
    """One dataset in a sentence: series, samples, log documents."""
    ds, f = size.ds, size.prom_facts
    text = (
        f"{f['series']} Prometheus series at {ds.scrape} s over {ds.days:g} days "
        f"({f['samples']:,} samples, one TSDB block of {f['tsdb_bytes'] / 1e6:.0f} MB)"
    )
    parts = []
    for n in docs:
        e = size.es_facts.get(str(n))
        if e:
            parts.append(
                f"{e['docs']:,} log docs in {len(e['indices'])} daily indices "
                f"({e['bulk_bytes'] / 1e6:.0f} MB of bulk NDJSON, {e['store_bytes'] / 1e6:.0f} MB stored)"
            )
    return "; ".join([text, *parts])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny data, one window, one repeat")
    p.add_argument("--docs", default=None, help="log datasets, e.g. 1000000,5000000")
    p.add_argument("--windows", default=None, help="windows, e.g. 1h,24h,7d")
    p.add_argument("--png", choices=("both", "on", "off"), default=None, help="PNG runs")
    p.add_argument("--repeat", type=int, default=None, help="builds per cell (median)")
    p.add_argument(
        "--services",
        default=None,
        help=f"dataset sizes, e.g. {DEFAULT_SERVICES},{SCALE_SERVICES}: the first gets every "
        "cell, the others the scale cells (smoke: 3,12, the second without logs)",
    )
    p.add_argument(
        "--scale-windows", default=None, help="windows of the other sizes (default 1h,24h; PNG off)"
    )
    p.add_argument(
        "--scan-days",
        type=int,
        default=None,
        help="a pmrecon scan over this many days per size (default 30; smoke and 0: none)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--no-es", action="store_true", help="Prometheus only")
    p.add_argument("--es-heap", default="2g", help="Elasticsearch heap (default 2g)")
    p.add_argument("--concurrency", type=int, default=4, help="Prometheus max_concurrency")
    p.add_argument("--build-timeout", type=float, default=600.0, help="limit per build, seconds")
    p.add_argument(
        "--pmrecon-root",
        type=Path,
        default=None,
        help="measure the pmrecon checkout in DIR (PYTHONPATH), e.g. to compare a patch",
    )
    args = p.parse_args(argv)
    if args.scan_days is None:
        args.scan_days = 0 if args.smoke else 30
    sizes, repeat, help_runs = plan_sizes(args)
    notes: list[str] = []
    es_skip = "--no-es given" if args.no_es else es_connector_available()
    if es_skip:
        notes.append(f"Elasticsearch not measured: {es_skip}.")
        say(f"Elasticsearch skipped: {es_skip}")
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    started = time.monotonic()

    es_version = None
    if not es_skip:
        from tests.infra.es import pinned_version

        es_version = pinned_version(9)
    for size in sizes:  # all the data first: nothing heavy runs between measurements
        size.tsdb, size.prom_facts = servers.prometheus_tsdb(size.ds, say)
        if es_version and size.docs:
            size.es_cached, size.es_facts = servers.es_data(
                size.ds, size.docs, es_version, say, args.es_heap
            )

    env = measure.pmrecon_env(servers.cache_root() / "pycache")
    if args.pmrecon_root is not None:
        root = args.pmrecon_root.resolve()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        notes.append(f"pmrecon measured from {root} (--pmrecon-root), not from this checkout.")
    from pmrecon import __version__

    versions: dict[str, Any] = {"pmrecon": __version__}
    results: list[dict[str, Any]] = []
    scans: list[dict[str, Any]] = []
    help_t: dict[str, Any] = {}
    for k, size in enumerate(sizes):
        got = measure_size(
            size,
            args=args,
            env=env,
            repeat=repeat,
            help_runs=help_runs if k == 0 else 0,
            es_version=es_version,
            versions=versions,
            results=results,
            scans=scans,
        )
        help_t = got or help_t
    notes += run_notes(results)
    datasets = [
        {
            "services": size.services,
            "days": size.ds.days,
            "scrape_seconds": size.ds.scrape,
            "incident": [size.ds.incident[0].isoformat(), size.ds.incident[1].isoformat()],
            "description": describe(size, size.docs),
            "prometheus": size.prom_facts,
            "elasticsearch": size.es_facts,
        }
        for size in sizes
    ]
    report = {
        "schema": SCHEMA,
        "smoke": bool(args.smoke),
        "finished": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "machine": measure.machine(),
        "versions": versions,
        "load_start": load_start,
        "load_end": Path("/proc/loadavg").read_text().split()[:3],
        "repeat": repeat,
        "dataset": datasets[0],  # the main one (schema 1 had only this)
        "datasets": datasets,
        "help": help_t,
        "results": results,
        "scans": scans,
        "targets": check_targets(results, scans),
        "earlier_targets": check_earlier_targets(results, help_t["median"]),
        "notes": notes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (args.out / "latest.md").write_text(markdown(report), encoding="utf-8")
    say(f"wrote {args.out / 'latest.md'} and latest.json in {report['elapsed_seconds']} s")
    return 0


def _prom_version(url: str) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/api/v1/status/buildinfo", timeout=10) as resp:
            return str(json.loads(resp.read())["data"]["version"])
    except (OSError, ValueError, KeyError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
