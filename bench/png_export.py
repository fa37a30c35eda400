"""Benchmark: PNG export of all figures of a typical report vs one figure alone.

Each run starts a fresh Chromium session through kaleido, as a build does, so the
numbers include the browser start. Issue 6 asks for "all figures" < 2 x "one figure".

    .venv/bin/python bench/png_export.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pmrecon.report.graphs import draw_figures, export_pngs, find_chromium  # noqa: E402
from tests.report_data import evidence, findings_for  # noqa: E402


def timed(drawn: list, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        images, warning = export_pngs(drawn)
        times.append(time.monotonic() - started)
        if warning is not None:
            raise SystemExit(f"export failed: {warning.message}")
        assert len(images) == len(drawn)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args()
    browser = find_chromium()
    if browser is None:
        raise SystemExit("no Chromium found: install chromium or set BROWSER_PATH")
    ev = evidence()
    drawn = draw_figures(ev, findings_for(ev), tz="Europe/Paris", lang="fr")
    print(f"browser: {browser}")
    print(f"figures: {', '.join(f'{d.name} ({d.width}x{d.height})' for d in drawn)}")
    timed(drawn[:1], 1)  # warm the disk cache: the first browser start is slower
    one = timed(drawn[:1], args.runs)
    every = timed(drawn, args.runs)
    m1, mall = statistics.median(one), statistics.median(every)
    print(f"one figure   : median {m1:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in one)})")
    print(
        f"all {len(drawn)} figures: median {mall:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in every)})"
    )
    print(f"ratio all/one: {mall / m1:.2f} (target < 2)")
    print(f"per extra figure: {(mall - m1) / max(1, len(drawn) - 1):.2f} s")


if __name__ == "__main__":
    main()
