"""The look-back's further fetch: the stretch before the baseline, when the incident began there.

When the analysis finds the breach open at the window's start already holding at the
baseline's first sample (:func:`pmrecon.analysis.lookback.look_back_services`), the build
asks the metrics sources for the SLI series of those services over a stretch before the
baseline, up to ``analysis.lookback_max`` before the window (:func:`further_request`), and
adds what they answer to the evidence (:func:`add_look_back`): the samples go in front of
the baseline series beside them, the queries into the sources' records. The evidence, and
so the bundle, then holds the stretch: a rebuild from the bundle finds the same start with
no server. :func:`pmrecon.api.gather_evidence` runs the two around its own ``collect``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from connectors.base import CollectRequest

from .config import Config
from .model import Evidence, Series, Window
from .model import points as as_points

#: Added to the id of each look-back query: the sources number each collect's queries from
#: ``q1``, so the look-back's would take the ids of the first collect's.
QUERY_SUFFIX = "-lookback"


def look_back_stretch(config: Config, request: CollectRequest) -> Window | None:
    """The stretch before the baseline, up to ``analysis.lookback_max`` before the window.

    ``None`` when the baseline already reaches that far (or there is no baseline).
    """
    if request.baseline is None:
        return None
    reach = dt.timedelta(seconds=float(config["analysis"]["lookback_max"]))
    start = request.window.start - reach
    if start >= request.baseline.start:
        return None
    return Window(start, request.baseline.start)


def further_request(
    config: Config, request: CollectRequest, evidence: Evidence
) -> CollectRequest | None:
    """The look-back's request, when the evidence's incident began before the baseline; else None."""
    stretch = look_back_stretch(config, request)
    if stretch is None:
        return None
    from .analysis import analyse
    from .analysis.lookback import look_back_services

    findings = analyse(evidence, config["analysis"], timezone=config["timezone"], language="en")
    services = look_back_services(findings)
    if not services:
        return None
    return dataclasses.replace(request, services=services, look_back=stretch)


def add_look_back(evidence: Evidence, extra: Evidence) -> None:
    """Add the look-back's answer to the evidence, in place.

    Its baseline series' samples before the baseline go in front of the baseline series
    beside them (a series the baseline lacks is added); its queries join their sources'
    records, renamed apart; its warnings join those not already said. Anything else a
    source returned (alerts, window series) is not the look-back's and is left out.
    """
    renamed = {q.id: q.id + QUERY_SUFFIX for info in extra.sources for q in info.queries}
    beside = {_key(s): s for s in evidence.series if s.baseline}
    cutoff = evidence.baseline.start.timestamp() if evidence.baseline else None
    source_of = {q.id: info.name for info in extra.sources for q in info.queries}
    for s in extra.series:
        if not s.baseline:
            continue
        # two sources' series of one service were renamed <series>@<source> by the first
        # collect (api.merge_apart); one source answering alone here was not
        apart = (s.kind, f"{s.name}@{source_of.get(s.query_ref or '')}", s.service, s.quantile)
        own = beside.get(_key(s)) or beside.get(apart)
        # before the baseline's first sample: the stretch's last one may be that very sample
        ends = [cutoff, own.timestamps[0] if own and own.timestamps else None]
        end = min((t for t in ends if t is not None), default=math.inf)
        points = [(t, v) for t, v in zip(s.timestamps, s.values) if t < end - 1e-9]
        if not points:
            continue
        timestamps, values = (list(x) for x in zip(*points))
        if own is None:
            s.timestamps, s.values = as_points(timestamps), as_points(values)
            s.query_ref = renamed.get(s.query_ref or "", s.query_ref)
            evidence.series.append(s)
            beside[_key(s)] = s
        else:
            own.timestamps = as_points([*timestamps, *own.timestamps])
            own.values = as_points([*values, *own.values])
    infos = {info.name: info for info in evidence.sources}
    for info in extra.sources:
        for q in info.queries:
            q.id = renamed[q.id]
        if info.name in infos:
            infos[info.name].queries.extend(info.queries)
        else:
            evidence.sources.append(info)
    evidence.sources.sort(key=lambda i: i.name)
    said = {(w.source, w.code, w.message) for w in evidence.warnings}
    for w in extra.warnings:
        if w.code == "source_unavailable":  # it may have failed here only: say where
            w = dataclasses.replace(w, message=f"in the look-back before the baseline, {w.message}")
        if (w.source, w.code, w.message) not in said:
            evidence.warnings.append(w)


def _key(s: Series) -> tuple[str, str, str, float | None]:
    return (s.kind, s.name, s.service, s.quantile)
