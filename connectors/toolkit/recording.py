"""The query recorder: every request a source sent, as it was sent, with how it went.

Each request becomes a :class:`~pmrecon.model.QueryRecord` numbered ``<source>:q1``,
``q2``… in the order the records were made, so that every figure of the report can name
the query behind it. A failed request keeps its error among the record's warnings.

A recorder is not thread-safe: make the records on one thread (before handing work to a
pool), and let the workers only fill in their own record's outcome.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from pmrecon.model import QueryRecord

from .failures import RequestFailed
from .http import Answer, HttpClient


class QueryRecorder:
    """The numbered records of the queries one source sent during a collect or a check."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.records: list[QueryRecord] = []
        self._seq = 0

    def reset(self, *, renumber: bool = True) -> None:
        """Start a new collect: no record, numbered from ``q1`` again unless ``renumber`` is off."""
        self.records = []
        if renumber:
            self._seq = 0

    def next_id(self) -> str:
        """The next query id, ``<source>:q<n>``."""
        self._seq += 1
        return f"{self.source}:q{self._seq}"

    def record(
        self,
        purpose: str,
        query: Any = "",
        *,
        endpoint: str | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        step_seconds: float | None = None,
        index: str | None = None,
        sli: str | None = None,
        service: str | None = None,
        baseline: bool = False,
    ) -> QueryRecord:
        """A new record, kept in order; its outcome is filled in by :meth:`send` or the caller.

        ``sli``, ``service``, ``baseline``: for a query behind an SLI series, its name, the
        service and whether it reads the baseline rather than the window.
        """
        rec = QueryRecord(
            id=self.next_id(),
            source=self.source,
            purpose=purpose,
            query=query,
            start=start,
            end=end,
            step_seconds=step_seconds,
            index=index,
            endpoint=endpoint,
            sli=sli,
            service=service,
            baseline=baseline,
        )
        self.records.append(rec)
        return rec

    def send(
        self,
        client: HttpClient,
        rec: QueryRecord,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        context: str = "",
        timeout: float | None = None,
        time_failures: bool = True,
    ) -> Answer:
        """``client.call`` with its outcome written into ``rec`` (also when it fails).

        ``time_failures``: a failed request's duration is recorded too.
        """
        started = time.monotonic()
        try:
            answer = client.call(path, params, method=method, context=context, timeout=timeout)
        except RequestFailed as exc:
            if time_failures:
                rec.duration_seconds = round(time.monotonic() - started, 4)
            rec.warnings.append(str(exc))
            raise
        rec.duration_seconds = round(answer.duration, 4)
        rec.bytes_received = answer.bytes
        rec.warnings.extend(answer.warnings)
        rec.result_count = result_count(answer.data)
        return answer


def result_count(data: Any) -> int | None:
    """How many results an answer holds: its ``result`` list, or the list it is."""
    if isinstance(data, dict) and isinstance(data.get("result"), list):
        return len(data["result"])
    if isinstance(data, list):
        return len(data)
    return None


def cap_results(data: Any, limit: int) -> int:
    """Cut an answer's ``result`` list to ``limit`` items; how many it held before.

    The items kept are the first by their labels (``metric``), so the same answer is cut
    the same way every time; an answer without a result list is left as it is.
    """
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list) or len(result) <= limit:
        return len(result) if isinstance(result, list) else 0

    def labels(item: Any) -> list[tuple[str, str]]:
        metric = item.get("metric") if isinstance(item, dict) else None
        return sorted((str(k), str(v)) for k, v in (metric or {}).items())

    data["result"] = sorted(result, key=labels)[:limit]
    return len(result)
