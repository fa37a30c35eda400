"""The findings model: what analysis derives from the evidence, and its JSON form.

``analyse()`` returns a :class:`Findings`; :func:`findings_to_json` turns it into the
plain, deterministic dict written as ``findings.json`` (times as RFC 3339 with the
offset of the configured time zone, durations in seconds, ratios in [0, 1], ``None``
where a value cannot be derived); :func:`findings_document` adds what the output step
knows (title, build time). :func:`validate_findings` checks such a document against the
JSON Schema shipped in ``pmrecon/schema/findings.schema.json``.

Inside the dataclasses every time is an aware UTC ``datetime`` (or ``None``); the
time zone is applied only when converting to JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import QueryRecord, Window, parse_rfc3339, written_fields

FINDINGS_SCHEMA_VERSION = 3

Span = tuple["dt.datetime | None", "dt.datetime | None"]


@dataclass
class Instant:
    """A key instant of the incident, with how sure we are and what produced it."""

    at: dt.datetime | None
    uncertainty_seconds: float | None = None
    source: str | None = None  # "series", "logs", "alert", "event", "silence", "human", "analysis"
    ref: str | None = None  # QueryRecord id, series id, alert or event reference
    definition: str = ""
    # found in the data collected before the window (the baseline, an alert's activation)
    found_before_window: bool = field(default=False, metadata={"omit_default": True})
    # a grouped query's reference -> the services of it this rests on (per-service queries: absent)
    query_services: dict[str, list[str]] = field(
        default_factory=dict, metadata={"omit_default": True}
    )


@dataclass
class Figure:
    """One figure of the report, with what it means and where it comes from."""

    value: Any
    unit: str | None
    definition: str
    source: str | None = None
    query_refs: list[str] = field(default_factory=list)
    # a grouped query's reference -> the services of it this rests on (per-service queries: absent)
    query_services: dict[str, list[str]] = field(
        default_factory=dict, metadata={"omit_default": True}
    )


@dataclass
class PeakValue:
    """The highest value of an SLI over the incident: when and where it was seen."""

    value: float | None = None
    at: dt.datetime | None = None
    service: str | None = None
    quantile: float | None = None
    series: str | None = None


@dataclass
class Availability:
    """Availability over [impact start, resolution] and how it was computed."""

    value: float | None = None
    definition: str = ""
    uptime: float | None = None
    total_requests: float | None = None


@dataclass
class ErrorBudget:
    """Share of the SLO's error budget the incident consumed (may exceed 1)."""

    value: float | None = None
    slo_target: float | None = None
    slo_period_seconds: float | None = None


@dataclass
class SliBreach:
    """A sustained run of steps during which one SLI of one service was beyond its threshold."""

    service: str
    sli: str  # "error_ratio", "latency", "uptime"
    series: str  # Series.id
    start: dt.datetime | None  # None: already in breach at the first sample of the window
    end: dt.datetime | None  # None: still in breach at the last sample of the window
    threshold: float
    peak: float | None
    peak_at: dt.datetime | None
    steps: int
    quantile: float | None = None


@dataclass
class ServiceImpact:
    """One service touched by the incident, with what was seen of it."""

    name: str
    signals: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    sli_breaches: list[SliBreach] = field(default_factory=list)
    error_logs: int | None = None
    availability: float | None = None
    failed_requests: float | None = None


@dataclass
class CascadeStep:
    """One service of the cascade: when its SLIs first breached and how long after the first."""

    service: str
    first_breach_at: dt.datetime | None  # None: already in breach at the window's start
    sli: str  # the SLI that breached first ("error_ratio", "latency", "uptime")
    lag_seconds: float | None  # after the cascade's first breach; None when either is unknown


@dataclass
class Incident:
    """The main incident of the window (or ``found=False``)."""

    found: bool = False
    status: str = "none"  # "none", "resolved", "ongoing"
    ongoing_at_start: bool = False
    ongoing_at_end: bool = False
    impact_start: dt.datetime | None = None
    first_alert: dt.datetime | None = None
    acknowledged: dt.datetime | None = None
    declared: dt.datetime | None = None
    investigation_start: dt.datetime | None = None
    cause_identified: dt.datetime | None = None
    mitigation_start: dt.datetime | None = None
    resolution: dt.datetime | None = None
    end: dt.datetime | None = None
    duration_seconds: float | None = None
    elapsed_seconds: float | None = None
    mttd_seconds: float | None = None
    mtta_seconds: float | None = None
    mttr_seconds: float | None = None
    max_error_rate: PeakValue = field(default_factory=PeakValue)
    max_latency_seconds: PeakValue = field(default_factory=PeakValue)
    max_latency_by_quantile: list[PeakValue] = field(default_factory=list)
    availability: Availability = field(default_factory=Availability)  # the impacted services'
    failed_requests: float | None = None  # of the impacted services
    availability_all_services: float | None = None  # every analysed service, busy or not
    failed_requests_all_services: float | None = None
    impacted_users: int | None = None
    error_budget_consumed: ErrorBudget = field(default_factory=ErrorBudget)
    impact_level_suggested: str | None = None
    error_logs: int | None = None
    services: list[ServiceImpact] = field(default_factory=list)
    cascade: list[CascadeStep] = field(default_factory=list)


