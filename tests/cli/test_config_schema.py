"""The editor schema (`pmrecon config schema`) and the line/column of config errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pmrecon import safeyaml
from pmrecon.config import load_config
from pmrecon.errors import ConfigError
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "pmrecon.example.yaml"

# Each refused by the validator; the schema must flag it too, while the file is typed.
REFUSED = {
    "unknown top key": "langage: fr\n",
    "wrong choice": "language: de\n",
    "ratio above 1": "analysis:\n  slo_target: 1.5\n",
    "negative int": "analysis:\n  consecutive_steps: -1\n",
    "bad duration text": "analysis:\n  merge_gap: 5 minutes\n",
    "bool as text": "report:\n  png: maybe\n",
    "unknown source type": "sources:\n  p:\n    type: prometheus2\n",
    "unknown source key": "sources:\n  p:\n    type: prometheus\n    urll: http://x\n",
    "source int out of range": (
        "sources:\n  es:\n    type: elasticsearch\n    max_concurrency: 0\n"
    ),
}

# Each accepted by the validator; the schema must never be stricter.
ACCEPTED = {
    "env reference in text": "report:\n  grafana_url: ${GRAFANA_URL:-http://g}\n",
    "duration as text": "analysis:\n  merge_gap: 15m\n",
    "one item for a list": "services: checkout\n",
    "empty value means default": "title:\n",
    "source": "sources:\n  prom:\n    type: prometheus\n    url: http://127.0.0.1:9090\n",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    run = run_cli("config", "schema")
    assert run.code == 0, run.err
    document = json.loads(run.out)
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def test_pmrecon_schema_config_is_the_same_schema(schema) -> None:
    run = run_cli("schema", "config")
    assert run.code == 0 and json.loads(run.out) == schema


def _flags(schema: dict, text: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(safeyaml.load(text) or {})]


def test_the_example_config_passes_the_schema_and_points_editors_at_it(schema) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=pmrecon.schema.json"
    assert _flags(schema, text) == []


def test_every_documented_key_has_its_description_in_the_schema(schema) -> None:
    prom = schema["properties"]["sources"]["additionalProperties"]["allOf"]
    kinds = [branch["if"]["properties"]["type"]["const"] for branch in prom]
    assert {"prometheus", "alertmanager", "elasticsearch"} <= set(kinds)
    slo = schema["properties"]["analysis"]["properties"]["slo_target"]
    assert slo["default"] == 0.999 and "SLO" in slo["description"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_validator_refuses_the_schema_flags(schema, tmp_path, case) -> None:
    path = tmp_path / "pmrecon.yaml"
    path.write_text(REFUSED[case])
    with pytest.raises(ConfigError):
        load_config(path, env={})
    assert _flags(schema, REFUSED[case]), f"the schema accepts: {REFUSED[case]!r}"


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_what_the_validator_accepts_the_schema_accepts(schema, tmp_path, case) -> None:
    path = tmp_path / "pmrecon.yaml"
    path.write_text(ACCEPTED[case])
    load_config(path, env={})
    assert _flags(schema, ACCEPTED[case]) == []


def test_config_errors_carry_the_line_and_column_of_the_key(tmp_path) -> None:
    path = tmp_path / "pmrecon.yaml"
    path.write_text(
        "language: fr\n"
        "sources:\n"
        "  prom:\n"
        "    type: prometheus\n"
        "    timeout: .nan\n"
        "redaction:\n"
        "  patterns:\n"
        "    ticket: '('\n"
        "services:\n"
        "  - checkout\n"
        "  - [nested]\n"
    )
    run = run_cli("check", "-c", str(path))
    assert run.code == 2 and len(run.error_lines) == 1
    line = run.error_lines[0]
    assert f"{path}:5:5: sources.prom.timeout: not a finite duration" in line
    assert f"{path}:8:5: redaction.patterns.ticket: invalid regular expression" in line
    assert f"{path}:11:5: services[1]: expected text" in line


def test_a_problem_not_written_in_the_file_names_the_file_alone(tmp_path) -> None:
    path = tmp_path / "pmrecon.yaml"
    path.write_text("timezone: UTC\n")
    run = run_cli(
        "build", "-c", str(path), "--tz", "Mars/Olympus", "--from", "now-1h", "--to", "now"
    )
    assert run.code == 2
    assert f"{path}: timezone: unknown time zone 'Mars/Olympus'" in run.err
