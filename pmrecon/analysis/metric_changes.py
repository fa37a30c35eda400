"""Step 0: changes seen in the metrics themselves, for teams whose logs carry no deploy events.

Input: the evidence's ``change_metric`` series (which the Prometheus source collects on its
own: see :mod:`connectors.prometheus.changes`) and its ``extra`` series whose query reads
``process_start_time_seconds``, over the baseline and the window, with the queries that
produced them. Output: the evidence with change events added, each citing the query that
shows it:

- ``deploy``: a ``*_build_info`` series of the service shows a value of its version labels
  (:data:`VERSION_LABELS`) it had not shown before, where another value showed just before;
  or a new ReplicaSet of the service's Deployment appears (``kube_replicaset_owner``);
- ``rollback``: a ``*_build_info`` series shows again a value it had shown, then lost;
- ``change``: the generation of the service's Deployment rises with no new ReplicaSet
  (its spec changed: a scale, a rollback to an old ReplicaSet, another setting);
- ``restart``: the service's process start time rises (the new value *is* the restart time).

A change seen in the metrics is the same change as a logged one, or as a stronger sign in
the metrics (:data:`PRECEDENCE`), of the same service less than :data:`SAME_CHANGE`
seconds away: it is then left out, so one deploy is one lead. The events take part in the
timeline, the start of mitigation and the ranking of suspects like a logged change. Pure:
the evidence given is not changed, a copy is returned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from ..model import BUILD_VERSION_LABELS, Event, Evidence, Series, utc
from ..wording import text as words
from .instants import CHANGE_KINDS
from .times import epoch

#: The metric whose value is the process's start time (Prometheus client libraries' name).
RESTART_METRIC = "process_start_time_seconds"
#: A start time moving by less than this is jitter (a float rounding, an aggregation), not a
#: restart.
MIN_JUMP_SECONDS = 1.0
#: The labels of a ``*_build_info`` series whose new value is a deploy.
VERSION_LABELS = BUILD_VERSION_LABELS
REPLICASET_METRIC = "kube_replicaset_owner"
GENERATION_METRICS = (
    "kube_deployment_metadata_generation",
    "kube_deployment_status_observed_generation",
)
#: Two changes of one service closer than this are one change, seen twice.
SAME_CHANGE = 300.0
#: Which sign of a change speaks for it when several show the same one: a logged event
#: first (its text is the team's), then the version, the ReplicaSet, the generation, the
#: restart (which any deploy causes).
PRECEDENCE = ("logged", "build_info", "replicaset", "generation", "restart")

_Key = tuple[tuple[str, str], ...]


def with_metric_changes(evidence: Evidence, language: str) -> Evidence:
    """``evidence`` plus the deploys, rollouts and restarts its metrics show."""
    queries = {q.id: q.query for s in evidence.sources for q in s.queries}
    source = {q.id: s.name for s in evidence.sources for q in s.queries}
    low = evidence.baseline.start if evidence.baseline else evidence.window.start
    span = (epoch(low), epoch(evidence.window.end))
    found: list[tuple[str, Event]] = []
    for (where, service, metric), group in _groups(evidence.series, queries, source).items():
        if metric.startswith(RESTART_METRIC):
            found += [("restart", e) for e in restart_events(group, span, language, where)]
        elif metric.endswith("_build_info"):
            found += [("build_info", e) for e in build_events(group, service, language, where)]
        elif metric == REPLICASET_METRIC:
            found += [("replicaset", e) for e in replicaset_events(group, service, language, where)]
        elif metric in GENERATION_METRICS:
            found += [("generation", e) for e in generation_events(group, service, language, where)]
    added = _distinct(evidence.events, found, span)
    if not added:
        return evidence
    events = sorted([*evidence.events, *added], key=lambda e: (epoch(e.at), e.kind, e.text))
    return dataclasses.replace(evidence, events=events)


def _groups(
    series: Iterable[Series], queries: dict[str, object], source: dict[str, str]
) -> dict[tuple[str, str, str], list[Series]]:
    """The change-showing series by (source, service, metric), baseline and window together;
    a configured ``extra`` start time apart from the one collected on its own (their
    aggregations may differ: mixed, they would rise and fall)."""
    out: dict[tuple[str, str, str], list[Series]] = {}
    for s in series:
        where = source.get(s.query_ref or "") or "metrics"
        if s.kind == "change_metric":
            out.setdefault((where, s.service, s.labels.get("__name__", s.name)), []).append(s)
        elif s.kind == "extra" and (
            s.name == RESTART_METRIC or RESTART_METRIC in str(queries.get(s.query_ref or ""))
        ):
            out.setdefault((where, s.service, f"{RESTART_METRIC} extra.{s.name}"), []).append(s)
    return out


def _merged(group: list[Series]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The samples of one subject's series in time order (baseline then window), with the
    query each came from; a time read twice keeps its first sample."""
    times = np.concatenate([np.asarray(s.timestamps, dtype=float) for s in group])
    values = np.concatenate([np.asarray(s.values, dtype=float) for s in group])
    refs = [s.query_ref for s in group for _ in s.timestamps]
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    refs = [refs[i] for i in order.tolist()]
    keep = np.isfinite(values) & np.r_[True, np.diff(times) > 0]
    return times[keep], values[keep], [r for r, k in zip(refs, keep.tolist()) if k]


