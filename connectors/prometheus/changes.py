"""Changes seen in the metrics themselves: the series that show deploys, rollouts and restarts.

For teams whose logs carry no deploy events, the metrics often do:

- a ``*_build_info`` series of the service whose ``version`` (or another of
  :data:`VERSION_LABELS`) takes a new value: a deploy;
- ``process_start_time_seconds`` rising: a restart;
- kube-state-metrics: a new ReplicaSet owned by the service's Deployment
  (``kube_replicaset_owner``), or the Deployment's generation rising
  (``kube_deployment_metadata_generation``, else ``..._status_observed_generation``).

One lookup (``/api/v1/label/__name__/values`` restricted to these names, over the baseline
and the window) says which of them the server has; then one range query per family and
span, over the identified services only, aggregated so that instances and pods do not
multiply the series, each series cut to the source's ``max_series``. The series go into the
evidence as kind ``change_metric``; :mod:`pmrecon.analysis.metric_changes` turns them into
change events. Nothing is attributed to a service unless its labels say so: ``*_build_info``
and ``process_start_time_seconds`` must carry every identity label of the service, and a
Deployment must have the service's name (and its namespace or cluster, when the identity
has one); a name found in several namespaces that the identity cannot tell apart is left
out with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.promql import string_literal
from connectors.toolkit.failures import RequestFailed
from pmrecon.errors import ConnectorError
from pmrecon.model import BUILD_VERSION_LABELS, Series, Warning, utc

from .identity import ServiceId, service_name
from .slis import _points
from .transport import PrometheusApi, fmt_step, fmt_ts

#: The labels of a ``*_build_info`` series whose new value is a deploy.
VERSION_LABELS = BUILD_VERSION_LABELS
BUILD_INFO_SUFFIX = "_build_info"
START_TIME = "process_start_time_seconds"
GENERATION = "kube_deployment_metadata_generation"
OBSERVED_GENERATION = "kube_deployment_status_observed_generation"
REPLICASET_OWNER = "kube_replicaset_owner"
#: The Kubernetes labels kube-state-metrics writes, for the identity labels that mean the same.
KUBE_LABELS = {
    "namespace": "namespace",
    "k8s_namespace_name": "namespace",
    "cluster": "cluster",
    "k8s_cluster_name": "cluster",
}
#: What the lookup asks for: every name above (a ``*_build_info`` of any prefix).
LOOKUP = (
    f'{{__name__=~".+{BUILD_INFO_SUFFIX}|{START_TIME}|{GENERATION}|'
    f'{OBSERVED_GENERATION}|{REPLICASET_OWNER}"}}'
)
KIND = "change_metric"


class Period(Protocol):
    """A stretch read at one step: the window, or the baseline before it."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def step(self) -> float: ...
    @property
    def baseline(self) -> bool: ...


@dataclass(frozen=True)
class _Family:
    """One range query's subject: how to write it, and how its series find their service."""

    metric: str  # the metric (or, for build info, the metrics joined by |)
    query: str
    kube: bool  # matched by Deployment name rather than by the identity labels
    name_labels: tuple[str, ...]  # the labels that name each series within its service


def collect_changes(
    api: PrometheusApi,
    services: Sequence[ServiceId],
    identity: Sequence[str],
    periods: Iterable[Period],
    warnings: list[Warning],
) -> list[Series]:
    """The change-showing series of ``services`` over each period (none when the server has none)."""
    periods = list(periods)
    if not services or not periods:
        return []
    names = _lookup(api, periods, warnings)
    families = _families(names, services, identity)
    out: list[Series] = []
    for family in families:
        for period in periods:
            result = _range(api, family, period, warnings)
            out.extend(_to_series(api.name, family, result, services, identity, period, warnings))
    return out