@dataclass
class AlertFinding:
    """One alert series as seen in the window; ``None`` bounds mean open at the window's edge."""

    name: str
    labels: dict[str, str]
    severity: str | None
    active_at: dt.datetime | None
    firing: list[Span] = field(default_factory=list)
    pending: list[Span] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    service: str | None = None
    in_incident: bool = False
    query_ref: str | None = None


@dataclass
class TimelineEntry:
    """One row of the merged timeline."""

    at: dt.datetime
    kind: str
    source: str
    text: str
    ref: str | None = None
    service: str | None = None


@dataclass
class TopError:
    """An error signature; new ones (absent from the baseline and before impact) are suspects."""

    signature: str
    count: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    services: list[str]
    new_since_baseline: bool | None  # None: neither the baseline nor the pre-impact window has logs
    baseline_count: int = 0
    example: str | None = None
    query_ref: str | None = None


@dataclass
class OtherIncident:
    """A separate incident in the same window, listed but not analysed in depth."""

    impact_start: dt.datetime | None
    resolution: dt.datetime | None
    services: list[str]
    first_alert: dt.datetime | None = None
    status: str = "resolved"


@dataclass
class Gap:
    """Missing samples of one series inside the incident: nothing is known in (start, end]."""

    service: str
    series: list[str]
    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Threshold:
    """The threshold used for one SLI series, and where it came from."""

    service: str
    sli: str
    series: str
    value: float
    direction: str  # "above" (breach when above) or "below"
    origin: str  # "config", "baseline", "window", "default"
    baseline_level: float | None = None
    quantile: float | None = None


@dataclass
class SourceFinding:
    """A source that contributed evidence, with the queries it answered."""

    name: str
    kind: str
    version: str | None
    queries: list[QueryRecord] = field(default_factory=list)
    ok: bool = True
    error: str | None = None


@dataclass
class ConcentrationFigures:
    """A ``concentration`` lead's figures: which value held the bad requests, and how much."""

    label: str  # the label whose value held most of the bad requests beyond its traffic
    value: str
    share: float  # of the service's bad requests during the incident
    traffic_share: float | None  # of its requests (None: not among the busiest values)
    baseline_share: float | None  # of its bad requests in the baseline (None: too few there)
    node: bool  # one node (instance, pod) held them
    location_label: str | None  # the label naming the nodes (instance, pod)
    locations: int | None  # nodes that served requests during the incident
    spread: int | None  # nodes the errors were spread over like their traffic: not a node


@dataclass
class Suspect:
    """A lead on the cause, ranked: what it is, where, when it began and what shows it."""

    rank: int
    kind: str  # "change", "rollback_recovery", "load", "concentration", "new_error", "upstream"
    service: str | None
    at: dt.datetime | None  # when the suspected cause began
    summary: str  # names the subject: the change's text, the signature, the label values
    score: float  # in [0, 1], rule in docs/definitions.md
    evidence: list[str] = field(default_factory=list)  # ids of the queries that show it
    lead_seconds: float | None = None  # how long before impact start it began (< 0: after)
    ratio: float | None = None  # load: the throughput's rise over its usual level
    related: str | None = None  # rollback_recovery: the rollback's text; upstream: its first SLI
    # concentration: where the errors were; left out of the JSON for the other kinds
    concentration: ConcentrationFigures | None = field(
        default=None, metadata={"omit_default": True}
    )
    # a grouped query's reference -> the services of it this rests on (per-service queries: absent)
    query_services: dict[str, list[str]] = field(
        default_factory=dict, metadata={"omit_default": True}
    )


@dataclass
class DetectionGap:
    """Something the alerting missed or did badly: a line for "what can be improved"."""

    kind: str  # "no_alert", "late_alert", "flapping", "stale_alert", "unalerted_service"
    alert: str | None
    at: dt.datetime | None
    summary: str
    service: str | None = None
    seconds: float | None = None  # late_alert: the delay; stale_alert: firing after resolution
    episodes: int | None = None  # flapping: firing episodes within the incident


@dataclass
class WarningFinding:
    """A caveat the report must show: English text, cause code and the values it names."""

    source: str
    message: str
    code: str = "warning"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Findings:
    """Everything analysis derived from one evidence bundle."""

    window_start: dt.datetime
    window_end: dt.datetime
    timezone: str
    baseline: tuple[dt.datetime, dt.datetime] | None
    incident: Incident
    instants: dict[str, Instant]
    figures: dict[str, Figure]
    alerts: list[AlertFinding]
    timeline: list[TimelineEntry]
    top_errors: list[TopError]
    other_incidents: list[OtherIncident]
    gaps: list[Gap]
    thresholds: list[Threshold]
    sources: list[SourceFinding]
    warnings: list[WarningFinding]
    settings: dict[str, Any] = field(default_factory=dict)
    suspects: list[Suspect] = field(default_factory=list)
    detection: list[DetectionGap] = field(default_factory=list)
    schema_version: int = FINDINGS_SCHEMA_VERSION


