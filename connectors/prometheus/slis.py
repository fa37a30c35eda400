"""SLI series: which services, which queries, run in parallel, converted to :class:`Series`.

SLIs are PromQL templates (from a preset or the config) run over the window and over the
baseline, with a step that keeps every series under Prometheus's 11,000-point limit. Each
template is one query for all the services, grouped by the labels that name them
(``sum by (service) (…)``, the services' values as one regex matcher), and its answer is
split back into one result per service: the number of queries does not grow with the
number of services. A template that cannot be grouped without changing a service's
figures (see :func:`connectors.promql.group_by`) is run once per service, as before.

A grouped answer is split into batches of services when it would hold more than
:data:`POINTS_BUDGET` points (services × points per series), in as few even batches as
keep each under it, run in parallel like any other query. One series per service is
assumed: the presets' templates aggregate to the identity labels; one that keeps another
label (``sum by (pod)``) sends more, which the estimate cannot know before the answer. One query is evaluated on one
Prometheus thread and must arrive within the timeout: the 200-service, 24 h, 15 s-step
latency quantile (1.15 M points, 40 MB of JSON) took 13 s alone and did not arrive within
30 s beside the other SLIs. The budget keeps every 1 h build (a baseline of at most 1,500
points per series) and a 24 h or 7 d build of 19 services at one query per template, and
splits that 200-service quantile into 3 of 67 services.
Request counts (``requests_total``/``requests_bad``) are ``sum(increase(x[step]))`` at
their own, coarser ``count_step`` (see the package's docstring). Each query's record
carries the typed ``sli`` and ``baseline`` fields the report's links read, and ``service``
when it was one service's query; a series names its service and its query's record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from connectors.promql import (
    Raw,
    TemplateError,
    alternatives,
    format_duration,
    group_by,
    metric_names,
    substitute,
)
from connectors.signatures import truncate
from connectors.toolkit.failures import RequestFailed
from pmrecon.errors import ConnectorError
from pmrecon.model import Points, QueryRecord, Series, Warning, Window, points, utc

from .identity import (
    FALLBACK_SERVICE_LABEL,
    SEPARATING_LABELS,
    ServiceId,
    group_services,
    services_selector,
)
from .matrix import Columns
from .settings import SLI_KINDS, UNITS
from .transport import PrometheusApi, fmt_step, fmt_ts, run_each


@dataclass
class SliJob:
    """One query to run: what it is for, the PromQL, and where its result goes."""

    purpose: str
    query: str
    kind: str
    #: The service's name; a grouped job's: how many services and the first few names.
    service: str
    name: str
    start: float
    end: float
    step: float
    baseline: bool = False
    quantile: float | None = None
    record: QueryRecord | None = None
    result: Any = None
    error: RequestFailed | None = None
    series: list[Series] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    #: A grouped job's services by the values of its ``by`` labels (empty: one service).
    members: dict[tuple[str, ...], ServiceId] = field(default_factory=dict)
    by: tuple[str, ...] = ()  # the labels the query is grouped by
    added: frozenset[str] = frozenset()  # those the template's own result does not have
    order: int = 0  # the template's place among the SLIs, for the series' order
    #: Each service's series and warnings, filled when the answer is converted.
    parts: dict[str, tuple[list[Series], list[Warning]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A stretch of time read at one resolution: the window, or the baseline before it."""

    start: float
    end: float
    baseline: bool
    step: float  # of ratios, latencies and rates
    count_step: float  # of request counts (sum(increase(x[step])))
    rate_window: float  # range of rate() in the templates ($window)


