"""Every declared dependency does work, every imported package is declared, and
docs/dependencies.md says why for each one (and for those left out)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

#: Distribution name -> the module it is imported as, where the two differ.
IMPORT_NAME = {
    "pyyaml": "yaml",
    "markdown-it-py": "markdown_it",
    "mdit-py-plugins": "mdit_py_plugins",
    "elastic-transport": "elastic_transport",
    "opensearch-py": "opensearchpy",
}

#: Named in the project brief or once declared, and left out: docs/dependencies.md says why.
LEFT_OUT = ("prometheus-api-client", "merge3", "pandas")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def _module(dist: str) -> str:
    return IMPORT_NAME.get(dist, dist.replace("-", "_"))


RUNTIME = [_name(r) for r in PYPROJECT["dependencies"]]
EXTRAS = {k: [_name(r) for r in v] for k, v in PYPROJECT["optional-dependencies"].items()}


def _imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module imported -> the files importing it, over the project's packages."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_runtime_dependency_is_imported_by_pmrecon():
    used = _imports("pmrecon", "connectors")
    idle = [d for d in RUNTIME if _module(d) not in used]
    assert not idle, f"declared but never imported: {idle}"


def test_every_package_pmrecon_imports_is_declared():
    used = _imports("pmrecon", "connectors")
    third_party = {
        m for m in used if m not in sys.stdlib_module_names and m not in ("pmrecon", "connectors")
    }
    declared = {_module(d) for d in RUNTIME}
    # Validation is an extra: only pmrecon.schema may import it.
    assert used.get("jsonschema", set()) <= {"pmrecon/schema/__init__.py"}
    declared |= {_module(d) for d in EXTRAS["schema"]}
    assert third_party - declared == set(), "imported but not declared"


def test_left_out_packages_are_not_declared():
    every = set(RUNTIME) | {d for ds in EXTRAS.values() for d in ds}
    assert not every & set(LEFT_OUT)
    assert "jsonschema" not in RUNTIME and "jsonschema" in EXTRAS["test"]


def test_docs_name_every_dependency_and_why_the_others_are_not_here():
    text = (ROOT / "docs" / "dependencies.md").read_text(encoding="utf-8").lower()
    runtime, _, rest = text.partition("## extra `schema`")
    extra, _, rest = rest.partition("## tests and tooling")
    tests, _, left_out = rest.partition("## not dependencies")
    for dist in RUNTIME:
        assert f"`{dist}`" in runtime, dist
    for dist in EXTRAS["schema"]:
        assert f"`{dist}`" in extra, dist
    for dist in EXTRAS["test"]:
        assert f"`{dist}`" in tests, dist
    for dist in LEFT_OUT:
        assert f"**`{dist}`**" in left_out, dist


@pytest.mark.slow
def test_a_build_needs_no_jsonschema_and_validating_without_it_says_which_extra(tmp_path):
    code = (
        "import sys; sys.modules['jsonschema'] = None\n"
        "from pmrecon.cli import main\n"
        f"try:\n    main(['demo', '--out', {str(tmp_path / 'demo')!r}, '--no-png', '-q'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "from pmrecon import schema\n"
        "try:\n    schema.errors('findings', {})\n"
        "except ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "demo" / "findings.json").is_file()
    assert run.stdout.strip().splitlines() == [
        "validating against pmrecon's schemas needs the jsonschema package: "
        "pip install 'pmrecon[schema]' (or jsonschema)"
    ]
