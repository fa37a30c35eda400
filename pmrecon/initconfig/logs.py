"""Which log-field conventions an index pattern holds, and the settings that read each of them.

A convention (:data:`CONVENTIONS`: ECS, or the OpenTelemetry-native mapping of the
Collector's Elasticsearch exporter) is present when its level field is mapped. Each one
present becomes a source; when both are, each source keeps to its own documents with an
``exists`` filter on its level field, so that no line is counted twice. A required field
missing from a convention is looked for among :data:`ALTERNATIVES`; the level field's
values over the range say whether the error levels need more words than the defaults.
When the metrics name a service by several labels (``[namespace, ingress]``), the logs are
named by the same parts where a countable field holds each one (``identity``), so that
``prod/web`` is one service in both; otherwise a comment says the logs are matched by name.
"""

from __future__ import annotations

import datetime as dt

from connectors.elasticsearch import REQUIRED_FIELDS, SETTINGS_SCHEMA
from connectors.elasticsearch.discover import FieldCaps, LevelCounts, LogInventory
from connectors.elasticsearch.fields import FIELD_PRESETS, IDENTITY_ALTERNATIVES
from pmrecon.errors import ConfigError

from .plan import SourcePlan, listing

#: Field names by config key, per convention: the source's own ``fields_preset`` tables.
CONVENTIONS: dict[str, dict[str, str]] = FIELD_PRESETS
#: Other names a required field goes by, tried when the convention's is not mapped.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "timestamp": ("@timestamp", "timestamp", "time", "observed_timestamp"),
    "level": ("log.level", "severity_text", "level", "severity", "loglevel"),
    "message": ("message", "body.text", "body", "msg", "log"),
    "service": (
        "service.name",
        "resource.attributes.service.name",
        "kubernetes.labels.app",
        "app",
        "service",
    ),
}
#: The identity part each Prometheus label that separates services stands for.
LABEL_PARTS = {
    "cluster": "cluster",
    "k8s_cluster_name": "cluster",
    "env": "environment",
    "environment": "environment",
    "deployment_environment": "environment",
    "deployment_environment_name": "environment",
    "namespace": "namespace",
    "k8s_namespace_name": "namespace",
    "service_namespace": "namespace",
}
#: Level words some loggers use for errors that the default error_levels do not hold.
MORE_ERROR_WORDS = ("severe", "dpanic", "e", "f")


def candidate_fields() -> list[str]:
    """Every field name asked about."""
    names = [n for conv in CONVENTIONS.values() for n in conv.values()]
    names += [n for alts in ALTERNATIVES.values() for n in alts]
    names += [n for alts in IDENTITY_ALTERNATIVES.values() for n in alts]
    return sorted(set(names))


def plan_logs(
    inv: LogInventory, start: dt.datetime, end: dt.datetime, labels: list[str] | None = None
) -> list[SourcePlan]:
    """One source per log convention found in the index pattern; a ConfigError when none is.

    ``labels``: the labels naming a service in the metrics, matched by the logs' fields."""
    inv.version()
    caps = inv.field_caps(candidate_fields())
    present = [c for c, fields in CONVENTIONS.items() if caps.mapped(fields["level"])]
    if not present:
        level = next((n for n in ALTERNATIVES["level"] if caps.mapped(n)), None)
        if level is None:
            raise ConfigError(
                f"index pattern {inv.index!r} ({caps.indices} indices) maps none of the level "
                f"fields {', '.join(ALTERNATIVES['level'])}; pass --index for your log indices, "
                "or set sources.<name>.fields by hand"
            )
        present = ["custom"]
    plans = []
    for conv in present:
        name = "elasticsearch" if len(present) == 1 else f"elasticsearch_{conv}"
        plan = _plan_one(inv, caps, name, conv, len(present) > 1, (start, end))
        _identity(plan, caps, conv, labels or [])
        plans.append(plan)
    return plans


def _identity(plan: SourcePlan, caps: FieldCaps, conv: str, labels: list[str]) -> None:
    """The log fields naming a service by the same parts as the metrics' ``labels``, or a
    comment saying the logs are matched by the service's name alone."""
    if len(labels) < 2:
        return
    own = CONVENTIONS.get(conv, {})
    found: list[tuple[str, str]] = []
    missing: list[str] = []
    for label in labels[:-1]:
        part = LABEL_PARTS.get(label)
        tries = [own[part]] if part in own else []
        tries += [n for n in IDENTITY_ALTERNATIVES.get(part or "", ()) if n not in tries]
        field = next((n for n in tries if caps.countable(n)), None)
        if part is None or field is None:
            missing.append(label + (f" (looked for {', '.join(tries)})" if tries else ""))
        else:
            found.append((part, field))
    shown = ", ".join(labels)
    if missing:
        plan.about.append(
            f"Logs are matched to services by name only: the metrics name a service by "
            f"{shown}, and no countable log field holds {'; '.join(missing)}. A name used in "
            "several of them mixes their logs: set identity and fields.<part> by hand if a "
            "field holds it."
        )
        return
    plan.set(
        "identity",
        [part for part, _ in found] + ["service"],
        f"the metrics name a service by {shown}: the logs by "
        f"{', '.join(field for _, field in found)} and the service's name too, so that "
        "both call it by one name (prod/web)",
    )
    for part, field in found:
        if field != own.get(part):
            plan.set(f"fields.{part}", field, _field_why(caps, part, field))


