"""Ground-truth scenarios in the metric conventions real services expose.

Each :class:`ConventionScenario` is a :class:`tests.scenarios.Scenario` (same declaration,
same generator, same truth) whose series are rewritten, label by label and name by name,
into another convention after the generator wrote them in its own:

- ``client_default``: the Prometheus client libraries' default — ``http_requests_total``
  and ``http_request_duration_seconds`` with ``job``, ``instance``, ``handler``, ``code``
  and no ``service`` label (the scrape ``job`` names the service);
- ``opentelemetry``: ``http_server_request_duration_seconds_{bucket,count,sum}`` with
  ``service_name``, ``job="<namespace>/<name>"``, ``http_response_status_code``,
  ``http_route``, ``http_request_method`` (no request counter: ``_count`` counts);
- ``opentelemetry_job``: the same without ``service_name`` (resource attributes not
  promoted to labels): only ``job="<namespace>/<name>"`` names the service;
- ``opentelemetry_legacy``: ``http_server_duration_milliseconds_*`` with
  ``http_status_code``: buckets (``le``) and ``_sum`` in milliseconds;
- ``ingress_namespaced``: ingress-nginx with the namespace taken from the service's
  declared name, ``<namespace>/<ingress>``, so one Ingress name can live in two namespaces.

A service's declared name is the readable name pmrecon must give it (``prod/web``,
``shop/checkout`` when ``job`` names it, ``checkout`` when ``service_name`` does, its
``job`` then being ``shop/checkout``), so the truth (computed from the declaration)
names services the same way. Alerts carry the labels an alerting rule over that convention would keep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tests.scenarios import (
    SCENARIOS,
    AlertSpec,
    Phase,
    Scenario,
    ServiceProfile,
    _standard_signatures,
    t,
)

#: The convention each rewrite starts from (what the base generator writes).
BASE = {
    "client_default": "http_requests_total",
    "opentelemetry": "micrometer",
    "opentelemetry_job": "micrometer",
    "opentelemetry_legacy": "micrometer",
    "ingress_namespaced": "ingress_nginx",
}
#: The pmrecon preset that reads each convention.
PRESET = {
    "client_default": "http_requests_total",
    "opentelemetry": "opentelemetry",
    "opentelemetry_job": "opentelemetry",
    "opentelemetry_legacy": "opentelemetry-legacy",
    "ingress_namespaced": "ingress_nginx",
    "micrometer": "micrometer",
}
#: Micrometer's histogram name, and what each OpenTelemetry convention calls it.
_MICROMETER = "http_server_requests_seconds"
_OTEL_NAME = {
    "opentelemetry": "http_server_request_duration_seconds",
    "opentelemetry_job": "http_server_request_duration_seconds",
    "opentelemetry_legacy": "http_server_duration_milliseconds",
}
#: Micrometer tag -> OpenTelemetry attribute label (current, then older conventions).
_OTEL_LABELS = {
    "status": ("http_response_status_code", "http_status_code"),
    "uri": ("http_route", "http_route"),
    "method": ("http_request_method", "http_method"),
}

Series = tuple[str, dict[str, str], list[tuple[int, float]]]


@dataclass
class ConventionScenario(Scenario):
    """A scenario whose series are rewritten into ``shape`` (see the module docstring)."""

    shape: str = "client_default"

    def __post_init__(self) -> None:
        self.convention = BASE[self.shape]

    def _service_series(self, svc: ServiceProfile) -> Iterator[Series]:
        rewrite = _REWRITES[self.shape]
        for metric, labels, samples in super()._service_series(svc):
            yield rewrite(svc.name, metric, labels, samples)

    def alert_labels(self, spec: AlertSpec) -> dict[str, str]:
        """The labels an alerting rule over this convention keeps (``sum by`` its identity)."""
        ns, _, name = spec.service.rpartition("/")
        identity = {
            "client_default": {"job": spec.service, "instance": f"{spec.service}-0:8080"},
            "opentelemetry": {"service_name": name, "job": _otel_job(spec.service)},
            "opentelemetry_job": {"job": spec.service},
            "opentelemetry_legacy": {"service_name": name, "job": _otel_job(spec.service)},
            "ingress_namespaced": {"namespace": ns, "ingress": name},
        }[self.shape]
        return {"alertname": spec.name, **identity, "severity": spec.severity}


def _client_default(
    service: str, metric: str, labels: dict[str, str], samples: list[tuple[int, float]]
) -> Series:
    out = {"job": service, "instance": f"{service}-0:8080", "handler": "/api/items"}
    out.update({k: v for k, v in labels.items() if k != "service"})
    return metric, out, samples


def _opentelemetry(
    shape: str,
) -> Callable[[str, str, dict[str, str], list[tuple[int, float]]], Series]:
    legacy = shape == "opentelemetry_legacy"

    def rewrite(
        service: str, metric: str, labels: dict[str, str], samples: list[tuple[int, float]]
    ) -> Series:
        suffix = metric[len(_MICROMETER) :]
        out = {"job": _otel_job(service)}
        if shape != "opentelemetry_job":
            out["service_name"] = service.rpartition("/")[2]
        for tag, value in labels.items():
            if tag in _OTEL_LABELS:
                out[_OTEL_LABELS[tag][legacy]] = value
            elif tag == "le":
                out["le"] = _millis_le(value) if legacy else value
        if legacy and suffix == "_sum":
            samples = [(x, v * 1000) for x, v in samples]
        return _OTEL_NAME[shape] + suffix, out, samples

    return rewrite


def _otel_job(service: str) -> str:
    """``job`` as OpenTelemetry writes it: ``<service.namespace>/<service.name>``."""
    return service if "/" in service else f"shop/{service}"


def _millis_le(le: str) -> str:
    return le if math.isinf(float(le)) else repr(float(le) * 1000)


def _ingress_namespaced(
    service: str, metric: str, labels: dict[str, str], samples: list[tuple[int, float]]
) -> Series:
    ns, _, name = service.rpartition("/")
    return metric, {**labels, "namespace": ns, "ingress": name, "service": name}, samples


_REWRITES = {
    "client_default": _client_default,
    "opentelemetry": _opentelemetry("opentelemetry"),
    "opentelemetry_job": _opentelemetry("opentelemetry_job"),
    "opentelemetry_legacy": _opentelemetry("opentelemetry_legacy"),
    "ingress_namespaced": _ingress_namespaced,
}


# --------------------------------------------------------------------------- catalogue


def _one_failing(name: str, day: str, shape: str, service: str) -> ConventionScenario:
    """``service`` loses 20 % of its requests at 1.2 s for 30 minutes; a quieter one is fine."""
    quiet = service.rpartition("/")[0] + "/catalog" if "/" in service else "catalog"
    return ConventionScenario(
        name,
        t(f"{day} 09:30"),
        t(f"{day} 12:00"),
        services=[
            ServiceProfile(
                service, rps=20, phases=(Phase(t(f"{day} 10:30"), t(f"{day} 11:00"), 0.2, 1.2),)
            ),
            ServiceProfile(quiet, rps=8),
        ],
        alerts=[AlertSpec("HighErrorRate", service, ((t(f"{day} 10:32"), t(f"{day} 11:01")),))],
        log_signatures=_standard_signatures(service)[:1],
        shape=shape,
        description=f"{service} fails for 30 minutes ({shape} metric names)",
    )


def client_default() -> ConventionScenario:
    return _one_failing("client_default", "2026-09-07", "client_default", "checkout")


def opentelemetry() -> ConventionScenario:
    return _one_failing("opentelemetry", "2026-09-14", "opentelemetry", "checkout")


def opentelemetry_job() -> ConventionScenario:
    return _one_failing("opentelemetry_job", "2026-09-21", "opentelemetry_job", "shop/checkout")


def opentelemetry_legacy() -> ConventionScenario:
    return _one_failing("opentelemetry_legacy", "2026-09-28", "opentelemetry_legacy", "checkout")


def ingress_two_namespaces() -> ConventionScenario:
    """Ingress ``web`` in ``prod`` breaks (30 % 5xx, 4 s); ``web`` in ``staging``, three
    times busier, stays fine: merged, they would read 7.5 % errors and a p99 under 4 s."""
    d = "2026-10-05"
    return ConventionScenario(
        "ingress_two_namespaces",
        t(f"{d} 09:30"),
        t(f"{d} 12:00"),
        services=[
            ServiceProfile(
                "prod/web", rps=20, phases=(Phase(t(f"{d} 10:30"), t(f"{d} 11:00"), 0.3, 4.0),)
            ),
            ServiceProfile("staging/web", rps=60),
        ],
        alerts=[AlertSpec("HighErrorRate", "prod/web", ((t(f"{d} 10:32"), t(f"{d} 11:01")),))],
        shape="ingress_namespaced",
        description="one Ingress name in two namespaces, one of them broken",
    )


CONVENTION_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "client_default": client_default,
    "opentelemetry": opentelemetry,
    "opentelemetry_job": opentelemetry_job,
    "opentelemetry_legacy": opentelemetry_legacy,
    "ingress_two_namespaces": ingress_two_namespaces,
    # Micrometer as the base generator writes it, read through its preset like the others
    "micrometer": SCENARIOS["micrometer"],
}


def preset_of(sc: Scenario) -> str:
    """The preset that reads ``sc``'s metrics."""
    return PRESET[sc.shape if isinstance(sc, ConventionScenario) else sc.convention]
