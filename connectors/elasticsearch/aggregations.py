"""The counts of a collect, each one aggregation computed by Elasticsearch.

- log volume per level and error counts per service: ``terms`` × ``date_histogram`` with a
  ``fixed_interval`` adapted to the window (at most ``max_buckets`` buckets, aligned on the
  window's start with ``offset``), error levels matched case-insensitively;
- impacted users: ``cardinality`` of ``user.id`` over error documents (precision threshold
  40,000: exact below that, about ±1 % above);
- error lines in the baseline: a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.toolkit.failures import RequestFailed
from pmrecon.model import Histogram, QueryRecord, Warning

from .answers import total
from .dsl import count_body
from .identity import (
    identity_fields,
    left_out_parts,
    readable_name,
    service_query,
    with_part,
)
from .mappings import FieldInfo
from .session import CollectSession

CARDINALITY_PRECISION = 40_000  # Elasticsearch's maximum: exact counts below it
#: Combinations of identity values read per page, and the most pages read: a million
#: services with errors in one window is beyond any incident.
COMPOSITE_PAGE = 1000
MAX_COMPOSITE_PAGES = 1000


@dataclass
class ErrorCounts:
    """Error lines per service over time, their number, the first one and the busiest bucket
    (epoch ms)."""

    histogram: Histogram
    total: int
    first: int | None
    peak: int | None


def histogram_agg(session: CollectSession) -> dict[str, Any]:
    """Buckets of ``interval`` seconds over the window, aligned on its start, empty ones kept."""
    start, end, interval = session.start, session.end, session.interval
    step = interval * 1000
    offset = start % step
    return {
        "date_histogram": {
            "field": session.fields["timestamp"].name,
            "fixed_interval": f"{interval}s",
            "offset": f"+{offset}ms" if offset else "0ms",
            "min_doc_count": 0,
            "extended_bounds": {"min": start, "max": end - 1},
        }
    }


def _terms_over_time(session: CollectSession, field: str, size: int) -> dict[str, Any]:
    """The ``size`` most frequent values of ``field`` (documents without one as "(none)"),
    each with its histogram."""
    return {
        "terms": {"field": field, "size": size, "missing": "(none)"},
        "aggs": {"t": histogram_agg(session)},
    }


def _search_window(
    session: CollectSession, body: dict[str, Any], purpose: str, warnings: list[Warning]
) -> tuple[dict[str, Any], QueryRecord]:
    """One search over the window, and its record."""
    ans = session.queries.search(
        body, purpose=purpose, window=(session.start, session.end), warnings=warnings
    )
    return ans, session.queries.last_record()


def _grid(session: CollectSession) -> list[int]:
    return list(range(session.start, session.end, session.interval * 1000))


def _fill(
    grid: list[int], buckets: list[Mapping[str, Any]], counts: list[int] | None = None
) -> list[int]:
    """``counts`` (zeros if None) plus the histogram ``buckets`` laid on ``grid``."""
    out = counts if counts is not None else [0] * len(grid)
    if not grid:
        return out
    step = (grid[1] - grid[0]) if len(grid) > 1 else 1
    for b in buckets:
        key = int(b.get("key") or 0)
        i = (key - grid[0]) // step
        if 0 <= i < len(out) and (len(grid) > 1 or key == grid[0]):
            out[i] += int(b.get("doc_count") or 0)
    return out


def _histogram(
    session: CollectSession, grid: list[int], counts: dict[str, list[int]], ref: str
) -> Histogram:
    return Histogram(
        float(session.interval), [t / 1000 for t in grid], dict(sorted(counts.items())), ref
    )


def volume(session: CollectSession, warnings: list[Warning]) -> tuple[Histogram, int]:
    """Log lines per level over time, and their number."""
    f = session.fields
    lvl = f["level"].agg or f["level"].name
    body = count_body(
        [session.time_range(session.start, session.end), *session.filters],
        {"levels": _terms_over_time(session, lvl, 100)},
    )
    ans, rec = _search_window(session, body, "log volume per level over time", warnings)
    grid = _grid(session)
    counts: dict[str, list[int]] = {}
    agg = (ans.get("aggregations") or {}).get("levels") or {}
    for b in agg.get("buckets") or []:
        key = str(b.get("key_as_string") or b.get("key")).lower()
        counts[key] = _fill(grid, (b.get("t") or {}).get("buckets") or [], counts.get(key))
    if agg.get("sum_other_doc_count"):
        warnings.append(
            session.warning(
                "too_many_levels",
                f"more than 100 distinct levels; "
                f"{agg['sum_other_doc_count']} documents of rarer levels are not in the level histogram",
                documents=agg["sum_other_doc_count"],
            )
        )
    count = total(ans)
    rec.result_count = count
    return _histogram(session, grid, counts, rec.id), count


def errors(session: CollectSession, warnings: list[Warning]) -> ErrorCounts:
    """Error lines per service over time (the ``max_services`` busiest, the rest summed as
    "(other)"), their number, the first one and the busiest bucket.

    A service named by several fields (``identity``) is counted in two steps: its busiest
    combinations of values first (a ``composite`` aggregation, paged), then one ``filters``
    bucket per combination, each with its histogram, so that ``prod/web`` and
    ``staging/web`` are counted apart with no more buckets than a name alone would take."""
    f = session.fields
    size = max(1, int(session.settings["max_services"]))
    parts = identity_fields(session.settings, f)
    aggs_asked: dict[str, Any] = {
        "t": histogram_agg(session),
        "first": {"min": {"field": f["timestamp"].name}},
    }
    if len(parts) == 1:
        aggs_asked["services"] = _terms_over_time(session, parts[0].agg or parts[0].name, size)
        purpose = "error logs per service over time"
    else:
        busiest = _busiest_services(session, parts, size, warnings)
        if busiest:  # a filters aggregation refuses to have none
            aggs_asked["services"] = {
                "filters": {"filters": busiest},
                "aggs": {"t": histogram_agg(session)},
            }
        purpose = f"error logs per service ({', '.join(p.key for p in parts)}) over time"
    apart = left_out_parts(session.settings, f)
    if "services" in aggs_asked:  # does one name hide several namespaces (clusters…)?
        inner = aggs_asked["services"]["aggs"]
        for p in apart:
            inner[f"apart_{p.key}"] = {"terms": {"field": p.agg, "size": 2}}
    body = count_body(session.errors_in(session.start, session.end), aggs_asked)
    ans, rec = _search_window(session, body, purpose, warnings)
    aggs = ans.get("aggregations") or {}
    grid = _grid(session)
    counts: dict[str, list[int]] = {}
    found = (aggs.get("services") or {}).get("buckets") or []
    named = found.items() if isinstance(found, Mapping) else ((b.get("key"), b) for b in found)
    mixed: dict[str, list[str]] = {}
    for key, b in named:
        counts[str(key)] = _fill(grid, (b.get("t") or {}).get("buckets") or [])
        for p in apart:
            if len((b.get(f"apart_{p.key}") or {}).get("buckets") or []) > 1:
                mixed.setdefault(p.key, []).append(str(key))
    warnings += [_mixed_warning(session, part, names) for part, names in mixed.items()]
    all_errors = _fill(grid, (aggs.get("t") or {}).get("buckets") or [])
    left_out = (
        (aggs.get("services") or {}).get("sum_other_doc_count")
        if len(parts) == 1
        else sum(all_errors) > sum(sum(c) for c in counts.values())
    )
    if left_out:
        other = [a - sum(c[i] for c in counts.values()) for i, a in enumerate(all_errors)]
        counts["(other)"] = [max(0, x) for x in other]
        warnings.append(
            session.warning(
                "too_many_services",
                f"errors come from more than {size} services; the rest are "
                f"summed as '(other)' (raise max_services)",
                limit=size,
            )
        )
    count = total(ans)
    rec.result_count = count
    first = (aggs.get("first") or {}).get("value")
    peak = None
    if any(all_errors):
        peak = grid[max(range(len(all_errors)), key=lambda j: (all_errors[j], -j))]
    return ErrorCounts(
        _histogram(session, grid, counts, rec.id),
        count,
        int(first) if first is not None else None,
        peak,
    )


def _mixed_warning(session: CollectSession, part: str, names: list[str]) -> Warning:
    """Error logs of one name from several values of ``part``, counted as one service."""
    field = session.fields[part].name
    setting = f"identity: [{', '.join(with_part(session.settings, part))}]"
    shown = ", ".join(sorted(names)[:5]) + (", …" if len(names) > 5 else "")
    return session.warning(
        "log_services_mixed",
        f"the error logs of {shown} come from several values of {field} (fields.{part}), "
        f"counted as one service each; set {setting} to tell them apart, as Prometheus's "
        "service_label does when it names them by that label too",
        service=shown,
        setting=setting,
    )


def _busiest_services(
    session: CollectSession, parts: list[FieldInfo], size: int, warnings: list[Warning]
) -> dict[str, dict[str, Any]]:
    """The ``size`` services with the most error lines in the window, busiest first: each
    readable name with the query selecting its lines."""
    sources = [
        {f"p{i}": {"terms": {"field": p.agg or p.name, "missing_bucket": True}}}
        for i, p in enumerate(parts)
    ]
    composite: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": sources}
    body = count_body(
        session.errors_in(session.start, session.end), {"s": {"composite": composite}}
    )
    body["track_total_hits"] = False
    purpose = f"error logs per service ({', '.join(p.key for p in parts)}): the busiest"
    found: list[tuple[int, str, list[Any]]] = []
    record: QueryRecord | None = None
    for _ in range(MAX_COMPOSITE_PAGES):
        ans = session.queries.search(
            body,
            purpose=purpose,
            window=(session.start, session.end),
            warnings=warnings,
            record=record,
        )
        record = record or session.queries.last_record()
        agg = (ans.get("aggregations") or {}).get("s") or {}
        for b in agg.get("buckets") or []:
            values = [(b.get("key") or {}).get(f"p{i}") for i in range(len(parts))]
            name = readable_name(values) if values[-1] is not None else "(none)"
            found.append((int(b.get("doc_count") or 0), name, values))
        after = agg.get("after_key")
        if not after or not agg.get("buckets"):
            break
        composite["after"] = after
    if record is not None:
        record.result_count = len(found)
    by_name: dict[str, list[list[Any]]] = {}
    docs: dict[str, int] = {}
    for n, name, values in found:  # two combinations may read alike: a part left empty
        by_name.setdefault(name, []).append(values)
        docs[name] = docs.get(name, 0) + n
    busiest = sorted(by_name, key=lambda name: (-docs[name], name))[:size]
    return {
        name: service_query(parts, by_name[name][0])
        if len(by_name[name]) == 1
        else {
            "bool": {
                "should": [service_query(parts, v) for v in by_name[name]],
                "minimum_should_match": 1,
            }
        }
        for name in busiest
    }


def users(session: CollectSession, warnings: list[Warning]) -> tuple[int | None, str | None]:
    """Distinct users with an error line, and the query that counted them (None: not counted)."""
    user = session.fields.get("user_id")
    if user is None:
        return None, None
    if user.agg is None:
        warnings.append(
            session.warning(
                "users_not_counted",
                f"field {user.name!r} (fields.user_id) has no keyword form; "
                f"impacted users are not counted",
                field=user.name,
            )
        )
        return None, None
    body = count_body(
        session.errors_in(session.start, session.end),
        {
            "users": {
                "cardinality": {"field": user.agg, "precision_threshold": CARDINALITY_PRECISION}
            }
        },
    )
    try:
        ans, rec = _search_window(
            session, body, "distinct users with an error (cardinality)", warnings
        )
    except RequestFailed as exc:
        if exc.fatal:
            raise
        warnings.append(
            Warning(session.name, str(exc), code="users_failed", params={"kind": exc.kind})
        )
        return None, None
    value = ((ans.get("aggregations") or {}).get("users") or {}).get("value")
    rec.result_count = int(value) if value is not None else None
    return rec.result_count, rec.id


def baseline_errors(session: CollectSession, warnings: list[Warning]) -> int | None:
    """Error lines in the baseline (None: the count failed, a warning says why)."""
    a, b = session.baseline_start, session.baseline_end
    try:
        ans = session.queries.search(
            count_body(session.errors_in(a, b)),
            purpose="error logs in the baseline",
            window=(a, b),
            warnings=warnings,
        )
    except RequestFailed as exc:
        if exc.fatal:
            raise
        warnings.append(
            Warning(session.name, str(exc), code="baseline_failed", params={"kind": exc.kind})
        )
        return None
    count = total(ans)
    session.queries.last_record().result_count = count
    return count
