"""Fault injection: a source that fails (down, auth, timeout, hostile answers, partial results)
never stops the report, never shows a traceback and never leaves a half-written file.

The healthy source is the session's real, backfilled Prometheus (scenario ``clean_single``);
the failing one reaches the same server through :class:`tests.faultproxy.FaultProxy`, which
breaks the answers on request. A degraded build must give the same incident as a healthy
build, plus the notice "Source … indisponible ou incomplète : …" in the report, a ``source_unavailable``
warning in findings.json, and exit code 7 (3 with ``--strict``). Prometheus stopped
mid-build is a dedicated server, stopped for real while the build runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.prometheus import HttpClient, PrometheusSource
from pmrecon.api import collect
from pmrecon.errors import EXIT_DEGRADED, EXIT_INTERRUPTED, EXIT_RENDER, EXIT_SOURCE, ConnectorError
from pmrecon.model import Evidence, Window
from tests.clihelp import Run, run_cli
from tests.faultproxy import Catcher, Fault, FaultProxy, leftovers, snapshot, write_config
from tests.infra.prometheus import PrometheusServer, backfill
from tests.scenarios import SCENARIOS

pytestmark = pytest.mark.prometheus

SCENARIO = "clean_single"
SC = SCENARIOS[SCENARIO]()
FROM, TO = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in SC.window)
NOTICE = " indisponible ou incomplète : les chiffres qui en dépendent manquent"
REQUEST_TIMEOUT = 1.5  # the failing source's per-request timeout


def prom(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "url": url,
        "services": ["checkout"],
        "retry_backoff": 0.01,
        **extra,
    }


def replica(url: str, **extra: Any) -> dict[str, Any]:
    """The failing source: the same data, alerts off (so a partial answer duplicates nothing)."""
    settings: dict[str, Any] = {
        "timeout": REQUEST_TIMEOUT,
        "retries": 1,
        "alerts": {"enabled": False},
    }
    return prom(url, **{**settings, **extra})


def build(tmp: Path, sources: dict[str, Any], *args: str, timeout: Any = 60) -> tuple[Run, Path]:
    cfg = write_config(
        tmp / "pmrecon.yaml",
        {"timezone": "UTC", "language": "fr", "timeout": timeout, "sources": sources},
    )
    out = tmp / "out"
    run = run_cli(
        "build", "-c", str(cfg), "--from", FROM, "--to", TO, "-o", str(out), "--no-png", *args,
        timeout=90,
    )  # fmt: skip
    return run, out


def assert_clean(run: Run) -> None:
    """No traceback; every stderr line is pmrecon's own."""
    assert "Traceback" not in run.err, run.err
    for line in run.error_lines:
        assert line.startswith("pmrecon: "), line


def assert_one_line_error(run: Run, code: int, words: str) -> None:
    assert run.code == code, (run.code, run.err)
    assert_clean(run)
    errors = [line for line in run.error_lines if line.startswith("pmrecon: error: ")]
    assert len(errors) == 1, run.err
    assert words in errors[0], errors[0]


#: What a client sees of a server that went away: refused once it is down; a request in
#: flight when it stopped may see its connection closed instead.
DOWN_REASONS = (
    "(Connection refused)",
    "(Remote end closed connection without response)",
    "(Connection reset by peer)",
)


def assert_down_reason(found: dict[str, Any], source: str) -> None:
    (w,) = [w for w in found["warnings"] if w["source"] == source]
    assert any(reason in w["message"] for reason in DOWN_REASONS), w["message"]


