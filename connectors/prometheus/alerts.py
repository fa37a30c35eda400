"""Alert history from the raw samples of ``ALERTS`` and ``ALERTS_FOR_STATE``.

Alerts come from raw samples (range selectors evaluated at the window's end, read in
chunks of ``alerts.chunk``), never from ``query_range`` sampling: an alert resolved at
10:00 then ends at its last sample plus one evaluation interval, not five minutes later
through the query lookback. :func:`build_alerts` turns the samples into pending and
firing intervals, with activation times from ``ALERTS_FOR_STATE`` and annotations from
the alerting rules.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.promql import TemplateError, format_duration, label_matcher, selector
from connectors.toolkit.failures import RequestFailed
from pmrecon.errors import ConfigError
from pmrecon.model import Alert, Interval, Warning, Window, utc

from .failed import warn_unless_fatal
from .identity import service_name
from .settings import DEFAULT_INTERVAL
from .transport import PrometheusApi, fmt_ts

#: Raw samples by their sorted labels (``__name__`` left out): ``{time: value}``.
Samples = dict[tuple[tuple[str, str], ...], dict[float, float]]


def collect_alerts(
    api: PrometheusApi,
    settings: Mapping[str, Any],
    window: Window,
    info: Mapping[str, Any],
    warnings: list[Warning],
    *,
    services: tuple[str, ...],
    service_label: Sequence[str],
) -> list[Alert]:
    """The alerts of the window; a failure short of a fatal one is a warning and no alerts."""
    try:
        alerts_raw, ref = raw_samples(
            api, settings, "ALERTS", window, "alerts (raw ALERTS samples)"
        )
        for_state, _ = raw_samples(
            api, settings, "ALERTS_FOR_STATE", window, "alert activation times (ALERTS_FOR_STATE)"
        )
    except RequestFailed as exc:
        text = f"{exc}; alerts are missing from the evidence"
        warn_unless_fatal(exc, warnings, api.name, text, "alerts_failed", kind=exc.kind)
        return []
    return build_alerts(
        alerts_raw,
        for_state,
        window,
        rules=info.get("rules") or {},
        default_eval=float(settings["evaluation_interval"] or info.get("evaluation_interval") or 0)
        or None,
        eval_override=bool(settings["evaluation_interval"]),
        services=services,
        service_label=service_label,
        source=api.name,
        query_ref=ref,
    )


def alert_matchers(settings: Mapping[str, Any], source: str) -> list[str]:
    """Label matchers from the ``alerts`` filters (severities, alertname regex, matchers)."""
    a = settings["alerts"]
    out: list[str] = []
    if a["alertname"]:
        out.append(label_matcher("alertname", f"=~{a['alertname']}"))
    if a["severities"]:
        out.append(
            label_matcher("severity", "=~" + "|".join(re.escape(str(x)) for x in a["severities"]))
        )
    for label, spec in (a["matchers"] or {}).items():
        try:
            out.append(label_matcher(str(label), str(spec)))
        except TemplateError as exc:
            raise ConfigError(f"sources.{source}.alerts.matchers: {exc}") from None
    return out


def raw_samples(
    api: PrometheusApi, settings: Mapping[str, Any], metric: str, window: Window, purpose: str
) -> tuple[Samples, str | None]:
    """Raw samples of ``metric{matchers}`` in the window, chunked, and the first query's id."""
    sel = selector(metric, alert_matchers(settings, api.name))
    chunk = max(60.0, float(settings["alerts"]["chunk"]))
    w0, w1 = window.start.timestamp(), window.end.timestamp()
    out: Samples = {}
    first_ref: str | None = None
    at = w1
    while at > w0:
        span = min(chunk, at - w0)
        # one extra second: Prometheus 3 ranges are left-open; repeats are merged below
        q = f"{sel}[{format_duration(span + 1)}]"
        rec = api.recorder.record(purpose, q, endpoint="/api/v1/query")
        ans = api.call(
            "/api/v1/query",
            {"query": q, "time": fmt_ts(at)},
            method="POST",
            purpose=purpose,
            record=rec,
            context=f"query: {q}",
        )
        rec.start, rec.end, rec.step_seconds = utc(at - span), utc(at), None
        first_ref = first_ref or rec.id
        data = ans.data or {}
        if data.get("resultType") != "matrix":
            raise RequestFailed(
                f"source {api.name!r}: {purpose}: expected a matrix, got {data.get('resultType')!r}; query: {q}",
                "bad_query",
                False,
            )
        _merge(out, data.get("result") or [])
        at -= span
    return out, first_ref


def _merge(out: Samples, result: list[Any]) -> None:
    """Add a matrix result's samples to ``out`` (a repeated sample overwrites itself)."""
    for item in result:
        labels = tuple(
            sorted((k, v) for k, v in (item.get("metric") or {}).items() if k != "__name__")
        )
        samples = out.setdefault(labels, {})
        for x, v in item.get("values") or []:
            try:
                samples[float(x)] = float(v)
            except (TypeError, ValueError):
                continue


