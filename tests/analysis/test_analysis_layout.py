"""The analysis package keeps its shape: one-way imports, small modules and functions.

Analysis reads the evidence model and writes findings; it must never reach back into
the connectors that collect the evidence, nor forward into the report that renders
the findings (issue 13).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pmrecon" / "analysis"
MODULES = sorted(PACKAGE.glob("*.py"))
#: What analysis may import besides the standard library and itself.
#: pmrecon.wording is a leaf: the catalogues of words, the analysis's timeline texts included.
ALLOWED = {"numpy", "pandas", "pmrecon.model", "pmrecon.findings", "pmrecon.wording"}
#: Allowed only inside a function (validation of settings and time zones).
LAZY = {"pmrecon.config"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level) of every import in ``path``."""
    tree = ast.parse(path.read_text("utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                name = node.module or ""
            else:
                parts = ["pmrecon", "analysis"][: 3 - node.level]
                name = ".".join(parts + ([node.module] if node.module else []))
            found.append((name, id(node) in top_level))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_analysis_imports_only_the_model_the_findings_and_itself(path: Path) -> None:
    for name, top_level in _imports(path):
        root = name.split(".")[0]
        if name.startswith("pmrecon.analysis") or root in sys.stdlib_module_names:
            continue
        if name in LAZY:
            assert not top_level, f"{path.name}: {name} only inside a function"
            continue
        assert name.split(".")[0] in ALLOWED or name in ALLOWED, f"{path.name} imports {name}"


def test_analysing_loads_no_connector_and_no_report_module() -> None:
    code = (
        "import datetime as dt, sys\n"
        "from pmrecon.analysis import analyse\n"
        "from pmrecon.model import Evidence, Window\n"
        "t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)\n"
        "analyse(Evidence(Window(t, t + dt.timedelta(hours=1))), {})\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('pmrecon', 'connectors')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    outside = {m for m in loaded if not m.startswith("pmrecon.analysis")}
    assert outside <= {
        "pmrecon",
        "pmrecon.model",
        "pmrecon.findings",
        "pmrecon.config",
        "pmrecon.settings_schema",  # the leaf config reads its key types from
        "pmrecon.errors",
        "pmrecon.wording",  # the catalogues of words (a leaf)
        "pmrecon.wording.en",
        "pmrecon.wording.fr",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_analysis_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text("utf-8")
    assert text.count("\n") < 800, f"{path.name} has {text.count(chr(10))} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length < 100, f"{path.name}: {node.name} has {length} lines"
