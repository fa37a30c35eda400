"""Data sources for pmrecon: Prometheus, Elasticsearch, OpenSearch, Alertmanager and the saved evidence bundle.

Connectors are registered by type name, the built-in ones exactly as a third-party
one would be (``register("mytype", "mypkg.module:Factory")``). A factory is a callable
``factory(name, settings, context) -> Source``. Imports are lazy, so that "unknown
connector type" and "its Python dependency is not installed" are different errors.

What the config needs from a connector goes through public functions, never through the
registry itself: :func:`available` (the type names), :func:`settings_schema` (the
settings section a type declares) and :func:`source_secrets` (the values of a source's
settings that can authenticate, to scrub from output). Shared machinery for connector
authors (HTTP client, failures, secrets, query recording) is in :mod:`connectors.toolkit`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pmrecon.errors import ConnectorNotFound, ConnectorUnavailable
from pmrecon.settings_schema import Schema

from .base import CheckResult, CollectRequest, LogsSource, MetricsSource, Source, SourceContext

__all__ = [
    "CheckResult",
    "CollectRequest",
    "LogsSource",
    "MetricsSource",
    "Source",
    "SourceContext",
    "available",
    "create",
    "register",
    "settings_schema",
    "source_secrets",
]

_REGISTRY: dict[str, str] = {
    "prometheus": "connectors.prometheus:PrometheusSource",
    "alertmanager": "connectors.alertmanager:AlertmanagerSource",
    "elasticsearch": "connectors.elasticsearch:ElasticsearchSource",
    "opensearch": "connectors.opensearch:OpenSearchSource",
}


def register(kind: str, target: str) -> None:
    """Register a connector type as ``"module:attribute"`` (imported only when used)."""
    _REGISTRY[kind] = target


def available() -> list[str]:
    """The registered connector type names."""
    return sorted(_REGISTRY)


def create(kind: str, name: str, settings: dict[str, Any], context: SourceContext) -> Source:
    """Instantiate the connector registered as ``kind``."""
    module, attr = _load(kind, f"source {name!r}: ")
    factory = getattr(module, attr)
    source: Source = factory(name, settings, context)
    return source


def settings_schema(kind: str) -> Schema:
    """The settings section connector type ``kind`` declares (its ``SETTINGS_SCHEMA``).

    Raises ConnectorNotFound for an unregistered type, ConnectorUnavailable when its module
    cannot be imported or declares no schema.
    """
    module, _ = _load(kind)
    schema = getattr(module, "SETTINGS_SCHEMA", None)
    if not isinstance(schema, dict):
        raise ConnectorUnavailable(
            f"connector type {kind!r} ({module.__name__}) declares no SETTINGS_SCHEMA dict"
        )
    return schema


def source_secrets(kind: str, settings: Mapping[str, Any]) -> list[str]:
    """The values of a source's settings that can authenticate, in every form sent (scrub them)."""
    from .toolkit.credentials import collect_secrets

    try:
        schema: Schema = settings_schema(kind)
    except (ConnectorNotFound, ConnectorUnavailable):
        schema = {}  # the well-known auth settings (password, token, URL, headers) still count
    return collect_secrets(settings, schema)


def _load(kind: str, where: str = "") -> tuple[ModuleType, str]:
    """The module registered for ``kind``, imported, and the factory's attribute name."""
    try:
        target = _REGISTRY[kind]
    except KeyError:
        near = difflib.get_close_matches(kind, _REGISTRY, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConnectorNotFound(
            f"{where}unknown connector type {kind!r}{hint}; known types: {', '.join(available())}"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConnectorUnavailable(
            f"{where}connector type {kind!r} needs the Python package {exc.name!r}, "
            f"which is not installed; install it with: pip install {exc.name}"
        ) from exc
    return module, attr
