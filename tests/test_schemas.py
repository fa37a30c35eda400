"""The shipped schemas, ``pmrecon schema``, and the check of every written file (tests/schemacheck.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from pmrecon import schema
from pmrecon.errors import EXIT_USAGE
from pmrecon.model import Window
from pmrecon.scanning import Candidate, ScanIncident, ScanResult, to_json
from tests import schemacheck
from tests.clihelp import run_cli
from tests.evidence_factory import T

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(schema.SCHEMAS))
def test_pmrecon_schema_prints_each_schema(name: str) -> None:
    run = run_cli("schema", name)
    assert run.code == 0 and run.err == ""
    printed = json.loads(run.out)
    assert printed == schema.load(name)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "schema_version" in printed["required"] and "Versioning" in printed["description"]
    assert (ROOT / "pmrecon" / "schema" / f"{name}.schema.json").is_file()


def test_open_form_only_drops_closed_objects() -> None:
    run = run_cli("schema", "findings", "--open")
    assert run.code == 0
    opened = json.loads(run.out)
    assert '"additionalProperties": false' not in json.dumps(opened)
    strict = schema.load("findings")
    assert opened["required"] == strict["required"]
    assert opened["properties"]["schema_version"] == strict["properties"]["schema_version"]
    # a map keeps its value schema
    assert opened["properties"]["figures"]["additionalProperties"]["type"] == "object"


def test_unknown_schema_name_is_a_usage_error_listing_the_names() -> None:
    run = run_cli("schema", "config-typo")
    assert run.code == EXIT_USAGE and run.out == ""
    (line,) = run.error_lines
    assert "'config-typo'" in line and all(f"'{n}'" in line for n in schema.SCHEMAS)


def test_every_schema_has_the_baseline_of_its_version() -> None:
    """Raising schema_version means publishing the new version's first schema as a baseline."""
    for name in schema.SCHEMAS:
        version = schema.load(name)["properties"]["schema_version"]["const"]
        baseline = schemacheck.BASELINES / f"{name}.v{version}.schema.json"
        assert baseline.is_file(), f"copy pmrecon/schema/{name}.schema.json to {baseline}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas") / "demo"
    run = run_cli("demo", "-o", str(out), "--no-png", "--json")  # run_cli validates stdout
    assert run.code == 0, run.err
    assert json.loads(run.out)["schema_version"] == 1
    return out


def test_written_findings_has_the_output_steps_keys(demo: Path) -> None:
    data = json.loads((demo / "findings.json").read_text(encoding="utf-8"))
    assert data["title"] and data["generated_at"].endswith("Z")
    assert schemacheck.problems("findings", data) == []


def test_an_extra_key_fails_the_strict_schema_not_the_open_one(demo: Path) -> None:
    data = json.loads((demo / "findings.json").read_text(encoding="utf-8"))
    data["added_later"] = 1
    data["incident"]["also_added"] = True
    found = schema.errors("findings", data)
    assert len(found) == 2 and all("Additional properties" in e for e in found)
    assert schema.errors("findings", data, open_=True) == []
    data["schema_version"] = 4  # a newer major version: the open form refuses it
    assert schema.errors("findings", data, open_=True) == ["$.schema_version: 3 was expected"]