def findings(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return data


def assert_degraded(
    run: Run, out: Path, source: str, words: str, reference: dict[str, Any]
) -> None:
    """Exit 7, the notice in every output, the incident as a healthy build found it."""
    assert run.code == EXIT_DEGRADED, (run.code, run.err)
    assert_clean(run)
    assert run.out.strip() == str(out / "postmortem.md")
    assert any(
        line.startswith(f"pmrecon: warning: {source}: ") and words in line
        for line in run.error_lines
    ), run.err
    found = findings(out)
    unavailable = [w for w in found["warnings"] if w["code"] == "source_unavailable"]
    assert [w["source"] for w in unavailable] == [source], found["warnings"]
    assert words in unavailable[0]["message"]
    md = (out / "postmortem.md").read_text(encoding="utf-8")
    notice = [line for line in md.splitlines() if NOTICE in line]
    assert notice and words in notice[0] and f"Source {source} " in notice[0], notice
    html = (out / "report.html").read_text(encoding="utf-8")
    assert NOTICE in html
    assert found["incident"] == reference["incident"]
    assert found["alerts"] == reference["alerts"]
    assert (out / "evidence" / "manifest.json").is_file()
    assert leftovers(out) == []


@pytest.fixture(scope="module")
def reference(prometheus, tmp_path_factory) -> dict[str, Any]:  # noqa: ANN001
    """Findings of a healthy build from the direct source alone."""
    run, out = build(tmp_path_factory.mktemp("reference"), {"prom": prom(prometheus.url)})
    assert run.code == 0, run.err
    data = findings(out)
    assert data["incident"]["found"]
    return data


@pytest.fixture
def proxy(prometheus) -> Iterator[FaultProxy]:  # noqa: ANN001
    with FaultProxy(prometheus.url, max_requests=500) as p:
        yield p


# --------------------------------------------------------------------------- one source fails

#: Faults run through the whole CLI (report, notice, exit code): the ones most likely in
#: production. (id, fault, words the warning must hold)
CLI_FAULTS = [
    (
        "http-500",
        Fault("status", status=500),
        "server error (HTTP 500): internal: injected HTTP 500",
    ),
    ("truncated", Fault("truncate"), "was cut short after"),
    ("delay", Fault("delay", seconds=10), f"timeout: no answer within {REQUEST_TIMEOUT:g}s"),
    ("slow-drip", Fault("drip", interval=0.1), f"did not arrive within {REQUEST_TIMEOUT:g}s"),
]

#: The other hostile answers, through the library's collect() (the same code path up to
#: rendering, which the CLI cases cover).
LIB_FAULTS = [
    ("http-401", Fault("status", status=401), "authentication failed (HTTP 401)"),
    ("malformed-json", Fault("malformed"), "is malformed JSON"),
    ("wrong-content-type", Fault("html"), "is not the Prometheus API (Sign in to continue)"),
    ("oversized", Fault("oversized", size=400 * 2**20), "is larger than 256 MiB"),
    ("closed", Fault("close"), "closed connection without response"),
    (
        "http-503-html",
        Fault("status", status=503, body=b"<h1>Bad gateway</h1>"),
        "(HTTP 503): Bad gateway",
    ),
]


@pytest.mark.parametrize(
    ("fault", "words"), [f[1:] for f in CLI_FAULTS], ids=[f[0] for f in CLI_FAULTS]
)
def test_one_failing_source_gives_a_degraded_report(
    prometheus,
    proxy,
    reference,
    tmp_path,
    fault: Fault,
    words: str,  # noqa: ANN001
) -> None:
    proxy.set(fault)
    started = time.monotonic()
    run, out = build(tmp_path, {"prom": prom(prometheus.url), "replica": replica(proxy.url)})
    elapsed = time.monotonic() - started
    assert_degraded(run, out, "replica", words, reference)
    assert proxy.faulted >= 1
    # bounded: a handful of requests, and no wait far beyond the per-request timeout
    assert len(proxy.requests) <= 6, proxy.requests
    assert elapsed < 40


@pytest.mark.parametrize(
    ("fault", "words"), [f[1:] for f in LIB_FAULTS], ids=[f[0] for f in LIB_FAULTS]
)
def test_hostile_answer_makes_that_source_unavailable(
    prometheus,
    proxy,
    fault: Fault,
    words: str,  # noqa: ANN001
) -> None:
    proxy.set(fault)
    direct = PrometheusSource("prom", prom(prometheus.url), SourceContext())
    failing = PrometheusSource("replica", replica(proxy.url), SourceContext())
    started = time.monotonic()
    ev = collect(
        [direct, failing],
        CollectRequest(
            window=Window(*SC.window),
            baseline=Window(*SC.baseline),
            deadline=time.monotonic() + 30,
        ),
    )
    assert time.monotonic() - started < 10
    (w,) = [w for w in ev.warnings if w.code == "source_unavailable"]
    assert w.source == "replica" and words in w.message, w.message
    assert w.message.startswith("source 'replica' (http://127.0.0.1:")
    assert "\n" not in w.message and len(w.message) < 600
    assert ev.alerts and ev.series, "the healthy source's evidence is kept"
    assert len(proxy.requests) <= 6, proxy.requests


def test_partial_answers_are_a_degraded_report(prometheus, proxy, reference, tmp_path) -> None:  # noqa: ANN001
    """The server answers its status but cuts every SLI answer short: data is missing, said so."""
    proxy.set(Fault("truncate", paths=("/api/v1/query_range",)))
    run, out = build(tmp_path, {"prom": prom(prometheus.url), "replica": replica(proxy.url)})
    assert_degraded(run, out, "replica", "answered only in part", reference)
    found = findings(out)
    details = [w for w in found["warnings"] if w["code"] == "sli_truncated"]
    assert details and all("cut short" in w["message"] for w in details)


@pytest.mark.parametrize("status", [400, 500])
def test_credentials_a_server_quotes_in_a_query_error_reach_no_output(
    proxy,  # noqa: ANN001
    tmp_path,  # noqa: ANN001
    status: int,
) -> None:
    """Issue 14: a server quoting the request's headers in the error of one query (not a
    fatal one: the build goes on and writes the warning everywhere). Every form a credential
    takes is sent: a bearer token, a custom header, Basic from username/password and from a
    URL's ``user:pass@``; none reaches stdout, ``--json``, stderr or any file written."""
    from tests.test_secrets import ENV, assert_no_leak, config, pmrecon, window

    proxy.set(Fault("echo", paths=("/api/v1/query_range",), status=status))
    host = proxy.url.removeprefix("http://")
    headers = {"X-Api-Key": "${PMR_HEADER}"}
    common = {"retries": 0, "alerts": {"enabled": False}, "headers": headers}
    sources = {
        "bearer": {"type": "prometheus", "url": proxy.url, "bearer_token": "${PMR_TOKEN}",
                   "services": ["checkout"], **common},
        "basic": {"type": "prometheus", "url": proxy.url, "username": "admin",
                  "password": "${PMR_PASS}", "services": ["cart"], **common},
        "in-url": {"type": "prometheus", "url": f"http://admin:${{PMR_URL_PASS}}@{host}",
                   "services": ["checkout"], **common},
    }  # fmt: skip
    config(tmp_path, sources)
    run = pmrecon(tmp_path, "--debug", "-vv", "build", "--json", *window("-o", "out", "--no-png"))
    assert run.code == EXIT_DEGRADED, run.err[-3000:]
    # the server got every credential and quoted it back in the errors the report shows
    got = " ".join(str(r.headers) for r in proxy.requests if r.faulted)
    assert all(ENV[k] in got for k in ("PMR_TOKEN", "PMR_HEADER")) and got.count("Basic ") >= 2
    md = (tmp_path / "out" / "postmortem.md").read_text(encoding="utf-8")
    found = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    quoted = [w["message"] for w in found["warnings"] if "Authorization" in w["message"]]
    assert quoted and f"(HTTP {status})" in quoted[0] and "Authorization" in md, quoted
    assert assert_no_leak([run], tmp_path) > 5


def test_redirect_to_another_host_is_refused(prometheus, proxy, reference, tmp_path) -> None:  # noqa: ANN001
    with Catcher() as elsewhere:
        proxy.set(Fault("redirect", location=f"{elsewhere.url}/api/v1/status/buildinfo"))
        run, out = build(
            tmp_path,
            {
                "prom": prom(prometheus.url),
                "replica": replica(proxy.url, bearer_token="tok-redirect-0042"),
            },
        )
        assert elsewhere.requests == [], "the redirect was followed"
    assert_degraded(run, out, "replica", "redirect to another host", reference)
    assert proxy.requests[0].headers.get("Authorization") == "Bearer tok-redirect-0042"


def test_failing_alertmanager_gives_a_degraded_report(
    prometheus,
    alertmanager,
    reference,
    tmp_path,  # noqa: ANN001
) -> None:
    with FaultProxy(alertmanager.url) as am:
        am.set(Fault("status", status=503, paths=("/api/v2/silences",)))
        run, out = build(
            tmp_path,
            {
                "prom": prom(prometheus.url),
                "am": {"type": "alertmanager", "url": am.url, "retries": 1, "retry_backoff": 0.01},
            },
        )
        assert any(r.path.startswith("/api/v2/status") and not r.faulted for r in am.requests)
    assert_degraded(run, out, "am", "server error (HTTP 503)", reference)


def test_strict_turns_a_source_failure_into_a_failure(prometheus, proxy, tmp_path) -> None:  # noqa: ANN001
    proxy.set(Fault("status", status=500))
    run, out = build(
        tmp_path, {"prom": prom(prometheus.url), "replica": replica(proxy.url)}, "--strict"
    )
    assert_one_line_error(run, EXIT_SOURCE, "--strict: any source failure fails the build")
    assert "server error (HTTP 500)" in run.err
    assert not out.exists()


def test_strict_also_fails_on_partial_answers(prometheus, proxy, tmp_path) -> None:  # noqa: ANN001
    proxy.set(Fault("malformed", paths=("/api/v1/query_range",)))
    run, out = build(
        tmp_path, {"prom": prom(prometheus.url), "replica": replica(proxy.url)}, "--strict"
    )
    assert_one_line_error(run, EXIT_SOURCE, "answered only in part")
    assert not out.exists()


def test_every_source_failing_is_a_clean_error(proxy, tmp_path) -> None:  # noqa: ANN001
    proxy.set(Fault("status", status=502))
    run, out = build(tmp_path, {"replica": replica(proxy.url)})
    assert_one_line_error(run, EXIT_SOURCE, "every source failed: source 'replica'")
    assert not out.exists()


def test_failed_rebuild_keeps_the_previous_report(prometheus, proxy, tmp_path) -> None:  # noqa: ANN001
    """A rebuild whose only source is broken fails and leaves the report as it was."""
    sources = {"replica": replica(proxy.url)}
    first, out = build(tmp_path, sources)
    assert first.code == 0, first.err
    before = snapshot(out)
    proxy.set(Fault("truncate"))
    again, _ = build(tmp_path, sources)
    assert_one_line_error(again, EXIT_SOURCE, "cut short")
    assert snapshot(out) == before


# --------------------------------------------------------------------------- time limits


def test_whole_build_timeout_holds_against_a_slow_source(
    prometheus, proxy, reference, tmp_path
) -> None:  # noqa: ANN001
    """Each answer takes 1 s, the source's own timeout is generous: the build's limit cuts it."""
    proxy.set(Fault("delay", seconds=1.0, paths=("/api/v1/query_range",)))
    started = time.monotonic()
    run, out = build(
        tmp_path,
        {
            "prom": prom(prometheus.url),
            "replica": replica(proxy.url, timeout=60, max_concurrency=1),
        },
        timeout=3,
    )
    elapsed = time.monotonic() - started
    assert_degraded(run, out, "replica", "time limit", reference)
    # 3 s of collection, then analysis and rendering; never the 60 s of the source's timeout
    assert elapsed < 20
    assert len(proxy.requests) < 10


def test_whole_build_timeout_holds_against_a_hanging_server(
    prometheus, proxy, reference, tmp_path
) -> None:  # noqa: ANN001
    proxy.set(Fault("delay", seconds=60, max_seconds=60))
    started = time.monotonic()
    run, out = build(
        tmp_path,
        {"prom": prom(prometheus.url), "replica": replica(proxy.url, timeout=120)},
        timeout=2,
    )
    elapsed = time.monotonic() - started
    assert_degraded(run, out, "replica", "timeout", reference)
    assert elapsed < 20


@pytest.mark.parametrize(
    ("where", "value"),
    [("build", ".inf"), ("build", ".nan"), ("source", ".inf"), ("source", ".nan")],
)
def test_non_finite_timeouts_are_config_errors(tmp_path, where: str, value: str) -> None:  # noqa: ANN001
    """YAML reads .inf and .nan as floats; they used to end in OverflowError (exit 1)."""
    source = "timeout: 30" if where == "build" else f"timeout: {value}"
    top = f"timeout: {value}\n" if where == "build" else ""
    cfg = tmp_path / "pmrecon.yaml"
    cfg.write_text(
        f"{top}sources:\n  prom:\n    type: prometheus\n    url: http://127.0.0.1:9\n    {source}\n"
    )
    run = run_cli("build", "-c", str(cfg), "--from", FROM, "--to", TO, "-o", str(tmp_path / "o"))
    assert_one_line_error(run, 2, "not a finite duration")


class _Stuck:
    """A connector that ignores the deadline (a third-party one, say)."""

    kind = "stuck"

    def __init__(self, name: str, release: threading.Event) -> None:
        self.name = name
        self.release = release

    def collect(self, request: CollectRequest) -> Evidence:
        self.release.wait(30)
        raise ConnectorError("released")

    def check(self) -> list[CheckResult]:
        return []


class _Fine:
    kind = "fine"
    name = "fine"

    def collect(self, request: CollectRequest) -> Evidence:
        return Evidence(window=request.window, baseline=request.baseline)

    def check(self) -> list[CheckResult]:
        return []


class _Buggy(_Fine):
    name = "buggy"
    kind = "buggy"

    def collect(self, request: CollectRequest) -> Evidence:
        raise KeyError("result")  # a connector bug on an unexpected answer


def test_build_deadline_does_not_wait_for_a_connector_that_ignores_it() -> None:
    release = threading.Event()
    window = Window(*SC.window)
    started = time.monotonic()
    try:
        ev = collect(
            [_Stuck("stuck", release), _Fine()],
            CollectRequest(window=window, deadline=time.monotonic() + 1.0),
        )
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert elapsed < 3
    (w,) = [w for w in ev.warnings if w.code == "source_unavailable"]
    assert w.source == "stuck" and "no answer within the build's time limit" in w.message


def test_a_connector_bug_fails_that_source_only() -> None:
    ev = collect([_Buggy(), _Fine()], CollectRequest(window=Window(*SC.window)))
    (w,) = ev.warnings
    assert w.source == "buggy" and w.code == "source_unavailable"
    assert "internal error in the buggy connector (KeyError: 'result')" in w.message


# --------------------------------------------------------------------------- hostile answers, in-process


def _collect_via(url: str, **settings: Any) -> Evidence:
    src = PrometheusSource(
        "p",
        {"url": url, "retry_backoff": 0.01, "services": ["checkout"], **settings},
        SourceContext(),
    )
    return src.collect(CollectRequest(window=Window(*SC.window), baseline=Window(*SC.baseline)))


def test_oversized_answer_without_length_is_cut_at_the_limit(proxy, monkeypatch) -> None:  # noqa: ANN001
    """No Content-Length to refuse up front: reading stops once the limit is passed."""
    monkeypatch.setattr(HttpClient, "max_bytes", 2 * 2**20)
    proxy.set(Fault("oversized", size=64 * 2**20, declare=False))
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=r"is larger than 2 MiB"):
        _collect_via(proxy.url, retries=0, timeout=10)
    assert time.monotonic() - started < 5


