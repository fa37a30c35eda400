"""Service identity: the labels that together name a service, and the services found by them.

A service is one combination of values of its identity labels (``service_label``: one
label, or several such as ``[namespace, ingress]``). Its readable name joins the values
with ``/`` in the identity's order (``prod/web``); its selector matches every label
(``namespace="prod",ingress="web"``), each value an escaped PromQL string literal.

Discovery groups the discovery metric's series by the identity and by the labels that
usually separate services — :data:`SEPARATING_LABELS` — so that a name reused in two
namespaces (clusters, environments) is never merged silently: when one name is seen
under several values of such a label, that label joins the identity (services split)
and a warning says so, with the setting that makes it explicit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.promql import alternatives, string_literal
from pmrecon.errors import ConfigError

#: Labels whose values usually tell apart services that share a name, outermost first:
#: Kubernetes' and Prometheus's usual ones, and OpenTelemetry resource attributes as the
#: Collector and Prometheus's OTLP receiver write them.
SEPARATING_LABELS = (
    "cluster",
    "k8s_cluster_name",
    "env",
    "deployment_environment",
    "deployment_environment_name",
    "namespace",
    "k8s_namespace_name",
    "service_namespace",
)
#: The label Prometheus attaches to every scraped series: the client libraries' service
#: name, and OpenTelemetry's ``<service.namespace>/<service.name>``.
FALLBACK_SERVICE_LABEL = "job"
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def label_names(value: Any, setting: str) -> tuple[str, ...]:
    """A label setting (one name or a list) as a tuple of valid, distinct label names."""
    names = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for name in names:
        name = str(name).strip()
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ConfigError(
                f"{setting}: {name!r} is not a label name (letters, digits and _, "
                "not starting with a digit or __)"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError(f"{setting}: give at least one label name")
    return tuple(out)


def shown_labels(labels: Sequence[str]) -> str | list[str]:
    """The identity as recorded in the evidence: one name as text (as before), several as a list."""
    return labels[0] if len(labels) == 1 else list(labels)


@dataclass(frozen=True)
class ServiceId:
    """One service: its identity labels with their values, in the identity's order."""

    labels: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """The readable name: the non-empty values joined by ``/`` (``prod/web``)."""
        return "/".join(v for _, v in self.labels if v)

    @property
    def value(self) -> str:
        """The value of the identity's last label (``$service`` in templates)."""
        return self.labels[-1][1]

    def selector(self) -> str:
        """The label matchers selecting this service's series, values escaped."""
        return ",".join(f"{k}={string_literal(v)}" for k, v in self.labels)


def service_name(labels: Mapping[str, str], identity: Sequence[str]) -> str | None:
    """The readable name of the series (or alert) with ``labels``, None when one label is absent."""
    if not identity or any(k not in labels for k in identity):
        return None
    return ServiceId(tuple((k, str(labels[k])) for k in identity)).name


def parse_service(name: str, identity: Sequence[str]) -> ServiceId | None:
    """A configured readable name (``prod/web``) as a service; None when it has too few parts.

    The name is cut at its first ``/`` signs, one per label but the last, so only the last
    value may hold a ``/`` (``job="shop/checkout"`` with ``service_label: job``).
    """
    parts = str(name).split("/", len(identity) - 1)
    if len(parts) != len(identity):
        return None
    return ServiceId(tuple(zip(identity, parts)))


def group_services(
    rows: Iterable[Mapping[str, str]], identity: Sequence[str]
) -> tuple[tuple[str, ...], list[ServiceId], dict[str, dict[str, list[str]]]]:
    """The services in ``rows`` (label sets of the discovery metric), split where names repeat.

    Returns the identity used (``identity`` with the separating labels that had to join
    it, outermost first), the services sorted by name, and the names that were split:
    ``{name: {label: [values]}}``.
    """
    keyed = [r for r in rows if all(r.get(k) for k in identity)]
    split: dict[str, dict[str, list[str]]] = {}
    added: list[str] = []
    for label in SEPARATING_LABELS:
        if label in identity:
            continue
        seen: dict[str, set[str]] = {}
        for r in keyed:
            seen.setdefault(_plain(r, identity), set()).add(r.get(label, ""))
        for name, values in seen.items():
            if len(values) > 1:
                split.setdefault(name, {})[label] = sorted(values)
                if label not in added:
                    added.append(label)
    used = tuple(added) + tuple(identity)
    found = {ServiceId(tuple((k, str(r.get(k, ""))) for k in used)) for r in keyed}
    return used, sorted(found, key=lambda s: (s.name, s.labels)), split


def _plain(row: Mapping[str, str], identity: Sequence[str]) -> str:
    return "/".join(str(row[k]) for k in identity)


def services_selector(identity: Sequence[str], services: Sequence[ServiceId]) -> str:
    """Matchers selecting every one of ``services`` at once (and possibly a few more: each
    label's values are matched independently)."""
    return ",".join(
        f"{label}=~{alternatives([dict(s.labels).get(label, '') for s in services])}"
        for label in identity
    )
