"""Real Prometheus and Alertmanager servers for the test suite (Debian packages).

- :func:`backfill` writes each scenario's OpenMetrics to a file and runs
  ``promtool tsdb create-blocks-from openmetrics`` into one fresh data dir (one
  promtool run per scenario: promtool re-reads its whole input once per 2 h block,
  so one file spanning months would be read thousands of times).
- :class:`PrometheusServer` starts ``prometheus`` on 127.0.0.1 on a free port with
  its own config, rules and data dir, a retention long enough for blocks dated
  months back (retention counts back from the newest block), and waits for
  ``/-/ready``.
- :class:`MetricsTarget` is a tiny /metrics endpoint served from a thread, whose
  error counter a test switches on and off, for a live Prometheus evaluating rules.
- :class:`AlertmanagerServer` starts ``prometheus-alertmanager`` with its cluster
  listener disabled.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from tests.infra.httpserver import BackgroundServer, send_json
from tests.scenarios import Scenario

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed(binary: str = "promtool", package: str = "prometheus") -> str:
    """The binary's path, installing the Debian package first if it is missing."""
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{binary} missing and not root: run `apt-get install -y {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # the package's service must not start on 0.0.0.0:9090 with the system data dir
    policy = Path("/usr/sbin/policy-rc.d")
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            check=True,
            env=env,
            capture_output=True,
        )
    except subprocess.CalledProcessError:
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            check=True,
            env=env,
            capture_output=True,
        )
    finally:
        if created:
            policy.unlink(missing_ok=True)
    found = shutil.which(binary)
    if not found:
        raise RuntimeError(f"{binary} still missing after installing {package}")
    return found


def promtool_backfill(
    openmetrics: Path, data_dir: Path, *, max_block_duration: str | None = None, what: str = ""
) -> None:
    """``promtool tsdb create-blocks-from openmetrics`` of one file into ``data_dir``.

    ``max_block_duration`` (``2000h``): fewer, longer blocks, much faster for weeks of data.
    Raises RuntimeError with promtool's own words when it refuses the file.
    """
    promtool = ensure_installed("promtool")
    command = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
    if max_block_duration:
        command.append(f"--max-block-duration={max_block_duration}")
    out = subprocess.run(
        [*command, str(openmetrics), str(data_dir)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"promtool rejected {what or openmetrics.name}: {out.stderr.strip()[-2000:]}"
        )


def backfill(
    scenarios: Iterable[Scenario],
    data_dir: Path,
    work_dir: Path,
    *,
    max_block_duration: str | None = None,
    workers: int = 4,
    keep_files: bool = True,
) -> None:
    """Backfill every scenario into ``data_dir`` (which must be fresh: reruns duplicate blocks).

    Each scenario's OpenMetrics is written to ``work_dir`` (deleted once backfilled unless
    ``keep_files``) and backfilled by its own promtool run, ``workers`` at a time.
    """
    ensure_installed("promtool")
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()):
        raise RuntimeError(f"{data_dir} is not empty: backfilling twice duplicates blocks")
    work_dir.mkdir(parents=True, exist_ok=True)

    def one(sc: Scenario) -> None:
        path = work_dir / f"{sc.name}.om"
        path.write_text(sc.openmetrics(), encoding="utf-8")
        promtool_backfill(
            path, data_dir, max_block_duration=max_block_duration, what=f"scenario {sc.name}"
        )
        if not keep_files:
            path.unlink()

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, list(scenarios)))


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Server:
    """A subprocess listening on 127.0.0.1:port, with its log kept for error messages."""

    name = "server"
    ready_path = "/-/ready"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / f"{self.name}.log"

    def command(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> _Server:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                status, _ = http_get(self.url + self.ready_path, timeout=1)
                if status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {START_TIMEOUT_S:g}s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> _Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrometheusServer(_Server):
    """``prometheus`` on 127.0.0.1 with its own config, rules and data dir."""

    name = "prometheus"

    def __init__(
        self,
        root: Path,
        data_dir: Path,
        *,
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
        rules: str | None = None,
        scrape_configs: list[dict[str, object]] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        super().__init__(root)
        self.data_dir = data_dir
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.rules = rules
        self.scrape_configs = scrape_configs or []
        self.extra_args = extra_args or []

    def command(self) -> list[str]:
        import yaml

        config: dict[str, object] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": self.scrape_configs,
        }
        if self.rules:
            rules_path = self.root / "rules.yml"
            rules_path.write_text(self.rules, encoding="utf-8")
            config["rule_files"] = [str(rules_path)]
        cfg = self.root / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
        return [
            ensure_installed("prometheus"),
            f"--config.file={cfg}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=3650d",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
            *self.extra_args,
        ]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, object]]:
        params = {"query": promql}
        if at is not None:
            params["time"] = str(at)
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        status, body = http_get(url, timeout=10)
        payload = json.loads(body)
        if status != 200:
            raise RuntimeError(payload)
        return payload["data"]["result"]  # type: ignore[no-any-return]


class AlertmanagerServer(_Server):
    """``prometheus-alertmanager`` on 127.0.0.1, no cluster listener, its own storage."""

    name = "alertmanager"

    def command(self) -> list[str]:
        cfg = self.root / "alertmanager.yml"
        cfg.write_text(
            "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n", encoding="utf-8"
        )
        return [
            ensure_installed("prometheus-alertmanager", "prometheus-alertmanager"),
            f"--config.file={cfg}",
            f"--storage.path={self.root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]


class MetricsTarget(BackgroundServer):
    """A /metrics endpoint on 127.0.0.1 served from a thread; ``failing`` turns errors on."""

    def __init__(self, service: str = "live", per_scrape: int = 10) -> None:
        self.service = service
        self.per_scrape = per_scrape
        self.failing = False
        self.ok = 0
        self.bad = 0
        self.scrapes = 0
        self._lock = threading.Lock()
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = target.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        super().__init__(Handler)
        self.address = f"127.0.0.1:{self.port}"

    def render(self) -> str:
        with self._lock:
            self.scrapes += 1
            if self.failing:
                self.bad += self.per_scrape // 2
                self.ok += self.per_scrape - self.per_scrape // 2
            else:
                self.ok += self.per_scrape
            s = self.service
            return (
                "# TYPE http_requests_total counter\n"
                f'http_requests_total{{service="{s}",code="200"}} {self.ok}\n'
                f'http_requests_total{{service="{s}",code="500"}} {self.bad}\n'
                "# TYPE live_failing gauge\n"
                f'live_failing{{service="{s}"}} {1 if self.failing else 0}\n'
            )


def live_rules(service: str = "live") -> str:
    """An alerting rule on the target's error counter, ``for: 2s``, evaluated every second."""
    import yaml

    rule = {
        "alert": "LiveErrors",
        "expr": f'sum by (service, job, instance) (increase(http_requests_total{{service="{service}",code="500"}}[3s])) > 0',
        "for": "2s",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "{{ $labels.service }} returns errors",
            "runbook_url": "https://runbooks.example.com/live-errors",
        },
    }
    return yaml.safe_dump(
        {"groups": [{"name": "live", "interval": "1s", "rules": [rule]}]}, sort_keys=False
    )


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class FakeHTTPServer(BackgroundServer):
    """A local HTTP server whose answers a test scripts: ``handler(request) -> (status, body)``.

    Every request is recorded (method, path, query/form params, headers); ``active`` and
    ``max_active`` count concurrent requests, for testing a concurrency bound.
    """

    def __init__(self, handler) -> None:  # noqa: ANN001 - Callable[[FakeRequest], tuple[int, bytes | str | dict]]
        self.handler = handler
        self.requests: list[FakeRequest] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per answer: no Nagle/delayed-ACK stall per request

            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(parts.query))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    params.update(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                req = FakeRequest(self.command, parts.path, params, dict(self.headers.items()))
                with fake._lock:
                    fake.requests.append(req)
                    fake.active += 1
                    fake.max_active = max(fake.max_active, fake.active)
                try:
                    status, body = fake.handler(req)
                finally:
                    with fake._lock:
                        fake.active -= 1
                auth = {"WWW-Authenticate": 'Basic realm="prometheus"'} if status == 401 else {}
                send_json(self, status, body, auth)

            do_GET = _serve  # noqa: N815 - http.server API
            do_POST = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return

        super().__init__(Handler)


class FakeRequest:
    """One request a FakeHTTPServer received."""

    def __init__(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.headers = headers

    def __repr__(self) -> str:
        return f"FakeRequest({self.method} {self.path} {self.params})"