def discover(
    api: PrometheusApi,
    metric: str,
    identity: tuple[str, ...],
    window: Window,
    warnings: list[Warning],
    *,
    fallback: bool = False,
) -> tuple[tuple[str, ...], list[ServiceId]]:
    """The services of ``metric``'s series in the window, and the identity that names them.

    Series are grouped by the identity labels and the separating ones (a name in two
    namespaces becomes two services). With ``fallback`` (the identity is the preset's,
    not the user's), a metric whose series lack the identity labels but carry ``job`` is
    read with ``job`` as the identity: the client libraries' default.
    """
    rows = _label_sets(api, metric, identity, window, warnings)
    if rows is None:
        return identity, []
    unnamed = rows and not any(all(r.get(k) for k in identity) for r in rows)
    if fallback and unnamed and identity != (FALLBACK_SERVICE_LABEL,):
        job_rows = _label_sets(api, metric, (FALLBACK_SERVICE_LABEL,), window, warnings)
        if job_rows and any(r.get(FALLBACK_SERVICE_LABEL) for r in job_rows):
            warnings.append(
                Warning(
                    api.name,
                    f"source {api.name!r}: {metric} has no {'/'.join(identity)!r} label; "
                    f"its {FALLBACK_SERVICE_LABEL!r} label names the services "
                    f"(set service_label: {FALLBACK_SERVICE_LABEL} to say so)",
                    code="service_label_fallback",
                    params={"metric": metric, "label": "/".join(identity)},
                )
            )
            identity, rows = (FALLBACK_SERVICE_LABEL,), job_rows
    used, services, split = group_services(rows, identity)
    if split:
        shown = "; ".join(
            f"{name!r} in {label} " + ", ".join(values)
            for name, labels in sorted(split.items())
            for label, values in labels.items()
        )
        warnings.append(
            Warning(
                api.name,
                f"source {api.name!r}: services split by {', '.join(used[: len(used) - len(identity)])}: "
                f"{shown}; set service_label: [{', '.join(used)}] to make it explicit",
                code="services_split",
                params={"service": ", ".join(sorted(split)), "setting": f"[{', '.join(used)}]"},
            )
        )
    if not services:
        warnings.append(
            Warning(
                api.name,
                f"source {api.name!r}: no service found: no {metric} series with "
                f"{' and '.join(repr(k) for k in identity)} label(s) in the window; "
                f"run `pmrecon check`",
                code="no_services",
            )
        )
    return used, services


def _label_sets(
    api: PrometheusApi,
    metric: str,
    identity: tuple[str, ...],
    window: Window,
    warnings: list[Warning],
) -> list[dict[str, str]] | None:
    """The distinct sets of identity and separating labels of ``metric`` in the window."""
    span = max(1.0, window.seconds)
    labels = ", ".join(dict.fromkeys((*identity, *SEPARATING_LABELS)))
    q = f"count by ({labels}) (count_over_time({metric}[{format_duration(span)}]))"
    rec = api.recorder.record(
        f"discover services ({'/'.join(identity)} values of {metric})", q, endpoint="/api/v1/query"
    )
    try:
        ans = api.call(
            "/api/v1/query",
            {"query": q, "time": fmt_ts(window.end.timestamp())},
            method="POST",
            purpose=rec.purpose,
            record=rec,
            context=f"query: {q}",
        )
    except RequestFailed as exc:
        if exc.fatal:
            raise ConnectorError(str(exc)) from exc
        warnings.append(
            Warning(api.name, str(exc), code="discovery_failed", params={"metric": metric})
        )
        return None
    rec.start, rec.end = window.start, window.end
    return [
        {str(k): str(v) for k, v in (r.get("metric") or {}).items()}
        for r in (ans.data or {}).get("result") or []
    ]


#: Most services one grouped query names (its regex matcher stays bounded); more are
#: split into several queries.
MAX_GROUP = 1000
#: Most points (services × points per series) a grouped query's answer should hold; more
#: are split into batches of services (see the module's docstring for the measurement).
POINTS_BUDGET = 400_000
#: Services a grouped job's texts name before the count.
NAMED_SERVICES = 3
#: Characters of a grouped query a warning shows (the whole query is in its record).
SHOWN_QUERY = 160
#: ``label=$service`` (or ``label="$service"``): a matcher a grouped query can turn into a regex.
_SERVICE_MATCHER = re.compile(
    r"(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"
    r"(?:(?P<q>[\"'])\$(?:\{service\}|service)(?P=q)|\$(?:\{service\}|service\b))"
)
_SERVICE_LEFT = re.compile(r"\$(?:\{service\}|service\b)")
_SELECTOR = re.compile(r"\$(?:\{selector\}|selector\b)")


