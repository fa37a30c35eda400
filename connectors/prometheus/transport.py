"""How a Prometheus source talks to its server: the API envelope, recorded calls, the deadline.

:class:`PrometheusHttp` is the toolkit's HTTP client plus the Prometheus API's envelope
(``{"status": "success", "data": …, "warnings": […]}``): the server's warnings are kept,
and an answer without the envelope (an HTML login page, a proxy) is a fatal
``not_prometheus`` failure. :class:`PrometheusApi` records every call as a
:class:`~pmrecon.model.QueryRecord` and gives each at most the time left before the
collect's deadline.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from connectors.prometheus.matrix import decode_range
from connectors.prometheus.shapes import answer_problem
from connectors.toolkit.http import Answer, CallSite, HttpClient, server_error
from connectors.toolkit.recording import QueryRecorder, cap_results
from pmrecon.errors import ConnectorError
from pmrecon.model import QueryRecord, Warning


class PrometheusHttp(HttpClient):
    """The HTTP client of the Prometheus HTTP API (and of Thanos, Mimir, VictoriaMetrics)."""

    foreign_kind = "not_prometheus"

    def decode(self, body: bytes, at: CallSite) -> Any:
        """A range query's answer with its points as columns (:mod:`.matrix`), any other whole."""
        if at.path.endswith("/query_range"):
            payload = decode_range(body)
            if payload is not None:
                return payload
        return json.loads(body)

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

    def __init__(self, name: str, http: HttpClient, max_series: int | None = None) -> None:
        self.name = name
        self.http = http
        self.recorder = QueryRecorder(name)
        self.deadline: float | None = None  # time.monotonic() value after which to give up
        #: Most series a range query may bring into the evidence (None: no cap).
        self.max_series = max_series
        #: One warning per query cut to ``max_series`` since the last :meth:`start`.
        self.capped: list[Warning] = []

    @property
    def queries(self) -> list[QueryRecord]:
        """The records of the calls since the last :meth:`start`."""
        return self.recorder.records

    def start(self, deadline: float | None) -> None:
        """A new collect: records from ``q1`` again, and its deadline."""
        self.recorder.reset()
        self.deadline = deadline
        self.capped = []

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
        capped: bool = True,
    ) -> Answer:
        """One call, recorded as a QueryRecord (also when it fails).

        A range query's answer is cut to ``max_series`` unless ``capped`` is false: a
        grouped query's answer is cut service by service (:meth:`cap`) once split.
        """
        if record is None:
            record = self.recorder.record(purpose, query or "", endpoint=path)
        answer = self.recorder.send(
            self.http,
            record,
            path,
            params,
            method=method,
            context=context,
            timeout=self.remaining(),
        )
        if capped and path.endswith("/query_range"):
            self.cap(answer.data, record, context)
        return answer

    def cap(self, data: Any, record: QueryRecord, context: str) -> None:
        """Keep at most ``max_series`` series of a range query's answer, and say so."""
        if self.max_series is None:
            return
        found = cap_results(data, self.max_series)
        if found <= self.max_series:
            return
        note = (
            f"{found} series, more than max_series ({self.max_series}): the first "
            f"{self.max_series} by labels are kept, the others left out"
        )
        record.warnings.append(note)
        self.capped.append(
            Warning(
                self.name,
                f"source {self.name!r}: {note} ({context or record.query}); aggregate the "
                "query (sum by ...) or raise max_series",
                code="series_capped",
                params={"count": found, "limit": self.max_series},
            )
        )


def fmt_ts(x: float) -> str:
    """An epoch time as the API's ``time``/``start``/``end`` parameter (ms at most)."""
    return f"{x:.3f}".rstrip("0").rstrip(".")


def fmt_step(step: float) -> str:
    """A step in seconds as the API's ``step`` parameter."""
    return f"{step:g}"


_Job = TypeVar("_Job")


def run_each(run: Callable[[_Job], None], jobs: Sequence[_Job], workers: int, name: str) -> None:
    """``run`` on every job, ``workers`` at a time (in order on this thread when one will do)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            run(job)
        return
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=f"pmrecon-{name}"
    ) as pool:
        list(pool.map(run, jobs))
