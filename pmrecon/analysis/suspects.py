"""Step 6d: suspects — leads on the cause, ranked, each pointing at the queries that show it.

Input: the evidence (change events, throughput series and their baseline, error
signatures), the main :class:`~pmrecon.findings.Incident` (impact start, resolution,
services, cascade) and the novelty of each signature. Output:
:class:`~pmrecon.findings.Suspect` entries, best first, each with a score in [0, 1]
whose rule is in ``docs/definitions.md`` (keep the two in step):

- ``change``: a change event at most :data:`IMPACT_SLACK` after impact start; the score
  halves every :data:`LEAD_HALF_LIFE` of lead time, times the relevance of its service;
- ``rollback_recovery``: a rollback during the incident followed by the recovery of its
  service within :data:`RECOVERY_WITHIN` points at the change it undid (the latest change
  of that service before impact), however long before impact that change was;
- ``load``: throughput of an impacted service, just before or at impact start, at least
  :data:`LOAD_MIN_RATIO` times its usual level;
- ``concentration``: one value of a label (an instance, a route) of an impacted service held
  most of its bad requests during the incident without holding as much of its traffic
  (:mod:`.concentration`);
- ``new_error``: an error signature absent before the incident, by how close to impact
  start it first appeared;
- ``upstream``: the first service of a cascade that others followed.

An empty list is an honest answer: flat evidence names no suspect. Nothing here is a
verdict; the report calls every lead "to be confirmed". Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..findings import ConcentrationFigures, Incident, SliBreach, Suspect
from ..model import Event, Series
from .concentration import CONCENTRATED_SHARE, ServiceConcentration, service_concentration
from .context import AnalysisContext
from .instants import CHANGE_KINDS
from .listings import Novelty
from .samples import sample_step, samples_in
from .times import epoch, utc_time_of

#: A change's score halves with every this many seconds between it and impact start.
LEAD_HALF_LIFE = 900.0
#: A change this long after impact start can still be its cause: impact start is the start
#: of the first breached step, so a change inside that step comes "after" it.
IMPACT_SLACK = 60.0
#: A rollback points at the change it undid when its service recovers within this.
RECOVERY_WITHIN = 900.0
#: Scores of a rollback followed by recovery: the change it undid found (its service
#: impacted, or only the incident's recovery to go by), or not found.
ROLLBACK_SCORE = 0.95
ROLLBACK_OTHER_SERVICE_SCORE = 0.75
ROLLBACK_UNKNOWN_CHANGE_SCORE = 0.7
#: Throughput at least this many times its usual level is a load lead; the score reaches 1
#: at :data:`LOAD_FULL_RATIO` (log scale in between).
LOAD_MIN_RATIO = 2.0
LOAD_FULL_RATIO = 20.0
#: How far before impact start a throughput rise is looked for.
LOAD_LOOKBACK = 300.0
#: Errors held by one label value are a strong sign of where, not of why: at most this.
CONCENTRATION_WEIGHT = 0.9
#: A value that already held most of the baseline's bad requests is a known weak spot,
#: not news: its lead is scaled by this.
CONCENTRATION_KNOWN = 0.5
#: A new error signature is a symptom more often than a cause: its score is at most this.
NEW_ERROR_WEIGHT = 0.6
#: At most this many new signatures are leads (the best ones).
NEW_ERROR_LEADS = 3
#: Being first in a cascade is weak evidence on its own.
UPSTREAM_SCORE = 0.45
#: Leads scored below this are dropped; at most MAX_SUSPECTS are listed.
MIN_SCORE = 0.01
MAX_SUSPECTS = 10


class Relevance:
    """How much a lead's service matters: first in the cascade, impacted, unknown or other."""

    FIRST, IMPACTED, UNKNOWN, OTHER = 1.0, 0.8, 0.6, 0.3

    def __init__(self, incident: Incident) -> None:
        # Services that breached on the same step as the first are all first, and so is every
        # service when the first one's start is unknown (lags null): no order is known.
        self.first = {s.service for s in incident.cascade if s.lag_seconds in (0, None)}
        self.impacted = {s.name for s in incident.services}

    def of(self, service: str | None) -> float:
        """The relevance of a lead on ``service`` (None: the evidence did not say)."""
        if service is None:
            return self.UNKNOWN
        if service in self.first:
            return self.FIRST
        return self.IMPACTED if service in self.impacted else self.OTHER

    def best(self, services: Iterable[str]) -> float:
        """The relevance of the most relevant of ``services`` (unknown when there are none)."""
        return max((self.of(s) for s in services), default=self.UNKNOWN)


