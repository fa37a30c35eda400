"""The evidence model: what connectors return and what analysis reads.

Everything pmrecon knows about an incident flows through these dataclasses.
Connectors build them from their servers' answers (never handing a client
library's objects further), the evidence bundle saves them as plain JSON/CSV,
and analysis derives findings from them without any I/O.

Times are timezone-aware UTC ``datetime`` objects everywhere except inside
``Series`` and ``Histogram``, which keep epoch seconds (floats) because they are
long and go straight to numpy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

SCHEMA_VERSION = 1

UTC = dt.timezone.utc


def utc(ts: float) -> dt.datetime:
    """Epoch seconds to an aware UTC datetime."""
    return dt.datetime.fromtimestamp(ts, tz=UTC)


def rfc3339(t: dt.datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with a ``Z`` (seconds, or milliseconds when needed)."""
    t = t.astimezone(UTC)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s: str) -> dt.datetime:
    """Parse what :func:`rfc3339` wrote (and any ISO 8601 with an offset)."""
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"time without offset: {s!r}")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def contains(self, t: dt.datetime) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Interval:
    """A span during which something held; ``open_end`` means it still held at the window's end."""

    start: dt.datetime
    end: dt.datetime
    open_start: bool = False
    open_end: bool = False

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class QueryRecord:
    """One query sent to a source, exactly as sent, so every figure can be traced back to it."""

    id: str
    source: str
    purpose: str
    query: Any  # PromQL string, or an Elasticsearch request body (dict)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    step_seconds: float | None = None
    index: str | None = None
    endpoint: str | None = None
    result_count: int | None = None
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float | None = None
    bytes_received: int | None = None
    # Set by a metrics source on the queries behind an SLI series (the report's Grafana
    # links); left out of the JSON while empty, as in bundles written before they existed.
    sli: str | None = field(default=None, metadata={"omit_default": True})  # the series' name
    service: str | None = field(default=None, metadata={"omit_default": True})
    baseline: bool = field(default=False, metadata={"omit_default": True})  # over the baseline


@dataclass
class SourceInfo:
    """A source that contributed evidence: its name, kind, version and the queries it answered."""

    name: str
    kind: str  # "prometheus", "elasticsearch", "alertmanager", "bundle"
    url: str | None = None  # always with credentials redacted
    version: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. scrape/evaluation intervals
    queries: list[QueryRecord] = field(default_factory=list)
    ok: bool = True
    error: str | None = None

    # Properties, not fields: a field would add a key to every bundle's sources.json.
    @property
    def scrape_interval_seconds(self) -> float | None:
        """How often the source's server scraped its targets, in seconds, if it said."""
        return _seconds(self.settings.get(SCRAPE_INTERVAL))

    @property
    def evaluation_interval_seconds(self) -> float | None:
        """How often the source's server evaluated its alerting rules, in seconds, if it said."""
        return _seconds(self.settings.get(EVALUATION_INTERVAL))

    @property
    def rate_window_seconds(self) -> float | None:
        """The ``w`` of the source's ``rate(x[w])``: how far back a rate-based sample looks."""
        return _seconds(self.settings.get(RATE_WINDOW))


#: Keys of ``SourceInfo.settings`` read through its typed properties. The Prometheus
#: connector writes them (in seconds); the bundle keeps them inside ``settings``.
SCRAPE_INTERVAL = "scrape_interval"
EVALUATION_INTERVAL = "evaluation_interval"
RATE_WINDOW = "rate_window"
#: Longer than this is no interval a server uses (the config refuses such durations too).
_MAX_SECONDS = 100 * 366 * 86400.0


