"""``pmrecon check`` as a CI preflight (issue 7): one line per check, a fix on each failure.

Every problem comes from a real server on 127.0.0.1: a port nobody listens on (wrong
URL), a tiny HTTP server answering 401 (bad token), a live Prometheus lacking a metric
the preset needs, an Elasticsearch index lacking a field the config needs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmrecon.errors import EXIT_OK, EXIT_SOURCE, EXIT_USAGE
from tests.clihelp import Run, run_cli
from tests.infra.es import bulk_load, free_port, pinned_version
from tests.infra.prometheus import FakeHTTPServer, FakeRequest

TOKEN = "s3cr3t-but-wrong-token"
NEWEST_ES = pytest.mark.parametrize(
    "es_node", [pytest.param(pinned_version(9), id="es9")], indirect=True
)


def check(tmp_path: Path, sources: dict[str, Any], *args: str) -> Run:
    cfg = tmp_path / "pmrecon.yaml"
    cfg.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), encoding="utf-8")
    return run_cli("check", "-c", str(cfg), *args, env={"NO_COLOR": "1"}, timeout=60)


def fail_lines(run: Run) -> list[str]:
    return [line for line in run.out.splitlines() if line.startswith("FAIL ")]


def line_for(run: Run, prefix: str) -> str:
    found = [line for line in run.out.splitlines() if line.split(maxsplit=1)[-1].startswith(prefix)]
    assert len(found) == 1, (prefix, run.out)
    return found[0]


def wrong_url() -> dict[str, Any]:
    return {"type": "prometheus", "url": f"http://127.0.0.1:{free_port()}", "retries": 0}


def unauthorized(req: FakeRequest) -> tuple[int, dict[str, str]]:
    return 401, {"status": "error", "errorType": "unauthorized", "error": "bad token"}


@pytest.fixture
def live_url(live_prometheus: Any) -> str:
    """The live Prometheus, once it has scraped its target (so its metrics exist now)."""
    limit = time.monotonic() + 30
    while live_prometheus.target.scrapes < 2 and time.monotonic() < limit:
        time.sleep(0.1)
    time.sleep(1.5)  # let the second scrape land in the head block
    return str(live_prometheus.url)


def test_wrong_url_says_unreachable_and_how_to_fix(tmp_path: Path) -> None:
    run = check(tmp_path, {"prom": wrong_url()})
    assert run.code == EXIT_SOURCE
    line = line_for(run, "prom reachable")
    assert line.startswith("FAIL") and "cannot connect" in line
    assert " — fix: check the URL" in line
    assert fail_lines(run) == [line]
    assert "Traceback" not in run.err


def test_bad_token_says_unauthenticated_and_never_prints_it(tmp_path: Path) -> None:
    with FakeHTTPServer(unauthorized) as server:
        run = check(
            tmp_path,
            {
                "prom": {
                    "type": "prometheus",
                    "url": server.url,
                    "bearer_token": TOKEN,
                    "retries": 0,
                }
            },
        )
    assert run.code == EXIT_SOURCE
    assert line_for(run, "prom reachable").startswith("ok ")  # it answers: the URL is right
    line = line_for(run, "prom authenticated")
    assert line.startswith("FAIL") and "HTTP 401" in line
    assert " — fix: set bearer_token or username/password" in line
    assert server.requests and server.requests[0].headers.get("Authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in run.out + run.err


@pytest.mark.prometheus
def test_missing_metric_is_named_with_the_preset_to_check(tmp_path: Path, live_url: str) -> None:
    # The live target serves http_requests_total but no latency histogram.
    run = check(tmp_path, {"prom": {"type": "prometheus", "url": live_url}})
    assert run.code == EXIT_SOURCE
    assert line_for(run, "prom metric http_requests_total ").startswith("ok ")
    assert line_for(run, "prom metric up ").startswith("ok ")
    line = line_for(run, "prom metric http_request_duration_seconds_bucket")
    assert line.startswith("FAIL") and "0 series in the last hour" in line
    assert " — fix: no series named http_request_duration_seconds_bucket" in line
    assert "check the preset (http_requests_total)" in line
    assert len(fail_lines(run)) == 1


@pytest.mark.prometheus
def test_all_checks_pass_exit_zero(tmp_path: Path, live_url: str) -> None:
    prom = {"type": "prometheus", "url": live_url, "slis": {"latency": "off"}}
    run = check(tmp_path, {"prom": prom})
    assert run.code == EXIT_OK, run.out + run.err
    assert fail_lines(run) == []
    checks = {line.split()[2] for line in run.out.splitlines() if line.split()[1] == "prom"}
    assert {"reachable", "authenticated", "version", "intervals", "metric"} <= checks
    assert "\x1b[" not in run.out  # NO_COLOR


@pytest.mark.elasticsearch
@NEWEST_ES
def test_missing_log_field_is_named_with_the_setting_to_change(
    tmp_path: Path, es_node: Any
) -> None:
    index = "check-no-service"
    docs = [
        {"@timestamp": "2026-07-01T10:00:00Z", "log.level": "error", "message": "boom"},
        {"@timestamp": "2026-07-01T10:01:00Z", "log.level": "info", "message": "ok"},
    ]
    bulk_load(es_node.url, index, docs, major=es_node.major)
    run = check(
        tmp_path, {"logs": {"type": "elasticsearch", "hosts": [es_node.url], "index": [index]}}
    )
    assert run.code == EXIT_SOURCE
    assert line_for(run, "logs reachable").startswith("ok ")
    line = line_for(run, "logs field service")
    assert line.startswith("FAIL") and "'service.name'" in line
    assert "set sources.logs.fields.service to the field holding the service name" in line
    assert " — fix: " in line


@pytest.mark.elasticsearch
@pytest.mark.prometheus
@NEWEST_ES
def test_every_problem_on_its_own_line_then_nonzero_exit(
    tmp_path: Path, live_url: str, es_node: Any
) -> None:
    index = "check-no-service-all"
    bulk_load(
        es_node.url,
        index,
        [{"@timestamp": "2026-07-01T10:00:00Z", "log.level": "error", "message": "boom"}],
        major=es_node.major,
    )
    with FakeHTTPServer(unauthorized) as server:
        sources = {
            "wrong-url": wrong_url(),
            "bad-token": {
                "type": "prometheus",
                "url": server.url,
                "bearer_token": TOKEN,
                "retries": 0,
            },
            "metrics": {"type": "prometheus", "url": live_url},
            "logs": {"type": "elasticsearch", "hosts": [es_node.url], "index": [index]},
        }
        run = check(tmp_path, sources)
        as_json = check(tmp_path, sources, "--json")
    assert run.code == EXIT_SOURCE and as_json.code == EXIT_SOURCE
    fails = fail_lines(run)
    assert [f.split()[1:3] for f in fails] == [
        ["wrong-url", "reachable"],
        ["bad-token", "authenticated"],
        ["metrics", "metric"],
        ["logs", "field"],
    ]
    assert all(" — fix: " in f for f in fails)
    assert TOKEN not in run.out + run.err + as_json.out + as_json.err

    # --json: the same verdicts on stdout, as data
    data = json.loads(as_json.out)
    failed = [(r["source"], r["check"]) for r in data if not r["ok"]]
    assert [s for s, _ in failed] == ["wrong-url", "bad-token", "metrics", "logs"]
    assert all(r["fix"] for r in data if not r["ok"])


def test_no_source_is_a_config_error_with_a_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "pmrecon.yaml"
    cfg.write_text("language: en\n")
    run = run_cli("check", "-c", str(cfg), env={"NO_COLOR": "1"})
    assert run.code == EXIT_USAGE  # a config problem: the code build gives it too
    assert run.error_lines == [
        f"pmrecon: error: no source configured in {cfg}: add a 'sources:' section "
        "('pmrecon config example' prints one for each source type)"
    ]
