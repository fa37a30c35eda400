"""No secret ever leaves pmrecon: every command, every output byte, with ``--debug`` on.

Distinctive secret values (all holding the marker ``PMRSECRET``) come from the environment
through ``${VAR}`` in the config: a bearer token, a custom auth header, basic-auth
passwords (Prometheus, Alertmanager, Elasticsearch), a password inside a URL
(``user:pass@``) and an Elasticsearch API key. Each command runs against a working server,
a server answering 401 that quotes the request it got (credentials included), and
unreachable ones; then stdout, stderr and every file the runs wrote (reports, HTML,
findings.json, evidence, graphs, state) are searched for the marker, and for the base64
forms a leaked ``Authorization`` header would take.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CheckResult, CollectRequest, SourceContext
from pmrecon import cli
from pmrecon.api import BuildRequest, build
from pmrecon.config import Key, load_config
from pmrecon.model import Evidence, Histogram, LogSample, LogSummary, Window
from tests.clihelp import Run, run_cli
from tests.faultproxy import Fault, FaultProxy, write_config
from tests.scenarios import SCENARIOS

pytestmark = pytest.mark.prometheus

MARKER = "PMRSECRET"
ENV = {
    "PMR_TOKEN": f"tok-{MARKER}-7f3a9c41",
    "PMR_HEADER": f"hdr-{MARKER}-31415926",
    "PMR_PASS": f"pw-{MARKER}-51b2e8d0",
    "PMR_AM_PASS": f"am-{MARKER}-27182818",
    "PMR_URL_PASS": f"up-{MARKER}-c0ffee99",
    "PMR_ES_KEY": f"es-{MARKER}-a11ce5e7",
    "PMR_ES_PASS": f"ep-{MARKER}-88776655",
    "PMR_GRAFANA_PASS": f"gf-{MARKER}-12121212",
}
#: What a leaked Authorization header would show instead of the plain value.
ENCODED = [
    base64.b64encode(f"{user}:{ENV[var]}".encode())
    for user, var in [
        ("admin", "PMR_PASS"),
        ("bob", "PMR_AM_PASS"),
        ("admin", "PMR_URL_PASS"),
        ("elastic", "PMR_ES_PASS"),
    ]
]

SC = SCENARIOS["clean_single"]()
FROM, TO = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in SC.window)
CONFIG_NAME = "pmrecon.yaml"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leaks(data: bytes) -> list[str]:
    found = [MARKER] if MARKER.encode() in data else []
    found += [f"base64 {e.decode()}" for e in ENCODED if e in data]
    return found


def assert_no_leak(runs: list[Run], folder: Path) -> int:
    """No marker in any run's output nor in any file under ``folder`` but the config; files searched."""
    for run in runs:
        assert leaks(run.out.encode()) == [], run.out
        assert leaks(run.err.encode()) == [], [
            line for line in run.err.splitlines() if leaks(line.encode())
        ]
    searched = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != CONFIG_NAME:
            searched += 1
            assert leaks(path.read_bytes()) == [], path
    return searched


@pytest.fixture(scope="module")
def echo() -> Iterator[FaultProxy]:
    """A server answering 401 with a body that quotes the request, headers included."""
    with FaultProxy(None) as p:
        p.set(Fault("echo", status=401))
        yield p


def working_sources(prom_url: str, am_url: str) -> dict[str, Any]:
    host = prom_url.removeprefix("http://")
    return {
        "prom": {
            "type": "prometheus",
            "url": prom_url,
            "bearer_token": "${PMR_TOKEN}",
            "headers": {"X-Api-Key": "${PMR_HEADER}"},
            "services": ["checkout"],
        },
        # Prometheus ignores credentials: a URL with user:pass@ works and must not show
        "prom-basic": {
            "type": "prometheus",
            "url": f"http://admin:${{PMR_URL_PASS}}@{host}",
            "services": ["cart"],
            "alerts": {"enabled": False},
        },
        "am": {
            "type": "alertmanager",
            "url": am_url,
            "username": "bob",
            "password": "${PMR_AM_PASS}",
        },
    }