def test_gzip_bomb_is_bounded_by_its_decoded_size(proxy, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(HttpClient, "max_bytes", 2 * 2**20)
    proxy.set(Fault("gzip", size=64 * 2**20))
    with pytest.raises(ConnectorError, match=r"is larger than 2 MiB"):
        _collect_via(proxy.url, retries=0, timeout=10)


def test_slow_drip_is_bounded_by_the_request_timeout(proxy) -> None:  # noqa: ANN001
    """One byte every 50 ms never trips a socket timeout; the answer's deadline does."""
    proxy.set(Fault("drip", interval=0.05))
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=r"did not arrive within 1s \(\d+ bytes received\)"):
        _collect_via(proxy.url, retries=0, timeout=1)
    assert time.monotonic() - started < 2.5


def test_same_host_redirect_is_followed_other_hosts_are_not(prometheus, proxy) -> None:  # noqa: ANN001
    """A reverse proxy moving the API on the same host is fine; another port is another host."""
    proxy.set(Fault("redirect", location=f"{proxy.url}/api/v1/status/buildinfo", after=0))
    # the redirect target is the proxy itself, which redirects again: a loop, cut short
    with pytest.raises(ConnectorError, match=r"more than 3 redirects"):
        _collect_via(proxy.url, retries=0)
    assert len(proxy.requests) <= 4 * 2  # buildinfo, then the vector(1) probe
    with Catcher() as other:
        proxy.set(Fault("redirect", location=other.url.replace("127.0.0.1", "localhost")))
        with pytest.raises(ConnectorError, match=r"redirect to another host"):
            _collect_via(proxy.url, retries=0)
        assert other.requests == []


