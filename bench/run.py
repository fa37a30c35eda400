"""pmrecon's benchmark against the real Prometheus and Elasticsearch of the test suite.

One command generates and loads production-like data (cached), then measures ``pmrecon
build`` for each log dataset × window × PNG on/off, and the floor (the same queries replayed
raw over HTTP), and writes ``latest.md`` and ``latest.json``::

    .venv/bin/python bench/run.py                      # 1 M and 5 M docs; 1 h, 24 h, 7 d windows
    .venv/bin/python bench/run.py --smoke              # small data, a few seconds (a test runs it)
    .venv/bin/python bench/run.py --docs 1000000 --windows 24h --png off --repeat 5

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import measure, servers  # noqa: E402
from bench.dataset import Dataset  # noqa: E402

TARGETS = {
    "ratio_24h_no_png": 1.25,
    "rss_mb": 300.0,
    "rss_spread": 0.10,
    "wall_24h_5m_no_png": 10.0,
    "wall_24h_5m_png": 15.0,
    "help_seconds": 0.5,
}
SCHEMA = 1


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
) -> dict[str, Any]:
    """One measured build, then the floor of exactly the queries it sent."""
    out = Path(tempfile.mkdtemp(prefix="build-", dir=work))
    shutil.rmtree(out)
    argv = [
        *pmrecon_argv(),
        "-q",
        "build",
        "--from",
        window[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--to",
        window[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "-c",
        str(config),
        "-o",
        str(out),
        "--json",
    ]
    if not png:
        argv.append("--no-png")
    run = measure.run_measured(argv, env, pids, timeout=timeout)
    if run.exit_code not in (0, 7):
        raise RuntimeError(
            f"pmrecon build failed (exit {run.exit_code}): {' '.join(argv)}\n{run.stderr[-3000:]}"
        )
    summary = json.loads(run.stdout or "{}")
    sources = measure.bundle_queries(out / "evidence")
    totals = measure.bundle_totals(sources)
    fl = measure.floor(sources, concurrency)
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
        "bytes": received,
        "bundle_bytes": totals["bytes"],
        "bytes_from_floor": measured_by_floor,
        "per_source": totals["per_source"],
        "floor": {
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
        },
        "ratio": round(run.wall / fl.wall, 3) if fl.wall > 0 else None,
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
        "others_cpu": round(statistics.median([r["others_cpu"] or 0.0 for r in runs]), 2),
        "incident_found": all(r["incident_found"] for r in runs),
        "degraded": any(r["degraded"] for r in runs),
        "pngs": runs[-1]["pngs"],
    }


def check_targets(results: list[dict[str, Any]], help_s: float) -> list[dict[str, Any]]:
    """Each target of issue 9 with the measured value (None when not measured in this run)."""

    def find(window: str, png: bool, docs: int | None = None) -> dict[str, Any] | None:
        cands = [
            r
            for r in results
            if r["window"] == window and r["png"] == png and (docs is None or r["docs"] == docs)
        ]
        return max(cands, key=lambda r: r["docs"] or 0) if cands else None

    out = []
    r = find("24h", False)
    out.append(
        {
            "target": "pmrecon ÷ floor, build --no-png, 24 h window",
            "limit": f"≤ {TARGETS['ratio_24h_no_png']}",
            "value": r["summary"]["ratio"] if r else None,
            "ok": r["summary"]["ratio"] <= TARGETS["ratio_24h_no_png"] if r else None,
            "where": f"{label_docs(r['docs'])} docs" if r else None,
        }
    )
    if results:
        worst = max(results, key=lambda r: r["summary"]["rss_mb"])
        out.append(
            {
                "target": "peak RSS of build (pmrecon's own process)",
                "limit": f"< {TARGETS['rss_mb']:g} MB",
                "value": worst["summary"]["rss_mb"],
                "ok": worst["summary"]["rss_mb"] < TARGETS["rss_mb"],
                "where": f"{worst['window']}, {label_docs(worst['docs'])} docs, "
                f"PNG {'on' if worst['png'] else 'off'}",
            }
        )
    docs_sets = sorted({r["docs"] for r in results if r["docs"]})
    if len(docs_sets) >= 2:
        lo, hi = docs_sets[0], docs_sets[-1]
        spreads = []
        for r in results:
            if r["docs"] != hi:
                continue
            twin = next(
                (
                    x
                    for x in results
                    if x["docs"] == lo and x["window"] == r["window"] and x["png"] == r["png"]
                ),
                None,
            )
            if twin:
                a, b = twin["summary"]["rss_mb"], r["summary"]["rss_mb"]
                spreads.append((abs(b - a) / a, r))
        if spreads:
            spread, r = max(spreads, key=lambda x: x[0])
            out.append(
                {
                    "target": f"peak RSS, {label_docs(hi)} vs {label_docs(lo)} docs (largest gap)",
                    "limit": f"within {TARGETS['rss_spread']:.0%}",
                    "value": round(spread, 3),
                    "ok": spread <= TARGETS["rss_spread"],
                    "where": f"{r['window']}, PNG {'on' if r['png'] else 'off'}",
                }
            )
    for png, key in ((False, "wall_24h_5m_no_png"), (True, "wall_24h_5m_png")):
        r = find("24h", png, 5_000_000)
        out.append(
            {
                "target": f"build {'with PNGs' if png else '--no-png'}, 24 h, 5 M docs",
                "limit": f"< {TARGETS[key]:g} s",
                "value": r["summary"]["wall"] if r else None,
                "ok": r["summary"]["wall"] < TARGETS[key] if r else None,
                "where": None,
            }
        )
    out.append(
        {
            "target": "pmrecon --help",
            "limit": f"< {TARGETS['help_seconds']} s",
            "value": round(help_s, 3),
            "ok": help_s < TARGETS["help_seconds"],
            "where": None,
        }
    )
    return out


def fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


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
        "Data: " + report["data_description"],
        "",
        f"Each cell is the median of {report['repeat']} build(s); the floor is replayed right after "
        "each build from that build's own evidence bundle.",
        "",
        "| logs | window | PNG | wall s | CPU s | peak RSS MB | queries | received MB | floor s | ÷ floor | others CPU s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        s = r["summary"]
        flag = "" if s["incident_found"] and not s["degraded"] else " ⚠"
        lines.append(
            f"| {label_docs(r['docs'])} | {r['window']} | {'on' if r['png'] else 'off'} | "
            f"{s['wall']:.2f}{flag} | {s['cpu']:.2f} | {s['rss_mb']:.0f} | {s['queries']} | "
            f"{s['bytes'] / 1e6:.1f} | {s['floor_wall']:.2f} | {s['ratio']:.2f} | {s['others_cpu']:.1f} |"
        )
    lines += [
        "",
        f"`pmrecon --help`: {report['help']['median']:.3f} s (median of {len(report['help']['runs'])}).",
        "",
        "## Targets (issue 9)",
        "",
        "| target | limit | measured | met |",
        "|---|---|---:|---|",
    ]
    for t in report["targets"]:
        ok = "–" if t["ok"] is None else ("yes" if t["ok"] else "**no**")
        where = f" ({t['where']})" if t.get("where") else ""
        value = "not measured" if t["value"] is None else f"{t['value']}{where}"
        lines.append(f"| {t['target']} | {t['limit']} | {value} | {ok} |")
    notes = report.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny data, one window, one repeat")
    p.add_argument("--docs", default=None, help="log datasets, e.g. 1000000,5000000")
    p.add_argument("--windows", default=None, help="windows, e.g. 1h,24h,7d")
    p.add_argument("--png", choices=("both", "on", "off"), default=None, help="PNG runs")
    p.add_argument("--repeat", type=int, default=None, help="builds per cell (median)")
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

    if args.smoke:
        ds = Dataset(days=0.5, services=3, rps_min=5.0, rps_max=20.0)
        docs = [int(x) for x in (args.docs or "20000").split(",")]
        windows = [w.strip() for w in (args.windows or "1h").split(",")]
        png_modes = {"both": [False, True], "on": [True], "off": [False]}[args.png or "off"]
        repeat = args.repeat or 1
        help_runs = 3
    else:
        ds = Dataset()
        docs = [int(x) for x in (args.docs or "1000000,5000000").split(",")]
        windows = [w.strip() for w in (args.windows or "1h,24h,7d").split(",")]
        png_modes = {"both": [False, True], "on": [True], "off": [False]}[args.png or "both"]
        repeat = args.repeat or 3
        help_runs = 7
    for w in windows:
        ds.window(parse_duration(w))  # fails early when a window does not fit in the data
    notes: list[str] = []
    es_skip = "--no-es given" if args.no_es else es_connector_available()
    if es_skip:
        notes.append(f"Elasticsearch not measured: {es_skip}.")
        say(f"Elasticsearch skipped: {es_skip}")
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    started = time.monotonic()

    tsdb, prom_facts = servers.prometheus_tsdb(ds, say)
    es_facts: dict[str, Any] = {}
    es_cached: Path | None = None
    es_version = None
    if not es_skip:
        from tests.infra.es import pinned_version

        es_version = pinned_version(9)
        es_cached, es_facts = servers.es_data(ds, docs, es_version, say, args.es_heap)

    env = dict(os.environ)
    env.pop("PMRECON_CONFIG", None)
    if args.pmrecon_root is not None:
        root = args.pmrecon_root.resolve()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        notes.append(f"pmrecon measured from {root} (--pmrecon-root), not from this checkout.")
    results: list[dict[str, Any]] = []
    versions: dict[str, Any] = {}
    from pmrecon import __version__

    versions["pmrecon"] = __version__
    work = Path(tempfile.mkdtemp(prefix="pmrecon-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            prom = stack.enter_context(servers.running_prometheus(ds, tsdb, work))
            versions["prometheus"] = _prom_version(prom.url)
            node = None
            if es_cached is not None and es_version:
                node = stack.enter_context(
                    servers.running_elasticsearch(es_version, es_cached, args.es_heap)
                )
                versions["elasticsearch"] = node.version
            pids = measure.ServerPids(
                prometheus=prom.proc.pid if prom.proc else None,
                es_group=node._proc.pid if node is not None and node._proc else None,
            )
            say("timing pmrecon --help")
            help_t = time_help(env, help_runs)
            cell = functools.partial(
                one_build,
                work=work,
                env=env,
                pids=pids,
                concurrency={"prometheus": args.concurrency, "elasticsearch": 4},
                timeout=args.build_timeout,
            )
            datasets: list[int | None] = list(docs) if node is not None else [None]
            for n in datasets:
                for k, label in enumerate(windows):
                    w = parse_duration(label)
                    window = ds.window(w)
                    config = work / f"pmrecon-{n}-{int(w)}.yaml"
                    write_config(
                        config,
                        prom.url,
                        node.url if node is not None else None,
                        servers.index_prefix(n) + "-*" if n else None,
                        args.concurrency,
                    )
                    if k == 0:  # one warm-up build per log dataset (caches, JIT)
                        say("warm-up build (not measured)")
                        cell(config=config, window=window, png=False)
                    for png in png_modes:
                        runs = []
                        for i in range(repeat):
                            say(
                                f"build: {label_docs(n)} docs, {label} window, "
                                f"PNG {'on' if png else 'off'}, run {i + 1}/{repeat}"
                            )
                            r = cell(config=config, window=window, png=png)
                            say(
                                f"  wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s, "
                                f"rss {r['rss_mb']:.0f} MB, {r['queries']} queries, "
                                f"{r['bytes'] / 1e6:.1f} MB; floor {r['floor']['wall']:.2f} s; "
                                f"ratio {r['ratio']}"
                            )
                            runs.append(r)
                        results.append(
                            {
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
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for r in results:
        s = r["summary"]
        if not s["incident_found"]:
            notes.append(
                f"{r['window']} / {label_docs(r['docs'])}: no incident found (⚠ in the table)."
            )
        if s["degraded"]:
            notes.append(
                f"{r['window']} / {label_docs(r['docs'])}: degraded build (a source failed)."
            )
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
                f"{r['window']} / {label_docs(r['docs'])}: {mism} replayed answers differ in size from "
                "the recorded ones (the floor may not replay those queries exactly)."
            )
    data_desc = (
        f"{prom_facts['series']} Prometheus series at {ds.scrape} s over {ds.days:g} days "
        f"({prom_facts['samples']:,} samples, {ds.services} services, one TSDB block of "
        f"{prom_facts['tsdb_bytes'] / 1e6:.0f} MB)"
    )
    if es_facts:
        parts = []
        for n in docs:
            f = es_facts[str(n)]
            parts.append(
                f"{f['docs']:,} log docs in {len(f['indices'])} daily indices "
                f"({f['bulk_bytes'] / 1e6:.0f} MB of bulk NDJSON, {f['store_bytes'] / 1e6:.0f} MB stored)"
            )
        data_desc += "; " + "; ".join(parts)
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
        "data_description": data_desc,
        "dataset": {
            "days": ds.days,
            "services": ds.services,
            "scrape_seconds": ds.scrape,
            "incident": [ds.incident[0].isoformat(), ds.incident[1].isoformat()],
            "prometheus": prom_facts,
            "elasticsearch": es_facts,
        },
        "help": help_t,
        "results": results,
        "targets": check_targets(results, help_t["median"]),
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
