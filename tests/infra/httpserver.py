"""The small HTTP servers of the tests (fakes, proxies, replays) on 127.0.0.1."""

from __future__ import annotations

import http.server
import sys
from typing import Any


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
