"""A hostile HTTP server on 127.0.0.1: a proxy to a real server that misbehaves on request.

:class:`FaultProxy` forwards every request to ``upstream`` (a real Prometheus or
Alertmanager started by the tests) until a :class:`Fault` is set, and then answers with
that fault instead, for the paths the fault names, from its ``after``-th request on:

- ``status``: an HTTP error (500 by default) with a small JSON or text body;
- ``echo``: an HTTP error (``status``) whose body quotes the request, headers included;
- ``truncate``: the upstream answer, announced with its full ``Content-Length`` but cut
  in the middle, then the connection closed;
- ``malformed``: ``200`` with a JSON body that does not parse;
- ``html``: ``200`` with ``Content-Type: text/html`` and a login page (wrong content type);
- ``oversized``: ``200`` with a body of ``size`` bytes, streamed in 64 KiB chunks;
- ``gzip``: ``200`` with a gzip body of ``size`` bytes once decompressed (a gzip bomb);
- ``drip``: ``200`` headers at once, then one byte every ``interval`` seconds;
- ``redirect``: ``302`` to ``location`` (e.g. another host);
- ``delay``: wait ``seconds``, then forward;
- ``close``: close the connection without answering.

Every fault is bounded: a drip or an oversized body stops after ``max_seconds``, when the
client hangs up, or when the proxy shuts down, so a test can never hang on its own proxy.
``requests`` records what was asked (method, path, headers) and ``faulted`` how many
requests got the fault.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.httpserver import BackgroundServer

CHUNK = 64 * 1024
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass
class Fault:
    """What to answer instead of the upstream's answer."""

    kind: str
    paths: tuple[str, ...] = ()  # path prefixes the fault applies to (empty: every path)
    after: int = 0  # requests (on matching paths) answered normally first
    status: int = 500
    body: bytes | None = None
    seconds: float = 0.0  # delay
    interval: float = 0.2  # drip
    size: int = 0  # oversized
    declare: bool = True  # oversized: send a Content-Length (else the body ends at close)
    location: str = ""  # redirect
    max_seconds: float = 20.0  # upper bound of any slow answer

    def matches(self, path: str) -> bool:
        return not self.paths or any(path.startswith(p) for p in self.paths)