def rank_suspects(ctx: AnalysisContext, incident: Incident, novelty: Novelty) -> list[Suspect]:
    """The leads on the main incident's cause, best first (none without a known impact start)."""
    if not incident.found or incident.impact_start is None:
        return []
    impact = epoch(incident.impact_start)
    relevance = Relevance(incident)
    leads = (
        change_leads(ctx, incident, impact, relevance)
        + load_leads(ctx, incident, impact, relevance)
        + concentration_leads(ctx, incident, impact, relevance)
        + new_error_leads(ctx, impact, novelty, relevance)
        + upstream_leads(ctx, incident)
    )
    leads = [s for s in leads if s.score >= MIN_SCORE]
    leads.sort(key=lambda s: (-s.score, s.at or incident.impact_start, s.kind, s.summary))
    for rank, lead in enumerate(leads[:MAX_SUSPECTS], 1):
        lead.rank = rank
        lead.score = round(lead.score, 3)
        lead.query_services = ctx.read_for(lead.evidence, [lead.service])
    return leads[:MAX_SUSPECTS]


def proximity(lead_seconds: float) -> float:
    """1 at impact start, halving every :data:`LEAD_HALF_LIFE` before or after it."""
    return float(0.5 ** (abs(lead_seconds) / LEAD_HALF_LIFE))


def _refs(ctx: AnalysisContext, refs: Iterable[str | None]) -> list[str]:
    """The references that name a query of the evidence, once each, in order."""
    out: list[str] = []
    for ref in refs:
        if ref and ref in ctx.query_source and ref not in out:
            out.append(ref)
    return out


def _service(event: Event) -> str | None:
    return event.labels.get("service")


def change_leads(
    ctx: AnalysisContext, incident: Incident, impact: float, relevance: Relevance
) -> list[Suspect]:
    """Changes before impact start; one undone by a rollback followed by recovery outranks all."""
    changes = sorted(
        (e for e in ctx.evidence.events if e.kind in CHANGE_KINDS),
        key=lambda e: (epoch(e.at), e.kind, e.text),
    )
    before = [e for e in changes if epoch(e.at) <= impact + IMPACT_SLACK]
    undone: dict[int, Event] = {}
    leads: list[Suspect] = []
    for rollback in _recovering_rollbacks(changes, incident, impact):
        undid = [e for e in before if e.kind != "rollback" and _service(e) == _service(rollback)]
        if undid:
            undone.setdefault(id(undid[-1]), rollback)
            continue
        leads.append(
            Suspect(
                rank=0,
                kind="rollback_recovery",
                service=_service(rollback),
                at=None,
                summary=rollback.text,
                score=ROLLBACK_UNKNOWN_CHANGE_SCORE,
                evidence=_refs(ctx, [rollback.ref]),
                related=rollback.text,
            )
        )
    for change in before:
        lead = impact - epoch(change.at)
        undoing = undone.get(id(change))
        leads.append(
            Suspect(
                rank=0,
                kind="rollback_recovery" if undoing else "change",
                service=_service(change),
                at=change.at,
                summary=change.text,
                score=_rollback_score(change, relevance)
                if undoing
                else proximity(lead) * relevance.of(_service(change)),
                evidence=_refs(ctx, [change.ref, undoing.ref if undoing else None]),
                lead_seconds=lead,
                related=undoing.text if undoing else None,
            )
        )
    return leads