def span_jobs(
    source: str,
    templates: Mapping[str, str],
    extra: Mapping[str, str],
    services: list[ServiceId],
    status_label: str,
    span: Span,
    quantiles: list[float],
    warnings: list[Warning],
) -> list[SliJob]:
    """The jobs of one span: one grouped job per SLI template (and batch of services, see
    :func:`batches`), or one job per service where the template cannot be grouped."""
    jobs = []
    for order, (kind, name, tpl, qt) in enumerate(_each_sli(templates, extra, quantiles)):
        s0, s1, st = _bounds(span, kind)
        for batch in batches(services, int((s1 - s0) // st) + 1):
            job = _grouped_job(kind, name, tpl, qt, batch, status_label, span)
            if job is not None:
                job.order = order
                jobs.append(job)
                continue
            for svc in batch:
                one = _service_job(source, kind, name, tpl, qt, svc, status_label, span, warnings)
                if one is not None:
                    one.order = order
                    jobs.append(one)
    return jobs


def batches(services: list[ServiceId], points: int) -> list[list[ServiceId]]:
    """``services`` in as few even batches as keep a grouped answer of ``points`` points per
    service under :data:`POINTS_BUDGET` points and :data:`MAX_GROUP` services."""
    most = min(MAX_GROUP, max(1, POINTS_BUDGET // max(1, points)))
    count = math.ceil(len(services) / most)
    size, more = divmod(len(services), count) if count else (0, 0)
    # the first ``more`` batches take one service more: sizes differ by one at most
    edges = [at * size + min(at, more) for at in range(count + 1)]
    return [services[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def _each_sli(
    templates: Mapping[str, str], extra: Mapping[str, str], quantiles: list[float]
) -> list[tuple[str, str, str, float | None]]:
    """``(kind, name, template, quantile)`` of each series an SLI template gives, in order."""
    out: list[tuple[str, str, str, float | None]] = []
    for kind in SLI_KINDS:
        tpl = templates.get(kind)
        if not tpl:
            continue
        if kind == "latency":
            out.extend((kind, f"latency_p{_pct(qt)}", tpl, qt) for qt in quantiles)
        else:
            out.append((kind, kind, tpl, None))
    out.extend(("extra", name, tpl, None) for name, tpl in extra.items())
    return out


def _bounds(span: Span, kind: str) -> tuple[float, float, float]:
    """The first and last instants and the step of a ``kind`` series over ``span``."""
    if kind in ("requests_total", "requests_bad"):
        cs = span.count_step
        return math.floor(span.start / cs) * cs + cs, math.floor(span.end / cs) * cs, cs
    st = span.step
    return math.ceil(span.start / st) * st, math.floor(span.end / st) * st, st


def _service_job(
    source: str,
    kind: str,
    name: str,
    tpl: str,
    quantile: float | None,
    svc: ServiceId,
    status_label: str,
    span: Span,
    warnings: list[Warning],
) -> SliJob | None:
    """The query of one template for one service; None (with a warning when bad) if none."""
    vals = template_values(svc, status_label, span.rate_window, span.count_step)
    if quantile is not None:
        vals["quantile"] = quantile
    try:
        q = substitute(tpl, vals)
    except TemplateError as exc:
        warnings.append(
            Warning(
                source,
                f"source {source!r}: SLI {name}: bad template: {exc}",
                code="bad_template",
                params={"sli": name, "service": svc},
            )
        )
        return None
    return _job(span, kind, name, q, quantile, svc.name, f"for {svc.name}")


def _job(
    span: Span, kind: str, name: str, query: str, quantile: float | None, service: str, whom: str
) -> SliJob | None:
    """The job of ``query`` over ``span``; None when the span holds no step of its kind."""
    s0, s1, st = _bounds(span, kind)
    if s1 < s0:
        return None
    prefix = "baseline " if span.baseline else ""
    purpose = f"{prefix}SLI {name} {whom}"
    return SliJob(purpose, query, kind, service, name, s0, s1, st, span.baseline, quantile)


def _grouped_job(
    kind: str,
    name: str,
    tpl: str,
    quantile: float | None,
    services: list[ServiceId],
    status_label: str,
    span: Span,
) -> SliJob | None:
    """One query of ``tpl`` for all ``services``, grouped by the labels naming them; None when
    the template cannot be grouped (it then runs once per service)."""
    if not services:
        return None
    # label=$service becomes label=~"a|b|…", and label joins the grouping labels
    matched = list(dict.fromkeys(m.group("label") for m in _SERVICE_MATCHER.finditer(tpl)))
    text = _SERVICE_MATCHER.sub(lambda m: f"{m.group('label')}=~$__services", tpl)
    if _SERVICE_LEFT.search(text):
        return None
    identity = [k for k, _ in services[0].labels]
    by = tuple(dict.fromkeys([*(identity if _SELECTOR.search(text) else []), *matched]))
    if not by:
        return None
    members: dict[tuple[str, ...], ServiceId] = {}
    for svc in services:
        key = _group_key(svc, by, matched)
        if key is None or key in members:
            return None  # two services would share a group
        members[key] = svc
    vals = template_values(services[0], status_label, span.rate_window, span.count_step)
    vals["selector"] = Raw(services_selector(identity, services))
    vals["__services"] = Raw(alternatives([s.value for s in services]))
    if quantile is not None:
        vals["quantile"] = quantile
    try:
        q, added = group_by(substitute(text, vals), by)
    except TemplateError:
        return None
    job = _job(span, kind, name, q, quantile, _some(services), f"grouped by {'/'.join(by)}")
    if job is not None:
        job.members, job.by, job.added = members, by, added
    return job


def _some(services: list[ServiceId]) -> str:
    """``200 services (analytics, auth, billing, …)``: a grouped job's services, in short."""
    shown = ", ".join(s.name for s in services[:NAMED_SERVICES])
    more = ", …" if len(services) > NAMED_SERVICES else ""
    return f"{len(services)} service{'s' if len(services) != 1 else ''} ({shown}{more})"


def _group_key(svc: ServiceId, by: tuple[str, ...], matched: list[str]) -> tuple[str, ...] | None:
    """The values of ``by`` a grouped answer gives ``svc``'s series; None if contradictory."""
    labels = dict(svc.labels)
    key = []
    for k in by:
        if k in matched:
            if k in labels and labels[k] != svc.value:
                return None
            key.append(svc.value)
        else:
            key.append(labels[k])
    return tuple(key)


def template_values(
    svc: ServiceId, status_label: str, rate_window: float, count_step: float
) -> dict[str, object]:
    """The placeholders of an SLI template for ``svc``: ``$selector`` (every identity label),
    ``$status_label``, ``$service`` (the last identity label's value), ``$window``, ``$step``."""
    return {
        "selector": Raw(svc.selector()),
        "status_label": Raw(status_label),
        "service": svc.value,
        "window": Raw(format_duration(rate_window)),
        "step": Raw(format_duration(count_step)),
    }


def run_jobs(api: PrometheusApi, jobs: list[SliJob], workers: int) -> None:
    """Record every job (in order, on this thread), then run them ``workers`` at a time."""
    for job in jobs:
        job.record = api.recorder.record(
            job.purpose,
            job.query,
            endpoint="/api/v1/query_range",
            start=utc(job.start),
            end=utc(job.end),
            step_seconds=job.step,
            sli=job.name,
            service=None if job.members else job.service,
            baseline=job.baseline,
        )

    def run(job: SliJob) -> None:
        try:
            ans = api.call(
                "/api/v1/query_range",
                {
                    "query": job.query,
                    "start": fmt_ts(job.start),
                    "end": fmt_ts(job.end),
                    "step": fmt_step(job.step),
                },
                method="POST",
                purpose=job.purpose,
                record=job.record,
                context=f"{_where(job)}; {_query_text(job)}",
                capped=not job.members,
            )
            job.result = ans.data
        except RequestFailed as exc:
            job.error = exc
            return
        except ConnectorError as exc:  # deadline
            job.error = RequestFailed(str(exc), "deadline", True)
            return
        # Converted here, while other queries are still running, and the decoded JSON
        # dropped at once: peak memory holds a few answers, not all of them.
        job.series = to_series(api.name, job, api)
        job.result = None

    run_each(run, jobs, workers, api.name)


def to_series(source: str, job: SliJob, api: PrometheusApi | None = None) -> list[Series]:
    """The job's matrix as series (one per result); what went wrong goes to ``job.warnings``.

    A grouped job's answer is split by service first, each service's part cut to
    ``max_series`` on its own (``api``), and converted as a one-service answer would be;
    ``job.parts`` keeps each service's series and warnings.
    """
    data = job.result or {}
    rec = job.record
    server = list(rec.warnings) if rec else []
    if not job.members:
        job.parts = {job.service: _convert(source, job, data, job.service, server)}
    else:
        for svc, part in _split(job, data).items():
            before = len(rec.warnings) if rec else 0
            if api is not None and rec is not None:
                api.cap(part, rec, f"{_where(job, svc.name)}; {_query_text(job)}")
            notes = rec.warnings[before:] if rec else []
            job.parts[svc.name] = _convert(source, job, part, svc.name, [*server, *notes])
    out: list[Series] = []
    for series, warnings in job.parts.values():
        out.extend(series)
        job.warnings.extend(warnings)
    return out


def _split(job: SliJob, data: Mapping[str, Any]) -> dict[ServiceId, dict[str, Any]]:
    """A grouped answer as one answer per service of the job, by the values of its ``by`` labels.

    A series of a service the job does not name (the regex matchers of several labels
    match their combinations) is left out.
    """
    parts: dict[ServiceId, dict[str, Any]] = {
        svc: {"resultType": data.get("resultType"), "result": []} for svc in job.members.values()
    }
    result = data.get("result") if data.get("resultType") == "matrix" else None
    for item in result if isinstance(result, list) else []:
        labels = item.get("metric") or {}
        svc = job.members.get(tuple(str(labels.get(k, "")) for k in job.by))
        if svc is not None:
            shown = {k: v for k, v in labels.items() if k not in job.added}
            parts[svc]["result"].append({**item, "metric": shown})
    return parts


def _where(job: SliJob, service: str | None = None) -> str:
    """What a job's texts say it is: ``SLI error_ratio for service 'checkout'``; ``service``
    names one service of a grouped job, which otherwise is ``for 200 services (…)``."""
    one = service or job.service
    whom = job.service if service is None and job.members else f"service {one!r}"
    return f"{'baseline ' if job.baseline else ''}SLI {job.name} for {whom}"


def _query_text(job: SliJob) -> str:
    """``query: <PromQL>``; a grouped query cut to :data:`SHOWN_QUERY` characters, after its
    record's id (the whole query is in that record, sources.json)."""
    if not job.members:
        return f"query: {job.query}"
    ref = f" {job.record.id}" if job.record else ""
    return f"query{ref}: {truncate(job.query, SHOWN_QUERY)}"


def _convert(
    source: str, job: SliJob, data: Mapping[str, Any], service: str, server: list[str]
) -> tuple[list[Series], list[Warning]]:
    """One service's answer as series, and its warnings (``server``: the server's, for it)."""
    ref = job.record.id if job.record else None
    warnings: list[Warning] = []
    where = f"source {source!r}: {_where(job, service)}"
    # What each warning names, for the report's grouped line in its language.
    about = {
        "sli": job.name,
        "service": service,
        "period": "baseline" if job.baseline else "window",
    }
    for w in server:
        warnings.append(
            Warning(source, f"{where}: server warning: {w}", code="server_warning", params=about)
        )
    if data.get("resultType") != "matrix":
        warnings.append(
            Warning(
                source,
                f"{where}: expected a range vector, got {data.get('resultType')!r} ({_query_text(job)})",
                code="bad_result",
                params=about,
            )
        )
        return [], warnings
    result = data.get("result") or []
    if not result:
        metrics = ", ".join(metric_names(job.query)) or "the queried metric"
        warnings.append(
            Warning(
                source,
                f"{where}: no data: metric {metrics} has no series for this service in the "
                f"{'baseline' if job.baseline else 'window'}; run `pmrecon check` ({_query_text(job)})",
                code="metric_missing",
                params={**about, "metric": metrics},
            )
        )
        return [], warnings
    out: list[Series] = []
    dropped = 0
    for item in result:
        labels = {k: str(v) for k, v in (item.get("metric") or {}).items()}
        xs, ys, bad = _points(item.get("values") or [])
        dropped += bad
        name = job.name
        if len(result) > 1:
            shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
            name = f"{job.name}{{{shown}}}"
        out.append(
            Series(
                name=name,
                kind=job.kind,
                service=service,
                unit=UNITS[job.kind],
                timestamps=xs,
                values=ys,
                step_seconds=job.step,
                query_ref=ref,
                quantile=job.quantile,
                labels=labels,
                baseline=job.baseline,
            )
        )
    if dropped:
        warnings.append(
            Warning(
                source,
                f"{where}: {dropped} NaN/Inf sample(s) ignored (e.g. no traffic, or a histogram without data) "
                f"(query {ref})",
                code="nan_samples",
                params={**about, "count": dropped},
            )
        )
    return out, warnings


_TIME, _VALUE = itemgetter(0), itemgetter(1)


def _points(values: list[Any] | Columns) -> tuple[Points, Points, int]:
    """``[[t, "v"], ...]`` (or :class:`Columns`) as (timestamps, values, dropped): NaN, ±Inf
    and non-numbers dropped.

    The common case (every value finite) converts whole columns with ``map``, twice as fast
    as a loop per point, and checks them with numpy; anything else goes through the
    per-point path.
    """
    if isinstance(values, Columns):
        return values.finite()
    if not values:
        return [], [], 0
    try:
        ys = points(map(float, map(_VALUE, values)))
        xs = points(map(float, map(_TIME, values)))
    except (TypeError, ValueError, IndexError, KeyError):
        return _points_slow(values)
    if np.isfinite(np.frombuffer(ys)).all():
        return xs, ys, 0
    return _points_slow(values)


def _points_slow(values: list[Any]) -> tuple[Points, Points, int]:
    xs: list[float] = []
    ys: list[float] = []
    dropped = 0
    for pair in values:
        try:
            y = float(pair[1])
            t = float(pair[0])
        except (TypeError, ValueError, IndexError, KeyError):
            dropped += 1
            continue
        if math.isnan(y) or math.isinf(y):
            dropped += 1
            continue
        xs.append(t)
        ys.append(y)
    return xs, ys, dropped


def _pct(q: float) -> str:
    text = f"{q * 100:.10g}"
    return text.replace(".", "_")
