"""How a Prometheus source talks to its server: the API envelope, recorded calls, the deadline.

:class:`PrometheusHttp` is the toolkit's HTTP client plus the Prometheus API's envelope
(``{"status": "success", "data": …, "warnings": […]}``): the server's warnings are kept,
and an answer without the envelope (an HTML login page, a proxy) is a fatal
``not_prometheus`` failure. :class:`PrometheusApi` records every call as a
:class:`~pmrecon.model.QueryRecord` and gives each at most the time left before the
collect's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connectors.prometheus.shapes import answer_problem
from connectors.toolkit.http import Answer, CallSite, HttpClient, server_error
from connectors.toolkit.recording import QueryRecorder
from pmrecon.errors import ConnectorError
from pmrecon.model import QueryRecord


class PrometheusHttp(HttpClient):
    """The HTTP client of the Prometheus HTTP API (and of Thanos, Mimir, VictoriaMetrics)."""

    foreign_kind = "not_prometheus"

    def unwrap(
        self, payload: Any, body: bytes, status: int, duration: float, at: CallSite
    ) -> Answer:
        """The envelope's ``data`` and ``warnings``; no envelope means this is not the API."""
        if not isinstance(payload, dict) or payload.get("status") != "success":
            detail = server_error(payload) or self.quote(body) or "empty answer"
            raise self._failed(
                f"the answer to {at.path} is not the Prometheus API ({detail}); check the URL",
                at,
                self.foreign_kind,
                True,
                status,
            )
        problem = answer_problem(at.path, payload.get("data"))
        if problem is not None:
            raise self._failed(
                f"the answer to {at.path} is not a Prometheus response ({problem}); check the URL",
                at,
                self.foreign_kind,
                True,
                status,
            )
        warnings = [str(w) for w in payload.get("warnings") or []]
        return Answer(payload.get("data"), warnings, len(body), duration)


class PrometheusApi:
    """The calls one source makes to its server, each recorded, within the collect's deadline."""

    def __init__(self, name: str, http: HttpClient) -> None:
        self.name = name
        self.http = http
        self.recorder = QueryRecorder(name)
        self.deadline: float | None = None  # time.monotonic() value after which to give up

    @property
    def queries(self) -> list[QueryRecord]:
        """The records of the calls since the last :meth:`start`."""
        return self.recorder.records

    def start(self, deadline: float | None) -> None:
        """A new collect: records from ``q1`` again, and its deadline."""
        self.recorder.reset()
        self.deadline = deadline

    def remaining(self) -> float | None:
        """The time one call may take: the timeout, or less when the deadline is near."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ConnectorError(
                f"source {self.name!r}: time limit reached before all queries ran; raise 'timeout' or shorten the window"
            )
        return min(left, self.http.timeout)

    def call(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        purpose: str,
        method: str = "GET",
        query: str | None = None,
        record: QueryRecord | None = None,
        context: str = "",
    ) -> Answer:
        """One call, recorded as a QueryRecord (also when it fails)."""
        if record is None:
            record = self.recorder.record(purpose, query or "", endpoint=path)
        return self.recorder.send(
            self.http,
            record,
            path,
            params,
            method=method,
            context=context,
            timeout=self.remaining(),
        )


def fmt_ts(x: float) -> str:
    """An epoch time as the API's ``time``/``start``/``end`` parameter (ms at most)."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def fmt_step(step: float) -> str:
    """A step in seconds as the API's ``step`` parameter."""
    return f"{step:g}"