def _rollback_score(change: Event, relevance: Relevance) -> float:
    """Its own service's recovery is the strongest sign; the incident's alone, a weaker one."""
    impacted = _service(change) in relevance.impacted
    return ROLLBACK_SCORE if impacted else ROLLBACK_OTHER_SERVICE_SCORE


def _recovering_rollbacks(changes: list[Event], incident: Incident, impact: float) -> list[Event]:
    """Rollbacks during the incident after which its service recovered within RECOVERY_WITHIN."""
    out = []
    for event in changes:
        at = epoch(event.at)
        if event.kind != "rollback" or at < impact:
            continue
        recovered = _recovery(incident, _service(event))
        if recovered is not None and 0 <= recovered - at <= RECOVERY_WITHIN:
            out.append(event)
    return out


def _recovery(incident: Incident, service: str | None) -> float | None:
    """When ``service`` stopped breaching (all its breaches over), else the incident's resolution."""
    for impact in incident.services:
        if impact.name == service and impact.sli_breaches:
            ends = [b.end for b in impact.sli_breaches]
            return None if any(e is None for e in ends) else max(epoch(e) for e in ends if e)
    return epoch(incident.resolution) if incident.resolution else None


def load_leads(
    ctx: AnalysisContext, incident: Incident, impact: float, relevance: Relevance
) -> list[Suspect]:
    """Impacted services whose throughput rose well above its usual level around impact start."""
    leads = []
    for service in sorted(relevance.impacted):
        window = _throughput(ctx.evidence.series, service, baseline=False)
        if window is None:
            continue
        usual, usual_refs = _usual_throughput(ctx, service, window, impact)
        if usual is None or usual <= 0:
            continue
        times, values = samples_in(window, ctx.window_start, ctx.window_end)
        step = sample_step(window, times)
        near = (times > impact - LOAD_LOOKBACK) & (times <= impact + step)
        if not near.any():
            continue
        ratio = float(values[near].max()) / usual
        if ratio < LOAD_MIN_RATIO:
            continue
        leads.append(
            Suspect(
                rank=0,
                kind="load",
                service=service,
                at=utc_time_of(_rise_start(times, values, usual, impact, step)),
                summary=service,
                score=min(1.0, math.log(ratio) / math.log(LOAD_FULL_RATIO)) * relevance.of(service),
                evidence=_refs(ctx, [window.query_ref, *usual_refs]),
                ratio=ratio,
            )
        )
    return leads


def _throughput(series: list[Series], service: str, *, baseline: bool) -> Series | None:
    return next(
        (
            s
            for s in series
            if s.kind == "throughput" and s.service == service and s.baseline == baseline
        ),
        None,
    )


def _usual_throughput(
    ctx: AnalysisContext, service: str, window: Series, impact: float
) -> tuple[float | None, list[str | None]]:
    """The median throughput of the baseline, else of the window before the lookback."""
    baseline = _throughput(ctx.evidence.series, service, baseline=True)
    if baseline is not None and ctx.evidence.baseline is not None:
        _, values = samples_in(
            baseline, epoch(ctx.evidence.baseline.start), epoch(ctx.evidence.baseline.end)
        )
        if len(values) >= 5:
            return float(np.median(values)), [baseline.query_ref]
    _, values = samples_in(window, ctx.window_start, impact - LOAD_LOOKBACK)
    if len(values) >= 5:
        return float(np.median(values)), []
    return None, []


def _rise_start(
    times: np.ndarray, values: np.ndarray, usual: float, impact: float, step: float
) -> float:
    """The start of the step where throughput last came up to LOAD_MIN_RATIO × usual before impact."""
    high = values >= usual * LOAD_MIN_RATIO
    last = int(np.flatnonzero(times <= impact + step)[-1])
    first = last
    while first > 0 and high[first - 1]:
        first -= 1
    while first < last and not high[first]:
        first += 1
    return float(times[first] - step)


