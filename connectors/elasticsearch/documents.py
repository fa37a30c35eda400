"""Documents read one by one: sample error lines and change events.

- samples: a few error lines at the first error and at the error peak, and the first line of
  the most frequent new signatures, long fields truncated;
- change events: a configurable query (default: ``event.category`` deployment/configuration or
  deploy/rollback/config tags), read with ``search_after`` over the window and, newest first,
  over the baseline period before it.

Pagination of documents uses a point in time (PIT) and ``search_after`` on the timestamp and
the flavour's tiebreaker (``_shard_doc``; ``_id`` on OpenSearch, which lacks it); ``from``/``size``
is never used beyond the first page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.signatures import redact_then_cut
from connectors.toolkit.failures import RequestFailed
from pmrecon.model import Event, LogSample, QueryRecord, Warning

from .answers import get_path, ms_to_dt, sort_ms, strip_pit, total
from .queries import Queries, index_path
from .session import CollectSession
from .settings import DEFAULT_CHANGE_CATEGORIES, DEFAULT_CHANGE_TAGS

#: The fields a sample keeps, by config key; after the first four, as its ``fields``.
SAMPLE_FIELDS = (
    "timestamp",
    "level",
    "message",
    "service",
    "error_type",
    "error_message",
    "host",
    "trace_id",
)


def iter_hits(
    session: CollectSession,
    query: list[dict[str, Any]],
    source_fields: list[str],
    limit: int,
    *,
    purpose: str,
    window: tuple[int, int],
    warnings: list[Warning],
    record_out: list[QueryRecord] | None = None,
    page_size: int = 500,
    newest_first: bool = False,
) -> Iterator[dict[str, Any]]:
    """Up to ``limit`` hits sorted by time (oldest first unless ``newest_first``): one page,
    or a PIT with ``search_after``."""
    if limit <= 0:
        return
    queries = session.queries
    ts = session.fields["timestamp"].name
    body: dict[str, Any] = {
        "size": min(limit, page_size),
        "track_total_hits": True,
        "query": {"bool": {"filter": query}},
        "sort": [_ordered(queries.connection.flavour.time_sort(ts), newest_first)],
        "_source": {"includes": source_fields},
    }
    rec = queries.record(
        purpose,
        dict(body),
        endpoint=f"/{session.index}/_search",
        window=window,
        index=session.index,
    )
    if record_out is not None:
        record_out.append(rec)
    if limit <= page_size:
        ans = queries.search(body, purpose=purpose, window=None, warnings=warnings, record=rec)
        rec.result_count = total(ans)
        yield from ((ans.get("hits") or {}).get("hits") or [])[:limit]
        return
    yield from _pit_pages(queries, body, rec, limit, purpose, warnings, page_size, newest_first)


def _ordered(sort: dict[str, Any], newest_first: bool) -> dict[str, Any]:
    """A sort clause (``{field: "asc"}`` or ``{field: {"order": ...}}``), descending when
    ``newest_first``."""
    if not newest_first:
        return sort
    return {
        name: {**spec, "order": "desc"} if isinstance(spec, Mapping) else "desc"
        for name, spec in sort.items()
    }


def _pit_pages(
    queries: Queries,
    body: dict[str, Any],
    rec: QueryRecord,
    limit: int,
    purpose: str,
    warnings: list[Warning],
    page_size: int,
    newest_first: bool = False,
) -> Iterator[dict[str, Any]]:
    """The hits of ``body`` page after page over a point in time, closed at the end."""
    pit_id = _open_pit(queries, rec)
    tiebreaker = queries.connection.flavour.pit.tiebreaker
    body["sort"].append(_ordered(dict(tiebreaker), newest_first))
    rec.query = strip_pit({**body, "pit": {"id": "<pit>", "keep_alive": "1m"}})
    rec.purpose = f"{purpose} (search_after over a point in time)"
    served = 0
    pages = 0
    try:
        while served < limit:
            body["size"] = min(page_size, limit - served)
            body["pit"] = {"id": pit_id, "keep_alive": "1m"}
            ans = queries.search(
                body, purpose=purpose, window=None, warnings=warnings, record=rec, index=""
            )
            pages += 1
            if pages == 1:
                rec.result_count = total(ans)
                body["track_total_hits"] = False
            pit_id = ans.get("pit_id") or pit_id
            hits = (ans.get("hits") or {}).get("hits") or []
            for h in hits:
                served += 1
                yield h
            if len(hits) < body["size"]:
                break
            body["search_after"] = hits[-1].get("sort")
    finally:
        _close_pit(queries, pit_id, rec)
        rec.purpose = f"{purpose} (search_after over a point in time, {pages} page(s))"


def _open_pit(queries: Queries, rec: QueryRecord) -> str:
    pit = queries.connection.flavour.pit
    ans = queries.raw(
        "POST",
        index_path(queries.index, pit.open_endpoint),
        params={"keep_alive": "1m", "ignore_unavailable": "true"},
        record=rec,
        context="opening a point in time",
    )
    pit_id = ans.get(pit.id_key) if isinstance(ans, Mapping) else None
    if not pit_id:
        raise RequestFailed(
            f"{queries.connection.where()}: no point in time id in the answer", "bad_query", False
        )
    return str(pit_id)


def _close_pit(queries: Queries, pit_id: str, rec: QueryRecord) -> None:
    # a point in time left open expires by itself after keep_alive
    pit = queries.connection.flavour.pit
    with contextlib.suppress(RequestFailed):
        queries.raw(
            "DELETE",
            pit.close_path,
            body=pit.close_body(pit_id),
            record=rec,
            context="closing a point in time",
            abortable=False,  # even when stopped: it frees the server's resources at once
        )


# --------------------------------------------------------------------------- samples


def samples(
    session: CollectSession,
    first_ms: int | None,
    peak_ms: int | None,
    new_keys: list[tuple[str, str]],
    warnings: list[Warning],
) -> list[LogSample]:
    """Error lines from the first error on, at the peak, and where new signatures begin."""
    if first_ms is None:
        return []
    out: list[LogSample] = []
    seen: set[tuple[str | None, str | None]] = set()
    sample_fields = [session.fields[k].name for k in SAMPLE_FIELDS if k in session.fields]
    for reason, a, b, query, n in _sample_plans(session, first_ms, peak_ms, new_keys):
        if n <= 0:
            continue
        recs: list[QueryRecord] = []
        try:
            for hit in iter_hits(
                session,
                [session.time_range(a, b), *query, *session.filters],
                sample_fields,
                n,
                purpose=f"sample log lines ({reason.replace('_', ' ')})",
                window=(a, b),
                warnings=warnings,
                record_out=recs,
            ):
                key = (hit.get("_index"), hit.get("_id"))
                if key in seen:
                    continue
                seen.add(key)
                out.append(_to_sample(session, hit, reason, recs[0].id))
        except RequestFailed as exc:
            if exc.fatal:
                raise
            warnings.append(
                Warning(session.name, str(exc), code="samples_failed", params={"kind": exc.kind})
            )
    return out


def _sample_plans(
    session: CollectSession, first_ms: int, peak_ms: int | None, new_keys: list[tuple[str, str]]
) -> list[tuple[str, int, int, list[dict[str, Any]], int]]:
    """What to sample: (reason, from, to, query, how many lines)."""
    cfg = session.settings["samples"]
    errors = session.levels_query(session.error_levels)
    plans: list[tuple[str, int, int, list[dict[str, Any]], int]] = []
    # the first line of each new signature (where the incident's own errors begin), found
    # by document id: no log content goes into a query, so none into the evidence either
    docs = new_keys[: max(0, int(cfg["new_signatures"]))]
    if docs:
        by_id = [
            {"bool": {"filter": [{"term": {"_index": index}}, {"ids": {"values": [doc_id]}}]}}
            for index, doc_id in docs
        ]
        plans.append(
            (
                "new_signature",
                session.start,
                session.end,
                [{"bool": {"should": by_id, "minimum_should_match": 1}}],
                len(docs),
            )
        )
    plans.append(("first_error", first_ms, session.end, [errors], int(cfg["first_errors"])))
    if peak_ms is not None:
        end = min(session.end, peak_ms + session.interval * 1000)
        plans.append(("peak", peak_ms, end, [errors], int(cfg["peak"])))
    return plans


def _to_sample(session: CollectSession, hit: Mapping[str, Any], reason: str, ref: str) -> LogSample:
    f = session.fields
    src = hit.get("_source") or {}
    cfg = session.settings["samples"]
    at = sort_ms(hit)
    redact = session.redaction.redact

    def get(key: str) -> str | None:
        info = f.get(key)
        if info is None:
            return None
        v = get_path(src, info.name)
        return None if v is None else str(v)

    extras: dict[str, str] = {}
    for key in SAMPLE_FIELDS[4:]:
        v = get(key)
        if v is not None:
            extras[f[key].name] = redact_then_cut(v, int(cfg["max_field_chars"]), redact)
    return LogSample(
        timestamp=ms_to_dt(at if at is not None else 0),
        level=get("level"),
        service=get("service"),
        message=redact_then_cut(get("message") or "", int(cfg["max_chars"]), redact),
        fields=extras,
        reason=reason,
        query_ref=ref,
    )


# --------------------------------------------------------------------------- change events


def change_kind(action: Any, tags: Any, message: str) -> str:
    """deploy, rollback, config_change or change, from the action, the tags or the message."""
    words = " ".join(
        str(x).lower()
        for x in ([action] if action is not None else [])
        + (tags if isinstance(tags, list) else [tags] if tags is not None else [])
    )
    for text in (str(action or "").lower(), words, message.lower()):
        if "rollback" in text or "roll back" in text or "rolled back" in text or "revert" in text:
            return "rollback"
        if "config" in text:
            return "config_change"
        if "deploy" in text or "release" in text:
            return "deploy"
    return "change"


def _change_query(session: CollectSession) -> dict[str, Any]:
    cfg = session.settings["changes"]
    if cfg["query"]:
        return dict(cfg["query"])
    should: list[dict[str, Any]] = []
    cat = session.fields.get("event_category")
    if cat is not None:
        should.append({"terms": {cat.agg or cat.name: DEFAULT_CHANGE_CATEGORIES}})
    if cfg["tags_field"]:
        should.append({"terms": {str(cfg["tags_field"]): DEFAULT_CHANGE_TAGS}})
    return {"bool": {"should": should or [{"match_none": {}}], "minimum_should_match": 1}}


def changes(session: CollectSession, warnings: list[Warning]) -> list[Event]:
    """Deploys, rollbacks and config changes in the window and, newest first, in the baseline
    period before it (the change behind an incident often predates the window chosen): at
    most ``changes.max_events`` of each."""
    limit = max(0, int(session.settings["changes"]["max_events"]))
    try:
        window, read = _read_changes(session, session.start, session.end, limit, warnings)
        if read is not None and read > len(window):
            warnings.append(
                session.warning(
                    "changes_truncated",
                    f"{read} change events in the window; only the "
                    f"first {len(window)} were read (raise changes.max_events)",
                    total=read,
                    read=len(window),
                )
            )
        if not session.has_baseline:
            return window
        start, end = session.baseline_start, min(session.baseline_end, session.start)
        before, read = _read_changes(session, start, end, limit, warnings, newest_first=True)
    except RequestFailed as exc:
        if exc.fatal:
            raise
        warnings.append(
            Warning(
                session.name,
                f"{exc}; change events are missing",
                code="changes_failed",
                params={"kind": exc.kind},
            )
        )
        return []
    if read is not None and read > len(before):
        warnings.append(
            session.warning(
                "changes_before_truncated",
                f"{read} change events in the baseline period before the window; only the "
                f"latest {len(before)} were read (raise changes.max_events)",
                total=read,
                read=len(before),
            )
        )
    return sorted(before, key=lambda e: e.at) + window


def _read_changes(
    session: CollectSession,
    start: int,
    end: int,
    limit: int,
    warnings: list[Warning],
    newest_first: bool = False,
) -> tuple[list[Event], int | None]:
    """The change events from ``start`` to ``end`` (epoch ms), and how many matched."""
    cfg = session.settings["changes"]
    f = session.fields
    named = [str(cfg[k] or "") for k in ("kind_field", "version_field", "tags_field")]
    wanted = [f["message"].name, f["service"].name, f["timestamp"].name]
    wanted += [x for x in named if x]
    where = "window" if start >= session.start else "baseline period, newest first"
    out: list[Event] = []
    rec_holder: list[QueryRecord] = []
    for hit in iter_hits(
        session,
        [session.time_range(start, end), _change_query(session), *session.filters],
        wanted,
        limit,
        purpose=f"change events (deploys, rollbacks, config changes) in the {where}",
        window=(start, end),
        warnings=warnings,
        record_out=rec_holder,
        newest_first=newest_first,
    ):
        event = _to_event(session, hit, named, rec_holder[0].id if rec_holder else None)
        if event is not None:
            out.append(event)
    return out, rec_holder[0].result_count if rec_holder else None


def _to_event(
    session: CollectSession, hit: Mapping[str, Any], named: list[str], ref: str | None
) -> Event | None:
    """A change event from its document; ``named``: the kind, version and tags fields."""
    kind_field, version_field, tags_field = named
    f = session.fields
    src = hit.get("_source") or {}
    at = sort_ms(hit)
    if at is None:
        return None
    action = get_path(src, kind_field) if kind_field else None
    tags = get_path(src, tags_field) if tags_field else None
    message = str(get_path(src, f["message"].name) or "")
    kind = change_kind(action, tags, message)
    labels: dict[str, str] = {}
    service = get_path(src, f["service"].name)
    if service is not None:
        labels["service"] = str(service)
    version = get_path(src, version_field) if version_field else None
    if version is not None:
        labels["version"] = str(version)
    if action is not None:
        labels["action"] = str(action)
    text = message or f"{kind} {labels.get('service', '')}".strip()
    max_chars = int(session.settings["samples"]["max_chars"])
    return Event(
        at=ms_to_dt(at),
        kind=kind,
        source=session.name,
        text=redact_then_cut(text, max_chars, session.redaction.redact),
        ref=ref,
        labels=labels,
    )
