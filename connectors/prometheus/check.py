"""``pmrecon check`` for a Prometheus source: reachable, authenticated, version, intervals, metrics.

The first request tells reachability and authentication apart (the check-failure table
of :mod:`connectors.toolkit.failures`); then the server's intervals, then, for each
metric the SLI templates read, whether it has series in the last hour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import CheckResult
from connectors.promql import string_literal
from connectors.toolkit.failures import RequestFailed, check_failure, major
from pmrecon.errors import ConnectorError

from .settings import DEFAULT_INTERVAL
from .transport import PrometheusApi

#: How to fix a failed first request, by kind (over the toolkit's common fixes).
FIXES = {
    "unreachable": "check the URL and that the server is running and reachable from here",
    "dns": "check the host name in the URL",
    "auth": "set bearer_token or username/password (from environment variables)",
    "not_prometheus": "the URL does not point at a Prometheus API; check its path prefix",
}
#: Failures of the first request that prove the server answered.
REACHABLE = ("auth", "not_prometheus", "not_found", "bad_query", "http", "server")


def check(
    api: PrometheusApi,
    server_info: Callable[[], dict[str, Any]],
    metrics: list[str],
    preset: str,
) -> list[CheckResult]:
    """Every check line; ``server_info`` raises ConnectorError when the intervals cannot be read."""
    out, answered = _first_contact(api)
    if not answered:
        return out
    try:
        info = server_info()
    except ConnectorError as exc:
        return [*out, CheckResult(api.name, "intervals", False, str(exc), "see the message")]
    out.append(_intervals(api.name, info))
    out.extend(_metric(api, metric, preset) for metric in metrics)
    return out


def _first_contact(api: PrometheusApi) -> tuple[list[CheckResult], bool]:
    """Reachable, authenticated, version; and whether the server answered at all."""
    url = api.http.shown_url
    try:
        answer = api.call("/api/v1/status/buildinfo", purpose="check: buildinfo")
    except RequestFailed as exc:
        if exc.kind != "not_found":
            return check_failure(api.name, exc, FIXES, REACHABLE), False
        try:
            api.call("/api/v1/query", {"query": "1"}, purpose="check: query")
        except RequestFailed as exc2:
            return check_failure(api.name, exc2, FIXES, REACHABLE), False
        # Thanos, Mimir, VictoriaMetrics: no buildinfo, but PromQL answers
        return _answered(
            api.name,
            f"{url} answers PromQL",
            "queries accepted",
            "unknown (no /api/v1/status/buildinfo: Thanos, Mimir or VictoriaMetrics?)",
        ), True
    version = (answer.data or {}).get("version") if isinstance(answer.data, dict) else None
    number = major(version)
    ok = number is None or number >= 2
    return _answered(
        api.name,
        f"{url} answers",
        "API calls accepted",
        f"Prometheus {version}"
        if version
        else "unknown (empty /api/v1/status/buildinfo: VictoriaMetrics?)",
        ok,
        "" if ok else "pmrecon needs the Prometheus 2.x or 3.x HTTP API",
    ), True


def _answered(
    source: str, reached: str, accepted: str, version: str, ok: bool = True, fix: str = ""
) -> list[CheckResult]:
    """The lines of a server that answered the first request."""
    return [
        CheckResult(source, "reachable", True, reached),
        CheckResult(source, "authenticated", True, accepted),
        CheckResult(source, "version", ok, version, fix),
    ]


def _intervals(source: str, info: dict[str, Any]) -> CheckResult:
    scrape = info.get("scrape_interval")
    return CheckResult(
        source,
        "intervals",
        True,
        f"scrape {scrape:g}s, evaluation {info.get('evaluation_interval') or DEFAULT_INTERVAL:g}s"
        if scrape
        else f"{info.get('config_missing') or 'no scrape interval served'}; a build measures "
        f"it from the samples' spacing (else {DEFAULT_INTERVAL:g}s)",
        "" if scrape else "set scrape_interval in this source's settings",
    )


def _metric(api: PrometheusApi, metric: str, preset: str) -> CheckResult:
    """Whether ``metric`` has series in the last hour."""
    q = f"count(last_over_time({{__name__={string_literal(metric)}}}[1h]))"
    try:
        ans = api.call("/api/v1/query", {"query": q}, purpose=f"check: metric {metric}")
    except RequestFailed as exc:
        return CheckResult(api.name, f"metric {metric}", False, str(exc), "see the error above")
    result = (ans.data or {}).get("result") or []
    count = int(float(result[0]["value"][1])) if result else 0
    return CheckResult(
        api.name,
        f"metric {metric}",
        count > 0,
        f"{count} series in the last hour",
        ""
        if count
        else f"no series named {metric} in the last hour: check the preset "
        f"({preset}) or the SLI templates, and that the service is scraped",
    )
