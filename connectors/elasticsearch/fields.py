"""Log field presets: where each field the source reads lives, by log shipper convention.

``fields_preset`` picks the names; any one is still overridden under ``fields:`` (or
``changes:`` for the change-event fields). Two conventions:

- ``ecs``: the Elastic Common Schema (Filebeat, Elastic Agent, ECS loggers).
- ``otel``: the OpenTelemetry Collector's Elasticsearch exporter in its OTel-native mapping
  (``mapping.mode: otel``, the exporter's default), where a log record keeps its OTel shape:
  ``severity_text``, ``body.text``, the record's attributes under ``attributes.*`` and the
  resource's under ``resource.attributes.*``. OTel has no convention for change events; their
  fields follow the ECS names as a log record's attributes (``attributes.event.action``).

The parts of a service's identity beside its name (``cluster``, ``environment``,
``namespace``) follow each convention's Kubernetes and deployment fields: ECS's
``orchestrator.cluster.name``, ``service.environment`` and ``kubernetes.namespace`` (Filebeat's
and Elastic Agent's Kubernetes metadata); OTel's ``k8s.cluster.name``,
``deployment.environment`` and ``k8s.namespace.name`` resource attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.toolkit.settings import is_disabled

FIELD_PRESETS: dict[str, dict[str, str]] = {
    "ecs": {
        "timestamp": "@timestamp",
        "level": "log.level",
        "message": "message",
        "service": "service.name",
        "error_type": "error.type",
        "error_message": "error.message",
        "host": "host.name",
        "trace_id": "trace.id",
        "user_id": "user.id",
        "event_category": "event.category",
        # the parts of a service's identity beside its name (``identity``)
        "cluster": "orchestrator.cluster.name",
        "environment": "service.environment",
        "namespace": "kubernetes.namespace",
    },
    "otel": {
        "timestamp": "@timestamp",
        "level": "severity_text",
        "message": "body.text",
        "service": "resource.attributes.service.name",
        "error_type": "attributes.exception.type",
        "error_message": "attributes.exception.message",
        "host": "resource.attributes.host.name",
        "trace_id": "trace_id",
        "user_id": "attributes.user.id",
        "event_category": "attributes.event.category",
        "cluster": "resource.attributes.k8s.cluster.name",
        "environment": "resource.attributes.deployment.environment",
        "namespace": "resource.attributes.k8s.namespace.name",
    },
}
#: The change-event fields (``changes.*``) of each preset.
CHANGE_FIELD_PRESETS: dict[str, dict[str, str]] = {
    "ecs": {"kind_field": "event.action", "version_field": "service.version", "tags_field": "tags"},
    "otel": {
        "kind_field": "attributes.event.action",
        "version_field": "resource.attributes.service.version",
        "tags_field": "attributes.tags",
    },
}
FIELDS_PRESETS = tuple(FIELD_PRESETS)
#: The fields that may join the service's name in its identity, outermost first (as
#: Prometheus's separating labels: cluster, then environment, then namespace).
IDENTITY_PARTS = ("cluster", "environment", "namespace")
#: Other names each identity part goes by, tried by ``pmrecon init`` after the preset's.
IDENTITY_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "cluster": (
        "orchestrator.cluster.name",
        "kubernetes.cluster.name",
        "resource.attributes.k8s.cluster.name",
    ),
    "environment": (
        "service.environment",
        "deployment.environment",
        "resource.attributes.deployment.environment",
        "resource.attributes.deployment.environment.name",
    ),
    "namespace": (
        "kubernetes.namespace",
        "orchestrator.namespace",
        "service.namespace",
        "resource.attributes.k8s.namespace.name",
        "resource.attributes.service.namespace",
    ),
}
DEFAULT_FIELDS_PRESET = "ecs"


def preset_fields(preset: str | None) -> dict[str, str]:
    """The field names of ``preset`` (None: the default one), by config key."""
    return FIELD_PRESETS[preset or DEFAULT_FIELDS_PRESET]


def with_change_fields(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with the unset ``changes.*`` fields taken from the preset, and the ones
    turned off (``off``) as empty text, which the change-event reader skips."""
    names = CHANGE_FIELD_PRESETS[settings.get("fields_preset") or DEFAULT_FIELDS_PRESET]
    changes = dict(settings["changes"])
    for key, default in names.items():
        value = changes.get(key)
        if value is None:
            changes[key] = default
        elif is_disabled(value):
            changes[key] = ""
    return {**settings, "changes": changes}
