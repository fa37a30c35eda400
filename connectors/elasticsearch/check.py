"""``pmrecon check`` for an Elasticsearch source: reachability, authentication, version, index
pattern, fields, recent documents — each a line with its fix."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from typing import Any

from connectors.base import CheckResult
from connectors.toolkit.failures import RequestFailed, check_failure
from pmrecon.model import Warning

from .answers import UTC, ms, total
from .dsl import count_body, source_filters, time_range
from .fields import FIELD_PRESETS, IDENTITY_PARTS
from .mappings import (
    DATE_TYPES,
    FieldInfo,
    check_field,
    field_caps,
    identity_parts,
    wanted_fields,
)
from .queries import Queries
from .settings import ECS_FIELDS, FIELD_ROLES, REQUIRED_FIELDS
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
#: Most field names or level values a line lists.
MAX_NAMES = 6
#: Levels that never mean an error, in the usual loggers' words (any case).
NOT_ERROR_LEVELS = (
    "trace", "debug", "info", "information", "notice", "verbose", "fine", "finer", "finest",
    "config",
)  # fmt: skip
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
    settings = connection.settings
    wanted = wanted_fields(settings["fields"], settings["fields_preset"])
    try:
        caps = field_caps(queries, ["*"])
    except RequestFailed as exc:
        return out + _index_failure(name, connection.index, exc)
    count = queries.records[-1].result_count
    out.append(CheckResult(name, f"index {connection.index}", True, f"matches {count} index(es)"))
    mapped: Mapping[str, Any] = caps.get("fields") or {}
    lines, fields = _field_lines(connection, wanted, mapped, warnings)
    out += lines
    if all(k in fields for k in REQUIRED_FIELDS):
        out.append(_recent_documents(queries, fields, now, warnings))
        out.append(_level_values(queries, fields, now, warnings))
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


def _field_lines(
    connection: Connection,
    wanted: dict[str, FieldInfo],
    mapped: Mapping[str, Any],
    warnings: list[Warning],
) -> tuple[list[CheckResult], dict[str, FieldInfo]]:
    """A line per field: where it is found and counted, or what is wrong and the fix; and
    the usable fields, by key."""
    out: list[CheckResult] = []
    usable: dict[str, FieldInfo] = {}
    name, index = connection.name, connection.index
    preset = connection.settings["fields_preset"]
    parts = identity_parts(connection.settings)
    for key in ECS_FIELDS:
        info = wanted.get(key)
        if key in IDENTITY_PARTS:
            if key in parts:
                out.append(_identity_line(name, key, info, mapped, preset, index, warnings))
            continue  # a part the identity leaves out is not read
        if info is None:  # turned off
            continue
        problem = check_field(info, mapped, name, index, warnings)
        if problem:
            detail, fix = problem.split("; ", 1) if "; " in problem else (problem, "")
            out.append(
                CheckResult(
                    name,
                    f"field {key}",
                    False,
                    detail + _mapped_hint(info, mapped, preset),
                    fix,
                )
            )
            continue
        if not info.present:
            out.append(
                CheckResult(
                    name,
                    f"field {key}",
                    True,
                    f"{info.name} not mapped: not used" + _mapped_hint(info, mapped, preset),
                    f"set fields.{key} if another field holds {FIELD_ROLES[key]}",
                )
            )
            continue
        usable[key] = info
        detail = f"{info.name} ({'/'.join(info.types)})"
        if info.agg and info.agg != info.name:
            detail += f", counted on {info.agg}"
        out.append(CheckResult(name, f"field {key}", True, detail))
    return out, usable


def _identity_line(
    source: str,
    key: str,
    info: FieldInfo | None,
    mapped: Mapping[str, Any],
    preset: str,
    index: str,
    warnings: list[Warning],
) -> CheckResult:
    """The line of an identity part: the field it is matched on, or why the logs are matched
    without it, with the nearest names in the mapping."""
    check = f"field {key}"
    if info is not None:
        info.explicit = False  # unmapped: said here, not as a field error
        problem = check_field(info, mapped, source, index, warnings)
        if problem is None and info.present and info.agg:
            counted = f", counted on {info.agg}" if info.agg != info.name else ""
            return CheckResult(
                source, check, True, f"{info.name} ({'/'.join(info.types)}){counted}: in identity"
            )
        why = (
            problem.split("; ")[0]
            if problem
            else f"{info.name} not mapped"
            if not info.present
            else f"{info.name} cannot be counted (text without a keyword sub-field)"
        )
        hint = _mapped_hint(info, mapped, preset)
    else:
        why, hint = f"fields.{key} is off", ""
    return CheckResult(
        source,
        check,
        False,
        f"{why}: logs are matched to services without their {key}{hint}",
        f"set fields.{key} to the field holding {FIELD_ROLES[key].split(',')[0]}, "
        f"or drop {key} from identity",
    )


def _mapped_hint(info: FieldInfo, mapped: Mapping[str, Any], preset: str) -> str:
    """What the mapping holds instead of ``info``: the other preset's field when mapped, the
    date fields for a timestamp, and the names nearest to it."""
    hints: list[str] = []
    for other, names in FIELD_PRESETS.items():
        if other != preset and names[info.key] != info.name and names[info.key] in mapped:
            hints.append(f"{names[info.key]} is mapped (fields_preset: {other})")
    if info.key == "timestamp" and info.present:
        dates = sorted(n for n, c in mapped.items() if set(c) & set(DATE_TYPES))
        if dates:
            hints.append("date fields: " + ", ".join(dates[:MAX_NAMES]))
    elif not info.present:
        near = near_names(info.name, [n for n in mapped if not n.startswith("_")])
        if near:
            hints.append("near names in the mapping: " + ", ".join(near))
    return f" ({'; '.join(hints)})" if hints else ""


def near_names(name: str, names: list[str], most: int = MAX_NAMES) -> list[str]:
    """The names of ``names`` nearest to ``name``: those ending with its last part or with
    the whole of it (``service.name`` → ``resource.attributes.service.name``) first, then
    those spelled alike."""
    last = name.rsplit(".", 1)[-1].lower()
    same_end = sorted(
        (n for n in names if n != name and n.lower().endswith(("." + last, last))),
        key=lambda n: (not n.lower().endswith(name.lower()), len(n), n),
    )
    alike = difflib.get_close_matches(name, names, n=most, cutoff=0.6)
    out: list[str] = []
    for n in [*same_end, *alike]:
        if n not in out and n != name:
            out.append(n)
    return out[:most]


def _search_recent(
    queries: Queries,
    fields: dict[str, FieldInfo],
    now: dt.datetime | None,
    seconds: int,
    what: str,
    warnings: list[Warning],
    aggs: dict[str, Any] | None = None,
) -> Mapping[str, Any]:
    """The count (and ``aggs``) of the documents of the last ``seconds`` the source reads."""
    end = ms(now or dt.datetime.now(UTC))
    window = (end - seconds * 1000, end + 1)
    filters = [
        time_range(fields, *window),
        *source_filters(queries.connection.settings, fields, ()),
    ]
    return queries.search(
        count_body(filters, aggs), purpose=f"check: {what}", window=window, warnings=warnings
    )


def _recent_documents(
    queries: Queries,
    fields: dict[str, FieldInfo],
    now: dt.datetime | None,
    warnings: list[Warning],
) -> CheckResult:
    """Whether logs of the last hour are there (they are shipped and the filter lets them in)."""
    name = queries.name
    try:
        ans = _search_recent(queries, fields, now, 3600, "documents in the last hour", warnings)
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


def _level_values(
    queries: Queries,
    fields: dict[str, FieldInfo],
    now: dt.datetime | None,
    warnings: list[Warning],
) -> CheckResult:
    """The level field's values over the last day, and whether ``error_levels`` names the
    ones that mean an error."""
    level = fields["level"]
    aggs = {"levels": {"terms": {"field": level.agg or level.name, "size": 50}}}
    try:
        ans = _search_recent(
            queries, fields, now, 86_400, "level values in the last day", warnings, aggs
        )
    except RequestFailed as exc:
        return CheckResult(queries.name, "level values", False, str(exc), "see the message")
    buckets = ((ans.get("aggregations") or {}).get("levels") or {}).get("buckets") or []
    values = [str(b.get("key_as_string", b.get("key"))) for b in buckets]
    return level_verdict(queries.name, level.name, values, queries.connection.settings)


def level_verdict(
    source: str, field: str, values: list[str], settings: Mapping[str, Any]
) -> CheckResult:
    """The ``level values`` line: which values ``field`` holds (most frequent first), which
    count as errors, and the fix when none does while some are unknown levels."""
    if not values:
        return CheckResult(source, "level values", True, f"{field}: no log in the last day")
    errors = {str(x).lower() for x in settings["error_levels"] or []}
    known = errors | {str(x).lower() for x in settings["warning_levels"] or []}
    counted = [v for v in values if v.lower() in errors]
    unknown = [v for v in values if v.lower() not in known and v.lower() not in NOT_ERROR_LEVELS]
    held = ", ".join(values[:MAX_NAMES]) + (", …" if len(values) > MAX_NAMES else "")
    detail = f"{field} holds {held} (last day)"
    if any(_is_number(v) for v in values):
        return CheckResult(
            source,
            "level values",
            False,
            f"{detail}: numbers, not level names",
            "set fields.level to the field holding the level's name "
            "(OpenTelemetry: severity_text, not severity_number)",
        )
    if counted:
        upper = [v for v in counted if v != v.lower()]
        note = "; not lower case: matched case-insensitively" if upper else ""
        return CheckResult(
            source, "level values", True, f"{detail}; errors: {', '.join(counted)}{note}"
        )
    if not unknown:
        return CheckResult(source, "level values", True, f"{detail}; no error-level line")
    likely = [v.lower() for v in unknown if _error_like(v)]
    example = ", ".join(likely) if likely else "<the value meaning an error>"
    return CheckResult(
        source,
        "level values",
        False,
        f"{detail}: none is among error_levels; {', '.join(unknown)} not known as a level",
        f"add the values that mean an error to error_levels (e.g. error_levels: [{example}]), "
        "or set fields.level to the field holding the log level",
    )


def _error_like(level: str) -> bool:
    """Whether a level name nobody listed reads as an error (``SEVERE``, ``E``, ``Err``)."""
    text = level.lower()
    return text in ("e", "f", "c") or any(
        w in text for w in ("err", "fat", "crit", "sev", "emerg", "panic", "alert", "fail")
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