def _lookup(api: PrometheusApi, periods: list[Period], warnings: list[Warning]) -> list[str]:
    """The names among :data:`LOOKUP`'s that have series in the periods (one index lookup)."""
    start, end = min(p.start for p in periods), max(p.end for p in periods)
    path = "/api/v1/label/__name__/values"
    rec = api.recorder.record(
        "changes seen in metrics: which build info, start time and kube-state-metrics series exist",
        LOOKUP,
        endpoint=path,
        start=utc(start),
        end=utc(end),
    )
    try:
        ans = api.call(
            path,
            {"match[]": LOOKUP, "start": fmt_ts(start), "end": fmt_ts(end)},
            purpose=rec.purpose,
            record=rec,
            context=f"lookup: {LOOKUP}",
        )
    except RequestFailed as exc:
        _failed(api.name, exc, "lookup", warnings)
        return []
    data = ans.data
    if not isinstance(data, list):
        return []
    return sorted({str(n) for n in data if isinstance(n, str)})


def _families(
    names: list[str], services: Sequence[ServiceId], identity: Sequence[str]
) -> list[_Family]:
    """The range queries to run for the names found (none for a family the server lacks)."""
    out: list[_Family] = []
    own = ", ".join(identity)
    matchers = _identity_matchers(services, identity)
    build_infos = [n for n in names if n.endswith(BUILD_INFO_SUFFIX)]
    if build_infos:
        joined = "|".join(build_infos)
        by = ", ".join(["__name__", *identity, *VERSION_LABELS])
        out.append(
            _Family(
                joined,
                f'max by ({by}) ({{__name__=~"{joined}",{matchers}}})',
                False,
                ("__name__", *VERSION_LABELS),
            )
        )
    if START_TIME in names:
        out.append(_Family(START_TIME, f"max by ({own}) ({START_TIME}{{{matchers}}})", False, ()))
    deployments = _regex(sorted({s.value for s in services}))
    kube_by = "cluster, namespace"
    if REPLICASET_OWNER in names:
        out.append(
            _Family(
                REPLICASET_OWNER,
                f"max by ({kube_by}, owner_name, replicaset) ({REPLICASET_OWNER}"
                f'{{owner_kind="Deployment",owner_name=~{deployments}}})',
                True,
                ("replicaset",),
            )
        )
    generation = next((g for g in (GENERATION, OBSERVED_GENERATION) if g in names), None)
    if generation:
        out.append(
            _Family(
                generation,
                f"max by ({kube_by}, deployment) ({generation}{{deployment=~{deployments}}})",
                True,
                (),
            )
        )
    return out


def _identity_matchers(services: Sequence[ServiceId], identity: Sequence[str]) -> str:
    """One regex matcher per identity label: every value of the services (exact match later)."""
    return ",".join(
        f"{label}=~{_regex(sorted({dict(s.labels).get(label, '') for s in services}))}"
        for label in identity
    )


def _regex(values: Sequence[str]) -> str:
    """A PromQL string literal of a regex matching exactly one of ``values``."""
    return string_literal("|".join(_escape_regex(v) for v in values))


def _escape_regex(value: str) -> str:
    return "".join("\\" + c if c in r"\.^$|?*+()[]{}" else c for c in value)


def _range(
    api: PrometheusApi, family: _Family, period: Period, warnings: list[Warning]
) -> list[dict[str, Any]]:
    """The family's range query over ``period`` at its step; its result list ([] on failure)."""
    start = math.ceil(period.start / period.step) * period.step
    end = math.floor(period.end / period.step) * period.step
    if end < start:
        return []
    which = "baseline" if period.baseline else "window"
    purpose = f"changes seen in {family.metric.replace('|', ', ')} ({which})"
    rec = api.recorder.record(
        purpose,
        family.query,
        endpoint="/api/v1/query_range",
        start=utc(start),
        end=utc(end),
        step_seconds=period.step,
        baseline=period.baseline,
    )
    try:
        ans = api.call(
            "/api/v1/query_range",
            {
                "query": family.query,
                "start": fmt_ts(start),
                "end": fmt_ts(end),
                "step": fmt_step(period.step),
            },
            method="POST",
            purpose=purpose,
            record=rec,
            context=f"query: {family.query}",
        )
    except RequestFailed as exc:
        _failed(api.name, exc, family.metric, warnings)
        return []
    data = ans.data if isinstance(ans.data, dict) else {}
    if data.get("resultType") != "matrix":
        return []
    # the record's id goes with each result, for the series' query_ref
    return [{**item, "_ref": rec.id} for item in data.get("result") or []]


