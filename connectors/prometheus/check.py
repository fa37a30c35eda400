"""``pmrecon check`` for a Prometheus source: reachable, authenticated, version, intervals, metrics.

The first request tells reachability and authentication apart (the check-failure table
of :mod:`connectors.toolkit.failures`); then the server's intervals, then, for each
metric the SLI queries read (as the source renders them), whether it has series in the
last hour, and whether it has every label their selectors match on. A label it lacks, or
a histogram without its ``_bucket`` series, is explained with the setting that fixes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import CheckResult
from connectors.promql import regex_quote, string_literal
from connectors.toolkit.failures import RequestFailed, check_failure, major
from pmrecon.errors import ConnectorError

from .selectors import Selector, SelectorSyntaxError, selectors
from .settings import DEFAULT_INTERVAL
from .transport import PrometheusApi, fmt_ts

#: How to fix a failed first request, by kind (over the toolkit's common fixes).
FIXES = {
    "unreachable": "check the URL and that the server is running and reachable from here",
    "dns": "check the host name in the URL",
    "auth": "set bearer_token or username/password (from environment variables)",
    "not_prometheus": "the URL does not point at a Prometheus API; check its path prefix",
}
#: The ``$service`` value queries are rendered with for the check: a matcher holding it is
#: the one that names the service, whatever its label.
SERVICE_SENTINEL = "pmrecon-check-service"
#: Labels that usually name a service, most specific first (client libraries, OpenTelemetry,
#: Kubernetes, Micrometer, ingress-nginx); the first one a metric has is the fix offered.
SERVICE_LABELS = (
    "service", "service_name", "application", "app", "app_kubernetes_io_name",
    "ingress", "container", "job", "exported_job",
)  # fmt: skip
#: Labels that usually carry an HTTP status code.
STATUS_LABELS = (
    "code", "status", "status_code", "http_status_code", "http_response_status_code",
    "response_code",
)  # fmt: skip
#: How far back the check looks for series and labels.
LOOKBACK_SECONDS = 3600
#: Failures of the first request that prove the server answered.
REACHABLE = ("auth", "not_prometheus", "not_found", "bad_query", "http", "server")


@dataclass(frozen=True)
class SliQuery:
    """An SLI (or extra series) query as the source runs it, for :data:`SERVICE_SENTINEL`."""

    sli: str  # the SLI kind, or the extra series' name
    query: str
    setting: str  # where it is configured: slis.error_ratio, extra.name


def check(
    api: PrometheusApi,
    server_info: Callable[[], dict[str, Any]],
    queries: list[SliQuery],
    preset: str,
    labels: Mapping[str, list[str]] | None = None,
) -> list[CheckResult]:
    """Every check line; ``server_info`` raises ConnectorError when the intervals cannot be
    read; ``labels``: the labels each label setting names (``service_label``,
    ``status_label``), to say which setting fixes a missing label."""
    out, answered = _first_contact(api)
    if not answered:
        return out
    try:
        info = server_info()
    except ConnectorError as exc:
        return [*out, CheckResult(api.name, "intervals", False, str(exc), "see the message")]
    out.append(_intervals(api.name, info))
    out.extend(explain_queries(api, queries, preset, labels or {}))
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


def _series_count(api: PrometheusApi, metric: str) -> int:
    """How many series ``metric`` had in the last hour."""
    q = f"count(last_over_time({{__name__={string_literal(metric)}}}[1h]))"
    ans = api.call("/api/v1/query", {"query": q}, purpose=f"check: metric {metric}")
    result = (ans.data or {}).get("result") or []
    return int(float(result[0]["value"][1])) if result else 0


def _metric(api: PrometheusApi, metric: str, count: int, preset: str) -> CheckResult:
    """Whether ``metric`` has series in the last hour."""
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


def explain_queries(
    api: PrometheusApi, queries: list[SliQuery], preset: str, labels: Mapping[str, list[str]]
) -> list[CheckResult]:
    """A line per metric the queries read: its series, or why the SLIs reading it will be
    empty (no ``_bucket`` series, a label it does not have) and the setting that fixes it."""
    out: list[CheckResult] = []
    used: dict[str, list[tuple[SliQuery, Selector]]] = {}
    for q in queries:
        try:
            found = selectors(q.query)
        except SelectorSyntaxError as exc:
            out.append(CheckResult(api.name, f"query {q.sli}", False, str(exc), f"fix {q.setting}"))
            continue
        for sel in found:
            if sel.metric:
                used.setdefault(sel.metric, []).append((q, sel))
    for metric, uses in used.items():
        try:
            count = _series_count(api, metric)
            if count == 0 and metric.endswith("_bucket"):
                line = _missing_buckets(api, metric, uses)
                if line is not None:
                    out.append(line)
                    continue
            out.append(_metric(api, metric, count, preset))
        except RequestFailed as exc:
            out.append(
                CheckResult(api.name, f"metric {metric}", False, str(exc), "see the error above")
            )
            continue
        if not count:
            continue
        try:
            out.extend(_missing_labels(api, metric, uses, labels))
        except RequestFailed as exc:
            out.append(
                CheckResult(
                    api.name,
                    f"labels of {metric}",
                    not exc.fatal,
                    f"label names not read, selectors not checked: {exc}",
                    "" if not exc.fatal else "see the error above",
                )
            )
    return out


def _bounded(match: str) -> dict[str, str]:
    """The parameters of a metadata call over the last hour, for the series of ``match``."""
    now = time.time()
    # the end a few minutes ahead: a server whose clock is ahead of ours still shows its
    # newest series (the future holds none)
    return {"match[]": match, "start": fmt_ts(now - LOOKBACK_SECONDS), "end": fmt_ts(now + 300)}


def _label_names(api: PrometheusApi, metric: str) -> list[str]:
    """The label names of ``metric``'s series in the last hour."""
    ans = api.call(
        "/api/v1/labels",
        _bounded(f"{{__name__={string_literal(metric)}}}"),
        purpose=f"check: labels of {metric}",
    )
    return sorted(str(x) for x in ans.data or [] if x != "__name__")