def failing_sources(echo_url: str) -> dict[str, Any]:
    return {
        "hostile": {
            "type": "prometheus",
            "url": echo_url,
            "bearer_token": "${PMR_TOKEN}",
            "headers": {"X-Api-Key": "${PMR_HEADER}"},
            "retries": 0,
        },
        "hostile-basic": {
            "type": "prometheus",
            "url": echo_url,
            "username": "admin",
            "password": "${PMR_PASS}",
            "retries": 0,
        },
        "down": {
            "type": "prometheus",
            "url": f"http://admin:${{PMR_URL_PASS}}@127.0.0.1:{closed_port()}/prometheus",
            "retries": 0,
        },
        "am-hostile": {
            "type": "alertmanager",
            "url": echo_url,
            "username": "bob",
            "password": "${PMR_AM_PASS}",
            "retries": 0,
        },
        "es-hostile": {
            "type": "elasticsearch",
            "hosts": [echo_url],
            "api_key": "${PMR_ES_KEY}",
            "retries": 0,
        },
        "es-down": {
            "type": "elasticsearch",
            "hosts": [f"http://elastic:${{PMR_ES_PASS}}@127.0.0.1:{closed_port()}"],
            "username": "elastic",
            "password": "${PMR_ES_PASS}",
            "retries": 0,
        },
    }


