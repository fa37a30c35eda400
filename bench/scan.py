"""``pmrecon scan`` over 30 days of the benchmark's servers, for each dataset size.

The main data (bench/dataset.py, 19 services) holds 7 days ending at 2026-06-08 with three
incidents: the main one on 2026-06-07 and two minor ones on 2026-06-03 and 2026-06-05; the
200-service data (the scale preset of bench/run.py) holds the last 2 days and the main
incident alone. A 30-day scan ending there covers days without data, then the data; it must
find the incidents with a number of queries bounded by the number of candidates, not by the
length of the window or the number of services. Uses the cached data of ``bench/run.py``
(generated on first use)::

    .venv/bin/python bench/scan.py                       # 19 and 200 services, 1 M docs, 30 days
    .venv/bin/python bench/scan.py --services 200 --docs 5000000 --days 30 --png

Writes ``bench/results/scan.md`` and ``scan.json`` (``--out`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import measure, servers  # noqa: E402
from bench.dataset import END  # noqa: E402
from bench.run import (  # noqa: E402
    DEFAULT_SERVICES,
    SCALE_SERVICES,
    dataset_for,
    pmrecon_command,
    run_counted,
    say,
    write_config,
)


def measure_scan(
    *,
    config: Path,
    prom_url: str,
    days: int,
    png: bool,
    env: dict[str, str],
    out: Path,
    timeout: float = 1800,
) -> tuple[dict[str, Any], measure.Run]:
    """One measured ``pmrecon scan`` over the ``days`` ending with the data: its summary and run.

    The summary gains ``prom_requests_served``: the API requests Prometheus answered during
    the scan, counted by the server (the scan's JSON counts queries of all sources).
    """
    argv = pmrecon_command("scan", END - dt.timedelta(days=days), END, config, out, png)
    run, served = run_counted(argv, env, prom_url, timeout=timeout)
    if run.exit_code not in (0, 7):
        raise RuntimeError(f"scan failed (exit {run.exit_code}): {run.stderr[-2000:]}")
    summary = json.loads(run.stdout or "{}")
    summary["prom_requests_served"] = served
    return summary, run


def scan_facts(
    services: int, days: int, docs: int | None, summary: dict[str, Any], run: measure.Run
) -> dict[str, Any]:
    """The figures of one scan, as latest.json and scan.json keep them."""
    return {
        "services": services,
        "days": days,
        "docs": docs,
        "window": summary.get("window"),
        "wall": round(run.wall, 2),
        "cpu": round(run.cpu, 2),
        "rss_mb": round(run.rss_mb, 1),
        "queries": summary.get("queries") or {},
        "prom_requests_served": summary["prom_requests_served"],
        "candidates": summary.get("candidates"),
        "new": summary.get("new"),
        "incidents": [
            {k: i.get(k) for k in ("impact_start", "resolution", "services", "alerts", "status")}
            for i in summary.get("incidents") or []
        ],
    }


def one_size(
    services: int, docs: int, days: int, png: bool, es_heap: str, env: dict[str, str]
) -> dict[str, Any]:
    """Both scans (the first, and the same again) over one dataset size."""
    from tests.infra.es import pinned_version

    ds = dataset_for(services, smoke=False)
    tsdb, _ = servers.prometheus_tsdb(ds, say)
    es_version = pinned_version(9)
    es_cached, _ = servers.es_data(ds, [docs], es_version, say, es_heap)
    work = Path(tempfile.mkdtemp(prefix="pmrecon-bench-scan-"))
    try:
        with contextlib.ExitStack() as stack:
            prom = stack.enter_context(servers.running_prometheus(ds, tsdb, work))
            node = stack.enter_context(
                servers.running_elasticsearch(es_version, es_cached, es_heap)
            )
            config = work / "pmrecon.yaml"
            write_config(config, prom.url, node.url, servers.index_prefix(docs) + "-*", 4)
            say(f"pmrecon scan over {days} days, {services} services")
            kw = {"config": config, "prom_url": prom.url, "days": days, "png": png, "env": env}
            first, run = measure_scan(**kw, out=work / "drafts")  # type: ignore[arg-type]
            say("the same scan again (it must create nothing new)")
            second, again = measure_scan(**kw, out=work / "drafts")  # type: ignore[arg-type]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        **scan_facts(services, days, docs, first, run),
        "second_run": scan_facts(services, days, docs, second, again),
    }


def markdown(report: dict[str, Any]) -> str:
    """scan.md: one row per size and run, then the incidents found per size."""
    lines = [
        f"# pmrecon scan over {report['days']} days of benchmark data",
        "",
        f"Measured {report['finished']}. {report['machine']}",
        "",
        f"{report['docs']:,} log documents, PNG {'on' if report['png'] else 'off'}; "
        "Prometheus requests are counted by the server itself.",
        "",
        "| services | run | wall s | CPU s | peak RSS MB | queries | Prometheus requests "
        "| candidates | incidents | new |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        for label, x in (("first", size), ("again", size["second_run"])):
            lines.append(
                f"| {size['services']} | {label} | {x['wall']:.1f} | {x['cpu']:.1f} | "
                f"{x['rss_mb']:.0f} | {x['queries'].get('total')} | {x['prom_requests_served']} | "
                f"{x['candidates']} | {len(x['incidents'])} | {x['new']} |"
            )
    for size in report["sizes"]:
        window = size.get("window") or {}
        lines += [
            "",
            f"{size['services']} services, window {window.get('from')} → {window.get('to')}; "
            "queries by pass: "
            + ", ".join(f"{k} {v}" for k, v in size["queries"].items() if k != "total"),
            "",
            "| impact start | resolution | services | alerts |",
            "|---|---|---|---|",
        ]
        for i in size["incidents"]:
            lines.append(
                f"| {i['impact_start']} | {i['resolution']} | {', '.join(i['services'] or [])} | "
                f"{', '.join(i['alerts'] or [])} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--services",
        default=f"{DEFAULT_SERVICES},{SCALE_SERVICES}",
        help=f"dataset sizes (default {DEFAULT_SERVICES},{SCALE_SERVICES})",
    )
    p.add_argument("--docs", type=int, default=1_000_000, help="log dataset (default 1 M)")
    p.add_argument("--days", type=int, default=30, help="length of the scanned window")
    p.add_argument("--png", action="store_true", help="export PNGs of each draft too")
    p.add_argument("--es-heap", default="2g")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    try:
        sizes = [int(x) for x in args.services.split(",")]
    except ValueError:
        p.error(f"--services {args.services!r}: expected numbers, e.g. 19,200")
    env = measure.pmrecon_env(servers.cache_root() / "pycache")
    results = [one_size(n, args.docs, args.days, args.png, args.es_heap, env) for n in sizes]
    m = measure.machine()
    report: dict[str, Any] = {
        "machine": f"Machine: {m.get('nproc')} cores, {m.get('memory_gib')} GiB, "
        f"Python {m.get('python')}; load average at the end "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}.",
        "finished": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "days": args.days,
        "docs": args.docs,
        "png": args.png,
        "sizes": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scan.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    (args.out / "scan.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