@dataclass
class Recorded:
    """One request the proxy received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    faulted: bool = False

    @property
    def params(self) -> dict[str, str]:
        parts = urllib.parse.urlsplit(self.path)
        out = dict(urllib.parse.parse_qsl(parts.query))
        if self.body:
            out.update(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace")))
        return out


@dataclass
class _State:
    fault: Fault | None = None
    matching: int = 0
    requests: list[Recorded] = field(default_factory=list)


class FaultProxy(BackgroundServer):
    """A proxy (or, without ``upstream``, a server answering 404) whose answers a test breaks."""

    def __init__(self, upstream: str | None = None, *, max_requests: int = 2000) -> None:
        self.upstream = urllib.parse.urlsplit(upstream) if upstream else None
        self.max_requests = max_requests
        self.stopping = threading.Event()
        self._state = _State()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle client connection is closed after this

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, dict(self.headers.items()), body)
                with proxy._lock:
                    st = proxy._state
                    st.requests.append(rec)
                    too_many = len(st.requests) > proxy.max_requests
                    fault = st.fault
                    if fault is not None and fault.matches(urllib.parse.urlsplit(self.path).path):
                        st.matching += 1
                        if st.matching <= fault.after:
                            fault = None
                    else:
                        fault = None
                    rec.faulted = fault is not None
                if too_many:  # a client in a request loop: refuse, loudly
                    self._send(429, b"too many requests in this test", "text/plain")
                    return
                if fault is None:
                    self._forward(body)
                else:
                    self._fault(fault, body)

            do_GET = _serve  # noqa: N815 - http.server API
            do_POST = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return

            # ---------------------------------------------------------- answers

            def _send(
                self,
                status: int,
                data: bytes,
                ctype: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _upstream(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                up = proxy.upstream
                if up is None:
                    return 404, {"Content-Type": "text/plain"}, b"404 page not found"
                conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    kept = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                    return resp.status, kept, data
                except OSError as exc:
                    return 502, {"Content-Type": "text/plain"}, f"upstream down: {exc}".encode()
                finally:
                    conn.close()

            def _forward(self, body: bytes) -> None:
                status, headers, data = self._upstream(body)
                ctype = headers.pop("Content-Type", "application/json")
                self._send(status, data, ctype, headers)

            def _fault(self, f: Fault, body: bytes) -> None:
                kind = f.kind
                if kind == "echo":
                    # a misconfigured server quoting the request, credentials included
                    quoted = " ".join(f"{k}: {v}" for k, v in self.headers.items())
                    said = {"status": "error", "errorType": "unauthorized",
                            "error": f"denied [{quoted}]",
                            "request": {"path": self.path, "headers": dict(self.headers.items()),
                                        "body": body.decode("utf-8", "replace")}}  # fmt: skip
                    self._send(f.status, json.dumps(said).encode(), headers={
                        "WWW-Authenticate": 'Basic realm="x"',
                        "X-Elastic-Product": "Elasticsearch",
                    })  # fmt: skip
                elif kind == "status":
                    data = f.body if f.body is not None else _error_body(f.status)
                    self._send(f.status, data)
                elif kind == "malformed":
                    self._send(200, f.body or b'{"status":"success","data":{"resultType":"mat')
                elif kind == "html":
                    page = f.body or b"<html><body><form>Sign in to continue</form></body></html>"
                    self._send(200, page, "text/html; charset=utf-8")
                elif kind == "gzip":
                    # ``size`` bytes once decompressed, a few kB on the wire
                    import gzip

                    packed = gzip.compress(b'{"status":"success","data":"' + b"0" * f.size, 9)
                    self._send(200, packed, headers={"Content-Encoding": "gzip"})
                elif kind == "redirect":
                    self._send(302, b"", "text/plain", {"Location": f.location})
                elif kind == "close":
                    self.close_connection = True
                elif kind == "delay":
                    proxy.stopping.wait(min(f.seconds, f.max_seconds))
                    self._forward(body)
                elif kind == "truncate":
                    status, _, data = self._upstream(body)
                    self._partial(status, data, max(1, len(data) // 2))
                elif kind == "oversized":
                    self._stream(f.size, CHUNK, 0.0, f.max_seconds, f.declare)
                elif kind == "drip":
                    self._stream(10**6, 1, f.interval, f.max_seconds)
                else:  # pragma: no cover - a typo in a test
                    self._send(500, f"unknown fault {kind!r}".encode(), "text/plain")

            def _partial(self, status: int, data: bytes, keep: int) -> None:
                self.close_connection = True
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[:keep])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(
                self,
                size: int,
                chunk: int,
                interval: float,
                max_seconds: float,
                declare: bool = True,
            ) -> None:
                """``size`` bytes of a JSON string, ``chunk`` at a time, bounded in time."""
                self.close_connection = True
                stop = time.monotonic() + max_seconds
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if declare:
                        self.send_header("Content-Length", str(size))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.flush()
                    sent = 0
                    head = b'{"status":"success","data":"'
                    while sent < size and time.monotonic() < stop and not proxy.stopping.is_set():
                        n = min(chunk, size - sent)
                        piece = head[sent : sent + n] if sent < len(head) else b"x" * n
                        self.wfile.write(piece)
                        self.wfile.flush()
                        sent += len(piece)
                        if interval:
                            proxy.stopping.wait(interval)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        super().__init__(Handler)

    # ------------------------------------------------------------------ control

    def set(self, fault: Fault | None) -> FaultProxy:
        """Answer with ``fault`` from now on (None: forward everything again)."""
        with self._lock:
            self._state.fault = fault
            self._state.matching = 0
        return self

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    @property
    def faulted(self) -> int:
        return sum(1 for r in self.requests if r.faulted)

    def stop(self) -> None:
        self.stopping.set()  # answers that drip stop dripping
        super().stop()


def _error_body(status: int) -> bytes:
    payload: dict[str, Any] = {
        "status": "error",
        "errorType": "internal" if status >= 500 else "bad_data",
        "error": f"injected HTTP {status}",
    }
    return json.dumps(payload).encode()


class Catcher:
    """A server that only records whether anyone came (the target of a cross-host redirect)."""

    def __init__(self) -> None:
        self.proxy = FaultProxy(None)
        self.proxy.set(Fault("status", status=200, body=b'{"status":"success","data":{}}'))

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def requests(self) -> list[Recorded]:
        return self.proxy.requests

    def __enter__(self) -> Catcher:
        self.proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proxy.stop()


# --------------------------------------------------------------------------- helpers for the suites


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones included): file bytes, or None for a folder."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a build may leave behind when it stops half-way."""
    if not folder.exists():
        return []
    marks = (".tmp", "-old-", ".pmrecon-probe-")
    out = []
    for p in folder.rglob("*"):
        name = p.name
        staging = name.startswith((".graphs-", ".evidence-")) and p.is_dir()
        if any(m in name for m in marks) or staging:
            out.append(str(p.relative_to(folder)))
    return sorted(out)


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """A YAML config file for the CLI."""
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
