"""``pmrecon check`` for an Elasticsearch source: reachability, authentication, version, index
pattern, fields, recent documents — each a line with its fix."""

from __future__ import annotations

import datetime as dt

from connectors.base import CheckResult
from connectors.toolkit.failures import RequestFailed, check_failure
from connectors.toolkit.settings import is_disabled
from pmrecon.model import Warning

from .answers import UTC, ms, total
from .dsl import count_body, source_filters, time_range
from .mappings import FieldInfo, resolve_fields
from .queries import Queries
from .settings import ECS_FIELDS, FIELD_ROLES
from .transport import Connection

#: How to fix a first request that failed, by the failure's kind (over the toolkit's
#: ``CHECK_FIXES``, which say it for tls and timeout).
FIXES = {
    "unreachable": "check hosts and that Elasticsearch is running and reachable from here",
    "dns": "check the host names in hosts",
    "auth": "set api_key, or username/password (from environment variables)",
    "not_elasticsearch": "hosts does not point at Elasticsearch",
    "version": "set server_major",
}
#: Failures that prove the server answered.
REACHABLE = ("auth", "version", "bad_query", "http", "server", "busy")


def check(queries: Queries, now: dt.datetime | None) -> list[CheckResult]:
    """The check lines of the source behind ``queries``; ``now``: the clock (None: the
    system's)."""
    connection = queries.connection
    flavour = connection.flavour
    name = connection.name
    warnings: list[Warning] = []
    out: list[CheckResult] = []
    try:
        version = flavour.detect_version(queries, warnings)
    except RequestFailed as exc:
        return check_failure(name, exc, flavour.check_fixes, REACHABLE)
    out.append(CheckResult(name, "reachable", True, f"{connection.shown_url} answers"))
    out.append(CheckResult(name, "authenticated", True, "requests accepted"))
    major = connection.compat.major
    ok = flavour.supported(major)
    out.append(
        CheckResult(
            name,
            "version",
            ok,
            flavour.describe(version, major),
            "" if ok else f"pmrecon supports {flavour.supported_versions}",
        )
    )
    try:
        fields = resolve_fields(queries, connection.settings["fields"], warnings)
    except RequestFailed as exc:
        return out + _index_failure(name, connection.index, exc)
    count = queries.records[-1].result_count
    out.append(CheckResult(name, f"index {connection.index}", True, f"matches {count} index(es)"))
    out += _field_lines(connection, fields)
    out.append(_recent_documents(queries, fields, now, warnings))
    for w in warnings:
        out.append(CheckResult(name, "warning", False, w.message, ""))
    return out


def _index_failure(name: str, index: str, exc: RequestFailed) -> list[CheckResult]:
    ok_index = exc.kind != "no_index"
    out = [
        CheckResult(
            name,
            f"index {index}",
            ok_index,
            "matches" if ok_index else str(exc),
            "" if ok_index else "check 'index' (GET _cat/indices lists the indices)",
        )
    ]
    if exc.kind == "field" or ok_index:
        out.append(CheckResult(name, "fields", False, str(exc), "see the message"))
    return out


def _field_lines(connection: Connection, fields: dict[str, FieldInfo]) -> list[CheckResult]:
    """A line per field: where it is found and counted, or that it is not mapped."""
    out: list[CheckResult] = []
    for key in ECS_FIELDS:
        info = fields.get(key)
        configured = connection.settings["fields"].get(key)
        if info is None:
            if configured is not None and is_disabled(configured):
                continue
            out.append(
                CheckResult(
                    connection.name,
                    f"field {key}",
                    True,
                    f"{ECS_FIELDS[key]} not mapped: not used",
                    f"set fields.{key} if another field holds {FIELD_ROLES[key]}",
                )
            )
            continue
        detail = f"{info.name} ({'/'.join(info.types)})"
        if info.agg and info.agg != info.name:
            detail += f", counted on {info.agg}"
        out.append(CheckResult(connection.name, f"field {key}", True, detail))
    return out


def _recent_documents(
    queries: Queries,
    fields: dict[str, FieldInfo],
    now: dt.datetime | None,
    warnings: list[Warning],
) -> CheckResult:
    """Whether logs of the last hour are there (they are shipped and the filter lets them in)."""
    name = queries.name
    end = ms(now or dt.datetime.now(UTC))
    window = (end - 3_600_000, end + 1)
    filters = [
        time_range(fields, *window),
        *source_filters(queries.connection.settings, fields, ()),
    ]
    try:
        ans = queries.search(
            count_body(filters),
            purpose="check: documents in the last hour",
            window=window,
            warnings=warnings,
        )
    except RequestFailed as exc:
        return CheckResult(name, "recent documents", False, str(exc), "see the message")
    n = total(ans)
    return CheckResult(
        name,
        "recent documents",
        n > 0,
        f"{n} documents in the last hour",
        ""
        if n
        else "no log in the last hour: check the index pattern, the filter and that logs are shipped",
    )
