"""The signature scan's pages: page N+1 is asked while page N is folded, and the requests sent
are exactly a sequential run's (the same bodies, in the same order, stopping at the same page).

A scripted connection stands in for the server: it answers each composite page from a list of
keys (``page_size`` buckets after the request's ``after``), keeps each request body as sent
and how many were in flight at once, and the real :class:`Queries` records them.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import SourceContext
from connectors.elasticsearch import ElasticsearchSource
from connectors.elasticsearch.error_signatures import (
    SignatureTally,
    _Budget,
    _CompositeScan,
    error_signatures,
)
from connectors.elasticsearch.flavour import Answer
from connectors.elasticsearch.mappings import FieldInfo
from connectors.elasticsearch.queries import Aborted, Queries, Task
from connectors.elasticsearch.redaction import Redaction
from connectors.elasticsearch.session import CollectSession
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.recording import QueryRecorder
from pmrecon.model import Warning

T0 = 1_780_000_000_000  # epoch milliseconds: the window's start
HOUR = 3_600_000
FIELDS = {
    "timestamp": FieldInfo("timestamp", "@timestamp", ("date",), "@timestamp", True),
    "message": FieldInfo("message", "message", ("text",), "message.keyword", True),
    "service": FieldInfo("service", "service.name", ("keyword",), "service.name", True),
    "level": FieldInfo("level", "log.level", ("keyword",), "log.level", True),
}
Script = Callable[[dict[str, Any]], Any]


def bucket(key: str | None, n: int = 2) -> dict[str, Any]:
    """One composite bucket: ``n`` lines in the window (of service ``web``), one in the baseline."""
    return {
        "key": {"k": key},
        "doc_count": n + 1,
        "w": {
            "doc_count": n,
            "first": {"value": T0 + 1000},
            "last": {"value": T0 + 2000},
            "services": {"buckets": [{"key": "web", "doc_count": n}]},
            "example": {"hits": {"total": {"value": n}, "hits": []}},
        },
        "b": {"doc_count": 1, "first": {"value": T0 - 1000}, "last": {"value": T0 - 1000}},
    }


def pages_of(keys: list[str | None], *, after_key_on_full_last: bool = True) -> Script:
    """A server answering composite pages over ``keys`` (already in the server's order) and
    counts with 7 lines; ``after_key_on_full_last`` off: a full page without ``after_key``."""

    def answer(body: dict[str, Any]) -> Any:
        if "aggs" not in body:  # the count of what the bound leaves out
            return {"hits": {"total": {"value": 7, "relation": "eq"}, "hits": []}}
        composite = body["aggs"]["sig"]["composite"]
        size, after = composite["size"], composite.get("after")
        start = 0 if after is None else keys.index(after["k"]) + 1
        page = keys[start : start + size]
        sig: dict[str, Any] = {"buckets": [bucket(k) for k in page]}
        if page and (after_key_on_full_last or start + size < len(keys)):
            sig["after_key"] = {"k": page[-1]}
        return {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {"sig": sig}}

    return answer


class ScriptedConnection:
    """The part of :class:`~connectors.elasticsearch.transport.Connection` that
    :class:`Queries` uses, answering searches with ``script(body)`` (an exception is raised)."""

    name = "logs"
    index = "logs-*"
    timeout = 30.0

    def __init__(self, script: Script, delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.sent: list[dict[str, Any]] = []  # the bodies, as they were when sent
        self.in_flight = 0
        self.most_in_flight = 0
        self.answered = 0
        self.on_send: Callable[[dict[str, Any]], None] = lambda body: None
        self._lock = threading.Lock()

    def client(self) -> ScriptedConnection:
        return self

    def send(self, method: str, path: str, *, params: Any, body: Any, timeout: float) -> Answer:
        with self._lock:
            self.sent.append(copy.deepcopy(body))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.on_send(body)
            if self.delay:
                time.sleep(self.delay)
            result = self.script(body)
            if isinstance(result, BaseException):
                raise result
            return Answer(result, len(json.dumps(result)))
        finally:
            with self._lock:
                self.in_flight -= 1
                self.answered += 1

    def failure(self, exc: BaseException, context: str, timeout: float) -> RequestFailed:
        assert isinstance(exc, RequestFailed)
        return exc

    def scrub(self, text: str) -> str:
        return text


def session_of(conn: ScriptedConnection, **signatures: Any) -> CollectSession:
    """A collect over one hour and the hour before it, through ``conn``."""
    settings = ElasticsearchSource(
        "logs", {"hosts": ["http://127.0.0.1:9"], "signatures": signatures}, SourceContext()
    ).settings
    queries = Queries(conn, QueryRecorder("logs"))  # type: ignore[arg-type]
    return CollectSession(
        queries=queries,
        redaction=Redaction(None),
        settings=settings,
        fields=FIELDS,
        start=T0,
        end=T0 + HOUR,
        baseline_start=T0 - HOUR,
        baseline_end=T0,
        interval=60,
        filters=(),
        error_levels=["error"],
        warning_levels=["warn"],
    )


def message_scan(
    session: CollectSession, budget: int, fold: Callable[[Any], str] = str
) -> tuple[_CompositeScan, SignatureTally, list[Warning]]:
    warnings: list[Warning] = []
    tally = SignatureTally(limit=1000)
    scan = _CompositeScan(
        session,
        "error signatures by normalised message",
        "message.keyword",
        [{"match_all": {}}],
        tally,
        _Budget(budget),
        fold,
        warnings,
        key_is_message=True,
    )
    return scan, tally, warnings


def asked(conn: ScriptedConnection) -> list[Any]:
    """Each request's ``after`` key (None: the first page), or ``("count", value)`` for the
    count of what the bound leaves out."""
    out: list[Any] = []
    for body in conn.sent:
        if "aggs" in body:
            after = body["aggs"]["sig"]["composite"].get("after")
            out.append(after["k"] if after else None)
        else:
            filters = body["query"]["bool"]["filter"]
            (past,) = [
                f["range"]["message.keyword"] for f in filters if "message.keyword" in str(f)
            ]
            out.append(("count", past["gt"]))
    return out


def assert_same_pages(conn: ScriptedConnection) -> None:
    """Every page's body is the first page's plus its ``after``."""
    pages = [b for b in conn.sent if "aggs" in b]
    for body in pages:
        body = copy.deepcopy(body)
        body["aggs"]["sig"]["composite"].pop("after", None)
        assert body == pages[0]


@pytest.fixture
def no_page_thread() -> Iterator[None]:
    """No thread of a scan is left once the test is over."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("pmrecon-logs-pages")]
    assert not left


KEYS = [f"m{i:02d}" for i in range(1, 11)]


@pytest.mark.usefixtures("no_page_thread")
def test_the_next_page_is_asked_while_the_page_before_is_folded() -> None:
    conn = ScriptedConnection(pages_of(KEYS))
    asked_for_page_2 = threading.Event()
    conn.on_send = lambda body: (
        asked_for_page_2.set() if body["aggs"]["sig"]["composite"].get("after") else None
    )
    waited: list[bool] = []

    def fold(key: Any) -> str:
        if key == "m01":  # page 1's first bucket: page 2 is on its way already
            waited.append(asked_for_page_2.wait(timeout=5))
        return str(key)

    scan, tally, _ = message_scan(session_of(conn, page_size=4), budget=100, fold=fold)
    assert scan.run() == 0
    assert waited == [True], "page 2 was not asked before page 1 was folded"
    assert asked(conn) == [None, "m04", "m08"]
    assert conn.most_in_flight == 1
    assert sorted(tally.window) == KEYS
    assert_same_pages(conn)


@pytest.mark.usefixtures("no_page_thread")
def test_the_records_are_the_sequential_runs() -> None:
    """One record for the scan, with the pages, the values read and the bytes of every page."""
    conn = ScriptedConnection(pages_of(KEYS), delay=0.01)
    session = session_of(conn, page_size=3)
    scan, tally, warnings = message_scan(session, budget=100)
    scan.run()
    (rec,) = session.queries.records
    assert rec.id == "logs:q1"
    assert rec.purpose.endswith("(composite aggregation, 4 page(s) of up to 3 buckets)")
    assert rec.result_count == 10
    sizes = [len(json.dumps(pages_of(KEYS)(body))) for body in conn.sent]
    assert rec.bytes_received == sum(sizes)
    assert "after" not in rec.query["aggs"]["sig"]["composite"]
    assert asked(conn) == [None, "m03", "m06", "m09"]  # the last page is short
    assert warnings == []
    assert {sig: c.count for sig, c in tally.window.items()} == {k: 2 for k in KEYS}
    assert {sig: c.count for sig, c in tally.baseline.items()} == {k: 1 for k in KEYS}


@pytest.mark.usefixtures("no_page_thread")
@pytest.mark.parametrize(
    ("keys", "after_key_on_full_last", "sent"),
    [
        (KEYS[:9], True, [None, "m03", "m06", "m09"]),  # full last page: an empty one ends it
        (KEYS[:9], False, [None, "m03", "m06"]),  # a full page without after_key ends it
        (KEYS[:8], True, [None, "m03", "m06"]),  # a short page ends it
        ([], True, [None]),  # an empty first page
    ],
    ids=["empty-page", "no-after-key", "short-page", "nothing"],
)
def test_the_scan_stops_where_a_sequential_run_stops(
    keys: list[str | None], after_key_on_full_last: bool, sent: list[Any]
) -> None:
    conn = ScriptedConnection(pages_of(keys, after_key_on_full_last=after_key_on_full_last))
    scan, tally, warnings = message_scan(session_of(conn, page_size=3), budget=100)
    scan.run()
    assert asked(conn) == sent
    assert sorted(tally.window) == keys
    assert warnings == []
    assert_same_pages(conn)


@pytest.mark.usefixtures("no_page_thread")
@pytest.mark.parametrize(
    ("budget", "sent", "read", "stopped"),
    [
        # spent exactly at page 2's end: the rest is counted, page 3 never asked
        (6, [None, "m03", ("count", "m06")], 6, 7),
        # one left after page 2: page 3 is asked; its last two values are over the bound
        (7, [None, "m03", "m06", ("count", "m09")], 7, 2 * 2 + 7),
        # spent inside page 1
        (2, [None, ("count", "m03")], 2, 2 + 7),
    ],
)
def test_the_budget_stops_the_scan_where_a_sequential_run_stops(
    budget: int, sent: list[Any], read: int, stopped: int
) -> None:
    conn = ScriptedConnection(pages_of(KEYS))
    scan, tally, warnings = message_scan(session_of(conn, page_size=3), budget=budget)
    scan.run()
    assert asked(conn) == sent
    assert scan.buckets_read == read == len(tally.window)
    assert scan.stopped_docs == stopped
    (warning,) = warnings
    assert warning.code == "signatures_truncated"
    assert f"{stopped} error lines in the window are not in any signature" in warning.message


@pytest.mark.usefixtures("no_page_thread")
def test_the_missing_bucket_does_not_count_against_the_budget() -> None:
    """Page 1 holds the lines without a value: 2 of its 3 buckets use the budget of 3, so one
    is left and page 2 is asked (as a sequential run asks it)."""
    keys: list[str | None] = [None, *KEYS]
    conn = ScriptedConnection(pages_of(keys))
    scan, tally, _ = message_scan(session_of(conn, page_size=3), budget=3)
    assert scan.run() == 3  # the missing bucket's window and baseline lines
    assert asked(conn) == [None, "m02", ("count", "m05")]
    assert sorted(tally.window) == KEYS[:3]
    assert scan.stopped_docs == 2 * 2 + 7


def failing_at(after: str, fatal: bool) -> Script:
    pages = pages_of(KEYS)

    def answer(body: dict[str, Any]) -> Any:
        if (body["aggs"]["sig"]["composite"].get("after") or {}).get("k") == after:
            return RequestFailed(f"server error on the page after {after}", "server", fatal)
        return pages(body)

    return answer


@pytest.mark.usefixtures("no_page_thread")
def test_a_failing_page_is_a_warning_after_the_pages_before_it_are_folded() -> None:
    conn = ScriptedConnection(failing_at("m06", fatal=False))
    warnings: list[Warning] = []
    scan = error_signatures(session_of(conn, page_size=3, top=50), warnings)
    assert asked(conn) == [None, "m03", "m06"]
    assert sorted(s.signature for s in scan.signatures) == KEYS[:6]
    (warning,) = warnings
    assert warning.code == "signatures_failed"
    assert warning.message == (
        "server error on the page after m06; error signatures are incomplete"
    )
    assert conn.answered == len(conn.sent)


@pytest.mark.usefixtures("no_page_thread")
def test_a_fatal_failure_of_a_page_is_raised_once_the_page_before_is_folded() -> None:
    conn = ScriptedConnection(failing_at("m03", fatal=True))
    folded: list[str] = []
    session = session_of(conn, page_size=3)
    scan, _, _ = message_scan(session, budget=100, fold=lambda k: folded.append(k) or str(k))
    with pytest.raises(RequestFailed, match="server error on the page after m03"):
        scan.run()
    assert folded == KEYS[:3]
    assert asked(conn) == [None, "m03"]
    (rec,) = session.queries.records
    assert rec.warnings == ["server error on the page after m03"]


@pytest.mark.usefixtures("no_page_thread")
def test_a_failing_fold_leaves_no_request_running() -> None:
    """The page asked while the fold failed is waited for: nothing runs once the scan is over."""
    conn = ScriptedConnection(pages_of(KEYS), delay=0.2)

    def fold(key: Any) -> str:
        if key == "m02":
            raise ValueError("a fold that fails")
        return str(key)

    scan, _, _ = message_scan(session_of(conn, page_size=3), budget=100, fold=fold)
    with pytest.raises(ValueError, match="a fold that fails"):
        scan.run()
    assert conn.answered == len(conn.sent) == 2  # page 2 was asked, and has been answered
    time.sleep(0.3)
    assert len(conn.sent) == 2


@pytest.mark.usefixtures("no_page_thread")
def test_the_next_page_runs_as_the_callers_part() -> None:
    """On a collect's worker the page asked ahead belongs to the part: once a part before it
    fails, it is not sent (:class:`Aborted`), as a sequential run would not send it."""
    conn = ScriptedConnection(pages_of(KEYS))
    session = session_of(conn, page_size=3)
    queries = session.queries
    queries.abort_after = 5
    task = Task("logs", 2)

    def earlier_part_fails(body: dict[str, Any]) -> None:
        queries.abort_after = 1  # while page 1 is on its way

    conn.on_send = earlier_part_fails
    scan, _, _ = message_scan(session, budget=100)
    queries.set_task(task)
    try:
        with pytest.raises(Aborted):
            scan.run()
    finally:
        queries.set_task(None)
    assert asked(conn) == [None]
    assert [r.id for r in task.recorder.records] == ["logs:q\x002.1\x00"]
