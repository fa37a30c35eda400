"""Data sources for pmrecon: Prometheus, Elasticsearch, Alertmanager and the saved evidence bundle.

Connectors are registered by type name, the built-in ones exactly as a third-party
one would be (``register("mytype", "mypkg.module:Factory")``). A factory is a callable
``factory(name, settings, context) -> Source``. Imports are lazy, so that "unknown
connector type" and "its Python dependency is not installed" are different errors.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from pmrecon.errors import ConnectorNotFound, ConnectorUnavailable

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
]

_REGISTRY: dict[str, str] = {
    "prometheus": "connectors.prometheus:PrometheusSource",
    "alertmanager": "connectors.alertmanager:AlertmanagerSource",
    "elasticsearch": "connectors.elasticsearch:ElasticsearchSource",
}


def register(kind: str, target: str) -> None:
    """Register a connector type as ``"module:attribute"`` (imported only when used)."""
    _REGISTRY[kind] = target


def available() -> list[str]:
    """The registered connector type names."""
    return sorted(_REGISTRY)


def create(kind: str, name: str, settings: dict[str, Any], context: SourceContext) -> Source:
    """Instantiate the connector registered as ``kind``."""
    try:
        target = _REGISTRY[kind]
    except KeyError:
        near = difflib.get_close_matches(kind, _REGISTRY, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConnectorNotFound(
            f"source {name!r}: unknown connector type {kind!r}{hint}; known types: {', '.join(available())}"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConnectorUnavailable(
            f"source {name!r}: connector type {kind!r} needs the Python package {exc.name!r}, "
            f"which is not installed; install it with: pip install {exc.name}"
        ) from exc
    factory = getattr(module, attr)
    source: Source = factory(name, settings, context)
    return source
