"""Benchmark: drawing the report's figures and writing them as HTML, for N services.

No server needed: the evidence is synthetic (1 h window, 15 s step, a baseline, p50, p90 and
p99 per service, each service its own latency threshold), or read from a saved report
folder (its ``evidence/`` and ``findings.json``, e.g. a build of the benchmark's data).
Issue 19 asks for all figures of 200 services in under 2 s (1 h window, no PNG).

    .venv/bin/python bench/figures.py --services 200 [--runs 3]
    .venv/bin/python bench/figures.py --report path/to/report
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pmrecon.model import Evidence  # noqa: E402
from pmrecon.report.graphs import draw_figures  # noqa: E402
from pmrecon.report.graphs.pages import figure_div  # noqa: E402


def synthetic(services: int) -> tuple[Evidence, dict[str, Any]]:
    """An incident on the first of ``services`` services, the others steady."""
    from tests.evidence_factory import AlertDecl, Deg, Svc, T, build
    from tests.report_data import findings_for

    start, end = T("2026-03-01 09:00"), T("2026-03-01 10:00")
    hit = Deg(start + dt.timedelta(minutes=20), start + dt.timedelta(minutes=40), 0.2, 2.0)
    svcs = [
        Svc(
            f"svc-{i:03d}",
            rps=5 + i % 50,
            latency={0.5: 0.02 + i / 10000, 0.9: 0.05 + i / 10000, 0.99: 0.1 + i / 1000},
            phases=[hit] if i == 0 else [],
        )
        for i in range(services)
    ]
    alert = AlertDecl("HighErrorRate", "svc-000", [(hit.start, hit.end)])
    ev = build(start, end, svcs, step=15.0, alerts=[alert])
    return ev, findings_for(ev, "UTC", "en")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=200)
    p.add_argument("--report", type=Path, help="a report folder (evidence/ and findings.json)")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    if args.report:
        from connectors.bundle import read_bundle

        ev = read_bundle(args.report / "evidence")
        findings = json.loads((args.report / "findings.json").read_text(encoding="utf-8"))
    else:
        ev, findings = synthetic(args.services)
    draw, html = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        drawn = draw_figures(ev, findings, tz="UTC", lang="en")
        drawn_at = time.perf_counter()
        for d in drawn:
            figure_div(d)
        draw.append(drawn_at - started)
        html.append(time.perf_counter() - drawn_at)
    services = len({s.service for s in ev.series})
    print(f"{services} services, {len(ev.series)} series, best of {args.runs} runs:")
    print(f"  draw {min(draw):.3f} s, HTML {min(html):.3f} s, total {min(draw) + min(html):.3f} s")
    for d in drawn:
        layout = d.fig.layout
        print(
            f"  {d.name}: {len(d.fig.data)} traces, {len(layout.shapes)} shapes, "
            f"{len(layout.annotations)} annotations"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