def _seconds(value: Any) -> float | None:
    """A recorded number of seconds, or ``None`` when absent or not a usable duration."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 0 <= value <= _MAX_SECONDS:  # also refuses NaN
        return None
    return float(value)


@dataclass
class Alert:
    """One alert series (an alertname plus its full label set) and when it was pending or firing."""

    name: str
    labels: dict[str, str]
    severity: str | None = None
    active_at: dt.datetime | None = None
    pending: list[Interval] = field(default_factory=list)
    firing: list[Interval] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    source: str = "prometheus"
    query_ref: str | None = None
    # its rule's ``for`` and evaluation interval: when it fired, if that was before the window
    for_seconds: float | None = field(default=None, metadata={"omit_default": True})
    evaluation_seconds: float | None = field(default=None, metadata={"omit_default": True})

    @property
    def service(self) -> str | None:
        for key in ("service", "app", "application", "job"):
            if key in self.labels:
                return self.labels[key]
        return None


SeriesKind = Literal[
    "error_ratio",
    "latency",
    "throughput",
    "requests_total",
    "requests_bad",
    "uptime",
    "extra",
    "change_metric",
]

#: The labels of a ``*_build_info`` series whose new value is a deploy, in the order a change
#: is named by (the release, then the commit or build that identifies it): the labels a
#: ``change_metric`` series of build info keeps.
BUILD_VERSION_LABELS = (
    "version",
    "revision",
    "git_commit",
    "commit",
    "git_sha",
    "build",
    "build_id",
    "image_tag",
)


#: A series' column of points: machine floats, 8 bytes each, with no Python object per point
#: (a list of floats costs 32); numpy reads it without a copy (``np.asarray``).
Points = Sequence[float]


def points(values: Iterable[float]) -> array[float]:
    """``values`` as a column of points."""
    return values if type(values) is array and values.typecode == "d" else array("d", values)


@dataclass
class Series:
    """One metric time series over a window, as (epoch seconds, value) columns.

    The columns are :func:`points` arrays whatever they were given as, so series compare
    equal when their points do.

    ``kind`` says what the values mean:
    ``error_ratio`` (bad/total requests, 0–1), ``latency`` (seconds, at ``quantile``),
    ``throughput`` (requests/s), ``requests_total``/``requests_bad`` (requests counted
    in the step ending at each timestamp: summing them over an interval gives exact
    ratio-of-sums availability), ``uptime`` (0–1 probe or ``up``), ``extra`` (user series),
    ``change_metric`` (a series that shows deploys, rollouts or restarts: a ``*_build_info``,
    ``process_start_time_seconds``, kube-state-metrics' ReplicaSets and generations).
    """

    name: str
    kind: str
    service: str
    unit: str
    timestamps: Points
    values: Points
    step_seconds: float
    query_ref: str | None = None
    quantile: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    baseline: bool = False

    def __post_init__(self) -> None:
        self.timestamps = points(self.timestamps)
        self.values = points(self.values)

    @property
    def id(self) -> str:
        suffix = "-baseline" if self.baseline else ""
        return f"{self.name}.{self.service}{suffix}"


#: What a breakdown's label says about a request: where it was served (``instance``,
#: ``pod``), what it asked for (``route``, ``method``) or how it was answered (``status``).
BREAKDOWN_ROLES = ("location", "route", "method", "status")


@dataclass
class Breakdown:
    """One service's requests that carried one value of one label, counted step by step.

    ``bad`` and ``total`` are counted like ``requests_bad``/``requests_total`` series (the
    requests of the step ending at each timestamp), over the window or the baseline. Only
    the busiest values are kept (see the connector), so the values of a label may not
    add up to the service's whole traffic.
    """

    service: str
    label: str
    role: str  # one of BREAKDOWN_ROLES
    value: str  # "" for requests without the label
    timestamps: list[float]
    bad: list[float]
    total: list[float]
    step_seconds: float
    baseline: bool = False
    query_ref: str | None = None


@dataclass
class Histogram:
    """Counts per key over time (log volume per level, errors per service)."""

    interval_seconds: float
    timestamps: list[float]  # bucket starts
    counts: dict[str, list[int]]  # key -> count per bucket, aligned with timestamps
    query_ref: str | None = None


@dataclass
class ErrorSignature:
    """A family of error logs folded to one signature."""

    signature: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    services: list[str] = field(default_factory=list)
    new_since_baseline: bool = False
    baseline_count: int = 0
    example: str | None = None
    query_ref: str | None = None
    # The first and last sighting in the baseline period: a signature seen there only once
    # the incident had begun is still its own. Absent from bundles written before them
    # (novelty then stays unknown when the baseline holds the incident).
    baseline_first_seen: dt.datetime | None = field(default=None, metadata={"omit_default": True})
    baseline_last_seen: dt.datetime | None = field(default=None, metadata={"omit_default": True})

    @property
    def first_sighting(self) -> dt.datetime:
        """The earliest line of the signature, in the baseline or the window."""
        if self.baseline_first_seen is None:
            return self.first_seen
        return min(self.baseline_first_seen, self.first_seen)


@dataclass
class LogSample:
    """One log line kept as an example (long fields truncated, secrets redacted)."""

    timestamp: dt.datetime
    level: str | None
    service: str | None
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""  # why it was kept: "first_error", "peak", ...
    query_ref: str | None = None


@dataclass
class LogSummary:
    """What the logs said about the window, aggregated by the server."""

    volume_by_level: Histogram
    errors_by_service: Histogram
    signatures: list[ErrorSignature] = field(default_factory=list)
    samples: list[LogSample] = field(default_factory=list)
    impacted_users: int | None = None
    impacted_users_ref: str | None = None
    total_documents: int = 0
    error_documents: int = 0
    baseline_error_documents: int | None = None
    baseline_seconds: float | None = None
    error_levels: list[str] = field(default_factory=lambda: ["error", "fatal", "critical"])
    redactions: dict[str, int] = field(default_factory=dict)  # kind -> values masked


@dataclass
class Event:
    """Something that happened at one instant: a deploy, a silence, a config change..."""

    at: dt.datetime
    kind: str  # "deploy", "rollback", "config_change", "silence", "change", ...
    source: str
    text: str
    ref: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Warning:
    """A problem that did not stop the build but weakens what the report can say."""

    source: str
    message: str  # English, whole: what the terminal and findings.json show
    # A stable cause (the report groups warnings by it and words them in its language, from
    # the catalogues' cause.<code>) and the values its wording names; left out while empty.
    code: str = "warning"
    params: dict[str, Any] = field(default_factory=dict, metadata={"omit_default": True})


@dataclass
class Evidence:
    """Everything collected for one window: the input of analysis and the content of the bundle."""

    window: Window
    baseline: Window | None = None
    alerts: list[Alert] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    logs: LogSummary | None = None
    events: list[Event] = field(default_factory=list)
    sources: list[SourceInfo] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    pmrecon_version: str = ""
    schema_version: int = SCHEMA_VERSION
    #: requests by label value (which instance, route, status held the errors)
    breakdowns: list[Breakdown] = field(default_factory=list)

    def merge(self, other: Evidence) -> None:
        """Add another source's evidence for the same window."""
        self.alerts.extend(other.alerts)
        self.series.extend(other.series)
        if other.logs is not None:
            self.logs = other.logs
        self.events.extend(other.events)
        self.sources.extend(other.sources)
        self.warnings.extend(other.warnings)
        self.breakdowns.extend(other.breakdowns)


# --------------------------------------------------------------------------- JSON


def written_fields(obj: Any) -> typing.Iterator[tuple[str, Any]]:
    """A dataclass's (name, value) pairs to write; an ``omit_default`` field at its default is not."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not (f.metadata.get("omit_default") and value == _default(f)):
            yield f.name, value


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def to_jsonable(obj: Any) -> Any:
    """A model object as plain JSON data (datetimes as RFC 3339 strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: to_jsonable(value) for name, value in written_fields(obj)}
    if isinstance(obj, dt.datetime):
        return rfc3339(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, array):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        if all(type(v) in _PLAIN for v in obj):  # point lists: no per-element dispatch
            return list(obj)
        return [to_jsonable(v) for v in obj]
    return obj


_PLAIN = frozenset({float, int, str, bool, type(None)})


_T = typing.TypeVar("_T")


def from_jsonable(cls: type[_T], data: Any) -> _T:
    """Rebuild a model object of type ``cls`` from :func:`to_jsonable` output."""
    return typing.cast(_T, _convert(cls, data))


#: A model class's field types, resolved once: its annotations are strings, and resolving
#: them cost more than converting the object.
field_types = functools.cache(typing.get_type_hints)


def _convert(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], data) if len(args) == 1 else data
    if tp is dt.datetime:
        return parse_rfc3339(data)
    if origin is list:
        (arg,) = typing.get_args(tp)
        if arg is float:  # point lists: one pass, no per-element type introspection
            return [float(v) if type(v) is int else v for v in data]
        if arg is str or arg is int:
            return list(data)
        return [_convert(arg, v) for v in data]
    if origin is dict:
        _, arg = typing.get_args(tp)
        return {k: _convert(arg, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = field_types(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name])
        return tp(**kwargs)
    if tp is float and isinstance(data, int):
        return float(data)
    return data
