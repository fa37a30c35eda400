"""The benchmark's smoke mode, end to end, so that bench/ cannot rot.

``bench/run.py --smoke`` generates a tiny dataset (cached like the real one), starts the real
Prometheus (and Elasticsearch unless ``PMRECON_SKIP_ES=1``), measures one build and its floor,
and writes ``latest.md`` and ``latest.json``. This test checks that both files are produced and
well formed, and that the measured build found the generated incident; it never checks speed
(the machine is shared: timings here mean nothing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]


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


def test_describes_the_machine_and_versions(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    m = report["machine"]
    assert m["nproc"] >= 1 and m["memory_gib"] > 0 and m["cpu_model"]
    assert report["versions"]["pmrecon"] and report["versions"]["prometheus"]
    assert report["smoke"] is True
    assert report["dataset"]["prometheus"]["samples"] > 0


def test_every_cell_has_every_figure(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    assert report["results"], "no build measured"
    for cell in report["results"]:
        s = cell["summary"]
        for key in ("wall", "cpu", "rss_mb", "floor_wall", "ratio"):
            assert isinstance(s[key], (int, float)) and s[key] > 0, (key, s)
        assert s["queries"] > 0 and s["bytes"] > 0
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


def test_elasticsearch_is_measured_unless_skipped(smoke) -> None:  # noqa: ANN001
    _, report, _ = smoke
    docs = {cell["docs"] for cell in report["results"]}
    if os.environ.get("PMRECON_SKIP_ES") == "1" or any(
        "Elasticsearch not measured" in n for n in report["notes"]
    ):
        assert docs == {None}
    else:
        assert report["versions"]["elasticsearch"]
        assert None not in docs
        for cell in report["results"]:
            assert cell["runs"][-1]["per_source"]["elasticsearch"]["queries"] > 0


def test_targets_and_markdown_table(smoke) -> None:  # noqa: ANN001
    _, report, md = smoke
    names = [t["target"] for t in report["targets"]]
    assert any("floor" in n for n in names) and any("--help" in n for n in names)
    help_target = next(t for t in report["targets"] if "--help" in t["target"])
    assert help_target["value"] is not None
    assert "| logs | window | PNG | wall s |" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and " | off |" in line]
    assert len(rows) == len(report["results"])
    assert "## Targets (issue 9)" in md