def _missing_labels(
    api: PrometheusApi,
    metric: str,
    uses: list[tuple[SliQuery, Selector]],
    labels: Mapping[str, list[str]],
) -> list[CheckResult]:
    """A line per label the queries match ``metric`` on that none of its series has."""
    has = _label_names(api, metric)
    if not has:  # series counted but no label names served: nothing to compare with
        return []
    missing: dict[str, list[SliQuery]] = {}
    names_service: set[str] = set()
    for q, sel in uses:
        for m in sel.matchers:
            if m.label == "__name__" or m.label in has or m.matches_empty():
                continue
            if q not in missing.setdefault(m.label, []):
                missing[m.label].append(q)
            if SERVICE_SENTINEL in m.value:
                names_service.add(m.label)
    out = []
    for label, qs in missing.items():
        slis = ", ".join(q.sli for q in qs)
        out.append(
            CheckResult(
                api.name,
                f"labels of {metric}",
                False,
                f"`{metric}` has no label `{label}` (read by {slis}); it has "
                + (", ".join(has) or "no label"),
                _label_fix(label, label in names_service, has, labels, qs[0]),
            )
        )
    return out


def _label_fix(
    label: str,
    names_service: bool,
    has: list[str],
    labels: Mapping[str, list[str]],
    query: SliQuery,
) -> str:
    """The setting that puts a label the metric has in place of ``label``."""
    known: tuple[str, ...]
    if names_service:
        setting, known = "service_label", SERVICE_LABELS
    elif label in labels.get("status_label", []):
        setting, known = "status_label", STATUS_LABELS
    else:
        return f"set {query.setting} to a query on labels the metric has"
    candidate = next((x for x in known if x in has and x != label), None)
    if setting in labels and label not in labels[setting]:
        # the query names the label itself (a template), not through the setting
        shown = ", ".join(labels[setting]) or "unset"
        return (
            f"the query names `{label}`, not {setting} ({shown}): set {query.setting} "
            f"to use {f'`{candidate}`' if candidate else 'a label the metric has'}"
        )
    if candidate is None:
        return f"set {setting} to the label of the metric that holds it"
    return f"set `{setting}: {candidate}`"


def _missing_buckets(
    api: PrometheusApi, metric: str, uses: list[tuple[SliQuery, Selector]]
) -> CheckResult | None:
    """Why a histogram's ``_bucket`` series are missing when its other series exist: a
    summary, or buckets dropped; None when none of its series exist either."""
    base = metric[: -len("_bucket")]
    try:
        ans = api.call(
            "/api/v1/label/__name__/values",
            _bounded(f"{{__name__=~{string_literal(regex_quote(base) + '(_count|_sum)?')}}}"),
            purpose=f"check: series of the histogram {base}",
        )
    except RequestFailed as exc:
        if exc.fatal:
            raise
        return None
    found = sorted(str(x) for x in ans.data or [])
    if not found:
        return None
    slis = ", ".join(dict.fromkeys(q.sli for q, _ in uses))
    summary = base in found
    return CheckResult(
        api.name,
        f"metric {metric}",
        False,
        f"{slis} needs {metric}; only {', '.join(found)} exist"
        + (f" ({base} looks like a summary: quantiles computed by the client)" if summary else ""),
        "export the metric as a histogram (with buckets), or set "
        + " / ".join(dict.fromkeys(q.setting for q, _ in uses))
        + f" to a query of what exists{f', e.g. {base}{{quantile=...}}' if summary else ''}",
    )
