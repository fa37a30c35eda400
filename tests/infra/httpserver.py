"""The small HTTP servers of the tests (fakes, proxies, replays) on 127.0.0.1.

A fake server is a :class:`BackgroundServer` (a free port, served from a daemon thread
while it is open) around a ``BaseHTTPRequestHandler`` the test writes; the handler
answers with :func:`send_json`.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Mapping
from typing import Any, TypeVar

_S = TypeVar("_S", bound="BackgroundServer")


class QuietHTTPServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that stays silent when a client hangs up.

    The tests' clients give up on purpose (timeouts, killed builds, faults): the standard
    server would print a traceback for each reset connection into the test output.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> QuietHTTPServer:
    """A server for ``handler`` on a free port of 127.0.0.1 (not yet serving)."""
    return QuietHTTPServer(("127.0.0.1", 0), handler)


class BackgroundServer:
    """``handler`` served on a free port of 127.0.0.1 from a daemon thread, while open.

    ``with Fake(...) as fake:`` or ``start()``/``stop()``; ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = serve(handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self: _S) -> _S:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send_json(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer ``status`` with ``body`` (bytes and text as they are, anything else as JSON).

    A client that hung up before the answer is not an error: the tests' clients give up on
    purpose.
    """
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
