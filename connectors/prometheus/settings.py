"""Settings of a Prometheus source: the schema, the SLI kinds and the metric-convention presets.

A preset (``config/presets/<name>.yaml``) names the labels that together identify a
service (``service_label``), the label holding the HTTP status (``status_label``), the
metric whose label values list the services (``discover``), and one PromQL template per
SLI kind, written with ``$selector`` and ``$status_label`` so that it follows whatever
labels are configured; the ``slis`` settings override it template by template.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import yaml

from connectors.promql import MAX_POINTS
from connectors.toolkit.settings import http_settings
from pmrecon.errors import ConfigError
from pmrecon.settings_schema import Key

PRESETS = (
    "http_requests_total",
    "micrometer",
    "ingress_nginx",
    "opentelemetry",
    "opentelemetry-legacy",
)
SLI_KINDS = ("error_ratio", "latency", "throughput", "requests_total", "requests_bad", "uptime")
UNITS = {
    "error_ratio": "ratio",
    "latency": "s",
    "throughput": "req/s",
    "requests_total": "requests",
    "requests_bad": "requests",
    "uptime": "ratio",
    "extra": "",
}
DEFAULT_INTERVAL = 60.0  # Prometheus's own default scrape and evaluation interval
#: Most points per baseline series. The baseline only gives a reference level (a mean or
#: a median) and a faint line under the graphs, so a long baseline is read at a coarser
#: step than the window, with a rate window as long as that step (contiguous coverage).
BASELINE_MAX_POINTS = 1500

SETTINGS_SCHEMA: dict[str, Any] = {
    **http_settings(
        "http://127.0.0.1:9090",
        "base URL, with its path prefix if any (https://host/prometheus)",
        "extra HTTP headers, e.g. X-Scope-OrgID for a Mimir/Cortex tenant",
    ),
    "max_concurrency": Key("int", 4, "queries run at the same time", minimum=1, maximum=64),
    "preset": Key(
        "choice", "http_requests_total", "metric convention whose SLIs to use", choices=PRESETS
    ),
    "service_label": Key(
        "list",
        None,
        "label naming a service, or labels that together do, e.g. [namespace, ingress] "
        "(default: the preset's)",
        items=Key("str"),
    ),
    "status_label": Key(
        "str", None, "label holding the HTTP status code, e.g. code, status (default: the preset's)"
    ),
    "services": Key(
        "list",
        [],
        "services to query, by readable name: values of service_label joined by / "
        "(default: discovered in the window)",
    ),
    "discover": Key(
        "str", None, "metric whose service_label values list the services (default: the preset's)"
    ),
    "quantiles": Key(
        "list", [0.5, 0.95, 0.99], "latency quantiles", items=Key("ratio", exclusive_minimum=0)
    ),
    "rate_window": Key(
        "duration",
        None,
        "range of rate() in SLIs (default: 4 × scrape interval, at least the step)",
        exclusive_minimum=0,
    ),
    "step": Key(
        "duration",
        None,
        "query step (default: adapted to the window, at least the scrape interval)",
        exclusive_minimum=0,
    ),
    # Fewer than 10 points cannot show a breach of a few consecutive steps.
    "max_points": Key(
        "int",
        MAX_POINTS,
        "most points per series (Prometheus refuses more than 11,000)",
        minimum=10,
        maximum=11_000,
    ),
    "max_series": Key(
        "int",
        50,
        "most series one range query brings in for one service (more: cut, with a warning)",
        minimum=1,
        maximum=10_000,
    ),
    "scrape_interval": Key(
        "duration",
        None,
        "scrape interval (default: the server's configuration, else measured from the samples' spacing)",
        exclusive_minimum=0,
    ),
    "evaluation_interval": Key(
        "duration",
        None,
        "rule evaluation interval (default: the rule group's, else the global one)",
        exclusive_minimum=0,
    ),
    "slis": {
        kind: Key(
            "str", None, f"PromQL template of the {kind} SLI (overrides the preset; 'off' drops it)"
        )
        for kind in SLI_KINDS
    },
    "extra": Key(
        "dict",
        {},
        "more series to graph: name -> PromQL template ($selector, $service, $window, $step)",
    ),
    "alerts": {
        "enabled": Key("bool", True, "read alert history from ALERTS / ALERTS_FOR_STATE"),
        "severities": Key("list", [], "keep only alerts with these severity labels (default: all)"),
        "alertname": Key(
            "str", None, "keep only alerts whose name matches this regular expression"
        ),
        "matchers": Key("dict", {}, "label -> value, or =~regex, !~regex, !=value"),
        "chunk": Key("duration", 86400, "longest range read by one raw-sample query", minimum=60),
    },
}


def find_preset(name: str) -> Path:
    """The preset's YAML: in the installed package first, then in the checkout's ``config/presets``."""
    filename = f"{name}.yaml"
    try:
        candidate = (
            importlib.resources.files("pmrecon")
            .joinpath("config")
            .joinpath("presets")
            .joinpath(filename)
        )
        if candidate.is_file():
            return Path(str(candidate))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    local = Path(__file__).resolve().parents[2] / "config" / "presets" / filename
    if local.is_file():
        return local
    raise ConfigError(f"preset {name!r} not found (known: {', '.join(PRESETS)}); reinstall pmrecon")


def load_preset(name: str) -> dict[str, Any]:
    """The preset's settings: ``service_label``, ``status_label``, ``discover`` and ``slis``."""
    path = find_preset(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("slis"), dict):
        raise ConfigError(f"preset {name!r} ({path}) is not a mapping with 'slis'")
    return data
