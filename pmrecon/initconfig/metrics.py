"""Which metric conventions a Prometheus holds, and the settings that read each of them.

A convention is a preset (``config/presets/<name>.yaml``, read as data: any preset the
installed pmrecon knows is considered): it is present when its ``discover`` metric has
series in the inspected range. For each one present, the series of that metric say which
label names a service (the preset's own when it is there, else the first of
:data:`SERVICE_LABELS` set on every series), which label carries the status code, and
whether a service name repeats under several values of a label that usually separates
services (:data:`SEPARATING_LABELS`): then that label joins the service identity. The
histogram's buckets say which latency quantiles mean something.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from connectors.prometheus import PRESETS, SETTINGS_SCHEMA, load_preset
from connectors.prometheus.discover import PrometheusInventory, SeriesSample
from pmrecon.errors import ConfigError

from .plan import SourcePlan, listing

#: Labels that may name a service, in the order they are tried when the preset's is absent.
SERVICE_LABELS = ("service", "job", "application", "app", "service_name", "ingress", "container")
#: Labels under which the same service name may denote different services.
SEPARATING_LABELS = ("cluster", "namespace", "env", "environment")
#: Labels that may carry the HTTP status code.
STATUS_LABELS = ("code", "status", "status_code", "http_status_code", "http_response_status_code")
#: Labels never taken for a service name.
NOT_A_SERVICE = ("instance", "le", "quantile", "method", "uri", "handler", "route", "outcome")

_STATUS_IN_TEMPLATE = re.compile(r'([A-Za-z_]\w*)\s*=~\s*"5')
_BUCKET_METRIC = re.compile(r"([A-Za-z_:][\w:]*_bucket)\b")


def presets() -> dict[str, dict[str, Any]]:
    """Every preset this pmrecon knows, by name."""
    return {name: load_preset(name) for name in PRESETS}


def plan_metrics(inv: PrometheusInventory) -> list[SourcePlan]:
    """One source per convention found; a ConfigError when none is."""
    names = set(inv.metric_names())
    if not names:
        raise ConfigError(
            f"Prometheus at {inv.shown_url} holds no metric from {inv.start:%Y-%m-%d %H:%M} "
            f"to {inv.end:%Y-%m-%d %H:%M} UTC; give a range with data (--from/--to), or check the URL"
        )
    known = presets()
    found = [(n, p) for n, p in known.items() if p.get("discover") in names]
    if not found:
        raise ConfigError(_no_convention(inv, names, known))
    plans: list[SourcePlan] = []
    for i, (name, preset) in enumerate(found):
        source = "prometheus" if len(found) == 1 else f"prometheus_{name}"
        plan = _plan_one(inv, source, name, preset, names)
        if len(found) > 1:
            others = ", ".join(n for n, _ in found if n != name)
            plan.about.append(
                f"This Prometheus also holds the {others} convention: each convention is its own "
                "source (same server), so that no service is read twice."
            )
            if i:
                plan.set(
                    "alerts.enabled",
                    False,
                    f"alerts are read once, by the source {plans[0].name!r}",
                )
        plans.append(plan)
    return plans


def _no_convention(inv: PrometheusInventory, names: set[str], known: Mapping[str, Any]) -> str:
    """The message when no preset's metric is there, naming what looks like request metrics."""
    wanted = ", ".join(f"{p['discover']} ({n})" for n, p in known.items())
    hints = sorted(
        n for n in names if re.search(r"request|http_server|duration", n) and not n.endswith("_sum")
    )
    seen = f"; request-like metrics here: {listing(hints, 6)}" if hints else ""
    return (
        f"Prometheus at {inv.shown_url} holds none of the metrics pmrecon knows: {wanted}{seen}; "
        "write sources.<name>.slis by hand (pmrecon config example shows how)"
    )


def _plan_one(
    inv: PrometheusInventory,
    source: str,
    name: str,
    preset: Mapping[str, Any],
    names: set[str],
) -> SourcePlan:
    metric = str(preset["discover"])
    sample = inv.series(metric)
    plan = SourcePlan(source)
    plan.set("type", "prometheus")
    plan.set("url", inv.api.http.url)
    kind = inv.metric_type(metric)
    plan.set(
        "preset",
        name,
        f"{metric} has {len(sample.label_sets)} series here"
        + (f" (a {kind}, as the targets declare it)" if kind else "")
        + f": the {name} convention ({preset.get('description', '')})",
    )
    if sample.truncated:
        plan.about.append(
            f"Only the first {len(sample.label_sets)} series of {metric} were read to choose labels."
        )
    identity = _service_identity(plan, sample, preset)
    _status(plan, sample, preset)
    _quantiles(plan, inv, preset, names)
    plan.about.append(f"Services seen: {listing(_service_names(sample, identity), 10)}.")
    return plan


