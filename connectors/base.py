"""The connector contract: what pmrecon's core asks of a data source.

A connector takes a time window and returns pmrecon's own :class:`~pmrecon.model.Evidence`
(never a client library's objects). Driver errors are wrapped at this boundary as
:class:`~pmrecon.errors.ConnectorError` with a one-line message naming the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pmrecon.model import Evidence, Window


@dataclass(frozen=True)
class CollectRequest:
    """What to collect: the incident window, the baseline before it, and optional filters.

    With ``look_back``, only that stretch before the baseline: the SLI series of
    ``services``, as baseline series at the baseline's steps (the window and baseline say
    which), and no alerts, logs or events. The build asks it of metrics sources only.
    """

    window: Window
    baseline: Window | None = None
    services: tuple[str, ...] = ()  # empty: every service the source knows
    deadline: float | None = None  # time.monotonic() value after which to give up
    coarse: bool = False  # scan mode: a coarse first pass over a long window
    look_back: Window | None = None  # a stretch before the baseline: its SLI series only


@dataclass
class CheckResult:
    """One line of ``pmrecon check``: what was checked, the verdict, and how to fix a failure."""

    source: str
    check: str
    ok: bool
    detail: str = ""
    fix: str = ""


@runtime_checkable
class Source(Protocol):
    """Any source of evidence."""

    name: str
    kind: str

    def collect(self, request: CollectRequest) -> Evidence:
        """Everything this source knows about the request's window, as evidence."""
        ...

    def check(self) -> list[CheckResult]:
        """Connectivity, authentication, version and the data the config needs."""
        ...


@runtime_checkable
class MetricsSource(Source, Protocol):
    """A source of alerts and SLI series (Prometheus and its API-compatible peers)."""

    def scrape_interval(self) -> float | None:
        """The server's global scrape interval in seconds, if known."""
        ...


@runtime_checkable
class LogsSource(Source, Protocol):
    """A source of log aggregates, error signatures, samples and change events."""


@dataclass
class SourceContext:
    """What a connector factory gets besides its own settings."""

    timezone: str = "UTC"
    analysis: dict[str, Any] = field(default_factory=dict)
    redactor: Any = None  # pmrecon.redact.Redactor, applied to log content before it is kept
    now: dt.datetime | None = None