# --------------------------------------------------------------------------- Prometheus stopped mid-build


@pytest.fixture
def own_prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:  # noqa: ANN001
    """A Prometheus of this test's own (the session one must stay up), holding the scenario."""
    root = Path(tmp_path_factory.mktemp("stopped-prometheus"))
    backfill([SC], root / "data", root / "openmetrics")
    server = PrometheusServer(root, root / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _queries_served(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_prometheus_stopped_mid_build(prometheus, own_prometheus, reference, tmp_path) -> None:  # noqa: ANN001
    """The build reads alerts in 60 s chunks (300 sequential queries); Prometheus stops after 20."""
    sources = {
        "prom": prom(prometheus.url),
        "replica": replica(own_prometheus.url, alerts={"enabled": True, "chunk": 60}, retries=1),
    }
    cfg = write_config(
        tmp_path / "pmrecon.yaml", {"timezone": "UTC", "timeout": 60, "sources": sources}
    )
    out = tmp_path / "out"
    baseline_queries = _queries_served(own_prometheus.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmrecon", "build", "-c", str(cfg), "--from", FROM, "--to", TO,
         "-o", str(out), "--no-png"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        limit = time.monotonic() + 30
        while time.monotonic() < limit and proc.poll() is None:
            if _queries_served(own_prometheus.url) - baseline_queries >= 20:
                break
            time.sleep(0.02)
        # frozen while Prometheus shuts down, the build then runs on against a dead server
        proc.send_signal(signal.SIGSTOP)
        assert proc.poll() is None, "the build ended before Prometheus could be stopped"
        own_prometheus.stop()
        proc.send_signal(signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = Run(proc.returncode, stdout, stderr)
    assert_degraded(run, out, "replica", "unreachable: cannot connect (", reference)
    assert_down_reason(findings(out), "replica")


# --------------------------------------------------------------------------- interrupted builds


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_keeps_the_previous_report(prometheus, proxy, tmp_path, sig) -> None:  # noqa: ANN001
    sources = {"prom": prom(prometheus.url), "replica": replica(proxy.url, timeout=60)}
    first, out = build(tmp_path, sources)
    assert first.code == 0, first.err
    before = snapshot(out)
    assert leftovers(out) == []

    proxy.set(Fault("delay", seconds=30, max_seconds=30))
    cfg = tmp_path / "pmrecon.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmrecon", "build", "-c", str(cfg), "--from", FROM, "--to", TO,
         "-o", str(out), "--no-png"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        limit = time.monotonic() + 20
        while proxy.faulted == 0 and time.monotonic() < limit and proc.poll() is None:
            time.sleep(0.02)
        assert proxy.faulted >= 1, "the build never reached the slow server"
        proc.send_signal(sig)
        started = time.monotonic()
        stdout, stderr = proc.communicate(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_INTERRUPTED, (proc.returncode, stderr)
    assert elapsed < 5, "the interrupt waited for the slow server"
    assert "Traceback" not in stderr
    assert "pmrecon: interrupted" in stderr
    assert stdout == ""
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def _interrupt_at(monkeypatch, name: str) -> None:  # noqa: ANN001
    """Ctrl-C arriving just as the file ``name`` is about to be written (deterministically)."""
    import pmrecon.output

    real = pmrecon.output.atomic_write

    def write(path: Path, data: bytes | str, **options: Any) -> None:
        if path.name == name:
            raise KeyboardInterrupt
        real(path, data, **options)

    monkeypatch.setattr(pmrecon.output, "atomic_write", write)


def _main(*args: str) -> int:
    from pmrecon.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def two_bundles(tmp_path: Path) -> tuple[Path, Path]:
    from connectors.bundle import write_bundle
    from tests.report_data import evidence

    write_bundle(evidence(), tmp_path / "first")
    write_bundle(evidence(0.5, "2026-03-01 10:30"), tmp_path / "second")
    return tmp_path / "first", tmp_path / "second"


@pytest.mark.parametrize("name", ["findings.json", "state.json"])
def test_interrupt_while_writing_leaves_no_temporary_file(
    two_bundles,
    tmp_path,
    monkeypatch,
    name: str,  # noqa: ANN001
) -> None:
    first, second = two_bundles
    out = tmp_path / "out"
    assert _main("build", "--source", str(first), "-o", str(out), "--no-png") == 0
    _interrupt_at(monkeypatch, name)
    assert _main("build", "--source", str(second), "-o", str(out), "--no-png") == EXIT_INTERRUPTED
    assert leftovers(tmp_path) == []
    assert (out / "postmortem.md").is_file() and (out / "evidence" / "manifest.json").is_file()


def _built_once(two_bundles: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Any]:
    """A report built from the first bundle: (the second bundle, the folder, its snapshot)."""
    first, second = two_bundles
    out = tmp_path / "out"
    assert _main("build", "--source", str(first), "-o", str(out), "--no-png") == 0
    return second, out, snapshot(out)


def test_interrupt_while_writing_keeps_the_previous_report(
    two_bundles, tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    second, out, before = _built_once(two_bundles, tmp_path)
    _interrupt_at(monkeypatch, "findings.json")
    assert _main("build", "--source", str(second), "-o", str(out), "--no-png") == EXIT_INTERRUPTED
    assert snapshot(out) == before


def _fail_placing(monkeypatch, name: str, action: Any) -> None:
    """Run ``action`` when the staged ``name`` is about to be moved into the output folder."""
    real = os.link

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        if ".pmrecon/commit/" in str(src) and Path(dst).name == name:
            action()
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)


def test_failure_while_placing_puts_the_previous_report_back(
    two_bundles, tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    second, out, before = _built_once(two_bundles, tmp_path)

    def fail() -> None:
        raise OSError(28, "No space left on device")

    _fail_placing(monkeypatch, "report.html", fail)
    assert _main("build", "--source", str(second), "-o", str(out), "--no-png") == EXIT_RENDER
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_placing_finishes_the_new_report(
    two_bundles, tmp_path, monkeypatch, capsys
) -> None:  # noqa: ANN001
    second, out, before = _built_once(two_bundles, tmp_path)
    _fail_placing(monkeypatch, "report.html", lambda: os.kill(os.getpid(), signal.SIGINT))
    capsys.readouterr()
    # Held back until every file was in place: the report is wholly the new one, and the
    # build says it succeeded (exit 0), not "interrupted" over a complete report.
    assert _main("build", "--source", str(second), "-o", str(out), "--no-png") == 0
    out_text, err = capsys.readouterr()
    assert out_text.strip() == str(out / "postmortem.md")
    assert "SIGINT arrived while the new report was being put in place" in err
    assert "interrupted; the previous report" not in err
    # the second bundle's evidence, plus the settings this build recorded (build.json)
    placed = json.loads((out / "evidence" / "manifest.json").read_bytes())
    assert placed["files"].pop("build.json")
    assert placed == json.loads((second / "manifest.json").read_bytes())
    for name in ("postmortem.md", "report.html", "findings.json", ".pmrecon/last-generated.md"):
        assert (out / name).read_bytes() != before[name], name
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- killed builds (SIGKILL)

ROOT = Path(__file__).resolve().parent.parent
EDITS = ("Le pool de connexions s'est épuisé après le déploiement.", "Notes de Grace.")


class KillPoints:
    """The ``tests.killpoints`` server: real builds that SIGKILL themselves after their N-th
    rename, replace, link or unlink in the output folder."""

    def __init__(self, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PMRECON_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.killpoints"],
            cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def build(self, out: Path, source: Path, kill_after: int = 0) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        command = {"out": str(out), "source": str(source), "kill_after": kill_after}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def killpoints(tmp_path: Path) -> Iterator[KillPoints]:
    server = KillPoints(tmp_path)
    try:
        yield server
    finally:
        server.close()


def report_tree(out: Path) -> dict[str, bytes | None]:
    """Every path of a report folder; the files' times left out of the state (a copy has others)."""
    tree = snapshot(out)
    state = json.loads(tree[".pmrecon/state.json"] or b"{}")
    for record in state.get("files", {}).values():
        record.pop("mtime_ns", None)
    tree[".pmrecon/state.json"] = json.dumps(state, sort_keys=True).encode()
    # Recorded after the commit, outside the journal: a crash before it only means the next
    # build does not know the folder is up to date, and rebuilds it.
    tree.pop(".pmrecon/inputs.json", None)
    return tree


def _with_edits(killpoints: KillPoints, bundle: Path, out: Path) -> dict[str, bytes | None]:
    """A report built from ``bundle``, then edited by a person; its tree."""
    assert killpoints.build(out, bundle)["code"] == 0
    md = out / "postmortem.md"
    text = md.read_text(encoding="utf-8")
    placeholder = "[Description détaillée de l'incident et de son évolution]"
    assert placeholder in text
    md.write_text(text.replace(placeholder, EDITS[0]) + f"\n{EDITS[1]}\n", encoding="utf-8")
    return report_tree(out)


def _recovered(out: Path) -> dict[str, bytes | None]:
    """The folder once the next build has taken its lock (which finishes an interrupted commit)."""
    from pmrecon.commit import output_lock

    with output_lock(out):
        pass
    return report_tree(out)


def _copy(source: Path, target: Path) -> Path:
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
    return target


@dataclass
class Rebuild:
    """A report built from the first bundle and edited by a person (``pristine``, ``old``),
    and what an uninterrupted rebuild from the second bundle makes of it (``new``)."""

    pristine: Path
    second: Path
    old: dict[str, bytes | None]
    new: dict[str, bytes | None]
    operations: list[list[str]]
    commit_point: int  # the operation that puts the journal in place


@pytest.fixture
def rebuild(two_bundles, tmp_path, killpoints) -> Rebuild:  # noqa: ANN001
    first, second = two_bundles
    pristine = tmp_path / "pristine"
    old = _with_edits(killpoints, first, pristine)
    full = killpoints.build(_copy(pristine, tmp_path / "reference"), second)
    assert full["code"] == 0
    new = report_tree(tmp_path / "reference")
    placed = json.loads(new["evidence/manifest.json"] or b"{}")
    assert placed["files"].pop("build.json")  # the settings this build recorded
    assert new != old and placed == json.loads((second / "manifest.json").read_bytes())
    operations = full["operations"]
    commit_point = next(
        i for i, (name, *paths) in enumerate(operations, 1)
        if name == "replace" and paths[-1].endswith("/journal.json")
    )  # fmt: skip
    assert 5 < commit_point < len(operations) - 20, operations
    return Rebuild(pristine, second, old, new, operations, commit_point)


@pytest.mark.slow
def test_a_build_killed_at_any_step_leaves_the_old_or_the_new_report_whole(
    rebuild, tmp_path, killpoints
) -> None:  # noqa: ANN001
    pristine, second, old, new = rebuild.pristine, rebuild.second, rebuild.old, rebuild.new
    operations, commit_point = rebuild.operations, rebuild.commit_point
    # Killed before the journal is in place, the old report stays; after, the next build
    # completes the new one.
    out = tmp_path / "out"
    for n in range(1, len(operations) + 1):
        run = killpoints.build(_copy(pristine, out), second, kill_after=n)
        assert run["killed"] and len(run["operations"]) == n, run
        where = f"killed after {operations[n - 1]}"
        assert _recovered(out) == (new if n >= commit_point else old), where
        # The next real build reads the evidence of that very folder, and keeps the edits.
        again = killpoints.build(out, out / "evidence")
        assert again["code"] == 0, where
        text = (out / "postmortem.md").read_text(encoding="utf-8")
        assert all(edit in text for edit in EDITS), where
        assert not list((out / ".pmrecon").glob("backup-*")), where


@pytest.mark.slow
def test_a_finish_killed_at_any_step_is_finished_by_the_next_build(
    rebuild, tmp_path, killpoints
) -> None:  # noqa: ANN001
    pristine, second, new, commit_point = (
        rebuild.pristine, rebuild.second, rebuild.new, rebuild.commit_point
    )  # fmt: skip
    # Killed right at its commit point, the build left every move to the next one (a
    # copy of that folder is as good: nothing in it is hard-linked yet).
    crashed = _copy(pristine, tmp_path / "crashed")
    assert killpoints.build(crashed, second, kill_after=commit_point)["killed"]
    out = tmp_path / "out"
    finish = killpoints.build(_copy(crashed, out), second)
    assert finish["code"] == 0 and report_tree(out) == new
    steps = next(
        i for i, (name, *paths) in enumerate(finish["operations"], 1)
        if name == "unlink" and paths[0].endswith("/journal.json")
    )  # fmt: skip
    assert steps > 20, finish["operations"]
    # The next build is killed in turn at each step of finishing it: the one after finishes.
    for k in range(1, steps + 1):
        run = killpoints.build(_copy(crashed, out), second, kill_after=k)
        assert run["killed"], run
        assert _recovered(out) == new, f"finish killed after {run['operations'][-1]}"


@pytest.mark.slow
def test_a_postmortem_saved_after_a_crash_is_kept_by_the_next_build(
    rebuild, tmp_path, killpoints, capsys
) -> None:  # noqa: ANN001
    # Killed just after the old postmortem.md was moved aside: the folder has none, and a
    # person saves one (from an editor's buffer) before the next build.
    aside = next(
        i for i, (name, *paths) in enumerate(rebuild.operations, 1)
        if name == "rename" and paths[0].endswith("/postmortem.md")
    )  # fmt: skip
    out = _copy(rebuild.pristine, tmp_path / "out")
    assert killpoints.build(out, rebuild.second, kill_after=aside)["killed"]
    assert not (out / "postmortem.md").exists()
    (out / "postmortem.md").write_text("Mes notes, enregistrées après la panne.\n")
    capsys.readouterr()
    assert _main("build", "--source", str(out / "evidence"), "-o", str(out), "--no-png") == 6
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("pmrecon: error")]
    (kept,) = (out / ".pmrecon").glob("backup-*-postmortem.md")
    assert f"kept as {kept}" in line
    assert kept.read_text() == "Mes notes, enregistrées après la panne.\n"
    assert report_tree(out) == {**rebuild.new, str(kept.relative_to(out)): kept.read_bytes()}
    text = (out / "postmortem.md").read_text(encoding="utf-8")
    assert all(edit in text for edit in EDITS)


# --------------------------------------------------------------------------- Elasticsearch stopped mid-build

ES_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
        },
        "log": {"properties": {"level": {"type": "keyword"}}},
        "service": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}}},
        "user": {"properties": {"id": {"type": "keyword"}}},
        "event": {"properties": {"category": {"type": "keyword"}, "action": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
    }
}


def _searches(node: Any) -> int:
    stats = node.request("GET", "/_nodes/stats/indices/search", timeout=5)
    return sum(
        int(n["indices"]["search"]["query_total"]) for n in (stats.get("nodes") or {}).values()
    )


ES_INDEX = "pmrecon-faults-logs"
#: A service name that is query syntax in every Elasticsearch query language.
ES_EVIL = 'checkout" OR *:* OR service.name:* | where true //'


@pytest.fixture(scope="module")
def own_elasticsearch() -> Iterator[Any]:
    """An Elasticsearch 9 node of this module's own, holding the scenario's logs."""
    yield from _own_elasticsearch()


@pytest.fixture
def doomed_elasticsearch() -> Iterator[Any]:
    """Like ``own_elasticsearch``, for a test that stops it: no other test may share it."""
    yield from _own_elasticsearch()


def _own_elasticsearch() -> Iterator[Any]:
    if os.environ.get("PMRECON_SKIP_ES") == "1":
        pytest.skip("PMRECON_SKIP_ES=1: Elasticsearch tests skipped")
    from tests.infra.es import ElasticsearchNode, bulk_load, make_client, pinned_version
    from tests.scenarios import nested

    node = ElasticsearchNode(pinned_version(9))
    node.start()
    try:
        client = make_client(node.url, node.major)
        try:
            client.indices.create(
                index=ES_INDEX,
                settings={"number_of_shards": 1, "number_of_replicas": 0},
                mappings=ES_MAPPING,
            )
        finally:
            client.close()
        assert bulk_load(node.url, ES_INDEX, (nested(d) for d in SC.log_docs()), major=node.major)
        yield node
    finally:
        node.stop()


def es_source(node: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "elasticsearch",
        "hosts": [node.url],
        "index": [ES_INDEX],
        "retries": 1,
        "timeout": 5,
        **extra,
    }


def _strings_with_paths(
    data: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _strings_with_paths(v, (*path, str(k)))
    elif isinstance(data, list):
        for v in data:
            yield from _strings_with_paths(v, (*path, "[]"))
    elif isinstance(data, str):
        yield path, data


@pytest.mark.elasticsearch
@pytest.mark.slow
def test_elasticsearch_service_filter_is_a_structured_term(
    prometheus,
    own_elasticsearch,
    tmp_path,  # noqa: ANN001
) -> None:
    """``--service`` reaches Elasticsearch as a ``terms`` value, never as query text."""
    sources = {"prom": prom(prometheus.url), "es": es_source(own_elasticsearch)}
    run, out = build(tmp_path, sources, "--service", ES_EVIL, "--service", "checkout")
    assert run.code == 0, run.err
    recorded = json.loads((out / "evidence" / "sources.json").read_text(encoding="utf-8"))
    (es,) = [src for src in recorded if src["name"] == "es"]
    places = [
        path
        for q in es["queries"]
        for path, text in _strings_with_paths(q["query"])
        if ES_EVIL in text
    ]
    assert places, "the service filter is missing from the recorded queries"
    for path in places:
        assert path[-3:-1] == ("terms", "service.name") and path[-1] == "[]", path
    logs = json.loads((out / "evidence" / "logs.json").read_text(encoding="utf-8"))
    assert set(logs["errors_by_service"]["counts"]) <= {"checkout"}
    assert logs["error_documents"] > 0


@pytest.mark.elasticsearch
@pytest.mark.slow
def test_elasticsearch_stopped_mid_build(
    prometheus, doomed_elasticsearch, reference, tmp_path
) -> None:  # noqa: ANN001
    """Signatures are read one composite bucket per request: the node stops after 5 searches."""
    node = doomed_elasticsearch
    es = es_source(node, signatures={"page_size": 1, "max_distinct_messages": 5000})
    cfg = write_config(
        tmp_path / "pmrecon.yaml",
        {"timezone": "UTC", "timeout": 90, "sources": {"prom": prom(prometheus.url), "es": es}},
    )
    out = tmp_path / "out"
    before = _searches(node)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmrecon", "build", "-c", str(cfg), "--from", FROM, "--to", TO,
         "-o", str(out), "--no-png"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        limit = time.monotonic() + 60
        while time.monotonic() < limit and proc.poll() is None:
            if _searches(node) - before >= 5:
                break
            time.sleep(0.02)
        # Freeze the build while the node shuts down (a graceful stop takes seconds,
        # during which the node still answers), then let it run on against a dead node.
        proc.send_signal(signal.SIGSTOP)
        assert proc.poll() is None, "the build ended before Elasticsearch could be stopped"
        node.stop()
        proc.send_signal(signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = Run(proc.returncode, stdout, stderr)
    assert_degraded(run, out, "es", "unreachable: cannot connect (", reference)
    assert_down_reason(findings(out), "es")


# --------------------------------------------------------------------------- the threat table


def test_security_doc_names_only_existing_tests() -> None:
    """Every test docs/security.md cites exists (a renamed test must not leave a dead row)."""
    import ast

    root = Path(__file__).resolve().parent
    doc = (root.parent / "docs" / "security.md").read_text(encoding="utf-8")
    cited: list[tuple[str, str]] = []
    current = ""
    for m in re.finditer(r"((?:\w+/)*test_\w+\.py)?::(test_\w+)", doc):  # paths under tests/
        current = m.group(1) or current  # `::name` cites the file named just before
        cited.append((current, m.group(2)))
    files: dict[str, set[str]] = {}
    missing = []
    for name, test in cited:
        if name not in files:
            # cited by file name: the tests live in folders laid out like the code
            path = next(root.rglob(name), root / name)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            files[name] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if test not in files[name]:
            missing.append(f"{name}::{test}")
    assert len(cited) > 60 and missing == [], missing