def build_alerts(
    alerts_raw: Mapping[tuple[tuple[str, str], ...], Mapping[float, float]],
    for_state: Mapping[tuple[tuple[str, str], ...], Mapping[float, float]],
    window: Window,
    *,
    rules: Mapping[str, list[dict[str, Any]]] | None = None,
    default_eval: float | None = None,
    eval_override: bool = False,
    services: tuple[str, ...] = (),
    service_label: str | Sequence[str] = "service",
    source: str = "prometheus",
    query_ref: str | None = None,
) -> list[Alert]:
    """Alerts from raw ALERTS samples: runs split at gaps > 1.5 × the evaluation interval.

    With ``services``, an alert carrying every ``service_label`` (the identity's labels)
    is kept only when its readable name is one of them.

    Samples are taken from the half-open window ``[start, end)``. An interval is
    ``[first sample, last sample + eval]``; it is ``open_end`` (and ends at the window's end)
    when its last sample lies within one evaluation interval of the window's end.
    """
    rules = rules or {}
    identity = (service_label,) if isinstance(service_label, str) else tuple(service_label)
    w0, w1 = window.start.timestamp(), window.end.timestamp()
    grouped: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    for labels, samples in alerts_raw.items():
        ld = dict(labels)
        state = ld.pop("alertstate", "firing")
        key = tuple(sorted(ld.items()))
        times = sorted(x for x, v in samples.items() if w0 <= x < w1 and not math.isnan(v))
        if times:
            grouped.setdefault(key, {}).setdefault(state, []).extend(times)
    out: list[Alert] = []
    for key, states in grouped.items():
        ld = dict(key)
        name = ld.get("alertname", "")
        named = service_name(ld, identity)
        if services and named is not None and named not in services:
            continue
        rule = _matching_rule(rules.get(name) or [], ld)
        all_times = sorted(x for ts_ in states.values() for x in ts_)
        eval_s = _eval_interval(all_times, rule, default_eval, eval_override)
        alert = Alert(
            name=name,
            labels=ld,
            severity=ld.get("severity"),
            source=source,
            query_ref=query_ref,
            annotations=render_annotations(rule["annotations"], ld) if rule else {},
            for_seconds=rule.get("for") if rule else None,
            evaluation_seconds=eval_s,
        )
        for state in ("pending", "firing"):
            for run in _runs(sorted(set(states.get(state, []))), eval_s):
                last = run[-1]
                open_end = w1 - last <= eval_s
                alert_iv = Interval(
                    start=utc(run[0]),
                    end=utc(w1 if open_end else min(last + eval_s, w1)),
                    open_start=run[0] - w0 < eval_s,
                    open_end=open_end,
                )
                getattr(alert, state).append(alert_iv)
        fs = for_state.get(key)
        if fs:
            inside = sorted((x, v) for x, v in fs.items() if w0 <= x < w1 and not math.isnan(v))
            if inside:
                alert.active_at = utc(inside[0][1])
        if alert.active_at is None:
            first = alert.pending[0].start if alert.pending else alert.firing[0].start
            alert.active_at = first if not (alert.pending and alert.pending[0].open_start) else None
        out.append(alert)
    out.sort(
        key=lambda a: (
            min([iv.start for iv in a.firing + a.pending]),
            a.name,
            sorted(a.labels.items()),
        )
    )
    return out


def _runs(times: list[float], eval_s: float) -> list[list[float]]:
    runs: list[list[float]] = []
    for x in times:
        if runs and x - runs[-1][-1] <= 1.5 * eval_s:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


def _eval_interval(
    times: list[float], rule: dict[str, Any] | None, default: float | None, override: bool
) -> float:
    """The setting, else the rule group's interval, else the global one, else the samples' spacing."""
    if override and default:
        return default
    if rule and rule.get("interval"):
        return float(rule["interval"])
    if default:
        return default
    deltas = [b - a for a, b in zip(times, times[1:]) if b > a]
    if deltas:
        return float(statistics.median(deltas))
    return DEFAULT_INTERVAL


def _matching_rule(
    candidates: list[dict[str, Any]], labels: Mapping[str, str]
) -> dict[str, Any] | None:
    for rule in candidates:
        if all(labels.get(k) == v for k, v in (rule.get("labels") or {}).items()):
            return rule
    return candidates[0] if len(candidates) == 1 else None


_TEMPLATE_LABEL = re.compile(r"\{\{-?\s*(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")


def render_annotations(annotations: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, str]:
    """Fill ``{{ $labels.x }}`` from the alert's labels; other template actions are left as written."""
    return {
        str(k): _TEMPLATE_LABEL.sub(lambda m: labels.get(m.group(1), m.group(0)), str(v))
        for k, v in annotations.items()
    }
