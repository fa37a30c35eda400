"""Step 6c: where the bad requests of an impacted service concentrate.

Input: the evidence's :class:`~pmrecon.model.Breakdown` records (a service's bad and total
requests by value of one label, step by step, over the window and the baseline) and the
span of the incident for that service. Output, per service: the label values that held
most of its bad requests without holding as much of its traffic, and whether the errors
came from one node (one ``instance`` of five) or were spread over its nodes in proportion
to their traffic (then code or a dependency, not a node). The rule and its thresholds are
in ``docs/definitions.md`` (keep the two in step); :mod:`.suspects` turns the result into
a ``concentration`` lead. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..model import Breakdown

#: Fewer bad requests than this during the incident say nothing about where they were.
MIN_BAD = 20.0
#: A value holding at least this share of the bad requests holds "most" of them.
CONCENTRATED_SHARE = 0.8
#: ... and it is a lead only when it holds this much more of the errors than of the traffic
#: (``excess``, see :func:`excess`): a route that serves 90 % of the traffic and holds 90 %
#: of the errors says nothing.
MIN_EXCESS = 0.5
#: Errors follow the traffic when no value's share of the errors is further than this from
#: its share of the requests.
EVEN_MARGIN = 0.15
#: A value holding at least this share of the bad requests counts as one that held errors.
HOLDING_SHARE = 0.05
#: The roles whose concentration is a lead; ``status`` only describes the errors.
LEAD_ROLES = ("location", "route", "method")


@dataclass(frozen=True)
class LabelShare:
    """How one label's values shared a service's bad requests and its traffic."""

    label: str
    role: str
    value: str  # the value holding the most bad requests
    share: float  # of the bad requests, during the incident
    traffic_share: float | None  # of all requests (None: the busiest values did not include it)
    baseline_share: float | None  # of the bad requests in the baseline (None: too few there)
    values: int  # values that served requests during the incident
    holding: int  # values that held at least HOLDING_SHARE of the bad requests
    follows_traffic: bool  # every value's share of errors within EVEN_MARGIN of its traffic's
    refs: tuple[str, ...] = ()

    @property
    def excess(self) -> float:
        """How much more of the errors than of the traffic the value held (see :func:`excess`)."""
        return excess(self.share, self.traffic_share)

    @property
    def concentrated(self) -> bool:
        """Whether the value is a lead: most of the errors, well beyond its traffic."""
        return (
            self.role in LEAD_ROLES
            and self.values >= 2
            and self.share >= CONCENTRATED_SHARE
            and self.excess >= MIN_EXCESS
        )


@dataclass
class ServiceConcentration:
    """Where one service's bad requests were during the incident."""

    service: str
    bad: float  # bad requests counted during the incident
    labels: list[LabelShare] = field(default_factory=list)  # the concentrated ones, best first
    status: LabelShare | None = None  # the status holding most errors, when it held most
    location: LabelShare | None = None  # the location label, concentrated or not

    @property
    def best(self) -> LabelShare:
        return self.labels[0]

    @property
    def node(self) -> bool:
        """Whether the errors came from one node (a location value is concentrated)."""
        return any(s.role == "location" for s in self.labels)

    @property
    def spread(self) -> int | None:
        """The nodes the errors were spread over in proportion to their traffic (None: not so)."""
        loc = self.location
        if loc is None or self.node or not loc.follows_traffic or loc.holding < 2:
            return None
        return loc.holding

    @property
    def refs(self) -> list[str]:
        out: list[str] = []
        for share in [*self.labels, self.status, self.location]:
            for ref in share.refs if share else ():
                if ref not in out:
                    out.append(ref)
        return out


def excess(share: float, traffic_share: float | None) -> float:
    """``(share − traffic_share) ÷ (1 − traffic_share)``, in [0, 1]: 1 when the value held
    every error, 0 when it held no more of them than of the traffic. Unknown traffic (not
    among the busiest values) counts as none."""
    traffic = traffic_share or 0.0
    if traffic >= 1.0:
        return 0.0
    return max(0.0, min(1.0, (share - traffic) / (1.0 - traffic)))


def _counts(
    breakdowns: Iterable[Breakdown], start: float | None, end: float | None
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Bad and total requests per value over the steps ending in (start, end + step]."""
    bad: dict[str, float] = {}
    total: dict[str, float] = {}
    refs: list[str] = []
    for b in breakdowns:
        for t, nb, nt in zip(b.timestamps, b.bad, b.total):
            if (start is not None and t <= start) or (end is not None and t > end + b.step_seconds):
                continue
            bad[b.value] = bad.get(b.value, 0.0) + max(0.0, nb)
            total[b.value] = total.get(b.value, 0.0) + max(0.0, nt)
        if b.query_ref and b.query_ref not in refs:
            refs.append(b.query_ref)
    return bad, total, refs


def label_share(
    window: list[Breakdown], baseline: list[Breakdown], start: float | None, end: float | None
) -> LabelShare | None:
    """How one label's values shared the bad requests in (start, end], None with too few."""
    bad, total, refs = _counts(window, start, end)
    all_bad = sum(bad.values())
    all_total = sum(total.values())
    if all_bad < MIN_BAD or all_total <= 0:
        return None
    value = max(sorted(bad), key=lambda v: bad[v])
    base_bad, _, base_refs = _counts(baseline, None, None)
    base_all = sum(base_bad.values())
    gaps = [abs(bad.get(v, 0.0) / all_bad - total.get(v, 0.0) / all_total) for v in total]
    return LabelShare(
        label=window[0].label,
        role=window[0].role,
        value=value,
        share=bad[value] / all_bad,
        traffic_share=total[value] / all_total if total.get(value) else None,
        baseline_share=base_bad.get(value, 0.0) / base_all if base_all >= MIN_BAD else None,
        values=sum(1 for v in total.values() if v > 0),
        holding=sum(1 for v in bad.values() if v / all_bad >= HOLDING_SHARE),
        follows_traffic=bool(gaps) and max(gaps) <= EVEN_MARGIN,
        refs=tuple(refs + [r for r in base_refs if r not in refs]),
    )


def service_concentration(
    breakdowns: Iterable[Breakdown], service: str, start: float | None, end: float | None
) -> ServiceConcentration | None:
    """Where ``service``'s bad requests were in (start, end]; None when there were too few."""
    by_label: dict[tuple[str, str], tuple[list[Breakdown], list[Breakdown]]] = {}
    for b in breakdowns:
        if b.service == service:
            pair = by_label.setdefault((b.role, b.label), ([], []))
            pair[1 if b.baseline else 0].append(b)
    found: ServiceConcentration | None = None
    for (role, _label), (window, baseline) in sorted(by_label.items()):
        if not window:
            continue
        share = label_share(window, baseline, start, end)
        if share is None:
            continue
        if found is None:
            found = ServiceConcentration(service, sum(_counts(window, start, end)[0].values()))
        if share.concentrated:
            found.labels.append(share)
        if role == "status" and share.share >= CONCENTRATED_SHARE:
            found.status = share
        if role == "location":
            found.location = share
    if found is None or not found.labels:
        return None
    order = {role: i for i, role in enumerate(LEAD_ROLES)}
    found.labels.sort(key=lambda s: (-s.excess, order[s.role], s.label))
    return found