def test_a_breaking_change_without_a_new_version_fails_the_baseline(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rename a key in the code and the schema alike: the baseline of version 1 still refuses it."""
    renamed = schema.load("findings")
    renamed["properties"]["name"] = renamed["properties"].pop("title")
    renamed["required"] = [("name" if k == "title" else k) for k in renamed["required"]]
    monkeypatch.setitem(schema.SCHEMAS, "findings", lambda: renamed)
    schema._cached.cache_clear()
    try:
        data = json.loads((demo / "findings.json").read_text(encoding="utf-8"))
        data["name"] = data.pop("title")
        (problem,) = schemacheck.problems("findings", data)
        assert "'title' is a required property" in problem and "raise schema_version" in problem
    finally:
        schema._cached.cache_clear()


def test_the_shipped_demo_bundle_manifest_matches(demo: Path) -> None:
    shipped = ROOT / "pmrecon" / "demo_data" / "evidence" / "manifest.json"
    assert schemacheck.check_file(shipped) == []
    bad = json.loads(shipped.read_text(encoding="utf-8"))
    bad["files"]["alerts.json"] = "not-a-hash"
    assert schema.errors("manifest", bad) == [
        "$.files['alerts.json']: 'not-a-hash' does not match '^[0-9a-f]{64}$'"
    ]


def test_scan_summary_with_every_kind_of_entry_matches() -> None:
    window = Window(T("2026-07-06 00:00"), T("2026-07-07 00:00"))
    cand = Candidate(T("2026-07-06 03:00"), T("2026-07-06 03:20"), ("api",), ("HighErrorRate",))
    base = {
        "path": Path("pm/x"),
        "status": "new",
        "window": Window(T("2026-07-06 09:30"), T("2026-07-06 11:30")),
        "services": ["api"],
        "alerts": ["HighErrorRate"],
    }
    result = ScanResult(
        window,
        Path("pm"),
        incidents=[
            ScanIncident(
                id="a", impact_start=T("2026-07-06 10:00"), resolution=T("2026-07-06 11:05"),
                duration_seconds=3900.0, impact="Critique", title="t", **base,
            ),
            ScanIncident(
                id="b", impact_start=None, resolution=None, duration_seconds=None, impact=None,
                conflicts=2, degraded=True, **{**base, "status": "updated"},
            ),
        ],
        candidates=[cand, cand, cand, cand],
        discarded=[cand],
        skipped=[cand],
        failed=[(cand, "source 'prom': refused", 3)],
        queries={"coarse": 10, "detail": 20},
        seconds={"coarse": 0.5, "detail": 1.5, "total": 2.0},
        warnings=["prom: slow"],
    )  # fmt: skip
    data = json.loads(json.dumps(to_json(result, "Europe/Paris")))
    assert schemacheck.problems("scan", data) == []
    assert data["schema_version"] == 1 and data["new"] == 1


INNER_TESTS = """
import pytest
from pmrecon import findings
from pmrecon.cli import main


def demo(out):
    with pytest.raises(SystemExit) as exit:
        main(["demo", "-o", str(out), "--no-png", "-q"])
    assert exit.value.code == 0


def test_output_step_adds_a_key(tmp_path, monkeypatch):
    real = findings.findings_document
    monkeypatch.setattr(
        findings, "findings_document", lambda data, **kw: {**real(data, **kw), "extra_key": 1}
    )
    demo(tmp_path / "out")


def test_untouched_output_step(tmp_path):
    demo(tmp_path / "out")
"""


def test_the_hook_fails_a_test_whose_build_writes_an_extra_key(tmp_path: Path) -> None:
    """A pytest run of its own, with this suite's hook: the build passes, the hook fails the test."""
    (tmp_path / "conftest.py").write_text(
        "from tests.schemacheck import _every_written_file_at_the_end, "
        "_written_files_match_their_schemas  # noqa: F401\n"
    )
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    inner = tmp_path / "inner"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(inner),
         "-o", "addopts=", "--rootdir", str(tmp_path), "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # The broken file was meant: this test checks the hook's verdict, not the file.
    for path in schemacheck.contract_files(inner):
        schemacheck.exempt(path)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "2 passed, 1 error" in out, out[-3000:]
    assert "ERROR at teardown of test_output_step_adds_a_key" in out
    assert (
        "test_output_step_adds_a_key0/out/findings.json: $: Additional properties are not allowed ('extra_key' was unexpected)"
        in out
    )
    # ... and the bytes were caught as the build produced them, before they reached the disk
    assert (
        "findings.json (bytes as produced): $: Additional properties are not allowed ('extra_key' was unexpected)"
        in out
    )
    assert out.count("ERROR at teardown") == 1  # the untouched build passed the hook
