"""Error signatures: the error and warning lines of the window and the baseline, folded into
the few messages they really are, counted by the server.

A ``composite`` aggregation paged with ``after_key`` (``page_size`` buckets a page) runs over
``error.type`` for documents that carry one, then over the keyword form of the message for
those that do not; the server computes the next page while this one is folded (the requests
are still a sequential run's, one at a time). Messages are folded client-side by
:func:`connectors.signatures.normalise` (no painless needed) and merged per signature:
count, first and last seen, services, and the same over the baseline (count, first and last seen: a signature seen in the baseline only
once the incident had begun there is still the incident's own). The bounds: at most ``signatures.max_distinct_messages`` distinct raw
messages are read (the rest is reported as a warning with its document count), and at most
``signatures.max_tracked`` signatures are held in memory. Messages too long for the keyword
sub-field (``ignore_above``), or a message field without one, are read as documents — at most
``signatures.max_unaggregated`` of them, with ``search_after`` — and folded the same way.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.signatures import normalise, redact_then_cut, truncate
from connectors.toolkit.failures import RequestFailed
from pmrecon.model import ErrorSignature, QueryRecord, Warning

from .answers import as_int, get_path, ms_to_dt, sort_ms, total
from .documents import iter_hits
from .dsl import count_body
from .identity import document_service, identity_fields, service_names, services_agg
from .queries import Queries
from .session import CollectSession


@dataclass
class SignatureCounts:
    """One signature's lines in the window: how many, when, from which services, and the
    earliest example (with its document's ``(_index, _id)``)."""

    count: int = 0
    first: int = 0  # epoch ms
    last: int = 0
    services: set[str] = field(default_factory=set)
    example: str | None = None
    example_at: int | None = None
    key: tuple[str, str] | None = None  # (_index, _id) of the example's document

    def add(
        self,
        n: int,
        first: int | None,
        last: int | None,
        services: list[str],
        example: str | None,
        key: tuple[str, str] | None = None,
    ) -> None:
        if n <= 0:
            return
        if first is not None and (self.count == 0 or first < self.first):
            self.first = first
        if last is not None and (self.count == 0 or last > self.last):
            self.last = last
        self.count += n
        for s in services:
            if len(self.services) < 20:
                self.services.add(s)
        if example is not None and (self.example_at is None or (first or 0) < self.example_at):
            self.example = example
            self.example_at = first
            self.key = key


@dataclass
class BaselineCounts:
    """One signature's lines in the baseline: how many, and the first and last (epoch ms)."""

    count: int = 0
    first: int | None = None
    last: int | None = None

    def add(self, n: int, first: int | None, last: int | None) -> None:
        self.count += n
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last


@dataclass
class SignatureTally:
    """Signatures merged client-side, with a bound on how many are held."""

    limit: int
    window: dict[str, SignatureCounts] = field(default_factory=dict)
    baseline: dict[str, BaselineCounts] = field(default_factory=dict)
    dropped_window_docs: int = 0
    dropped_baseline_docs: int = 0
    refs: dict[str, str] = field(default_factory=dict)

    def add_window(
        self,
        sig: str,
        n: int,
        first: int | None,
        last: int | None,
        services: list[str],
        example: str | None,
        ref: str | None,
        key: tuple[str, str] | None = None,
    ) -> None:
        if n <= 0:
            return
        acc = _held(self.window, sig, self.limit, SignatureCounts)
        if acc is None:
            self.dropped_window_docs += n
            return
        if ref:
            self.refs.setdefault(sig, ref)
        acc.add(n, first, last, services, example, key)

    def add_baseline(self, sig: str, n: int, first: int | None, last: int | None) -> None:
        if n <= 0:
            return
        acc = _held(self.baseline, sig, self.limit, BaselineCounts)
        if acc is None:
            self.dropped_baseline_docs += n
            return
        acc.add(n, first, last)


_Counts = TypeVar("_Counts")


def _held(
    table: dict[str, _Counts], sig: str, limit: int, new: Callable[[], _Counts]
) -> _Counts | None:
    """``sig``'s counts in ``table``, made if fewer than ``limit`` are held; else ``None``."""
    acc = table.get(sig)
    if acc is None and len(table) < limit:
        acc = table[sig] = new()
    return acc


@dataclass
class SignatureScan:
    """The signatures kept, and the documents where the new ones first appear (the samples
    show them)."""

    signatures: list[ErrorSignature]
    new_keys: list[tuple[str, str]]


@dataclass
class _Budget:
    """Distinct raw values still to read, shared by the scans of one collect."""

    left: int


def error_signatures(session: CollectSession, warnings: list[Warning]) -> SignatureScan:
    """The ``signatures.top`` most frequent signatures of the window (and new ones besides)."""
    tally = SignatureTally(limit=max(1, int(session.settings["signatures"]["max_tracked"])))
    try:
        _scan(session, tally, warnings)
    except RequestFailed as exc:
        if exc.fatal:
            raise
        warnings.append(
            Warning(
                session.name,
                f"{exc}; error signatures are incomplete",
                code="signatures_failed",
                params={"kind": exc.kind},
            )
        )
    if tally.dropped_window_docs or tally.dropped_baseline_docs:
        warnings.append(
            session.warning(
                "signatures_truncated",
                f"more than {tally.limit} distinct signatures: "
                f"{tally.dropped_window_docs} window and {tally.dropped_baseline_docs} baseline "
                f"error lines were not attributed (raise signatures.max_tracked)",
                setting="signatures.max_tracked",
            )
        )
    return _pick(session, tally)


def _scan(session: CollectSession, tally: SignatureTally, warnings: list[Warning]) -> None:
    """Lines with an error type by type; the others by message (its keyword form), then one by
    one where the message has no keyword value."""
    cfg = session.settings["signatures"]
    budget = _Budget(max(1, int(cfg["max_distinct_messages"])))
    max_len = int(cfg["max_length"])
    prefold = session.redaction.prefold
    periods = [session.time_range(session.start, session.end)]
    if session.has_baseline:
        periods.append(session.time_range(session.baseline_start, session.baseline_end))
    base_query: list[dict[str, Any]] = [
        {"bool": {"should": periods, "minimum_should_match": 1}},
        session.levels_query([*session.error_levels, *session.warning_levels]),
        *session.filters,
    ]
    err_type = session.fields.get("error_type")
    msg = session.fields["message"]
    if err_type is not None and err_type.agg:
        _CompositeScan(
            session,
            "error signatures by error type",
            err_type.agg,
            [*base_query, {"exists": {"field": err_type.name}}],
            tally,
            budget,
            lambda key: truncate(" ".join(prefold(str(key)).split()), max_len) or "(empty)",
            warnings,
        ).run()
    no_type: list[dict[str, Any]] = []
    if err_type is not None:
        no_type = [{"bool": {"must_not": [{"exists": {"field": err_type.name}}]}}]
    unkeyed = 0
    if msg.agg:
        unkeyed = _CompositeScan(
            session,
            "error signatures by normalised message",
            msg.agg,
            [*base_query, *no_type],
            tally,
            budget,
            lambda key: normalise(prefold(str(key)), max_len),
            warnings,
            key_is_message=True,
        ).run()
    if unkeyed or not msg.agg:
        must_not = [{"exists": {"field": msg.agg}}] if msg.agg else []
        _unaggregated_scan(
            session,
            [*base_query, *no_type, *([{"bool": {"must_not": must_not}}] if must_not else [])],
            tally,
            max_len,
            warnings,
            reason=(
                f"messages longer than the keyword sub-field {msg.agg!r} keeps (ignore_above)"
                if msg.agg
                else f"field {msg.name!r} has no keyword sub-field"
            ),
        )


class _CompositeScan:
    """A composite aggregation over ``agg_field``, paged with ``after_key``, its buckets
    folded into ``tally``; :meth:`run` returns the window+baseline count of documents without
    a value (the missing bucket).

    ``key_is_message``: the bucket key is the raw message itself, so the example document is
    asked for without its ``_source`` (a smaller page)."""

    def __init__(
        self,
        session: CollectSession,
        purpose: str,
        agg_field: str,
        query: list[dict[str, Any]],
        tally: SignatureTally,
        budget: _Budget,
        fold: Callable[[Any], str],
        warnings: list[Warning],
        key_is_message: bool = False,
    ) -> None:
        self.session = session
        self.purpose = purpose
        self.agg_field = agg_field
        self.query = query
        self.tally = tally
        self.budget = budget
        self.fold = fold
        self.warnings = warnings
        self.key_is_message = key_is_message
        self.page = max(1, min(int(session.settings["signatures"]["page_size"]), 10_000))
        self.pages = 0
        self.buckets_read = 0
        self.missing = 0
        self.stopped_docs = 0  # window lines past the bound on distinct values

    def run(self) -> int:
        s = self.session
        body = self._body()
        composite = body["aggs"]["sig"]["composite"]
        rec = s.queries.record(
            self.purpose, body, endpoint=f"/{s.index}/_search", window=s.scan_window, index=s.index
        )

        def ask() -> dict[str, Any]:
            return s.queries.search(
                body, purpose=self.purpose, window=None, warnings=self.warnings, record=rec
            )

        # The server computes page N+1 while page N is folded: its after_key and whether a
        # sequential run would ask for it at all are known before the fold. The requests, their
        # order and bodies stay a sequential run's: one in flight, the body left alone meanwhile.
        with _NextPage(s.queries) as next_page:
            ans = ask()
            while True:
                self.pages += 1
                agg = (ans.get("aggregations") or {}).get("sig") or {}
                buckets = agg.get("buckets") or []
                after: Any = agg.get("after_key")
                last = not buckets or after is None or len(buckets) < self.page
                spent = not last and self.budget.left <= _keyed(buckets)  # none left once folded
                if not last and not spent:
                    composite["after"] = after
                    next_page.ask(ask)
                for b in buckets:
                    self._take(b, rec.id)
                if last:
                    break
                if spent:
                    # count what the bound leaves out without reading it bucket by bucket
                    self.stopped_docs += _count_after(
                        s, self.query, self.agg_field, after, self.warnings
                    )
                    break
                ans = next_page.answer()  # its failure is raised here, as a sequential run's
        composite.pop("after", None)
        self._finish(rec, body)
        return self.missing

    def _body(self) -> dict[str, Any]:
        """The first page's request: per value, its window lines (first, last, services, an
        example) and its baseline lines."""
        s = self.session
        ts = s.fields["timestamp"].name
        msg = s.fields["message"].name
        source: Any = False if self.key_is_message else {"includes": [msg]}
        baseline = (
            s.time_range(s.baseline_start, s.baseline_end) if s.has_baseline else {"match_none": {}}
        )
        terms = {"terms": {"field": self.agg_field, "missing_bucket": True}}
        return {
            "size": 0,
            "query": {"bool": {"filter": self.query}},
            "aggs": {
                "sig": {
                    "composite": {"size": self.page, "sources": [{"k": terms}]},
                    "aggs": {
                        "w": {
                            "filter": s.time_range(s.start, s.end),
                            "aggs": {
                                "first": {"min": {"field": ts}},
                                "last": {"max": {"field": ts}},
                                "services": services_agg(s.settings, s.fields, 10),
                                "example": {
                                    "top_hits": {
                                        "size": 1,
                                        "sort": [{ts: {"order": "asc"}}],
                                        "_source": source,
                                    }
                                },
                            },
                        },
                        "b": {
                            "filter": baseline,
                            "aggs": {
                                "first": {"min": {"field": ts}},
                                "last": {"max": {"field": ts}},
                            },
                        },
                    },
                }
            },
        }

    def _take(self, bucket: Mapping[str, Any], ref: str) -> None:
        """Fold one bucket (one distinct value) into the tally, within the budget."""
        key = _value(bucket)
        wb = bucket.get("w") or {}
        bb = bucket.get("b") or {}
        if key is None:
            self.missing += int(wb.get("doc_count") or 0) + int(bb.get("doc_count") or 0)
            return
        if self.budget.left <= 0:
            self.stopped_docs += int(wb.get("doc_count") or 0)
            return
        self.budget.left -= 1
        self.buckets_read += 1
        sig = self.fold(key)
        n = int(wb.get("doc_count") or 0)
        if n:
            example, doc = self._example(key, wb)
            self.tally.add_window(
                sig,
                n,
                as_int((wb.get("first") or {}).get("value")),
                as_int((wb.get("last") or {}).get("value")),
                service_names(wb.get("services") or {}),
                example,
                ref,
                doc,
            )
        self.tally.add_baseline(
            sig,
            int(bb.get("doc_count") or 0),
            as_int((bb.get("first") or {}).get("value")),
            as_int((bb.get("last") or {}).get("value")),
        )

    def _example(
        self, key: Any, wb: Mapping[str, Any]
    ) -> tuple[str | None, tuple[str, str] | None]:
        """The bucket's earliest line, and its document's ``(_index, _id)``."""
        hits = ((wb.get("example") or {}).get("hits") or {}).get("hits") or []
        msg = self.session.fields["message"].name
        example = (
            key
            if self.key_is_message
            else get_path(hits[0].get("_source") or {}, msg)
            if hits
            else None
        )
        doc = (str(hits[0].get("_index")), str(hits[0].get("_id"))) if hits else None
        return (str(example) if example is not None else None), doc

    def _finish(self, rec: QueryRecord, body: dict[str, Any]) -> None:
        rec.query = body
        rec.purpose = f"{self.purpose} (composite aggregation, {self.pages} page(s) of up to {self.page} buckets)"
        rec.result_count = self.buckets_read
        if self.stopped_docs:
            bound = self.session.settings["signatures"]["max_distinct_messages"]
            self.warnings.append(
                self.session.warning(
                    "signatures_truncated",
                    f"{self.purpose}: stopped after {bound} distinct values; "
                    f"{self.stopped_docs} error lines in the window are not in any signature "
                    f"(raise signatures.max_distinct_messages)",
                    setting="signatures.max_distinct_messages",
                )
            )


def _value(bucket: Mapping[str, Any]) -> Any:
    """A composite bucket's value (None: the bucket of documents without one)."""
    return (bucket.get("key") or {}).get("k")


def _keyed(buckets: list[Any]) -> int:
    """The buckets of a page that :meth:`_CompositeScan._take` counts against the budget (a
    value, not the missing bucket)."""
    return sum(1 for b in buckets if _value(b) is not None)


class _NextPage:
    """A scan's next page, asked on a worker thread while the caller folds the current one.

    At most one request is in flight; it runs as the caller's part (:mod:`.parallel`: the
    same records, and it stops when an earlier part failed). Meanwhile the caller only folds:
    it leaves the body, the record (the request adds its time and size) and the warnings
    (shard failures) to the request. Leaving the ``with`` block waits for a request still in
    flight (its answer unread) and ends the thread, so nothing runs on once the scan is over."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries
        self.task = queries.task()
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.pending: concurrent.futures.Future[dict[str, Any]] | None = None

    def __enter__(self) -> _NextPage:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def ask(self, search: Callable[[], dict[str, Any]]) -> None:
        """Send ``search()`` on the worker thread."""
        assert self.pending is None, "one page in flight at most"
        if self.pool is None:
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"pmrecon-{self.queries.name}-pages"
            )
        self.pending = self.pool.submit(self._as_caller, search)

    def _as_caller(self, search: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self.queries.running_as(self.task):
            return search()

    def answer(self) -> dict[str, Any]:
        """The answer to the page asked for; its :class:`RequestFailed` is raised here."""
        pending, self.pending = self.pending, None
        assert pending is not None, "no page asked for"
        return pending.result()


def _count_after(
    session: CollectSession,
    query: list[dict[str, Any]],
    agg_field: str,
    after: Mapping[str, Any],
    warnings: list[Warning],
) -> int:
    """Window lines whose value sorts after ``after`` (the last key read)."""
    value = after.get("k")
    if value is None:
        return 0

    def body(after_value: Any) -> dict[str, Any]:
        past = {"range": {agg_field: {"gt": after_value}}}
        return count_body([*query, session.time_range(session.start, session.end), past])

    purpose = "error lines beyond the signature bound"
    # the evidence keeps the key redacted: it is a raw log message
    rec = session.queries.record(
        purpose,
        body(session.redaction.prefold(str(value))),
        endpoint=f"/{session.index}/_search",
        window=(session.start, session.end),
        index=session.index,
    )
    ans = session.queries.search(
        body(value), purpose=purpose, window=None, warnings=warnings, record=rec
    )
    rec.result_count = total(ans)
    return rec.result_count


def _unaggregated_scan(
    session: CollectSession,
    query: list[dict[str, Any]],
    tally: SignatureTally,
    max_len: int,
    warnings: list[Warning],
    reason: str,
) -> None:
    """Fold lines one by one (their message has no keyword value), at most
    ``signatures.max_unaggregated`` of them."""
    f = session.fields
    msg, ts = f["message"].name, f["timestamp"].name
    parts = identity_fields(session.settings, f)
    limit = max(0, int(session.settings["signatures"]["max_unaggregated"]))
    seen = 0
    rec_holder: list[QueryRecord] = []
    for hit in iter_hits(
        session,
        query,
        [msg, ts, *(p.name for p in parts)],
        limit,
        purpose=f"error signatures of unaggregatable messages ({reason})",
        window=session.scan_window,
        warnings=warnings,
        record_out=rec_holder,
    ):
        seen += 1
        src = hit.get("_source") or {}
        at = sort_ms(hit)
        text = get_path(src, msg)
        sig = normalise(session.redaction.prefold(str(text or "")), max_len)
        if at is not None and session.start <= at < session.end:
            service = document_service(parts, src)
            tally.add_window(
                sig,
                1,
                at,
                at,
                [str(service)] if service is not None else [],
                str(text) if text is not None else None,
                rec_holder[0].id if rec_holder else None,
                (str(hit.get("_index")), str(hit.get("_id"))),
            )
        elif at is not None and session.baseline_start <= at < session.baseline_end:
            tally.add_baseline(sig, 1, at, at)
    rec = rec_holder[0] if rec_holder else None
    found = rec.result_count if rec is not None else None
    if found is not None and found > seen:
        warnings.append(
            session.warning(
                "signatures_truncated",
                f"{found} error lines have {reason}; only the first "
                f"{seen} were read for signatures (raise signatures.max_unaggregated)",
                setting="signatures.max_unaggregated",
            )
        )


def _pick(session: CollectSession, tally: SignatureTally) -> SignatureScan:
    """The ``top`` most frequent signatures, and up to ``top // 2`` more new ones, redacted."""
    top = max(1, int(session.settings["signatures"]["top"]))
    has_baseline = session.has_baseline
    redaction = session.redaction
    items = sorted(tally.window.items(), key=lambda kv: (-kv[1].count, kv[0]))
    kept = items[:top]
    names = {k for k, _ in kept}
    new_extra = [kv for kv in items[top:] if has_baseline and kv[0] not in tally.baseline][
        : max(1, top // 2)
    ]
    new_keys = [
        acc.key
        for sig, acc in kept
        if has_baseline and acc.key is not None and sig not in tally.baseline
    ]
    max_chars = int(session.settings["samples"]["max_chars"])
    out = []
    for sig, acc in kept + [kv for kv in new_extra if kv[0] not in names]:
        base = tally.baseline.get(sig)
        redaction.count_masks(sig)
        out.append(
            ErrorSignature(
                signature=redaction.redact(sig),
                count=acc.count,
                first_seen=ms_to_dt(acc.first),
                last_seen=ms_to_dt(acc.last),
                services=sorted(acc.services),
                new_since_baseline=has_baseline and base is None,
                baseline_count=base.count if base is not None else 0,
                baseline_first_seen=_time(base.first if base is not None else None),
                baseline_last_seen=_time(base.last if base is not None else None),
                example=redact_then_cut(acc.example, max_chars, redaction.redact)
                if acc.example
                else None,
                query_ref=tally.refs.get(sig),
            )
        )
    return SignatureScan(out, new_keys)


def _time(at_ms: int | None) -> dt.datetime | None:
    return ms_to_dt(at_ms) if at_ms is not None else None