def _plan_one(
    inv: LogInventory,
    caps: FieldCaps,
    name: str,
    conv: str,
    several: bool,
    span: tuple[dt.datetime, dt.datetime],
) -> SourcePlan:
    plan = SourcePlan(name)
    plan.set("type", "elasticsearch")
    plan.set("hosts", [h for h in inv.connection.hosts])
    plan.set("index", [inv.index], f"{caps.indices} indices match")
    fields = _fields(inv, caps, conv)
    level = fields["level"]
    only = {"exists": {"field": level}} if several else None
    if only:
        plan.set(
            "filter",
            only,
            f"{inv.index!r} holds ECS and OpenTelemetry documents: this source reads the "
            f"{conv} ones (those with {level}), the other source the rest",
        )
    _write_fields(plan, caps, conv, fields)
    counted = caps.countable(level)
    if counted is None:
        raise ConfigError(
            f"level field {level!r} of {inv.index!r} cannot be counted (text without a keyword "
            "sub-field); map it as keyword"
        )
    _levels(plan, level, inv.levels(fields["timestamp"], counted, span[0], span[1], only))
    return plan


def _fields(inv: LogInventory, caps: FieldCaps, conv: str) -> dict[str, str]:
    """The required fields of ``conv`` found in the mapping (alternatives when needed)."""
    own = CONVENTIONS.get(conv, {})
    out: dict[str, str] = {}
    for key in REQUIRED_FIELDS:
        tries = [own[key]] if key in own else []
        tries += [n for n in ALTERNATIVES[key] if n not in tries]
        usable = caps.is_date if key == "timestamp" else caps.mapped
        found = next((n for n in tries if usable(n)), None)
        if found is None:
            raise ConfigError(
                f"index pattern {inv.index!r} has no field for {key} "
                f"(looked for {', '.join(tries)}); set sources.<name>.fields.{key} by hand"
            )
        out[key] = found
    return out


def _write_fields(plan: SourcePlan, caps: FieldCaps, conv: str, fields: dict[str, str]) -> None:
    """The field settings: the preset when this pmrecon has one, else each field by name."""
    own = CONVENTIONS.get(conv, {})
    has_preset = "fields_preset" in SETTINGS_SCHEMA and conv in ("ecs", "otel")
    if has_preset:
        plan.set(
            "fields_preset",
            conv,
            f"{own['level']} is mapped: the {conv} field names",
        )
    else:
        plan.about.append(
            f"Log fields: the {conv} names ({own['level'] if own else fields['level']} is mapped)."
        )
    defaults = CONVENTIONS["ecs"] if not has_preset else own
    for key, field_name in fields.items():
        if field_name != defaults.get(key):
            plan.set(f"fields.{key}", field_name, _field_why(caps, key, field_name))
    for key, field_name in own.items():
        if key in fields or field_name == defaults.get(key):
            continue
        plan.set(
            f"fields.{key}",
            field_name if caps.mapped(field_name) else "off",
            f"{field_name} is {'mapped' if caps.mapped(field_name) else 'not mapped: off'}",
        )


def _field_why(caps: FieldCaps, key: str, name: str) -> str:
    types = "/".join(caps.types.get(name, ()))
    return f"{name} ({types}) holds the {key}"


def _levels(plan: SourcePlan, level: str, counts: LevelCounts) -> None:
    """The level values of the range, and the error levels if the defaults miss some."""
    if not counts.documents:
        plan.undecided.append(
            "no document in the inspected range: the level values could not be checked"
        )
        return
    seen = [f"{v} ({n})" for v, n in sorted(counts.counts.items(), key=lambda kv: -kv[1])]
    plan.about.append(f"{level} values in the range (documents): {listing(seen, 10)}.")
    defaults = [str(x) for x in SETTINGS_SCHEMA["error_levels"].default]
    values = {v.lower() for v in counts.counts}
    extra = [v for v in sorted(values) if v in MORE_ERROR_WORDS and v not in defaults]
    if extra:
        plan.set(
            "error_levels",
            [*defaults, *extra],
            f"{', '.join(extra)} also mark errors here (matched case-insensitively)",
        )
    elif not values & set(defaults):
        plan.undecided.append(
            f"none of the level values ({listing(sorted(values), 10)}) is an error level "
            f"({', '.join(defaults)}): set error_levels if some of them are"
        )
