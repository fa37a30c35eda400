"""A source that answers in the API's envelope but with data of the wrong shape fails
cleanly: "not a Prometheus response", exit 3, never "internal error … report it".

Issue 14: an answer that is valid JSON of the wrong shape was an internal error of the
connector. The server here is a FaultProxy without upstream: every path gets the body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.prometheus.shapes import answer_problem
from pmrecon.errors import EXIT_SOURCE
from tests.clihelp import run_cli
from tests.faultproxy import Fault, FaultProxy, write_config

ENVELOPE = {"status": "success"}

#: (id, data in the envelope, words of the error)
WRONG_SHAPES: list[tuple[str, Any, str]] = [
    ("number", 5, "data is a number, not an object"),
    ("list", [1, 2], "data is a list, not an object"),
    ("result-object", {"resultType": "matrix", "result": {"a": 1}}, "result is an object"),
    ("result-numbers", {"resultType": "matrix", "result": [1, 2]}, "result[0] is a number"),
    ("labels-list", {"resultType": "matrix", "result": [{"metric": [1], "values": []}]}, "metric is not a set of labels"),
    ("values-text", {"resultType": "matrix", "result": [{"metric": {}, "values": "abc"}]}, "values is not a list of [time, value] pairs"),
    ("short-pair", {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]}, "values is not a list"),
    ("number-value", {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, 2]]}]}, "values is not a list"),
    ("vector-value", {"resultType": "vector", "result": [{"metric": {}, "value": "1"}]}, "value is not a [time, value] pair"),
    ("result-type", {"resultType": "table", "result": []}, "resultType 'table'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "words"), [w[1:] for w in WRONG_SHAPES], ids=[w[0] for w in WRONG_SHAPES]
)
def test_an_answer_of_the_wrong_shape_is_a_source_error(tmp_path, data: Any, words: str) -> None:  # noqa: ANN001
    body = json.dumps({**ENVELOPE, "data": data}).encode()
    line = one_source_error(tmp_path, body, {"type": "prometheus", "services": ["checkout"]})
    assert "not a Prometheus response" in line and words in line, line


def one_source_error(tmp_path: Path, body: bytes, source: dict[str, Any]) -> str:
    """The one error line of a build whose only source answers every call with ``body``."""
    with FaultProxy(None) as server:
        server.set(Fault("status", status=200, body=body))
        return build_error_line(tmp_path, {**source, "url": server.url, "retries": 0})


def build_error_line(tmp_path: Path, source: dict[str, Any]) -> str:
    """The one error line of a build whose only source is ``source``, which fails (exit 3)."""
    config = write_config(tmp_path / "pmrecon.yaml", {"sources": {"only": source}})
    run = run_cli(
        "build", "-c", str(config), "--from", "2026-03-01T09:00:00Z",
        "--to", "2026-03-01T10:00:00Z", "-o", str(tmp_path / "out"), "--no-png",
        timeout=60,
    )  # fmt: skip
    assert run.code == EXIT_SOURCE, run.err
    assert "Traceback" not in run.err
    (line,) = run.error_lines
    assert "internal error" not in line and "report it" not in line
    assert not (tmp_path / "out").exists()
    return line


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/v1/query_range", {"resultType": "matrix", "result": []}),
        ("/api/v1/query_range", {"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": [[1.5, "NaN"], [2, "3"]]}]}),
        ("/api/v1/query", {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]}),
        ("/api/v1/query", {"resultType": "scalar", "result": [1, "1"]}),
        ("/api/v1/rules", {"groups": [{"name": "g", "rules": [{"type": "alerting"}]}]}),
        ("/api/v1/rules", None),
        ("/api/v1/status/buildinfo", None),  # VictoriaMetrics: empty data
        ("/api/v1/status/config", {"yaml": ""}),
    ],
)  # fmt: skip
def test_answers_of_the_api_shape_pass(path: str, data: Any) -> None:
    assert answer_problem(path, data) is None


#: Alertmanager's API v2 answers of the wrong shape (every path gets the same body).
ALERTMANAGER_SHAPES: list[tuple[str, Any, str]] = [
    ("status-list", [1, 2], "the status is not an object"),
    ("version-text", {"versionInfo": "0.25"}, "the status is not an object with versionInfo"),
]


@pytest.mark.parametrize(
    ("data", "words"),
    [w[1:] for w in ALERTMANAGER_SHAPES],
    ids=[w[0] for w in ALERTMANAGER_SHAPES],
)
def test_an_alertmanager_answer_of_the_wrong_shape_is_a_source_error(
    tmp_path,  # noqa: ANN001
    data: Any,
    words: str,
) -> None:
    line = one_source_error(tmp_path, json.dumps(data).encode(), {"type": "alertmanager"})
    assert "not an Alertmanager response" in line and words in line, line


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (5, "a number where a list of silences is due"),
        ([1], "silence 0 is a number"),
        ([{"matchers": {"name": "x"}}], "silence 0's matchers are not a list"),
        ([{"matchers": [], "status": "active"}], "silence 0's status is not an object"),
    ],
)
def test_silences_of_the_wrong_shape_are_named(data: Any, words: str) -> None:
    from connectors.alertmanager import answer_problem as silences_problem

    assert words in (silences_problem("/api/v2/silences", data) or "")
    assert silences_problem("/api/v2/silences", [{"matchers": [{"name": "a"}]}]) is None
