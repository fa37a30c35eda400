"""What the server says about itself: version, scrape and evaluation intervals, alerting rules.

Read once per collect. ``/api/v1/status/buildinfo`` gives the version (Thanos, Mimir and
VictoriaMetrics do not serve it: a ``vector(1)`` query then proves the API answers);
``/api/v1/status/config`` the global intervals (the settings win over it); and
``/api/v1/rules`` each alerting rule's labels, annotations and group interval, so that
alerts get their annotations and their own evaluation interval. Only a server that
cannot answer at all is an error here; anything else missing is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from connectors.toolkit.failures import RequestFailed, short
from pmrecon.errors import ConnectorError
from pmrecon.model import Warning
from pmrecon.settings_schema import parse_duration

from .settings import DEFAULT_INTERVAL
from .transport import PrometheusApi

#: Longest server text quoted in a warning about the server's own configuration.
SHORT = 160


def server_info(
    api: PrometheusApi, settings: Mapping[str, Any], warnings: list[Warning]
) -> dict[str, Any]:
    """``version``, ``flavour``, the intervals and ``rules`` by alert name; ConnectorError if unreachable."""
    info: dict[str, Any] = {"rules": {}}
    info.update(_version(api))
    info.update(_intervals(api, settings, warnings))
    for key in ("scrape_interval", "evaluation_interval"):
        if settings[key]:
            info[key] = float(settings[key])
    info["rules"] = _rules(api, warnings)
    return info


def _version(api: PrometheusApi) -> dict[str, Any]:
    try:
        ans = api.call("/api/v1/status/buildinfo", purpose="server version")
    except RequestFailed as exc:
        if exc.fatal or exc.kind == "timeout":
            raise ConnectorError(str(exc)) from exc
        # Thanos, Mimir, VictoriaMetrics: no buildinfo; prove the API answers at all
        try:
            api.call(
                "/api/v1/query", {"query": "vector(1)"}, purpose="reachability", query="vector(1)"
            )
        except RequestFailed as exc2:
            raise ConnectorError(str(exc2)) from exc2
        return {}
    if isinstance(ans.data, dict):
        return {"version": ans.data.get("version"), "flavour": "prometheus"}
    return {}


def _intervals(
    api: PrometheusApi, settings: Mapping[str, Any], warnings: list[Warning]
) -> dict[str, float]:
    """The global scrape and evaluation intervals of the server's configuration."""
    out: dict[str, float] = {}
    try:
        ans = api.call("/api/v1/status/config", purpose="scrape and evaluation intervals")
        text = ans.data.get("yaml", "") if isinstance(ans.data, dict) else ""
        conf = yaml.safe_load(text) or {}
        glob = conf.get("global") or {}
        for key in ("scrape_interval", "evaluation_interval"):
            if glob.get(key):
                out[key] = parse_duration(go_duration(str(glob[key])))
    except (RequestFailed, yaml.YAMLError, ValueError, AttributeError) as exc:
        if isinstance(exc, RequestFailed) and exc.fatal:
            raise ConnectorError(str(exc)) from exc
        if not settings["scrape_interval"]:
            warnings.append(
                Warning(
                    api.name,
                    f"source {api.name!r}: server configuration not available ({short(exc, SHORT)}); "
                    f"assuming a {DEFAULT_INTERVAL:g}s scrape interval: set scrape_interval in the settings",
                    code="no_server_config",
                    params={"interval": f"{DEFAULT_INTERVAL:g}"},
                )
            )
    return out


def _rules(api: PrometheusApi, warnings: list[Warning]) -> dict[str, list[dict[str, Any]]]:
    """Each alerting rule by name: its labels, annotations and group interval."""
    rules: dict[str, list[dict[str, Any]]] = {}
    try:
        ans = api.call("/api/v1/rules", {"type": "alert"}, purpose="alerting rules (annotations)")
        for group in (ans.data or {}).get("groups") or []:
            interval = group.get("interval")
            for rule in group.get("rules") or []:
                if rule.get("type", "alerting") != "alerting":
                    continue
                rules.setdefault(rule.get("name"), []).append(
                    {
                        "labels": rule.get("labels") or {},
                        "annotations": rule.get("annotations") or {},
                        "interval": float(interval) if interval else None,
                    }
                )
    except RequestFailed as exc:
        if exc.fatal:
            raise ConnectorError(str(exc)) from exc
        warnings.append(
            Warning(
                api.name,
                f"source {api.name!r}: alerting rules not available ({short(exc, SHORT)}); alerts will have no annotations",
                code="no_rules",
                params={},
            )
        )
    return rules


def go_duration(text: str) -> str:
    """Prometheus config durations (``1m30s``, ``15s``) to seconds for parse_duration."""
    total = 0.0
    matched = False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text):
        matched = True
        total += (
            float(num)
            * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[
                unit
            ]
        )
    return f"{total}" if matched else text