def _failed(source: str, exc: RequestFailed, what: str, warnings: list[Warning]) -> None:
    """A failed query of changes weakens the leads, not the build; a fatal one stops it."""
    if exc.fatal:
        raise ConnectorError(str(exc)) from exc
    warnings.append(
        Warning(
            source,
            f"source {source!r}: changes seen in metrics not read ({what}): {exc}",
            code="metric_changes_failed",
            params={"metric": what},
        )
    )


def _to_series(
    source: str,
    family: _Family,
    result: list[dict[str, Any]],
    services: Sequence[ServiceId],
    identity: Sequence[str],
    period: Period,
    warnings: list[Warning],
) -> list[Series]:
    """The results whose labels name one service, as series of that service."""
    out: list[Series] = []
    owners = _kube_owners(source, result, services, warnings) if family.kube else {}
    known = {s.name for s in services}
    for i, item in enumerate(result):
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        service = owners.get(i) if family.kube else service_name(labels, identity)
        if service is None or service not in known:
            continue
        xs, ys, _ = _points(item.get("values") or [])
        if not xs:
            continue
        # a Deployment's series are named by where it runs, since its service may not say
        where = ("cluster", "namespace", "deployment") if family.kube else ()
        shown = [(k, labels[k]) for k in (*family.name_labels, *where) if k in labels]
        metric = labels.get("__name__", family.metric)
        named = ",".join(f"{k}={string_literal(v)}" for k, v in shown if k != "__name__")
        out.append(
            Series(
                name=f"{metric}{{{named}}}" if named else metric,
                kind=KIND,
                service=service,
                unit="s" if metric == START_TIME else "",
                timestamps=xs,
                values=ys,
                step_seconds=period.step,
                query_ref=item.get("_ref"),
                labels={**labels, "__name__": metric},
                baseline=period.baseline,
            )
        )
    return out


def _kube_owners(
    source: str,
    result: list[dict[str, Any]],
    services: Sequence[ServiceId],
    warnings: list[Warning],
) -> dict[int, str]:
    """Which service each kube-state-metrics result belongs to (index -> name), when one does.

    A Deployment belongs to the service of the same name whose identity labels that
    kube-state-metrics also knows (namespace, cluster) agree; one that several services
    could own, or a service that several Deployments (in namespaces its identity does not
    name) could be, is nobody's.
    """
    candidates: dict[int, list[str]] = {}
    places: dict[str, set[tuple[str, str]]] = {}
    for i, item in enumerate(result):
        labels = item.get("metric") or {}
        deployment = labels.get("deployment", labels.get("owner_name"))
        for svc in services:
            if svc.value != deployment:
                continue
            if all(
                labels.get(KUBE_LABELS[k], v) == v for k, v in svc.labels[:-1] if k in KUBE_LABELS
            ):
                candidates.setdefault(i, []).append(svc.name)
                place = (labels.get("cluster", ""), labels.get("namespace", ""))
                places.setdefault(svc.name, set()).add(place)
    ambiguous = {name for name, where in places.items() if len(where) > 1}
    for name in sorted(ambiguous):
        shown = ", ".join(sorted("/".join(p for p in where if p) for where in places[name]))
        message = (
            f"source {source!r}: service {name!r} could be the Deployment of that name in "
            f"{shown}: its rollouts are not read (add namespace to service_label)"
        )
        if all(w.message != message for w in warnings):  # once, not once per query
            warnings.append(
                Warning(
                    source,
                    message,
                    code="deployment_ambiguous",
                    params={"service": name, "namespaces": shown},
                )
            )
    return {
        i: names[0]
        for i, names in candidates.items()
        if len(names) == 1 and names[0] not in ambiguous
    }
