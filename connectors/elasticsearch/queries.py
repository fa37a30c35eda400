"""The requests of one collect (or check): sent, timed, and kept as evidence.

Every request body is kept as a :class:`~pmrecon.model.QueryRecord` (index pattern, time
range, duration, size of the answers as received, shard failures); a paged scan is one record
whose ``purpose`` says how many pages it took. Shard failures and ``timed_out`` answers become
warnings. Query ids follow the order of a sequential run: a part running on a worker thread
numbers its queries inside a placeholder that :mod:`.parallel` replaces once the parts before
it are done.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from connectors.toolkit.failures import RequestFailed, short
from connectors.toolkit.recording import QueryRecorder
from pmrecon.model import QueryRecord, Warning

from .answers import ms_to_dt, strip_pit
from .transport import Connection


class PartRecorder(QueryRecorder):
    r"""The recorder of a part running on a worker: its ids are placeholders,
    ``<source>:q\0<part>.<n>\0``, until the parts before it are done and :mod:`.parallel`
    gives each record its sequential id."""

    def __init__(self, source: str, part: int) -> None:
        super().__init__(source)
        self.part = part
        self.issued = 0

    def next_id(self) -> str:
        """The next placeholder id of this part."""
        self.issued += 1
        return f"{self.source}:q\x00{self.part}.{self.issued}\x00"


class Task:
    """A part running on a worker: its own recorder (no shared counter between threads) and
    warnings."""

    def __init__(self, source: str, index: int) -> None:
        self.index = index  # the part's place in the sequential order
        self.recorder = PartRecorder(source, index)
        self.warnings: list[Warning] = []


class Aborted(RequestFailed):
    """A part stopped because a part before it failed (a sequential run would not have got there)."""

    def __init__(self) -> None:
        super().__init__("stopped: an earlier query failed", "aborted", True)


def index_path(index: str, endpoint: str) -> str:
    """``/<index pattern>/<endpoint>`` with the pattern quoted for a URL path."""
    return f"/{quote(index, safe=',*:')}/{endpoint}"


class Queries:
    """The requests of one collect or check, through the source's :class:`Connection`, each
    recorded by ``recorder`` (by its part's recorder on a worker); ``deadline`` (a
    ``time.monotonic()`` value) bounds them all."""

    def __init__(
        self, connection: Connection, recorder: QueryRecorder, deadline: float | None = None
    ) -> None:
        self.connection = connection
        self.name = connection.name
        self.index = connection.index
        self.deadline = deadline
        self.recorder = recorder
        self.abort_after = 0  # on workers: parts after this index stop at their next request
        self.lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------------ ids and records

    def task(self) -> Task | None:
        """The part running on this thread, None on the caller's thread."""
        task: Task | None = getattr(self._local, "task", None)
        return task

    def set_task(self, task: Task | None) -> None:
        """Record this thread's requests in ``task`` (None: in :attr:`records`)."""
        self._local.task = task

    @contextlib.contextmanager
    def running_as(self, task: Task | None) -> Iterator[None]:
        """This thread's requests recorded in ``task`` for the block, then the caller's again."""
        self.set_task(task)
        try:
            yield
        finally:
            self.set_task(None)

    @property
    def records(self) -> list[QueryRecord]:
        """The records of the caller's thread, in order (the parts' are added once done)."""
        return self.recorder.records

    def _recorder(self) -> QueryRecorder:
        """Where this thread's records go: its part's recorder on a worker, else the collect's."""
        task = self.task()
        return task.recorder if task is not None else self.recorder

    def last_record(self) -> QueryRecord:
        """The last record made on this thread."""
        return self._recorder().records[-1]

    def record(
        self,
        purpose: str,
        query: Any,
        *,
        endpoint: str,
        window: tuple[int, int] | None = None,
        index: str | None = None,
    ) -> QueryRecord:
        """A new record, kept in the evidence whether or not its request succeeds."""
        return self._recorder().record(
            purpose,
            query,
            endpoint=endpoint,
            index=index,
            start=ms_to_dt(window[0]) if window else None,
            end=ms_to_dt(window[1]) if window else None,
        )

    # ------------------------------------------------------------------ requests

    def remaining(self) -> float:
        """The timeout of the next request: the source's, or less as the deadline nears."""
        timeout = self.connection.timeout
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestFailed(
                f"{self.connection.where()}: time limit reached before all queries ran; raise 'timeout' or shorten the window",
                "deadline",
                True,
            )
        return min(left, timeout)

    def raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        context: str = "",
        record: QueryRecord | None = None,
        abortable: bool = True,
    ) -> Any:
        """One request through the source's client; errors become :class:`RequestFailed`.

        ``abortable``: on a worker, not sent once a part before this one has failed."""
        task = self.task()
        if abortable and task is not None and task.index > self.abort_after:
            raise Aborted()
        self.connection.client()  # bad settings: a ConfigError, not a failed request
        started = time.monotonic()
        timeout = self.remaining()
        try:
            resp = self.connection.send(method, path, params=params, body=body, timeout=timeout)
        except Exception as exc:
            failed = self.connection.failure(exc, context, timeout)
            if record is not None:
                record.warnings.append(str(failed))
                record.duration_seconds = round(time.monotonic() - started, 4)
            raise failed from exc
        if record is not None:
            record.duration_seconds = round(
                (record.duration_seconds or 0) + time.monotonic() - started, 4
            )
            if resp.bytes_received is not None:
                record.bytes_received = (record.bytes_received or 0) + resp.bytes_received
        return resp.body

    def search(
        self,
        body: dict[str, Any],
        *,
        purpose: str,
        window: tuple[int, int] | None,
        warnings: list[Warning],
        record: QueryRecord | None = None,
        index: str | None = None,
    ) -> dict[str, Any]:
        """One search, recorded; shard failures and ``timed_out`` become warnings.

        ``index`` "": a search over a point in time (the body names it)."""
        target = self.index if index is None else index
        path = index_path(target, "_search") if target else "/_search"
        if record is None:
            record = self.record(
                purpose,
                strip_pit(body),
                endpoint=path if target else index_path(self.index, "_search (PIT)"),
                window=window,
                index=self.index,
            )
        answer = self.raw(
            "POST",
            path,
            body=body,
            record=record,
            context=f"running query {record.id}: {purpose}",
        )
        if not isinstance(answer, Mapping):
            raise RequestFailed(
                f"{self.connection.where()}: unexpected answer to a search: {short(answer)}",
                "not_elasticsearch",
                True,
            )
        self._check_partial(answer, record, purpose, warnings)
        return dict(answer)

    def _check_partial(
        self, answer: Mapping[str, Any], record: QueryRecord, purpose: str, warnings: list[Warning]
    ) -> None:
        shards = answer.get("_shards") or {}
        failed = int(shards.get("failed") or 0)
        if failed:
            reasons = []
            for f in shards.get("failures") or []:
                reason = f.get("reason") or {}
                text = (
                    f"{reason.get('type')}: {reason.get('reason')}"
                    if isinstance(reason, Mapping)
                    else str(reason)
                )
                if text not in reasons:
                    reasons.append(text)
            # scrubbed before it is cut: a secret cut in two would no longer match
            said = self.connection.scrub("; ".join(reasons[:3]))[:300]
            msg = self.connection.scrub(
                f"source {self.name!r}: partial results: {failed} of {shards.get('total')} shards failed "
                f"for {purpose} (query {record.id}): {said}"
            )
            record.warnings.append(msg)
            if not any(w.message == msg for w in warnings):
                about = {"query": record.id, "failed": failed}
                warnings.append(Warning(self.name, msg, code="shard_failures", params=about))
        if answer.get("timed_out"):
            msg = (
                f"source {self.name!r}: partial results: the server's search timeout cut {purpose} short "
                f"(query {record.id}); counts may be low"
            )
            record.warnings.append(msg)
            warnings.append(Warning(self.name, msg, code="timed_out", params={"query": record.id}))
