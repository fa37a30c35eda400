"""A service's identity in the logs: the fields that together name it, as Prometheus's labels do.

``identity`` lists keys of ``fields``, outermost first, ending with ``service``:
``[namespace, service]`` names the logs of ``service.name: web`` in ``kubernetes.namespace:
prod`` ``prod/web``, the readable name Prometheus gives the series of ``service_label:
[namespace, ingress]``, so that the logs and the metrics of one service meet in the analysis.
The name joins the non-empty values with ``/`` (a line without a namespace is named by its
service alone), and a name asked for (``services``) is cut at its first ``/`` signs, one per
part but the last, as Prometheus cuts it.

A part whose field the mapping lacks (or cannot count) is left out: the logs are then matched
by the remaining parts, the name alone at worst, and :func:`unusable_parts` lets the collect
say so with a warning instead of lumping namespaces together silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .answers import get_path
from .fields import IDENTITY_PARTS
from .mappings import FieldInfo

#: The key a bucket of :func:`services_agg` nests its next part under.
_NEXT = "p"


def configured_identity(settings: Mapping[str, Any]) -> list[str]:
    """The ``identity`` setting: keys of ``fields``, ending with ``service``."""
    return [str(k) for k in settings.get("identity") or ["service"]]


def identity_fields(
    settings: Mapping[str, Any], fields: Mapping[str, FieldInfo]
) -> list[FieldInfo]:
    """The resolved fields naming a service, outermost first: the configured parts that are
    mapped and countable, then the service field."""
    return [
        fields[k]
        for k in configured_identity(settings)
        if k in fields and (k == "service" or fields[k].agg)
    ]


def unusable_parts(settings: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> list[str]:
    """The configured parts (``namespace``…) that cannot be matched: unmapped or not countable."""
    usable = {f.key for f in identity_fields(settings, fields)}
    return [k for k in configured_identity(settings) if k not in usable]


def left_out_parts(settings: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> list[FieldInfo]:
    """The mapped, countable part fields the identity leaves out, outermost first: where one
    name may stand for several services."""
    used = configured_identity(settings)
    return [fields[k] for k in IDENTITY_PARTS if k not in used and k in fields and fields[k].agg]


def with_part(settings: Mapping[str, Any], key: str) -> list[str]:
    """The identity with ``key`` added in its place, outermost first."""
    used = configured_identity(settings)
    return [k for k in IDENTITY_PARTS if k in used or k == key] + ["service"]


def _counted(f: FieldInfo) -> str:
    return f.agg or f.name


def readable_name(values: Iterable[Any]) -> str:
    """The service's readable name: its non-empty values joined by ``/`` (``prod/web``)."""
    return "/".join(str(v) for v in values if v is not None and str(v) != "")


def name_parts(settings: Mapping[str, Any], name: str) -> dict[str, str]:
    """A readable name cut into its parts, by key; a name with fewer parts than the identity
    gives its innermost ones (``web``: the service alone)."""
    keys = configured_identity(settings)
    values = str(name).split("/", len(keys) - 1)
    return dict(zip(keys[len(keys) - len(values) :], values))


def services_filter(
    settings: Mapping[str, Any], fields: Mapping[str, FieldInfo], services: Sequence[str]
) -> dict[str, Any]:
    """The documents of the ``services`` asked for (values in ``term`` queries, never query
    text): every usable part of each name must match."""
    parts = identity_fields(settings, fields)
    if len(configured_identity(settings)) == 1:
        return {"terms": {_counted(parts[-1]): list(services)}}
    by_key = {f.key: f for f in parts}
    each = []
    for name in services:
        cut = name_parts(settings, name)
        each.append(
            {
                "bool": {
                    "filter": [
                        {"term": {_counted(by_key[k]): v}} for k, v in cut.items() if k in by_key
                    ]
                }
            }
        )
    return {"bool": {"should": each, "minimum_should_match": 1}}


def service_query(parts: Sequence[FieldInfo], values: Sequence[Any]) -> dict[str, Any]:
    """The documents of the service with ``values`` (one per part): an absent value matches
    the documents without that field."""
    filters: list[dict[str, Any]] = []
    for f, v in zip(parts, values):
        if v is None or str(v) == "":
            filters.append({"bool": {"must_not": {"exists": {"field": _counted(f)}}}})
        else:
            filters.append({"term": {_counted(f): v}})
    return {"bool": {"filter": filters}}


def services_agg(
    settings: Mapping[str, Any], fields: Mapping[str, FieldInfo], size: int
) -> dict[str, Any]:
    """A ``terms`` aggregation naming the services of its documents: one per part, nested
    (the most frequent ``size`` values at each level), read by :func:`service_names`."""
    agg: dict[str, Any] | None = None
    for f in reversed(identity_fields(settings, fields)):
        level: dict[str, Any] = {"terms": {"field": _counted(f), "size": size}}
        if agg is not None:
            level["terms"]["missing"] = ""
            level["aggs"] = {_NEXT: agg}
        agg = level
    assert agg is not None  # the service field is always there
    return agg


def service_names(answer: Mapping[str, Any]) -> list[str]:
    """The readable names in the answer of :func:`services_agg`, most frequent first."""
    found: list[tuple[int, str]] = []

    def walk(node: Mapping[str, Any], above: list[Any]) -> None:
        for b in node.get("buckets") or []:
            values = [*above, b.get("key")]
            inner = b.get(_NEXT)
            if isinstance(inner, Mapping):
                walk(inner, values)
            else:
                found.append((int(b.get("doc_count") or 0), readable_name(values)))

    walk(answer, [])
    names: list[str] = []
    for _, name in sorted(found, key=lambda t: -t[0]):
        if name not in names:
            names.append(name)
    return names


def document_service(parts: Sequence[FieldInfo], source: Mapping[str, Any]) -> str | None:
    """The readable name of one document's service (None without a service value)."""
    values = [get_path(source, f.name) for f in parts]
    if not values or values[-1] is None:
        return None
    return readable_name(values)
