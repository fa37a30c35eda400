"""Every machine-read file the tests write is checked against the schema pmrecon ships.

A pytest plugin (tests/conftest.py loads it). After each test, every ``findings.json``
and ``manifest.json`` (an evidence bundle's) under the folders the test created in the
session's temporary folder (its ``tmp_path``, and any ``tmp_path_factory`` folder made
meanwhile) is read back from disk and validated with ``jsonschema`` (draft 2020-12):

- against the strict schema in ``pmrecon/schema/`` (``additionalProperties: false``), so a
  key the code writes without the schema saying so fails the test;
- against the open form of ``tests/schema_baselines/<name>.v<N>.schema.json``, the schema
  as first published for the file's ``schema_version`` N, so a change that breaks readers
  of version N without raising ``schema_version`` fails too (docs/findings-in-ci.md).

At the end of the session the whole temporary folder is swept again (files rewritten later
into module-scoped folders, files of session fixtures). A file rewritten within one test is
seen in each version too: builds run in this process have the bytes of each
``findings.json`` and ``manifest.json`` checked as they are produced (:func:`watch_writes`),
and ``tests.clihelp.run_cli`` sweeps the output folder after each command, and checks the
``--json`` output of ``build``, ``demo`` and ``scan`` (:func:`check_output`).
A test that writes a broken file on purpose says so with :func:`exempt`.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pmrecon import schema
from pmrecon.findings import findings_document

#: File name → schema name, for the files a build or a bundle writes.
CONTRACT_FILES = {"findings.json": "findings", "manifest.json": "manifest"}
#: Command → schema name of what ``COMMAND --json`` prints.
JSON_OUTPUTS = {"build": "build", "demo": "build", "scan": "scan"}
BASELINES = Path(__file__).parent / "schema_baselines"

_Stamp = tuple[int, int, int]
_seen: dict[Path, _Stamp] = {}
_exempt: dict[Path, _Stamp] = {}
#: Problems of the bytes produced in this process, in order (tests read their own share).
_produced: list[str] = []
validated: Counter[str] = Counter()


def _stamp(path: Path) -> _Stamp:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def problems(name: str, data: Any) -> list[str]:
    """Every way ``data`` breaks schema ``name``: the shipped one, and its version's baseline."""
    found = schema.errors(name, data)
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        return found
    baseline = BASELINES / f"{name}.v{version}.schema.json"
    if not baseline.is_file():
        return [
            *found,
            f"no {baseline.relative_to(BASELINES.parent.parent)} for schema_version {version}: "
            "copy the schema as published for that version there",
        ]
    contract = schema.open_form(json.loads(baseline.read_text(encoding="utf-8")))
    for error in jsonschema.Draft202012Validator(contract).iter_errors(data):
        found.append(
            f"{error.json_path}: {error.message} (breaks the contract of schema_version "
            f"{version}, {baseline.name}: raise schema_version, see docs/findings-in-ci.md)"
        )
    return found


def check_file(path: Path) -> list[str]:
    """Problems of one written file, each prefixed with its path (``[]``: valid)."""
    name = CONTRACT_FILES[path.name]
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"{path}: not readable JSON: {exc}"]
    validated[path.name] += 1
    return [f"{path}: {p}" for p in problems(name, data)]


def contract_files(root: Path) -> Iterator[Path]:
    """The regular files under ``root`` that have a schema (links are not followed, and a
    FIFO a test put where pmrecon writes is never opened: reading it would block)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if name not in CONTRACT_FILES:
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISREG(path.lstat().st_mode):
                    yield path


def sweep(root: Path) -> list[str]:
    """Check every contract file under ``root`` not already checked as it is now."""
    found: list[str] = []
    for path in contract_files(root):
        try:
            stamp = _stamp(path)
        except OSError:
            continue  # removed meanwhile
        if _seen.get(path) == stamp or _exempt.get(path) == stamp:
            continue
        _seen[path] = stamp
        found.extend(check_file(path))
    return found


def exempt(path: Path) -> None:
    """Leave ``path``, as it is now, unchecked: a test broke it on purpose."""
    _exempt[Path(path)] = _stamp(Path(path))


def check_output(command: str, text: str) -> Any:
    """Parse what ``COMMAND --json`` printed and fail unless it matches its schema."""
    name = JSON_OUTPUTS[command]
    data = json.loads(text)
    bad = problems(name, data)
    assert not bad, f"{command} --json breaks pmrecon/schema/{name}.schema.json:\n" + "\n".join(bad)
    validated[f"{command} --json"] += 1
    return data


def as_written(data: dict[str, Any]) -> dict[str, Any]:
    """Analysis output (``findings_to_json``) as a build writes it into findings.json."""
    return findings_document(data, title="Incident", generated_at="2026-03-02T12:00:00Z")


def _check_produced(name: str, label: str, raw: bytes) -> None:
    validated[label] += 1
    _produced.extend(f"{label}: {p}" for p in problems(name, json.loads(raw)))


@contextlib.contextmanager
def watch_writes() -> Iterator[None]:
    """Check the bytes of every findings.json and bundle manifest built in this process."""
    import connectors.bundle
    import pmrecon.api
    import pmrecon.result

    real_findings = pmrecon.result.findings_json_bytes
    real_bundle = connectors.bundle.bundle_files

    def findings_json_bytes(findings: dict[str, Any]) -> bytes:
        raw = real_findings(findings)
        _check_produced("findings", "findings.json (bytes as produced)", raw)
        return raw

    def bundle_files(evidence: Any, **kw: Any) -> dict[str, Any]:
        files = real_bundle(evidence, **kw)
        _check_produced("manifest", "manifest.json (bytes as produced)", files["manifest.json"])
        return files

    # Each module that imported the function by name gets the watching one.
    patches = [
        (pmrecon.result, "findings_json_bytes", findings_json_bytes),
        *((m, "bundle_files", bundle_files) for m in (connectors.bundle, pmrecon.api)),
    ]
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in patches]
    for module, attr, wrapper in patches:
        setattr(module, attr, wrapper)
    try:
        yield
    finally:
        for module, attr, original in saved:
            setattr(module, attr, original)


def _report(found: list[str]) -> str:
    return "written files break their shipped schema:\n" + "\n".join(found)


@pytest.fixture(autouse=True)
def _written_files_match_their_schemas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    base = tmp_path_factory.getbasetemp()
    own = [request.getfixturevalue("tmp_path")] if "tmp_path" in request.fixturenames else []
    before = set(base.iterdir())
    produced = len(_produced)
    yield
    roots = (set(base.iterdir()) - before).union(own)
    found = _produced[produced:] + [p for root in sorted(roots) for p in sweep(root)]
    if found:
        pytest.fail(_report(found), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _every_written_file_at_the_end(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with watch_writes():
        yield
    found = sweep(tmp_path_factory.getbasetemp())
    if found:
        pytest.fail(_report(found), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if validated:
        counts = ", ".join(f"{n} {what}" for what, n in sorted(validated.items()))
        terminalreporter.write_line(f"schema check: validated {counts} against pmrecon/schema")
