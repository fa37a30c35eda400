"""A report folder is small enough to commit and share: one copy of plotly.js, the demo
under 6 MB with its PNG graphs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmrecon.report.graphs import find_chromium
from tests.clihelp import run_cli

LIMIT = 6 * 2**20


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.chromium
def test_demo_report_folder_is_under_6_mb(tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: the demo's PNG graphs need it")
    out = tmp_path / "demo"
    r = run_cli("demo", "--out", str(out), "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert len(list((out / "graphs").glob("*.png"))) == 6
    sizes = {str(f.relative_to(out)): f.stat().st_size for f in out.rglob("*") if f.is_file()}
    assert folder_size(out) < LIMIT, sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
