"""Requests by label value: which instance, route, method or status held the bad requests.

The ``requests_bad`` and ``requests_total`` templates the SLIs already run are read again,
grouped by the service's identity and by one label at a time: one range query per label
and per span (window, baseline), whatever the number of services, each answer bounded to
the :data:`TOP_VALUES` busiest values of each service (``topk``). Only labels the counted
metric carries are asked for (``/api/v1/labels``), at most one per role
(:data:`ROLE_LABELS`). A template that names one service (``$service``) or aggregates
other than with plain ``sum(...)`` cannot be grouped: no breakdown (a warning would be a
standing line in every report of such a setup, for a lead, not a figure).
The answers become :class:`~pmrecon.model.Breakdown` records; the analysis
(:mod:`pmrecon.analysis.concentration`) decides what they say.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.promql import (
    Raw,
    TemplateError,
    format_duration,
    metric_names,
    string_literal,
    substitute,
)
from connectors.toolkit.failures import RequestFailed
from pmrecon.errors import ConnectorError
from pmrecon.model import Breakdown, QueryRecord, Warning, Window, utc

from .identity import ServiceId, services_selector
from .selectors import SelectorSyntaxError, tokens
from .slis import Span, _points
from .transport import PrometheusApi, fmt_step, fmt_ts, run_each

#: The busiest values kept per service, label and part (bad, total): the cardinality bound.
TOP_VALUES = 10
#: The labels read for each role, the first one the metric has: where a request was
#: served, what it asked for, how. The status label (the preset's) is the fourth role.
ROLE_LABELS: dict[str, tuple[str, ...]] = {
    "location": ("instance", "pod", "k8s_pod_name", "host", "node"),
    "route": ("route", "http_route", "handler", "uri", "path", "endpoint", "url_path"),
    "method": ("method", "http_request_method", "http_method"),
}
#: The label that tells the two parts of one answer apart (never a label of the data).
PART_LABEL = "pmrecon_part"
_SUM = re.compile(r"\bsum\s*\(")
_SERVICE_PLACEHOLDER = re.compile(r"\$(?:service\b|\{service\})")


@dataclass
class _Job:
    label: str
    role: str
    span: Span
    query: str
    start: float
    end: float
    record: QueryRecord | None = None
    data: Any = None
    error: RequestFailed | None = None


@dataclass
class Plan:
    """What a breakdown reads: the grouped bad and total expressions, and the metric they count."""

    metric: str
    bad: str  # with ``$by`` where the grouping labels go
    total: str
    problems: list[str] = field(default_factory=list)


def plan(templates: Mapping[str, str]) -> Plan | None:
    """The grouped forms of the ``requests_bad``/``requests_total`` templates, or None.

    None when either is missing; a plan with ``problems`` when they cannot be grouped.
    """
    bad, total = templates.get("requests_bad"), templates.get("requests_total")
    if not bad or not total:
        return None
    names = metric_names(total)
    out = Plan(names[0] if names else "", _grouped(bad), _grouped(total))
    for kind, tpl in (("requests_bad", bad), ("requests_total", total)):
        if _SERVICE_PLACEHOLDER.search(tpl):
            out.problems.append(f"{kind} names one service ($service)")
        elif not _only_plain_sums(tpl):
            out.problems.append(f"{kind} aggregates otherwise than with sum(...)")
    if not out.metric:
        out.problems.append("requests_total reads no metric by name")
    return out


def _grouped(template: str) -> str:
    return _SUM.sub("sum by ($by) (", template)


def _only_plain_sums(template: str) -> bool:
    """Whether every aggregation of ``template`` is a ``sum(`` with no label list."""
    try:
        toks = tokens(template.replace("$", "_"))
    except SelectorSyntaxError:
        return False
    aggregations = ("sum", "min", "max", "avg", "count", "topk", "bottomk", "group", "quantile")
    for i, (kind, text) in enumerate(toks):
        if kind != "ident" or text.lower() not in aggregations:
            continue
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if nxt != "(" or text.lower() != "sum":
            return False
    return any(kind == "ident" and text.lower() == "sum" for kind, text in toks)


def collect_breakdowns(
    api: PrometheusApi,
    templates: Mapping[str, str],
    identity: tuple[str, ...],
    services: Sequence[ServiceId],
    status_label: str,
    spans: Sequence[Span],
    window: Window,
    workers: int,
    warnings: list[Warning],
) -> list[Breakdown]:
    """The services' requests by value of each role's label, over every span."""
    grouped = plan(templates)
    if grouped is None or not services:
        return []
    if grouped.problems:  # the user's own templates: no lead on where errors were (documented)
        return []
    present = _label_names(api, grouped.metric, window, warnings)
    labels = chosen_labels(present, status_label)
    if all(role == "status" for _, role in labels):  # the status alone names no lead
        return []
    jobs = [
        job
        for label, role in labels
        for span in spans
        if (job := _job(grouped, identity, services, status_label, label, role, span)) is not None
    ]
    _run(api, jobs, workers)
    out: list[Breakdown] = []
    for job in jobs:
        if job.error is not None:
            if job.error.fatal:
                raise ConnectorError(str(job.error)) from job.error
            warnings.append(
                Warning(
                    api.name,
                    str(job.error),
                    code="breakdown_failed",
                    params={"label": job.label, "kind": job.error.kind},
                )
            )
            continue
        out.extend(to_breakdowns(job.data, job, identity))
    return out


def chosen_labels(present: Sequence[str], status_label: str) -> list[tuple[str, str]]:
    """(label, role) pairs: the first label of each role the metric has, then the status label."""
    out = []
    for role, names in ROLE_LABELS.items():
        found = next((n for n in names if n in present), None)
        if found is not None and found != status_label:
            out.append((found, role))
    if status_label in present:
        out.append((status_label, "status"))
    return out


def _label_names(
    api: PrometheusApi, metric: str, window: Window, warnings: list[Warning]
) -> list[str]:
    """The label names of ``metric``'s series in the window (none when the server will not say)."""
    params = {
        "match[]": f"{{__name__={string_literal(metric)}}}",
        "start": fmt_ts(window.start.timestamp()),
        "end": fmt_ts(window.end.timestamp()),
    }
    try:
        ans = api.call(
            "/api/v1/labels",
            params,
            purpose=f"label names of {metric} (breakdowns by instance, route, status)",
            query=params["match[]"],
        )
    except RequestFailed as exc:
        if exc.fatal:
            raise ConnectorError(str(exc)) from exc
        warnings.append(
            Warning(
                api.name,
                str(exc),
                code="breakdown_failed",
                params={"label": "*", "kind": exc.kind},
            )
        )
        return []
    return [str(x) for x in ans.data or [] if isinstance(x, str)]


def _job(
    grouped: Plan,
    identity: tuple[str, ...],
    services: Sequence[ServiceId],
    status_label: str,
    label: str,
    role: str,
    span: Span,
) -> _Job | None:
    """The query of ``label`` over ``span``: both parts, grouped, the busiest values of each."""
    by = ", ".join(dict.fromkeys((*identity, label)))
    values = {
        "selector": Raw(services_selector(identity, services)),
        "status_label": Raw(status_label),
        "window": Raw(format_duration(span.rate_window)),
        "step": Raw(format_duration(span.count_step)),
        "by": Raw(by),
    }
    try:
        bad, total = substitute(grouped.bad, values), substitute(grouped.total, values)
    except TemplateError:
        return None
    keep = ", ".join((*identity, PART_LABEL))
    query = (
        f"topk by ({keep}) ({TOP_VALUES}, "
        f'label_replace({bad}, "{PART_LABEL}", "bad", "__name__", ".*") or '
        f'label_replace({total}, "{PART_LABEL}", "total", "__name__", ".*"))'
    )
    start = math.floor(span.start / span.count_step) * span.count_step + span.count_step
    end = math.floor(span.end / span.count_step) * span.count_step
    if end < start:
        return None
    return _Job(label, role, span, query, start, end)


def _run(api: PrometheusApi, jobs: list[_Job], workers: int) -> None:
    """Record every job in order, then run them ``workers`` at a time."""
    for job in jobs:
        prefix = "baseline " if job.span.baseline else ""
        job.record = api.recorder.record(
            f"{prefix}requests by {job.label} (where the bad requests were)",
            job.query,
            endpoint="/api/v1/query_range",
            start=utc(job.start),
            end=utc(job.end),
            step_seconds=job.span.count_step,
        )

    def run(job: _Job) -> None:
        assert job.record is not None
        try:
            job.data = api.call(
                "/api/v1/query_range",
                {
                    "query": job.query,
                    "start": fmt_ts(job.start),
                    "end": fmt_ts(job.end),
                    "step": fmt_step(job.span.count_step),
                },
                method="POST",
                purpose=job.record.purpose,
                record=job.record,
                context=f"requests by {job.label}; query: {job.query}",
            ).data
        except RequestFailed as exc:
            job.error = exc
        except ConnectorError as exc:  # deadline
            job.error = RequestFailed(str(exc), "deadline", True)

    run_each(run, jobs, workers, f"{api.name}-by")


def to_breakdowns(data: Any, job: _Job, identity: tuple[str, ...]) -> list[Breakdown]:
    """One record per service and value, its bad and total counts on one time grid."""
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        return []
    parts: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    for item in data.get("result") or []:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        part = labels.get(PART_LABEL)
        if part not in ("bad", "total") or any(not labels.get(k) for k in identity[-1:]):
            continue
        service = "/".join(labels.get(k, "") for k in identity if labels.get(k))
        xs, ys, _ = _points(item.get("values") or [])
        counts = parts.setdefault((service, labels.get(job.label, "")), {"bad": {}, "total": {}})
        counts[part].update(zip(xs, ys))
    out = []
    for (service, value), counts in sorted(parts.items()):
        grid = sorted(set(counts["bad"]) | set(counts["total"]))
        out.append(
            Breakdown(
                service=service,
                label=job.label,
                role=job.role,
                value=value,
                timestamps=grid,
                bad=[counts["bad"].get(t, 0.0) for t in grid],
                total=[counts["total"].get(t, 0.0) for t in grid],
                step_seconds=job.span.count_step,
                baseline=job.span.baseline,
                query_ref=job.record.id if job.record else None,
            )
        )
    return out