def concentration_leads(
    ctx: AnalysisContext, incident: Incident, impact: float, relevance: Relevance
) -> list[Suspect]:
    """Impacted services whose bad requests one label value held, beyond its share of traffic."""
    if not ctx.evidence.breakdowns:
        return []
    leads = []
    for service in incident.services:
        start, end = _breach_span(service.sli_breaches, impact, incident)
        found = service_concentration(ctx.evidence.breakdowns, service.name, start, end)
        if found is None:
            continue
        best = found.best
        known = (best.baseline_share or 0.0) >= CONCENTRATED_SHARE
        score = CONCENTRATION_WEIGHT * best.excess * relevance.of(service.name)
        leads.append(
            Suspect(
                rank=0,
                kind="concentration",
                service=service.name,
                at=utc_time_of(start),
                summary=_concentration_summary(found),
                score=score * (CONCENTRATION_KNOWN if known else 1.0),
                evidence=_refs(ctx, found.refs),
                lead_seconds=impact - start,
                concentration=_figures(found),
            )
        )
    return leads


def _breach_span(
    breaches: list[SliBreach], impact: float, incident: Incident
) -> tuple[float, float | None]:
    """When the service's breaches began (else impact start) and ended (None: still going)."""
    starts = [epoch(b.start) for b in breaches if b.start is not None]
    ends = [b.end for b in breaches]
    start = min(starts) if starts else impact
    if ends and all(e is not None for e in ends):
        return start, max(epoch(e) for e in ends if e is not None)
    return start, epoch(incident.resolution) if incident.resolution else None


def _concentration_summary(found: ServiceConcentration) -> str:
    """The label values that held the errors: ``route="/api/pay", code="503"``."""
    shares = [*found.labels, *([found.status] if found.status else [])]
    return ", ".join(f'{s.label}="{s.value}"' for s in shares)


def _figures(found: ServiceConcentration) -> ConcentrationFigures:
    best, location = found.best, found.location
    return ConcentrationFigures(
        label=best.label,
        value=best.value,
        share=best.share,
        traffic_share=best.traffic_share,
        baseline_share=best.baseline_share,
        node=found.node,
        location_label=location.label if location else None,
        locations=location.values if location else None,
        spread=found.spread,
    )


def new_error_leads(
    ctx: AnalysisContext, impact: float, novelty: Novelty, relevance: Relevance
) -> list[Suspect]:
    """New error signatures, by how close to impact start they first appeared."""
    logs = ctx.evidence.logs
    if logs is None:
        return []
    leads = []
    for signature in logs.signatures:
        if novelty.get(signature.signature) is not True:
            continue
        lead = impact - epoch(signature.first_sighting)
        service = sorted(signature.services)[0] if len(signature.services) == 1 else None
        leads.append(
            Suspect(
                rank=0,
                kind="new_error",
                service=service,
                at=signature.first_sighting,
                summary=signature.signature,
                score=NEW_ERROR_WEIGHT * proximity(lead) * relevance.best(signature.services),
                evidence=_refs(ctx, [signature.query_ref]),
                lead_seconds=lead,
            )
        )
    leads.sort(key=lambda s: (-s.score, s.summary))
    return leads[:NEW_ERROR_LEADS]


def upstream_leads(ctx: AnalysisContext, incident: Incident) -> list[Suspect]:
    """The first service of a cascade, when another service breached after it."""
    cascade = incident.cascade
    if len(cascade) < 2 or not cascade[1].lag_seconds:
        return []
    first = cascade[0]
    breach_series = {
        b.series for s in incident.services if s.name == first.service for b in s.sli_breaches
    }
    refs = [s.query_ref for s in ctx.evidence.series if s.id in breach_series]
    return [
        Suspect(
            rank=0,
            kind="upstream",
            service=first.service,
            at=first.first_breach_at,
            summary=first.service,
            score=UPSTREAM_SCORE,
            evidence=_refs(ctx, sorted(r for r in refs if r)),
            lead_seconds=cascade[1].lag_seconds,
            related=first.sli,
        )
    ]