def config(folder: Path, sources: dict[str, Any], **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(
        folder / CONFIG_NAME, {"timezone": "UTC", "timeout": 60, "sources": sources, **extra}
    )


def pmrecon(folder: Path, *args: str) -> Run:
    return run_cli(*args, cwd=folder, env=ENV, timeout=120)


def window(*args: str) -> list[str]:
    return ["--from", FROM, "--to", TO, *args]


def test_working_servers(prometheus, alertmanager, tmp_path) -> None:  # noqa: ANN001
    config(
        tmp_path,
        working_sources(prometheus.url, alertmanager.url),
        report={
            "grafana_url": "https://grafana.example.com",
            "kibana_url": "https://kibana.example.com",
        },
    )
    runs = [
        pmrecon(tmp_path, "--debug", "-vv", "build", *window("-o", "out")),
        pmrecon(tmp_path, "--debug", "check"),
        pmrecon(tmp_path, "check", "--json"),
    ]
    assert runs[0].code == 0, runs[0].err[-1500:]
    # check also wants recent samples of each SLI metric, which a backfilled server has
    # not: it fails those lines (exit 3), but every server is reached and authenticated
    assert runs[1].code == runs[2].code == 3
    checks = json.loads(runs[2].out)
    assert {(c["source"], c["ok"]) for c in checks if c["check"] == "reachable"} == {
        ("prom", True),
        ("prom-basic", True),
        ("am", True),
    }
    out = tmp_path / "out"
    assert {"postmortem.md", "report.html", "findings.json", "evidence", "graphs"} <= {
        p.name for p in out.iterdir()
    }
    assert "***@127.0.0.1" in (out / "evidence" / "sources.json").read_text()
    searched = assert_no_leak(runs, tmp_path)
    assert searched >= 20


def test_failing_servers(echo, tmp_path) -> None:  # noqa: ANN001
    config(tmp_path, failing_sources(echo.url))
    runs = [
        pmrecon(tmp_path, "--debug", "-vv", "build", *window("-o", "out")),
        pmrecon(tmp_path, "--debug", "check"),
        pmrecon(tmp_path, "check", "--json"),
    ]
    assert [r.code for r in runs] == [3, 3, 3], [r.err[-2000:] for r in runs]
    # the hostile server did get the credentials (so the test means something) ...
    got = " ".join(str(r.headers) for r in echo.requests)
    assert ENV["PMR_TOKEN"] in got and ENV["PMR_HEADER"] in got and ENV["PMR_ES_KEY"] in got
    # ... and quoted them back in every answer
    assert "authentication failed (HTTP 401)" in runs[0].err
    assert not (tmp_path / "out").exists()
    assert_no_leak(runs, tmp_path)


def test_degraded_report_and_strict(prometheus, alertmanager, echo, tmp_path) -> None:  # noqa: ANN001
    sources = {
        **working_sources(prometheus.url, alertmanager.url),
        **failing_sources(echo.url),
    }
    config(tmp_path, sources)
    runs = [
        pmrecon(tmp_path, "--debug", "-vv", "build", "--json", *window("-o", "out")),
        pmrecon(tmp_path, "--debug", "build", "--strict", *window("-o", "strict")),
    ]
    if "scan" in cli.cli.commands:  # the scheduled mode, added beside build
        runs.append(pmrecon(tmp_path, "--debug", "-vv", "scan", *window("-o", "scans", "--no-png")))
        assert runs[-1].code not in (1, 2), runs[-1].err[-3000:]
    assert [r.code for r in runs[:2]] == [7, 3], [r.err[-2000:] for r in runs]
    md = (tmp_path / "out" / "postmortem.md").read_text(encoding="utf-8")
    assert md.count(" indisponible ou incomplète : ") == 6
    found = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    shown = [w["message"] for w in found["warnings"] if w["source"] in ("down", "es-down")]
    assert len(shown) == 2 and all("(http://***@127.0.0.1:" in m for m in shown), shown
    assert_no_leak(runs, tmp_path)


def test_demo(tmp_path) -> None:
    """demo reads no config; a secret in the environment must not reach it either."""
    runs = [pmrecon(tmp_path, "--debug", "-v", "demo", "-o", "demo", "--no-png")]
    assert runs[0].code == 0, runs[0].err
    assert_no_leak(runs, tmp_path)


def test_report_links_never_carry_url_credentials() -> None:
    from pmrecon.links import make_links
    from tests.report_data import config as report_config
    from tests.report_data import evidence, findings_for

    cfg = report_config(
        grafana_url=f"https://viewer:{ENV['PMR_GRAFANA_PASS']}@grafana.example.com",
        kibana_url=f"https://viewer:{ENV['PMR_GRAFANA_PASS']}@kibana.example.com",
    )
    links = make_links(cfg, findings_for(evidence()))
    urls = [link["url"] for link in links["grafana"]] + [links["kibana"]]
    assert urls and all(MARKER not in url and "viewer" not in url for url in urls), urls[:2]
    assert all(
        url.startswith(("https://grafana.example.com/", "https://kibana.example.com/"))
        for url in urls
    )


def test_cli_scrub_removes_secrets_and_url_credentials(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(cli, "_SECRETS", ["abcd", "abcdef-longer"])
    text = "x abcdef-longer y abcd https://u:p%40ss@host:9200/p http://user@host/ ftp://a:b@c"
    assert cli.scrub(text) == (
        "x [REDACTED] y [REDACTED] https://***@host:9200/p http://user@host/ ftp://***@c"
    )


# --------------------------------------------------------------------------- log content

#: A connector that returns log samples quoting the configured secret (an application that
#: logs its own Authorization header), registered the way a third-party connector is.
SETTINGS_SCHEMA = {"token": Key("str", None, "a credential", secret=True)}


class QuotingSource:
    kind = "quoting"

    def __init__(self, name: str, settings: dict[str, Any], context: SourceContext) -> None:
        self.name = name
        self.token = settings["token"]
        self.context = context

    def collect(self, request: CollectRequest) -> Evidence:
        redact = self.context.redactor
        at = request.window.start
        lines = [
            f"GET /api?key={self.token} failed",
            f"retrying with {self.token}",
        ]
        samples = [LogSample(at, "error", "checkout", redact(line)) for line in lines]
        empty = Histogram(60.0, [], {})
        logs = LogSummary(empty, empty, samples=samples, redactions=dict(redact.counts))
        return Evidence(window=request.window, baseline=request.baseline, logs=logs)

    def check(self) -> list[CheckResult]:
        return []


def test_configured_secrets_are_redacted_from_log_content(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import connectors

    monkeypatch.setitem(connectors._REGISTRY, "quoting", f"{__name__}:QuotingSource")
    secret = f"plain{MARKER}value"  # no keyword before it: only the configured value betrays it
    path = config(tmp_path, {"logs": {"type": "quoting", "token": "${PMR_LOG_TOKEN}"}})
    monkeypatch.setenv("PMR_LOG_TOKEN", secret)
    cfg = load_config(path)
    assert cfg.secrets == [secret]
    result = build(
        cfg,
        BuildRequest(window=Window(*SC.window), out=tmp_path / "out", png=False),
    )
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    samples = (tmp_path / "out" / "evidence" / "samples.ndjson").read_text()
    assert samples.count("[REDACTED:secret]") >= 2, samples
    assert result.out_dir == tmp_path / "out"


def test_scan_redacts_configured_secrets_too(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import connectors
    from pmrecon.model import Window
    from pmrecon.scanning import collect_coarse

    monkeypatch.setitem(connectors._REGISTRY, "quoting", f"{__name__}:QuotingSource")
    secret = f"plain{MARKER}value"
    path = config(tmp_path, {"logs": {"type": "quoting", "token": "${PMR_LOG_TOKEN}"}})
    monkeypatch.setenv("PMR_LOG_TOKEN", secret)
    evidence = collect_coarse(load_config(path), Window(*SC.window))
    messages = [s.message for s in evidence.logs.samples]
    assert messages and not any(secret in m for m in messages), messages
    assert sum("[REDACTED:secret]" in m for m in messages) >= 2, messages
