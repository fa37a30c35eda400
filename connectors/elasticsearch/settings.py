"""The Elasticsearch source's settings: their schema and defaults, and where its queries go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as distribution_version
from typing import Any

from connectors.toolkit.credentials import redact_url
from connectors.toolkit.settings import BASIC_AUTH, TLS
from pmrecon.errors import ConfigError
from pmrecon.settings_schema import Key, Schema

from .fields import (
    CHANGE_FIELD_PRESETS,
    DEFAULT_FIELDS_PRESET,
    FIELD_PRESETS,
    FIELDS_PRESETS,
    IDENTITY_PARTS,
)

# The client's major version, read without importing the client (config validation needs
# it only for the range of server_major).
CLIENT_MAJOR = int(distribution_version("elasticsearch").split(".")[0])

#: ECS names of the fields read, by config key; the first four are required.
ECS_FIELDS: dict[str, str] = FIELD_PRESETS["ecs"]
REQUIRED_FIELDS = ("timestamp", "level", "message", "service")
FIELD_ROLES = {
    "timestamp": "the event time",
    "level": "the log level",
    "message": "the log message",
    "service": "the service name",
    "error_type": "the error class",
    "error_message": "the error text",
    "host": "the host name",
    "trace_id": "the trace id",
    "user_id": "the user id",
    "event_category": "the event category",
    "cluster": "the cluster, when identity names it",
    "environment": "the deployment environment, when identity names it",
    "namespace": "the namespace, when identity names it",
}


def _preset_names(presets: dict[str, dict[str, str]], key: str) -> str:
    """``key``'s field in each preset, for a setting's description: ``ecs: a, otel: b``."""
    return ", ".join(f"{name}: {names[key]}" for name, names in presets.items())


DEFAULT_CHANGE_CATEGORIES = ["deployment", "configuration", "change"]
DEFAULT_CHANGE_TAGS = ["deployment", "deploy", "rollback", "config_change", "configuration"]

SETTINGS_SCHEMA: Schema = {
    "hosts": Key("list", ["http://127.0.0.1:9200"], "one or more node URLs (or set cloud_id)"),
    "cloud_id": Key("str", None, "Elastic Cloud deployment id (when set, hosts is ignored)"),
    "api_key": Key(
        "str", None, "API key, base64 'id:key' as Kibana shows it (use ${ENV_VAR})", secret=True
    ),
    **BASIC_AUTH,
    "tls": dict(TLS),
    "timeout": Key("duration", 30, "limit for one request", exclusive_minimum=0),
    "retries": Key(
        "int", 2, "retries after a connection error, 429, 502, 503 or 504", minimum=0, maximum=10
    ),
    "max_concurrency": Key(
        "int", 4, "queries run at the same time (1: one after another)", minimum=1, maximum=64
    ),
    "server_major": Key(
        "int",
        None,
        "the server's major version (8, 9) when it cannot be detected (default: detected)",
        minimum=7,
        maximum=CLIENT_MAJOR,
    ),
    "index": Key("list", ["logs-*"], "index pattern(s) to search, e.g. logs-* or [app-*, nginx-*]"),
    "filter": Key("dict", None, "query DSL added to every query, e.g. {term: {env: prod}}"),
    "fields_preset": Key(
        "choice",
        DEFAULT_FIELDS_PRESET,
        "field naming convention: ecs (Elastic Common Schema) or otel (the OpenTelemetry "
        "Collector's Elasticsearch exporter, OTel-native mapping)",
        choices=FIELDS_PRESETS,
    ),
    "identity": Key(
        "list",
        ["service"],
        "the fields that together name a service, outermost first: service, after any of "
        + ", ".join(IDENTITY_PARTS)
        + " (keys of fields), e.g. [namespace, service] names the logs of service web in "
        "namespace prod prod/web, as Prometheus's service_label: [namespace, ingress] does "
        "(default: [service], the name alone)",
        items=Key("choice", choices=(*IDENTITY_PARTS, "service")),
    ),
    "fields": {
        key: Key(
            "str",
            None,
            f"field holding {FIELD_ROLES[key]} (default: the fields_preset's, "
            + _preset_names(FIELD_PRESETS, key)
            + ("" if key in REQUIRED_FIELDS else ", when mapped; 'off' ignores it")
            + ")",
        )
        for key in ECS_FIELDS
    },
    "error_levels": Key(
        "list",
        ["error", "fatal", "critical", "crit", "err", "emerg", "emergency", "alert", "panic"],
        "levels that count as errors (case-insensitive)",
    ),
    "warning_levels": Key(
        "list", ["warn", "warning"], "levels whose lines also get signatures (case-insensitive)"
    ),
    "max_buckets": Key("int", 200, "most time buckets in a histogram", minimum=2, maximum=10_000),
    "interval": Key(
        "duration",
        None,
        "histogram bucket width (default: adapted to the window, nice units)",
        exclusive_minimum=0,
    ),
    "max_services": Key(
        "int", 50, "services shown per histogram; the rest are summed as (other)", minimum=1
    ),
    "signatures": {
        "top": Key(
            "int",
            50,
            "signatures kept in the evidence (the most frequent, new ones too)",
            minimum=1,
        ),
        "page_size": Key(
            "int", 1000, "composite aggregation buckets per request", minimum=1, maximum=10_000
        ),
        "max_distinct_messages": Key(
            "int",
            50_000,
            "distinct raw messages read to build signatures (memory/time bound)",
            minimum=1,
        ),
        "max_tracked": Key("int", 10_000, "distinct signatures held in memory", minimum=1),
        "max_unaggregated": Key(
            "int",
            10_000,
            "documents read one by one when the message has no keyword form (too long, or text only)",
            minimum=0,
        ),
        "max_length": Key("int", 200, "characters of a signature", minimum=20),
    },
    "samples": {
        "new_signatures": Key(
            "int", 3, "first line of each of the most frequent new signatures", minimum=0
        ),
        "first_errors": Key("int", 5, "error lines kept from the first error on", minimum=0),
        "peak": Key("int", 5, "error lines kept from the busiest error bucket", minimum=0),
        "max_chars": Key(
            "int", 500, "longest message kept in a sample (longer ones truncated)", minimum=20
        ),
        "max_field_chars": Key("int", 200, "longest other field kept in a sample", minimum=20),
    },
    "changes": {
        "enabled": Key("bool", True, "look for deploys, rollbacks and config changes"),
        "query": Key(
            "dict",
            None,
            "query DSL selecting change events (default: event.category deployment/configuration/change or matching tags)",
        ),
        "kind_field": Key(
            "str",
            None,
            "field naming the change (deploy, rollback, config_change) (default: the fields_preset's, "
            + _preset_names(CHANGE_FIELD_PRESETS, "kind_field")
            + "; 'off' ignores it)",
        ),
        "version_field": Key(
            "str",
            None,
            "field holding the deployed version (default: the fields_preset's, "
            + _preset_names(CHANGE_FIELD_PRESETS, "version_field")
            + "; 'off' ignores it)",
        ),
        "tags_field": Key(
            "str",
            None,
            "field of tags searched by the default query (default: the fields_preset's, "
            + _preset_names(CHANGE_FIELD_PRESETS, "tags_field")
            + "; 'off' ignores it)",
        ),
        "max_events": Key(
            "int",
            200,
            "most change events read in the window, and as many in the baseline (newest first)",
            minimum=0,
        ),
    },
}


@dataclass(frozen=True)
class Target:
    """Where a source's queries go: its nodes (none with ``cloud_id``), how to show them, and the
    index pattern searched."""

    hosts: list[str]
    shown_url: str
    index: str


def target(name: str, s: Mapping[str, Any]) -> Target:
    """The nodes and index pattern of the settings ``s``; a :class:`ConfigError` when unusable."""
    hosts = [str(h).strip().rstrip("/") for h in (s["hosts"] or []) if str(h).strip()]
    cloud_id = s.get("cloud_id")  # OpenSearch sources have none
    if cloud_id:
        hosts = []  # cloud_id wins over hosts (whose default is a local node)
    if not hosts and not cloud_id:
        raise ConfigError(f"sources.{name}: set hosts (node URLs) or cloud_id")
    for h in hosts:
        if not re.match(r"^https?://", h):
            raise ConfigError(
                f"sources.{name}.hosts: {redact_url(h)!r} must start with http:// or https://"
            )
    cloud = str(cloud_id or "").partition(":")[0]  # the deployment's name, not secret
    shown_url = (
        ", ".join(redact_url(h) for h in hosts) if hosts else f"Elastic Cloud deployment {cloud!r}"
    )
    indices = s["index"] if isinstance(s["index"], list) else [s["index"]]
    index = ",".join(str(i).strip() for i in indices if str(i).strip())
    if not index:
        raise ConfigError(f"sources.{name}.index: give at least one index pattern")
    if s["filter"] is not None and not isinstance(s["filter"], Mapping):
        raise ConfigError(f"sources.{name}.filter: must be a query DSL mapping")
    check_identity(name, s.get("identity") or ["service"])
    return Target(hosts, shown_url, index)


def check_identity(name: str, identity: list[str]) -> None:
    """A :class:`ConfigError` unless ``identity`` is distinct parts ending with ``service``."""
    parts = [str(p) for p in identity]
    if len(set(parts)) != len(parts) or parts[-1:] != ["service"] or parts.count("service") != 1:
        raise ConfigError(
            f"sources.{name}.identity: {parts} must end with service, after any of "
            f"{', '.join(IDENTITY_PARTS)}, each once (e.g. [namespace, service])"
        )
