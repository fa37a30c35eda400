"""What the server says about itself: version, scrape and evaluation intervals, alerting rules.

Read once per collect. ``/api/v1/status/buildinfo`` gives the version (Thanos and Mimir do
not serve it: a ``vector(1)`` query then proves the API answers; VictoriaMetrics serves it
empty); ``/api/v1/status/config`` the global intervals (the settings win over it), parsed
with :mod:`pmrecon.safeyaml` (bounded: a server's answer is input like any other); and
``/api/v1/rules`` each alerting rule's labels, annotations and group interval, so that
alerts get their annotations and their own evaluation interval. Only a server that
cannot answer at all is an error here; anything else missing is a warning.

When neither the settings nor the server give the scrape interval (VictoriaMetrics serves
an empty configuration), :func:`settle_scrape_interval` measures it from the spacing of
raw samples in the window, and says so; only when that fails too does the collect fall
back to :data:`~.settings.DEFAULT_INTERVAL`, with a warning.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping
from typing import Any

from connectors.promql import format_duration, metric_names, selector, string_literal
from connectors.toolkit.failures import RequestFailed, short
from pmrecon import safeyaml
from pmrecon.errors import ConnectorError
from pmrecon.model import Warning, Window
from pmrecon.settings_schema import parse_duration

from .failed import raise_if_fatal, warn_unless_fatal
from .settings import DEFAULT_INTERVAL
from .transport import PrometheusApi, fmt_ts

#: Longest server text quoted in a warning about the server's own configuration.
SHORT = 160
#: Most raw samples read to measure the scrape interval (one series, one request).
SPACING_MAX_SAMPLES = 11_000
#: Fewest raw samples whose spacing is taken as the scrape interval.
SPACING_MIN_SAMPLES = 3
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def server_info(
    api: PrometheusApi, settings: Mapping[str, Any], warnings: list[Warning]
) -> dict[str, Any]:
    """``version``, ``flavour``, the intervals and ``rules`` by alert name; ConnectorError if unreachable.

    ``config_missing`` says why the server gave no scrape interval (None when it did).
    """
    info: dict[str, Any] = {"rules": {}}
    info.update(_version(api, warnings))
    info.update(_intervals(api))
    for key in ("scrape_interval", "evaluation_interval"):
        if settings[key]:
            info[key] = float(settings[key])
    info["rules"] = _rules(api, warnings)
    return info


def _version(api: PrometheusApi, warnings: list[Warning]) -> dict[str, Any]:
    try:
        ans = api.call("/api/v1/status/buildinfo", purpose="server version")
    except RequestFailed as exc:
        if exc.fatal or exc.kind == "timeout":
            raise ConnectorError(str(exc)) from exc
        # Thanos, Mimir: no buildinfo; prove the API answers at all
        try:
            api.call(
                "/api/v1/query", {"query": "vector(1)"}, purpose="reachability", query="vector(1)"
            )
        except RequestFailed as exc2:
            raise ConnectorError(str(exc2)) from exc2
        why = "no /api/v1/status/buildinfo: Thanos or Mimir?"
    else:
        version = ans.data.get("version") if isinstance(ans.data, dict) else None
        if version:
            return {"version": str(version), "flavour": "prometheus"}
        why = "/api/v1/status/buildinfo is empty: VictoriaMetrics?"
    warnings.append(
        Warning(
            api.name,
            f"source {api.name!r}: server version unknown ({why}); its PromQL is taken as "
            f"Prometheus's, though rate() and lookback differ on some servers "
            f"(docs/definitions.md, 'Prometheus-compatible servers')",
            code="unknown_server_version",
            params={},
        )
    )
    return {}


def _intervals(api: PrometheusApi) -> dict[str, Any]:
    """The global scrape and evaluation intervals of the server's configuration.

    ``config_missing`` says why there is no scrape interval; the warning waits for
    :func:`settle_scrape_interval`, which may still measure it.
    """
    out: dict[str, Any] = {}
    try:
        ans = api.call("/api/v1/status/config", purpose="scrape and evaluation intervals")
        text = ans.data.get("yaml", "") if isinstance(ans.data, dict) else ""
        if not isinstance(text, str):
            raise ValueError("its 'yaml' field is not text")
        if len(text) > safeyaml.MAX_BYTES:
            raise ValueError(f"it holds more than {safeyaml.MAX_BYTES} characters")
        conf = safeyaml.load(text)
        glob = conf.get("global") if isinstance(conf, dict) else None
        for key in ("scrape_interval", "evaluation_interval"):
            if isinstance(glob, dict) and glob.get(key):
                out[key] = parse_duration(go_duration(str(glob[key])))
    except (RequestFailed, ValueError) as exc:  # YamlRefused is a ValueError
        if isinstance(exc, RequestFailed):
            raise_if_fatal(exc)
        out["config_missing"] = f"server configuration not available ({short(exc, SHORT)})"
        return out
    if "scrape_interval" not in out:
        out["config_missing"] = (
            "the server's configuration sets no scrape interval"
            if text.strip()
            else "the server serves an empty configuration (VictoriaMetrics?)"
        )
    return out


def settle_scrape_interval(
    api: PrometheusApi,
    info: dict[str, Any],
    metric: str | None,
    window: Window,
    warnings: list[Warning],
) -> None:
    """Without a scrape interval from the settings or the server: measure it, or warn of the default.

    Measured from the raw samples of ``metric`` (the densest series in the window), it
    goes into ``info["scrape_interval"]`` with a warning that says how it was found.
    """
    if info.get("scrape_interval"):
        return
    why = info.get("config_missing") or "the server gave no scrape interval"
    found = sample_spacing(api, metric, window) if metric else None
    if found is None:
        warnings.append(
            Warning(
                api.name,
                f"source {api.name!r}: {why}, and too few raw samples of "
                f"{metric or 'any metric'} in the window to measure it; assuming a "
                f"{DEFAULT_INTERVAL:g}s scrape interval: set scrape_interval in the settings",
                code="no_server_config",
                params={"interval": f"{DEFAULT_INTERVAL:g}"},
            )
        )
        return
    spacing, series = found
    info["scrape_interval"] = spacing
    warnings.append(
        Warning(
            api.name,
            f"source {api.name!r}: {why}; scrape interval taken as {spacing:g}s, the spacing "
            f"of the raw samples of {series} in the window: set scrape_interval in the "
            f"settings if that is not the scrape interval",
            code="no_server_config",
            params={"interval": f"{spacing:g}"},
        )
    )


def sample_spacing(api: PrometheusApi, metric: str, window: Window) -> tuple[float, str] | None:
    """The median spacing of the raw samples of ``metric``'s densest series in the window, and that series.

    None when the window holds fewer than :data:`SPACING_MIN_SAMPLES` samples of it or a
    request fails short of fatally. Two requests: the densest series and its sample count,
    then its raw samples (or, past :data:`SPACING_MAX_SAMPLES`, the window over the count).
    """
    names = metric_names(metric)
    span = max(1.0, window.seconds)
    at = window.end.timestamp()
    try:
        q = f"topk(1, count_over_time({metric}[{format_duration(span)}]))"
        result = _instant(api, q, at, f"scrape interval (densest series of {metric})")
        if not result or not names:
            return None
        labels = {k: v for k, v in (result[0].get("metric") or {}).items() if k != "__name__"}
        count = int(float(result[0]["value"][1]))
        if not all(_LABEL_NAME.fullmatch(str(k)) for k in labels):
            return None  # not a label name: nothing to select the series by
        series = selector(
            names[0], [f"{k}={string_literal(str(v))}" for k, v in sorted(labels.items())]
        )
        if count < SPACING_MIN_SAMPLES:
            return None
        if count > SPACING_MAX_SAMPLES:
            return _round_interval(span / count), series
        q = f"{series}[{format_duration(span)}]"
        matrix = _instant(api, q, at, f"scrape interval (raw samples of {series})")
        times = sorted({float(x) for item in matrix[:1] for x, _v in item.get("values") or []})
    except RequestFailed as exc:
        raise_if_fatal(exc)
        return None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None  # an answer of the wrong shape: no measure rather than a wrong one
    deltas = [b - a for a, b in zip(times, times[1:])]
    if len(deltas) < SPACING_MIN_SAMPLES - 1:
        return None
    return _round_interval(statistics.median(deltas)), series


def _instant(api: PrometheusApi, query: str, at: float, purpose: str) -> list[Any]:
    """The ``result`` list of an instant query at ``at`` (empty for an answer without one)."""
    ans = api.call(
        "/api/v1/query",
        {"query": query, "time": fmt_ts(at)},
        method="POST",
        purpose=purpose,
        query=query,
        context=f"query: {query}",
    )
    result = ans.data.get("result") if isinstance(ans.data, dict) else None
    return result if isinstance(result, list) else []


def _round_interval(seconds: float) -> float:
    """A measured spacing: whole seconds when within 2 % of them (scrape jitter), else ms."""
    whole = round(seconds)
    if whole >= 1 and abs(seconds - whole) <= 0.02 * seconds:
        return float(whole)
    return round(seconds, 3)


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
                        "for": float(rule["duration"]) if "duration" in rule else None,
                    }
                )
    except RequestFailed as exc:
        text = (
            f"source {api.name!r}: alerting rules not available ({short(exc, SHORT)}); "
            "alerts will have no annotations"
        )
        warn_unless_fatal(exc, warnings, api.name, text, "no_rules")
        return rules
    if not rules:
        # VictoriaMetrics answers with no group: its rules live in vmalert
        warnings.append(
            Warning(
                api.name,
                f"source {api.name!r}: the server lists no alerting rule (VictoriaMetrics "
                f"lists vmalert's when started with -vmalert.proxyURL); alerts will have no "
                f"annotations, and each alert's evaluation interval is its samples' spacing",
                code="no_rules_listed",
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