def restart_events(
    group: list[Series], span: tuple[float, float], language: str, source: str
) -> list[Event]:
    """One ``restart`` event per rise of the start time in ``span``, dated by the new start time."""
    _, values, refs = _merged(group)
    service = group[0].service
    # above every earlier value: an instance's start time showing again after a gap in its
    # scrapes (the highest falling back, then rising) is no new start
    rises = np.flatnonzero(values[1:] - np.maximum.accumulate(values)[:-1] >= MIN_JUMP_SECONDS) + 1
    text = words(language, "timeline.restart", service=service, metric=RESTART_METRIC)
    out = []
    for i in rises.tolist():
        at = float(values[i])
        if span[0] <= at <= span[1]:
            out.append(_event(at, "restart", source, text, refs[i], service, RESTART_METRIC))
    return out


def _presence(
    group: list[Series], key_of: dict[int, _Key]
) -> list[tuple[float, set[_Key], dict[_Key, str | None]]]:
    """At each sampled time, the keys (version values, ReplicaSets) present and their query."""
    at: dict[float, tuple[set[_Key], dict[_Key, str | None]]] = {}
    for i, s in enumerate(group):
        for t, v in zip(s.timestamps, s.values):
            if np.isfinite(v):
                keys, refs = at.setdefault(float(t), (set(), {}))
                keys.add(key_of[i])
                refs.setdefault(key_of[i], s.query_ref)
    return [(t, *at[t]) for t in sorted(at)]


def _appearances(
    group: list[Series], key_of: dict[int, _Key]
) -> list[tuple[float, _Key, set[_Key], bool, str | None]]:
    """Each time a key shows that the last sampled time did not hold while it held others:
    (time, key, the keys before, whether the key had shown earlier, its query)."""
    out = []
    last: set[_Key] = set()
    seen: set[_Key] = set()
    for t, keys, refs in _presence(group, key_of):
        for key in sorted(keys - last):
            if last:
                out.append((t, key, set(last), key in seen, refs[key]))
        seen |= keys
        last = keys
    return out


def build_events(group: list[Series], service: str, language: str, source: str) -> list[Event]:
    """A ``deploy`` per new value of a ``*_build_info``'s version labels; ``rollback`` for an old one."""
    metric = group[0].labels.get("__name__", group[0].name)
    key_of = {
        i: tuple((k, s.labels[k]) for k in VERSION_LABELS if s.labels.get(k))
        for i, s in enumerate(group)
    }
    out = []
    for at, key, before, again, ref in _appearances(group, key_of):
        if not key:
            continue
        label, new = key[0]
        # the first label whose value differs from every one before names the change
        for k, v in key:
            if all(dict(b).get(k) != v for b in before):
                label, new = k, v
                break
        old = ", ".join(sorted({dict(b).get(label, "?") for b in before}))
        kind = "rollback" if again else "deploy"
        text = words(
            language,
            f"timeline.{kind}_seen",
            service=service,
            change=f"{label} {old} → {new}",
            metric=metric,
        )
        out.append(_event(at, kind, source, text, ref, service, metric, **{label: new}))
    return out


def replicaset_events(group: list[Series], service: str, language: str, source: str) -> list[Event]:
    """A ``deploy`` per ReplicaSet of the service's Deployment that appears for the first time."""
    key_of: dict[int, _Key] = {
        i: (("replicaset", s.labels.get("replicaset", "")),) for i, s in enumerate(group)
    }
    deployment = {s.labels.get("owner_name", service) for s in group}
    out = []
    for at, key, _, again, ref in _appearances(group, key_of):
        if again:  # an old ReplicaSet scaled up again is not a new template
            continue
        text = words(
            language,
            "timeline.rollout_seen",
            service=service,
            replicaset=key[0][1],
            deployment=", ".join(sorted(deployment)),
            metric=REPLICASET_METRIC,
        )
        out.append(_event(at, "deploy", source, text, ref, service, REPLICASET_METRIC))
    return out


def generation_events(group: list[Series], service: str, language: str, source: str) -> list[Event]:
    """A ``change`` per rise of the service's Deployment's generation (its spec changed)."""
    metric = group[0].labels.get("__name__", group[0].name)
    deployment = group[0].labels.get("deployment", service)
    times, values, refs = _merged(group)
    out = []
    for i in (np.flatnonzero(np.diff(values) >= 1) + 1).tolist():
        text = words(
            language,
            "timeline.spec_changed",
            service=service,
            deployment=deployment,
            old=f"{values[i - 1]:g}",
            new=f"{values[i]:g}",
            metric=metric,
        )
        out.append(_event(float(times[i]), "change", source, text, refs[i], service, metric))
    return out


def _event(
    at: float,
    kind: str,
    source: str,
    text: str,
    ref: str | None,
    service: str,
    metric: str,
    **labels: str,
) -> Event:
    return Event(
        at=utc(at),
        kind=kind,
        source=source,
        text=text,
        ref=ref,
        labels={"service": service, "origin": "metrics", "metric": metric, **labels},
    )


def _distinct(
    logged: list[Event], found: list[tuple[str, Event]], span: tuple[float, float]
) -> list[Event]:
    """The changes seen in metrics that no stronger sign of the same change already shows."""
    kept: list[tuple[int, Event]] = [(0, e) for e in logged if e.kind in CHANGE_KINDS]
    for sign, event in sorted(found, key=lambda f: (PRECEDENCE.index(f[0]), epoch(f[1].at))):
        at = epoch(event.at)
        if not span[0] <= at <= span[1]:
            continue
        service = event.labels.get("service")
        if any(
            e.labels.get("service") == service and abs(epoch(e.at) - at) < SAME_CHANGE
            for rank, e in kept
            if rank < PRECEDENCE.index(sign) or e.kind == event.kind
        ):
            continue
        kept.append((PRECEDENCE.index(sign), event))
    return [e for rank, e in kept if rank > 0]
