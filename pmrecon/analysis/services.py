"""Step 5d: what the main incident did to each service it touched.

Input: the main :class:`~.incidents.DetectedIncident`, its error logs per service and
per-service availability. Output: one :class:`~pmrecon.findings.ServiceImpact` per
service with a sustained signal: its signal kinds, alerts, SLI breaches (start, end,
peak), error logs, availability and failed requests. Pure.
"""

from __future__ import annotations

import numpy as np

from ..findings import ServiceImpact, SliBreach
from .context import AnalysisContext
from .incidents import DetectedIncident
from .measures import ServiceAvailability
from .signals import Signal
from .times import utc_time, utc_time_of


def service_impacts(
    ctx: AnalysisContext,
    detected: DetectedIncident,
    error_logs: dict[str, int] | None,
    per_service: ServiceAvailability,
) -> list[ServiceImpact]:
    """One entry per service of the incident, in the incident's order (sorted by name)."""
    out = []
    for name in detected.services:
        breaches = []
        signals: set[str] = set()
        alerts: set[str] = set()
        for s in detected.signals:
            if name not in s.services:
                continue
            if s.kind == "sli" and s.sustained and s.sli is not None:
                signals.add(s.sli.kind)
                breaches.append(_breach(name, s))
            elif s.kind == "logs":
                signals.add("error_logs")
            elif s.kind == "alert" and s.alert is not None:
                signals.add("alert")
                alerts.add(s.alert.name)
        availability, failed = per_service.get(name, (None, None))
        out.append(
            ServiceImpact(
                name=name,
                signals=sorted(signals),
                alerts=sorted(alerts),
                sli_breaches=sorted(
                    breaches,
                    key=lambda b: (b.start or utc_time_of(ctx.window_start), b.sli, b.series),
                ),
                error_logs=None if error_logs is None else error_logs.get(name, 0),
                availability=availability,
                failed_requests=failed,
            )
        )
    return out


def _breach(service: str, signal: Signal) -> SliBreach:
    """An SLI signal as a breach of the service, with its peak."""
    sli = signal.sli
    assert sli is not None
    run = sli.values[signal.first_index : signal.last_index + 1]
    worst = int(np.argmax(run) if sli.direction == "above" else np.argmin(run))
    return SliBreach(
        service=service,
        sli=sli.kind,
        series=sli.series_id,
        start=None if signal.open_start else utc_time(signal.start),
        end=None if signal.open_end else utc_time(signal.end),
        threshold=float(sli.threshold or 0.0),
        peak=float(run[worst]),
        peak_at=utc_time(float(sli.timestamps[signal.first_index + worst])),
        steps=signal.last_index - signal.first_index + 1,
        quantile=sli.quantile,
    )
