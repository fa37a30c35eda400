"""The configured fields checked against the mapping (``_field_caps``): present, of a usable
type, and which field to aggregate on (itself, or its keyword sub-field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.settings import is_disabled
from pmrecon.model import Warning

from .fields import preset_fields
from .queries import Queries, index_path
from .settings import FIELD_ROLES, REQUIRED_FIELDS

KEYWORD_TYPES = ("keyword", "constant_keyword", "wildcard")
TEXT_TYPES = ("text", "match_only_text")
DATE_TYPES = ("date", "date_nanos")


@dataclass
class FieldInfo:
    """A configured field as the mapping knows it: its types and the field to aggregate on."""

    key: str  # config key: "service"
    name: str  # field name: "service.name"
    types: tuple[str, ...] = ()
    agg: str | None = None  # itself, or its keyword sub-field; None: not aggregatable
    present: bool = False
    explicit: bool = True  # set in the config (else an ECS default)


def resolve_fields(
    queries: Queries,
    configured: Mapping[str, Any],
    warnings: list[Warning],
    preset: str | None = None,
) -> dict[str, FieldInfo]:
    """The fields of ``configured`` (the ``fields`` setting, over the ``fields_preset``'s
    names) present in the mapping, by key; a fatal :class:`RequestFailed` naming the first
    problem (and how many more there are)."""
    wanted = wanted_fields(configured, preset)
    parts = identity_parts(queries.connection.settings)
    for key in parts:
        if key in wanted:  # unmapped: matched by name only, with a warning, never fatal
            wanted[key].explicit = False
    caps = field_caps(queries, sorted({f.name for f in wanted.values()}))
    fields = caps.get("fields") or {}
    problems: list[str] = []
    for f in wanted.values():
        problem = check_field(f, fields, queries.name, queries.index, warnings)
        if problem:
            problems.append(problem)
    if problems:
        more = len(problems) - 1
        raise RequestFailed(
            queries.connection.scrub(
                f"{queries.connection.where()}: {problems[0]}"
                + (f" (and {more} more field problem(s))" if more else "")
            ),
            "field",
            True,
        )
    for key in parts:
        part = wanted.get(key)
        if part is None or not part.present or part.agg is None:
            warnings.append(identity_warning(queries.name, key, part))
    return {k: f for k, f in wanted.items() if f.present}


def identity_parts(settings: Mapping[str, Any]) -> list[str]:
    """The parts of the ``identity`` setting beside the service's name (``namespace``…)."""
    return [str(k) for k in settings.get("identity") or () if k != "service"]


def identity_warning(source: str, key: str, f: FieldInfo | None) -> Warning:
    """Logs matched without the ``key`` part of the identity: its field is off, unmapped or
    cannot be counted."""
    setting = f"fields.{key}"
    name = f.name if f is not None else "off"
    why = (
        "is turned off"
        if f is None
        else "is not in the mapping"
        if not f.present
        else "cannot be counted (text without a keyword sub-field)"
    )
    return Warning(
        source,
        f"source {source!r}: field {name!r} ({setting}) {why}: logs are matched to services "
        f"without their {key}, so the logs of one service name in several {key}s are counted "
        f"together; set {setting} to the field holding {FIELD_ROLES[key].split(',')[0]}, or "
        f"drop {key} from identity",
        code="log_identity_unmapped",
        params={"field": name, "setting": setting},
    )


def wanted_fields(configured: Mapping[str, Any], preset: str | None) -> dict[str, FieldInfo]:
    """The fields to look up: the configured ones, the preset's required ones, and its
    optional ones not turned off (those only when mapped: ``explicit`` False)."""
    wanted: dict[str, FieldInfo] = {}
    for key, default in preset_fields(preset).items():
        value = configured.get(key)
        if value is None:
            if key in REQUIRED_FIELDS:
                value = default
            else:
                wanted[key] = FieldInfo(key, default, explicit=False)
                continue
        if is_disabled(value):
            continue
        text = str(value).strip()
        wanted[key] = FieldInfo(key, text, explicit=True)
    return wanted


def field_caps(queries: Queries, names: list[str]) -> Mapping[str, Any]:
    """The field capabilities of ``names`` and their sub-fields; no index matched is fatal."""
    asked = sorted({*names, *(f"{n}.*" for n in names)})
    path = index_path(queries.index, "_field_caps")
    rec = queries.record(
        "field mapping (field capabilities)",
        {"fields": asked},
        endpoint=path,
        index=queries.index,
    )
    caps = queries.raw(
        "GET",
        path,
        params={
            "fields": ",".join(asked),
            "ignore_unavailable": "true",
            "allow_no_indices": "true",
        },
        record=rec,
        context="reading the field mapping: _field_caps",
    )
    if not isinstance(caps, Mapping):
        caps = {}
    indices = caps.get("indices")
    if indices is not None and not indices:
        raise RequestFailed(
            f"{queries.connection.where()}: index pattern {queries.index!r} matches no index; "
            f"check 'index' (GET _cat/indices lists them)",
            "no_index",
            True,
        )
    rec.result_count = len(indices or [])
    return caps


def check_field(
    f: FieldInfo,
    fields: Mapping[str, Any],
    source: str,
    index: str,
    warnings: list[Warning],
) -> str | None:
    """Fill ``f`` from the capabilities ``fields``; what is wrong with it, if anything."""
    entry = fields.get(f.name) or {}
    types = tuple(sorted(t for t in entry if t != "unmapped"))
    f.types = types
    f.present = bool(types)
    config_key = f"sources.{source}.fields.{f.key}"
    if not f.present:
        if not f.explicit:
            return None
        return (
            f"field {f.name!r} ({config_key}) is not in the mapping of {index!r}; "
            f"set {config_key} to the field holding {FIELD_ROLES[f.key]}"
            + ("" if f.key in REQUIRED_FIELDS else ", or 'off'")
        )
    if "object" in types or "nested" in types:
        return (
            f"field {f.name!r} ({config_key}) is an object, not a value; name one of its sub-fields"
        )
    if f.key == "timestamp":
        f.agg = f.name
        if not set(types) <= set(DATE_TYPES):
            return (
                f"field {f.name!r} ({config_key}) is {'/'.join(types)}, not a date; "
                f"set {config_key} to the event time field"
            )
        return None
    if any(t in TEXT_TYPES for t in types):
        f.agg = _keyword_subfield(f.name, fields)
    elif all(entry[t].get("aggregatable", True) for t in types):
        f.agg = f.name
    if len(types) > 1 and not set(types) <= {*KEYWORD_TYPES, *TEXT_TYPES}:
        warnings.append(
            Warning(
                source,
                f"source {source!r}: field {f.name!r} has different types across indices "
                f"({', '.join(types)}); counts on it may miss some indices",
                code="field_type_conflict",
                params={"field": f.name},
            )
        )
    if f.agg is None and f.key in ("level", "service"):
        return (
            f"field {f.name!r} ({config_key}) is {'/'.join(types)} without a keyword "
            f"sub-field, so it cannot be counted; map it as keyword or set {config_key} "
            f"to its keyword form"
        )
    return None


def _keyword_subfield(name: str, fields: Mapping[str, Any]) -> str | None:
    """The keyword sub-field of the text field ``name`` (``.keyword`` first), if it has one."""
    subs = []
    for other, ocaps in fields.items():
        is_sub = other.startswith(name + ".") and "." not in other[len(name) + 1 :]
        if is_sub and any(t in KEYWORD_TYPES for t in ocaps):
            subs.append(other)
    subs.sort(key=lambda n: (n != name + ".keyword", n))
    return subs[0] if subs else None
