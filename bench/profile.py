"""Profile one ``pmrecon build`` against the benchmark's servers with pyinstrument.

Uses the data cached by bench/run.py (generating it if needed) and writes
``<out>/profile-<services>svc-<window>-<docs>.txt`` (call tree) and ``.html``::

    .venv/bin/pip install pyinstrument
    .venv/bin/python bench/profile.py --window 24h --docs 5000000 [--png]

With ``--threads``, yappi's CPU time per function over every thread instead (the
collectors run on threads pyinstrument does not see); ``.venv/bin/pip install yappi``.
With ``--memory``, no profiler: each step of the build with its peak RSS and its time.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import measure, servers  # noqa: E402
from bench.run import (  # noqa: E402
    DEFAULT_SERVICES,
    dataset_for,
    es_connector_available,
    parse_duration,
    say,
    write_config,
)

#: Runs pmrecon's CLI under yappi (CPU clock, every thread) and prints the costliest functions.
THREADED = """
import sys, yappi
from pmrecon.cli import main
yappi.set_clock_type("cpu")
yappi.start(builtins=False)
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    yappi.stop()
    for sort in ("tsub", "ttot"):
        print(f"== top 60 by {sort} (CPU seconds, every thread)")
        stats = yappi.get_func_stats().sort(sort)
        for f in list(stats)[:60]:
            print(f"{f.tsub:8.3f} {f.ttot:8.3f} {f.ncall:9d}  {f.module}:{f.lineno} {f.name}")
    print("== threads")
    for t in yappi.get_thread_stats():
        print(f"{t.ttot:8.3f}  {t.name}")
"""

#: Runs pmrecon's CLI with a thread sampling RSS, and prints each build step's peak.
MEMORY = """
import os, sys, threading, time
import pmrecon.api as api
from pmrecon.cli import main
page = os.sysconf("SC_PAGE_SIZE") / 2**20
steps = [["start", 0.0, time.perf_counter()]]
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
def sample():
    while True:
        steps[-1][1] = max(steps[-1][1], rss())
        time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
run = api.build
def build(config, request, progress=None):
    def told(p):
        steps.append([f"{p.stage}: {p.message[:70]}", rss(), time.perf_counter()])
        if progress:
            progress(p)
    return run(config, request, told)
api.build = build
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    steps.append(["end", rss(), time.perf_counter()])
    for (name, peak, t), (_, _, t1) in zip(steps, steps[1:]):
        print(f"{peak:8.0f} MB {t1 - t:7.2f} s  {name}")
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--window", default="24h")
    p.add_argument("--docs", type=int, default=1_000_000, help="log dataset (0: no logs)")
    p.add_argument("--png", action="store_true")
    p.add_argument("--smoke", action="store_true", help="the smoke dataset")
    p.add_argument("--services", type=int, default=DEFAULT_SERVICES, help="dataset size")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--keep", type=Path, help="build the report into DIR and keep it")
    p.add_argument("--es-heap", default="2g")
    p.add_argument("--interval", default="0.001", help="pyinstrument sampling interval (s)")
    p.add_argument(
        "--memory",
        action="store_true",
        help="peak RSS of each step of the build (sampled every 10 ms), no profiler",
    )
    p.add_argument(
        "--threads",
        action="store_true",
        help="yappi's CPU time per function over every thread (the collectors' too), "
        "instead of pyinstrument's main-thread call tree",
    )
    args = p.parse_args()
    tool = "yappi" if args.threads else "pyinstrument"
    try:
        if not args.memory:
            __import__(tool)
    except ImportError:
        raise SystemExit(f"{tool} is not installed: .venv/bin/pip install {tool}") from None
    ds = dataset_for(3 if args.smoke else args.services, args.smoke)
    seconds = parse_duration(args.window)
    window = ds.window(seconds)
    tsdb, _ = servers.prometheus_tsdb(ds, say)
    use_es = args.docs > 0 and es_connector_available() is None
    work = Path(tempfile.mkdtemp(prefix="pmrecon-profile-"))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = (
        args.out / f"profile-{ds.services}svc-{args.window}-{args.docs if use_es else 0}"
        f"{'-png' if args.png else ''}"
    )
    try:
        with contextlib.ExitStack() as stack:
            prom = stack.enter_context(servers.running_prometheus(ds, tsdb, work))
            node = None
            if use_es:
                from tests.infra.es import pinned_version

                version = pinned_version(9)
                cached, _ = servers.es_data(ds, [args.docs], version, say, args.es_heap)
                node = stack.enter_context(
                    servers.running_elasticsearch(version, cached, args.es_heap)
                )
            config = work / "pmrecon.yaml"
            write_config(
                config,
                prom.url,
                node.url if node else None,
                servers.index_prefix(args.docs) + "-*" if node else None,
                4,
            )
            session = f"{stem}.pyisession"
            build = [
                "pmrecon",
                "-q",
                "build",
                "--from",
                window[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--to",
                window[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "-c",
                str(config),
                "-o",
                str(args.keep or work / "out"),
            ]
            if not args.png:
                build.append("--no-png")
            env = measure.pmrecon_env(servers.cache_root() / "pycache")
            if args.threads or args.memory:
                code, suffix = (MEMORY, "memory") if args.memory else (THREADED, "threads")
                say(f"profiling ({suffix}): " + " ".join(build[1:]))
                with open(f"{stem}-{suffix}.txt", "w", encoding="utf-8") as out:
                    subprocess.run(
                        [sys.executable, "-c", code, *build[1:]],
                        check=False,
                        env=env,
                        stdout=out,
                    )
                say(f"wrote {stem}-{suffix}.txt")
                return 0
            pyinstrument = [sys.executable, "-m", "pyinstrument"]
            say("profiling: " + " ".join(build[1:]))
            subprocess.run(
                [*pyinstrument, "--interval", args.interval, "-r", "pyisession", "-o", session,
                 "-m", *build],
                check=False,
                env=env,
            )  # fmt: skip
            for renderer, ext in (("text", "txt"), ("html", "html")):
                subprocess.run(
                    [*pyinstrument, "--load", session, "-r", renderer, "-o", f"{stem}.{ext}"],
                    check=True,
                )
            Path(session).unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"wrote {stem}.txt and {stem}.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
