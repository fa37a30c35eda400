"""Step 5e: the cascade — the impacted services in the order their SLIs first breached.

Input: the main incident's :class:`~pmrecon.findings.ServiceImpact` list (their sustained
SLI breaches). Output: one :class:`~pmrecon.findings.CascadeStep` per service with a
breach, earliest first, with the SLI that broke first and the lag after the cascade's
first breach. The first service to break is where people look first, not proof of cause:
the report says so. Pure.
"""

from __future__ import annotations

import datetime as dt

from ..findings import CascadeStep, ServiceImpact, SliBreach

#: Which SLI a tie between breaches that began on the same step names first: a failing
#: request shows in the error ratio before the latency histogram or a probe moves.
SLI_ORDER = ("error_ratio", "latency", "uptime")


def build_cascade(services: list[ServiceImpact]) -> list[CascadeStep]:
    """The services with an SLI breach, earliest first breach first (window-start breaches lead)."""
    firsts = [
        (service.name, min(service.sli_breaches, key=_breach_order))
        for service in services
        if service.sli_breaches
    ]
    firsts.sort(key=lambda pair: (_breach_order(pair[1]), pair[0]))
    if not firsts:
        return []
    origin = firsts[0][1].start
    return [
        CascadeStep(
            service=name,
            first_breach_at=breach.start,
            sli=breach.sli,
            lag_seconds=_lag(origin, breach.start),
        )
        for name, breach in firsts
    ]


def _breach_order(breach: SliBreach) -> tuple[int, dt.datetime, int, str]:
    """Open starts (already breached at the window's start) first, then by start and SLI."""
    known = breach.start is not None
    at = breach.start or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    rank = SLI_ORDER.index(breach.sli) if breach.sli in SLI_ORDER else len(SLI_ORDER)
    return (int(known), at, rank, breach.series)


def _lag(origin: dt.datetime | None, start: dt.datetime | None) -> float | None:
    """Seconds from the cascade's first breach; unknown when either start is."""
    if origin is None or start is None:
        return None
    return (start - origin).total_seconds()
