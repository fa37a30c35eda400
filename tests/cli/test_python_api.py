"""The Python API the command wraps: its names, its documented example, its errors."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pmrecon
from connectors.bundle import read_bundle, write_bundle
from pmrecon import BuildRequest, Config, HumanInstants, Window, build, scan
from pmrecon.api import analyse_evidence
from pmrecon.demo import demo_bundle_dir
from pmrecon.errors import EXIT_USAGE, UsageError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python-api.md"
UTC = dt.timezone.utc

#: The modules of the API and the command, whose public functions carry a docstring.
API_MODULES = (
    "pmrecon",
    "pmrecon.api",
    "pmrecon.cli",
    "pmrecon.config",
    "pmrecon.demo",
    "pmrecon.result",
    "pmrecon.scanning",
    "pmrecon.timeparse",
)


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter, so that no test's imports decide what it sees."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_documented_example_prints_what_the_doc_shows(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- example: demo -->\n```python\n(.*?)```\n\nIt prints:\n\n```text\n(.*?)```",
        text,
        re.S,
    )
    assert found, "docs/python-api.md lost its runnable example or the output shown after it"
    code, shown = found.groups()
    run = python(code, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown
    assert list(tmp_path.iterdir()) == []  # written into a temporary folder, and removed


def test_every_python_block_of_the_doc_compiles_and_imports_what_exists() -> None:
    blocks = doc_blocks("python")
    assert len(blocks) >= 4
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pmrecon"):
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def test_the_public_names_are_the_library_objects() -> None:
    from pmrecon import BuildResult, check, load_config
    from pmrecon.api import build as api_build
    from pmrecon.api import check as api_check
    from pmrecon.config import load_config as config_load
    from pmrecon.result import BuildResult as result_class
    from pmrecon.scanning import scan as scanning_scan

    assert (build, check, scan, load_config) == (api_build, api_check, scanning_scan, config_load)
    assert BuildResult is result_class
    assert set(pmrecon.__all__) <= set(dir(pmrecon))
    for name in pmrecon.__all__:
        assert getattr(pmrecon, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        pmrecon.nothing_here  # noqa: B018


def test_scan_is_the_function_whatever_was_imported_first(tmp_path: Path) -> None:
    run = python(
        "import inspect, pmrecon.scanning\n"
        "from pmrecon import scan\n"
        "import pmrecon\n"
        "assert inspect.isfunction(scan) and scan is pmrecon.scanning.scan, scan\n"
        "assert pmrecon.scan is scan\n",
        tmp_path,
    )
    assert run.returncode == 0, run.stderr


def test_import_pmrecon_and_help_load_neither_connectors_nor_yaml(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pmrecon", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "pmrecon.cli" in loaded
    heavy = {"connectors", "yaml", "pmrecon.api", "pmrecon.config", "jinja2", "numpy"}
    assert not loaded & heavy, loaded & heavy


def test_every_human_instant_reaches_the_findings() -> None:
    config = Config.from_dict({"timezone": "UTC", "language": "en"})
    at = {
        "acknowledged": dt.datetime(2026, 2, 17, 14, 15, tzinfo=UTC),
        "declared": dt.datetime(2026, 2, 17, 14, 20, tzinfo=UTC),
        "investigation_start": dt.datetime(2026, 2, 17, 14, 22, tzinfo=UTC),
        "cause_identified": dt.datetime(2026, 2, 17, 14, 35, tzinfo=UTC),
    }
    findings = analyse_evidence(read_bundle(demo_bundle_dir()), config, HumanInstants(**at))
    for name, when in at.items():
        assert findings["instants"][name]["at"] == when.isoformat(), name
        assert findings["instants"][name]["source"] == "human", name
    assert HumanInstants().as_mapping() == dict.fromkeys(at)
    none = analyse_evidence(read_bundle(demo_bundle_dir()), config)
    assert all(none["instants"][name]["at"] is None for name in at)


@pytest.mark.parametrize(
    "window,needle",
    [
        (Window(dt.datetime(2026, 3, 1, 9), dt.datetime(2026, 3, 1, 10)), "timezone-aware"),
        (Window(dt.datetime(2026, 3, 1, 9, tzinfo=UTC), dt.datetime(2026, 3, 1, 10)), "aware"),
        (
            Window(dt.datetime(2026, 3, 1, 10, tzinfo=UTC), dt.datetime(2026, 3, 1, 9, tzinfo=UTC)),
            "must start before it ends",
        ),
    ],
)
def test_a_naive_or_reversed_window_is_a_usage_error(
    tmp_path: Path, window: Window, needle: str
) -> None:
    config = Config.from_dict({})
    with pytest.raises(UsageError, match=needle) as built:
        build(config, BuildRequest(window=window, out=tmp_path / "out"))
    with pytest.raises(UsageError, match=needle) as scanned:
        scan(config, window.start, window.end, tmp_path / "scan")
    for exc in (built.value, scanned.value):
        assert exc.exit_code == EXIT_USAGE and "\n" not in exc.format_message()
    assert list(tmp_path.iterdir()) == []


def test_a_build_from_collected_evidence_writes_what_a_build_from_its_bundle_writes(
    tmp_path: Path,
) -> None:
    """``build(..., evidence=...)`` (how ``scan`` drafts an incident) is a rebuild from the
    bundle of that evidence, file for file."""
    config = Config.from_dict({"timezone": "UTC", "language": "en"})
    now = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    collected = read_bundle(demo_bundle_dir())
    bundle = tmp_path / "bundle"
    write_bundle(collected, bundle)  # its evidence alone, no recorded settings: as scan had it
    build(config, BuildRequest(source_dir=bundle, out=tmp_path / "a", png=False, now=now))
    build(
        config,
        BuildRequest(window=collected.window, out=tmp_path / "b", png=False, now=now),
        evidence=collected,
    )
    written = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert written == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    for name in written:
        a, b = ((tmp_path / side / name).read_bytes() for side in "ab")
        if name.name == "state.json":  # what pmrecon wrote, with each file's modification time
            a, b = (re.sub(rb'"mtime_ns": \d+', b"", text) for text in (a, b))
        assert a == b, name
    with pytest.raises(UsageError, match="not both"):
        build(
            config,
            BuildRequest(source_dir=demo_bundle_dir(), out=tmp_path / "c"),
            evidence=collected,
        )
    assert not (tmp_path / "c").exists()


def test_public_functions_and_classes_have_a_one_line_docstring() -> None:
    for name in API_MODULES:
        module = importlib.import_module(name)
        tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                assert doc, f"{name}.{node.name} has no docstring"
                assert "\n" not in doc.split("\n\n")[0], f"{name}.{node.name}: first line wraps"


def test_the_repository_paths_pmrecon_names_exist() -> None:
    named = set()
    for path in (ROOT / "pmrecon").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for ref in re.findall(r"\b(?:scripts|docs|config|bench|examples)/[\w./-]*\w", text):
            named.add((path.relative_to(ROOT), ref))
    assert named
    missing = [f"{where}: {ref}" for where, ref in sorted(named) if not (ROOT / ref).exists()]
    assert not missing, missing


def test_output_and_the_build_result_do_not_import_the_api() -> None:
    for module in ("output", "result"):
        tree = ast.parse((ROOT / "pmrecon" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        }
        assert not imported & {"api", "pmrecon.api"}, module
