"""``pmrecon scan`` over 30 days of the benchmark's servers: how many queries, how long.

The benchmark data (bench/dataset.py) holds 7 days ending at 2026-06-08 with three
incidents: the main one on 2026-06-07 and two minor ones on 2026-06-03 and 2026-06-05. A
30-day scan ending there covers 23 days without data and the 7 with it; it must find the
incidents with a number of queries bounded by the number of candidates, not by the length
of the window. Uses the cached data of ``bench/run.py`` (generated on first use)::

    .venv/bin/python bench/scan.py                       # 1 M docs, 30 days
    .venv/bin/python bench/scan.py --docs 5000000 --days 30 --png

Writes ``bench/results/scan.md`` and ``scan.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import measure, servers  # noqa: E402
from bench.dataset import END, Dataset  # noqa: E402
from bench.run import pmrecon_argv, say, write_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=1_000_000, help="log dataset (default 1 M)")
    p.add_argument("--days", type=int, default=30, help="length of the scanned window")
    p.add_argument("--png", action="store_true", help="export PNGs of each draft too")
    p.add_argument("--es-heap", default="2g")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)

    from tests.infra.es import pinned_version

    ds = Dataset()
    tsdb, _ = servers.prometheus_tsdb(ds, say)
    es_version = pinned_version(9)
    es_cached, _ = servers.es_data(ds, [args.docs], es_version, say, args.es_heap)
    start = END - dt.timedelta(days=args.days)
    env = {k: v for k, v in os.environ.items() if k != "PMRECON_CONFIG"}
    work = Path(tempfile.mkdtemp(prefix="pmrecon-bench-scan-"))
    try:
        with contextlib.ExitStack() as stack:
            prom = stack.enter_context(servers.running_prometheus(ds, tsdb, work))
            node = stack.enter_context(
                servers.running_elasticsearch(es_version, es_cached, args.es_heap)
            )
            config = work / "pmrecon.yaml"
            write_config(config, prom.url, node.url, servers.index_prefix(args.docs) + "-*", 4)
            argv = [
                *pmrecon_argv(),
                "-q",
                "scan",
                "--from",
                start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--to",
                END.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "-c",
                str(config),
                "-o",
                str(work / "drafts"),
                "--json",
            ]
            if not args.png:
                argv.append("--no-png")
            say(f"pmrecon scan over {args.days} days")
            run = measure.run_measured(argv, env, timeout=1800)
            if run.exit_code not in (0, 7):
                raise RuntimeError(f"scan failed (exit {run.exit_code}): {run.stderr[-2000:]}")
            summary = json.loads(run.stdout)
            say("the same scan again (it must create nothing new)")
            again = measure.run_measured(argv, env, timeout=1800)
            second = json.loads(again.stdout or "{}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    m = measure.machine()
    report: dict[str, Any] = {
        "machine": f"Machine: {m.get('nproc')} cores, {m.get('memory_gib')} GiB, "
        f"Python {m.get('python')}; load average at the end "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}.",
        "days": args.days,
        "docs": args.docs,
        "png": args.png,
        "window": summary["window"],
        "wall": round(run.wall, 2),
        "cpu": round(run.cpu, 2),
        "rss_mb": round(run.rss_mb, 1),
        "queries": summary["queries"],
        "candidates": summary["candidates"],
        "incidents": [
            {k: i[k] for k in ("impact_start", "resolution", "services", "alerts", "status")}
            for i in summary["incidents"]
        ],
        "second_run": {
            "wall": round(again.wall, 2),
            "new": second.get("new"),
            "queries": (second.get("queries") or {}).get("total"),
            "statuses": [i["status"] for i in second.get("incidents", [])],
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scan.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    lines = [
        f"# pmrecon scan over {args.days} days of benchmark data",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. {report['machine']}",
        "",
        f"Window {summary['window']['from']} → {summary['window']['to']}, "
        f"{args.docs:,} log documents, PNG {'on' if args.png else 'off'}.",
        "",
        "| run | wall s | CPU s | peak RSS MB | queries | candidates | incidents | new |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| first | {run.wall:.1f} | {run.cpu:.1f} | {run.rss_mb:.0f} | "
        f"{summary['queries']['total']} | {summary['candidates']} | "
        f"{len(summary['incidents'])} | {summary['new']} |",
        f"| again | {again.wall:.1f} | {again.cpu:.1f} | {again.rss_mb:.0f} | "
        f"{report['second_run']['queries']} | {second.get('candidates')} | "
        f"{len(second.get('incidents', []))} | {second.get('new')} |",
        "",
        "Queries by pass: "
        + ", ".join(f"{k} {v}" for k, v in summary["queries"].items() if k != "total"),
        "",
        "| impact start | resolution | services | alerts |",
        "|---|---|---|---|",
    ]
    for i in report["incidents"]:
        lines.append(
            f"| {i['impact_start']} | {i['resolution']} | {', '.join(i['services'])} | "
            f"{', '.join(i['alerts'])} |"
        )
    (args.out / "scan.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
