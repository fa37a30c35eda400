"""Step 0: changes seen in the metrics themselves, for teams whose logs carry no deploy events.

Input: the evidence's ``extra`` series (configured under a Prometheus source's ``extra``)
whose query reads ``process_start_time_seconds``, and the queries that produced them.
Output: the evidence with one ``restart`` :class:`~pmrecon.model.Event` added per rise of
that value inside the window (the process started again: the new value *is* the restart
time), citing the series' query. The events then take part in the timeline, the start of
mitigation and the ranking of suspects like a logged change. Pure: the evidence given is
not changed, a copy is returned.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..model import Event, Evidence, Series, utc
from ..wording import text as words
from .times import epoch

#: The metric whose value is the process's start time (Prometheus client libraries' name).
RESTART_METRIC = "process_start_time_seconds"
#: A start time moving by less than this is jitter (a float rounding, an aggregation), not a
#: restart.
MIN_JUMP_SECONDS = 1.0


def with_metric_changes(evidence: Evidence, language: str) -> Evidence:
    """``evidence`` plus the restarts its ``process_start_time_seconds`` series show."""
    queries = {q.id: q.query for s in evidence.sources for q in s.queries}
    source = {q.id: s.name for s in evidence.sources for q in s.queries}
    restarts = [
        event
        for series in evidence.series
        if _reads_start_time(series, queries)
        for event in restart_events(series, evidence, language, source.get(series.query_ref or ""))
    ]
    if not restarts:
        return evidence
    events = sorted([*evidence.events, *restarts], key=lambda e: (epoch(e.at), e.kind, e.text))
    return dataclasses.replace(evidence, events=events)


def _reads_start_time(series: Series, queries: dict[str, object]) -> bool:
    query = queries.get(series.query_ref or "")
    return (
        series.kind == "extra"
        and not series.baseline
        and (series.name == RESTART_METRIC or RESTART_METRIC in str(query or ""))
    )


def restart_events(
    series: Series, evidence: Evidence, language: str, source: str | None
) -> list[Event]:
    """One ``restart`` event per rise of the start time, dated by the new start time."""
    values = np.asarray(series.values, dtype=float)
    finite = values[np.isfinite(values)]
    rises = np.flatnonzero(np.diff(finite) >= MIN_JUMP_SECONDS) + 1
    text = words(language, "timeline.restart", service=series.service, metric=RESTART_METRIC)
    out = []
    for i in rises.tolist():
        at = utc(float(finite[i]))
        if evidence.window.contains(at):
            out.append(
                Event(
                    at=at,
                    kind="restart",
                    source=source or "metrics",
                    text=text,
                    ref=series.query_ref,
                    labels={"service": series.service, "origin": "metrics"},
                )
            )
    return out
