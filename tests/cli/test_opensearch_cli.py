"""``pmrecon check`` and ``pmrecon build`` with an OpenSearch log source, end to end.

A real OpenSearch node (``es_node`` with the ``os2`` parameter) holds one scenario's logs and
a line written now (so that the check of recent documents passes); the draft's evidence must
hold the scenario's true figures, read through ``type: opensearch``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.bundle import read_bundle
from pmrecon.errors import EXIT_OK
from tests.clihelp import run_cli
from tests.infra.es_fixtures import OPENSEARCH_PARAM
from tests.infra.opensearch import bulk_load_opensearch
from tests.scenarios import SCENARIOS, nested

pytestmark = [
    pytest.mark.elasticsearch,
    pytest.mark.parametrize("es_node", [OPENSEARCH_PARAM], indirect=True),
]


def test_check_then_build_with_an_opensearch_source(tmp_path: Path, es_node: Any) -> None:
    sc = SCENARIOS["flapping"]()
    index = "cli-opensearch-logs"
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    recent = {
        "@timestamp": now,
        "log": {"level": "info"},
        "message": "up",
        "service": {"name": "x"},
    }
    bulk_load_opensearch(es_node.url, index, [*(nested(d) for d in sc.log_docs()), recent])
    cfg = tmp_path / "pmrecon.yaml"
    source = {"type": "opensearch", "hosts": [es_node.url], "index": [index]}
    cfg.write_text(yaml.safe_dump({"language": "en", "sources": {"logs": source}}), "utf-8")

    check = run_cli("check", "-c", str(cfg), env={"NO_COLOR": "1"}, timeout=60)
    assert check.code == EXIT_OK, check.out + check.err
    assert f"OpenSearch {es_node.version} (client " in check.out
    assert "documents in the last hour" in check.out

    # the Elasticsearch source refuses OpenSearch, and says which type reads it
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"sources": {"logs": {**source, "type": "elasticsearch"}}}))
    refused = run_cli("check", "-c", str(wrong), env={"NO_COLOR": "1"}, timeout=60)
    assert refused.code != EXIT_OK and "use type: opensearch" in refused.out, refused.out

    out = tmp_path / "pm"
    start, end = (t.isoformat() for t in sc.window)
    build = run_cli(
        "build", "-c", str(cfg), "--from", start, "--to", end, "-o", str(out), "--no-png",
        "--lang", "en", "--json", timeout=300,
    )  # fmt: skip
    assert build.code == EXIT_OK, build.out + build.err
    assert json.loads(build.out)
    assert (out / "postmortem.md").is_file()
    ev = read_bundle(out / "evidence")
    (info,) = ev.sources
    assert info.kind == "opensearch" and info.ok and info.version == es_node.version
    assert ev.logs is not None
    assert ev.logs.error_documents == sc.truth["logs"]["errors"]
    assert {s.signature for s in ev.logs.signatures} >= {
        s["error_type"] for s in sc.truth["signatures"] if s["error_type"]
    }