# --------------------------------------------------------------------------- JSON


class _Encoder:
    """Turns findings dataclasses into plain JSON data in one time zone."""

    def __init__(self, timezone: str) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)

    def time(self, instant: dt.datetime | None) -> str | None:
        if instant is None:
            return None
        local = instant.astimezone(self.zone)
        if local.microsecond:
            return local.isoformat(timespec="milliseconds")
        return local.isoformat(timespec="seconds")

    def value(self, obj: Any) -> Any:
        if isinstance(obj, dt.datetime):
            return self.time(obj)
        if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
            return obj
        if isinstance(obj, float):
            if math.isnan(obj) or math.isinf(obj):
                return None
            # Sums of floats can differ in the last bit; 9 significant decimals are plenty.
            return float(round(obj, 9))
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {name: self.value(value) for name, value in written_fields(obj)}
        if isinstance(obj, dict):
            return {str(key): self.value(item) for key, item in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.value(item) for item in obj]
        # numpy scalars and other number-likes
        if hasattr(obj, "item"):
            return self.value(obj.item())
        return str(obj)


def findings_to_json(findings: Findings) -> dict[str, Any]:
    """Findings as a plain JSON-ready dict (deterministic: same findings, same dict)."""
    encoder = _Encoder(findings.timezone)
    time, value = encoder.time, encoder.value
    baseline = findings.baseline
    data: dict[str, Any] = {
        "schema_version": findings.schema_version,
        "window": {
            "from": time(findings.window_start),
            "to": time(findings.window_end),
            "timezone": findings.timezone,
        },
        "baseline": (
            {"from": time(baseline[0]), "to": time(baseline[1])} if baseline is not None else None
        ),
        "incident": value(findings.incident),
        "instants": {name: value(instant) for name, instant in findings.instants.items()},
        "figures": {name: value(figure) for name, figure in findings.figures.items()},
        "alerts": [value(alert) for alert in findings.alerts],
        "timeline": [value(entry) for entry in findings.timeline],
        "top_errors": [value(error) for error in findings.top_errors],
        "suspects": [value(suspect) for suspect in findings.suspects],
        "detection": [value(gap) for gap in findings.detection],
        "other_incidents": [value(other) for other in findings.other_incidents],
        "gaps": [
            {
                "service": gap.service,
                "series": gap.series,
                "start": time(gap.start),
                "end": time(gap.end),
                "seconds": value(gap.seconds),
            }
            for gap in findings.gaps
        ],
        "thresholds": [value(threshold) for threshold in findings.thresholds],
        "sources": [value(source) for source in findings.sources],
        "warnings": [value(warning) for warning in findings.warnings],
        "settings": value(findings.settings),
    }
    return data


@dataclass(frozen=True)
class ReportTimes:
    """A findings document's window and incident instants as datetimes, parsed in one place.

    The report's parts (links, log annex, the choice between a time and a date-and-time)
    read these rather than each parsing findings.json's RFC 3339 strings again.
    """

    window: Window
    impact_start: dt.datetime | None = None
    resolution: dt.datetime | None = None
    end: dt.datetime | None = None

    @classmethod
    def of(cls, findings: Mapping[str, Any]) -> ReportTimes:
        """The times of ``findings`` (a findings.json document or :func:`findings_to_json` output)."""
        window = findings["window"]
        inc = findings.get("incident") or {}

        def at(key: str) -> dt.datetime | None:
            return parse_rfc3339(str(inc[key])) if inc.get(key) else None

        return cls(
            Window(parse_rfc3339(str(window["from"])), parse_rfc3339(str(window["to"]))),
            impact_start=at("impact_start"),
            resolution=at("resolution"),
            end=at("end"),
        )

    def incident_span(self, pad: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        """The incident padded by ``pad`` on each side; the window when there is no incident."""
        if self.impact_start is None:
            return self.window.start, self.window.end
        last = self.end or self.resolution or self.window.end
        return self.impact_start - pad, max(last, self.impact_start) + pad

    def days(self, zone: dt.tzinfo) -> set[dt.date]:
        """The calendar days in ``zone`` that the window and the incident's instants fall on."""
        times = (self.window.start, self.window.end, self.impact_start, self.end, self.resolution)
        return {t.astimezone(zone).date() for t in times if t is not None}


def findings_document(data: dict[str, Any], *, title: str, generated_at: str) -> dict[str, Any]:
    """findings.json's content: :func:`findings_to_json` output plus the report's title and build time."""
    return {**data, "generated_at": generated_at, "title": title}


# --------------------------------------------------------------------------- schema


def findings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of findings.json, as :func:`findings_document` makes it."""
    from . import schema

    return schema.load("findings")


def validate_findings(data: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (the most relevant one) if a findings.json document breaks the schema."""
    from . import schema

    schema.validate("findings", data)