def _service_identity(
    plan: SourcePlan, sample: SeriesSample, preset: Mapping[str, Any]
) -> list[str]:
    """The label(s) that name a service, set in ``plan`` with the reasons."""
    declared = preset.get("service_label") or "service"
    declared_list = [declared] if isinstance(declared, str) else [str(x) for x in declared]
    own = declared_list[-1]
    labels = sample.labels()
    if sample.on_every_series(own):
        label, why = own, f"{own} is the preset's service label, set on every series"
    else:
        status = _preset_status(preset)
        found = [
            c
            for c in dict.fromkeys((*SERVICE_LABELS, *labels))
            if c not in NOT_A_SERVICE and c != status and sample.on_every_series(c)
        ]
        if not found:
            raise ConfigError(
                f"{sample.metric} has no label naming a service on every series "
                f"(labels: {', '.join(labels) or 'none'}); nothing written: start from "
                "`pmrecon config example` and set service_label by hand"
            )
        label = found[0]
        why = (
            f"{sample.metric} has no label {own!r} (the preset's); it has {', '.join(labels)}: "
            f"{label} names the services"
        )
        others = [c for c in found[1:] if c in SERVICE_LABELS]
        if others:
            why += f" (also on every series: {', '.join(others)}; set service_label to one of them if it names your services better)"
    identity = [x for x in declared_list[:-1] if sample.on_every_series(x)] + [label]
    reasons = [why]
    added = 0
    for sep in SEPARATING_LABELS:
        if sep in identity and sep in labels:
            # the preset's identity already holds it: say so when it matters here
            rest = [x for x in identity if x != sep]
            repeated = _repeated_under(sample, rest, sep) if rest else []
            if repeated:
                reasons.append(
                    f"the same name is seen under several {sep} values ({listing(repeated, 4)}): "
                    f"{sep} is part of the preset's identity, so they stay apart"
                )
            continue
        if sep not in labels:
            continue
        repeated = _repeated_under(sample, identity, sep)
        if repeated:
            identity.insert(added, sep)  # cluster before namespace before env
            added += 1
            reasons.append(
                f"the same name is seen under several {sep} values ({listing(repeated, 4)}): "
                f"{sep} is part of the service's identity, so they stay apart"
            )
    plan.set("service_label", identity[0] if len(identity) == 1 else identity, *reasons)
    return identity


def _repeated_under(sample: SeriesSample, identity: list[str], sep: str) -> list[str]:
    """The service names (``identity`` values) seen under several values of ``sep``."""
    under: dict[tuple[str, ...], set[str]] = {}
    for s in sample.label_sets:
        if all(k in s for k in identity):
            under.setdefault(tuple(s[k] for k in identity), set()).add(s.get(sep, ""))
    return sorted(
        f"{'/'.join(key)} in {', '.join(sorted(v or '(none)' for v in seps))}"
        for key, seps in under.items()
        if len(seps) > 1
    )


def _service_names(sample: SeriesSample, identity: list[str]) -> list[str]:
    return sorted(
        {
            "/".join(s[k] for k in identity)
            for s in sample.label_sets
            if all(k in s for k in identity)
        }
    )


def _preset_status(preset: Mapping[str, Any]) -> str | None:
    """The preset's status label: declared, else the one its error templates match on 5xx."""
    if preset.get("status_label"):
        return str(preset["status_label"])
    slis = preset.get("slis") or {}
    found = _STATUS_IN_TEMPLATE.search(
        str(slis.get("error_ratio") or slis.get("requests_bad") or "")
    )
    return found.group(1) if found else None


def _status(plan: SourcePlan, sample: SeriesSample, preset: Mapping[str, Any]) -> None:
    """The label carrying the status code: the preset's when present, else one of STATUS_LABELS."""
    own = _preset_status(preset)
    if own and sample.on_every_series(own):
        plan.about.append(f'Failed requests: {own}=~"5.." (the preset\'s status label).')
        return
    found = [c for c in STATUS_LABELS if sample.on_every_series(c)]
    if not found:
        plan.undecided.append(
            f"{sample.metric} has no status label ({', '.join(STATUS_LABELS)}): error ratio and "
            "availability will be empty; set slis.error_ratio and slis.requests_bad by hand"
        )
        return
    why = f"{sample.metric} has no label {own!r} (the preset's); {found[0]} carries the status code"
    if "status_label" in SETTINGS_SCHEMA:
        plan.set("status_label", found[0], why)
    else:
        plan.undecided.append(
            f"{why}, but this pmrecon's preset reads {own!r} only: set slis.error_ratio and "
            "slis.requests_bad with that label"
        )


def _quantiles(
    plan: SourcePlan, inv: PrometheusInventory, preset: Mapping[str, Any], names: set[str]
) -> None:
    """The latency quantiles the histogram's buckets can tell, or the latency SLI off."""
    found = _BUCKET_METRIC.search(str((preset.get("slis") or {}).get("latency") or ""))
    if not found:
        return
    bucket = found.group(1)
    if bucket not in names:
        plan.set("slis.latency", "off", f"{bucket} has no series here: no latency histogram")
        return
    les = inv.label_values("le", bucket)
    finite = sorted((float(x), x) for x in les if _finite(x))
    if not finite:
        plan.set("slis.latency", "off", f"{bucket} has only the +Inf bucket: no latency to read")
        return
    top_value, top = finite[-1]
    wanted = [float(q) for q in SETTINGS_SCHEMA["quantiles"].default]
    share = inv.share_above(bucket, top)
    unit = "ms" if "_milliseconds" in bucket else "s"  # the bounds as the histogram counts them
    bounds = f"{len(finite)} finite buckets, {finite[0][0]:g} {unit} to {top_value:g} {unit}"
    if share is None:
        plan.set(
            "quantiles",
            wanted,
            f"{bucket}: {bounds}; it counted nothing in the range, so the quantiles are the defaults",
        )
        return
    kept = [q for q in wanted if share < 1 - q]
    why = [f"{bucket}: {bounds}; {share:.2%} of the requests are slower than {top_value:g} {unit}"]
    dropped = [q for q in wanted if q not in kept]
    if dropped:
        why.append(
            f"left out {', '.join(f'{q:g}' for q in dropped)}: that quantile falls beyond the "
            f"largest bucket, where histogram_quantile can only say {top_value:g} {unit}"
        )
    if len(finite) < 4:
        why.append(f"only {len(finite)} buckets: each quantile is interpolated between wide bounds")
    if not kept:
        plan.set("slis.latency", "off", *why)
        return
    plan.set("quantiles", kept, *why)


def _finite(le: str) -> bool:
    try:
        return math.isfinite(float(le))
    except ValueError:
        return False
