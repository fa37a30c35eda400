"""What every step of the analysis shares: :class:`AnalysisContext`.

Input: the evidence, the typed settings and the language. It holds the window in epoch
seconds, which source answered each query, and collects the warnings the steps raise
(in the order they raise them, which is the order the findings list them). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..findings import WarningFinding
from ..model import Alert, Evidence
from ..wording import CATALOGUES, FINDINGS_LANGUAGE, text
from .settings import AnalysisSettings
from .times import epoch


@dataclass
class AnalysisContext:
    """The evidence under analysis, its settings and window, and the warnings raised so far."""

    evidence: Evidence
    settings: AnalysisSettings
    window_start: float  # epoch seconds
    window_end: float
    language: str
    warnings: list[WarningFinding] = field(default_factory=list)
    query_source: dict[str, str] = field(default_factory=dict)  # query id -> source name
    #: source name -> the labels that together name a service there (its ``service_label``)
    service_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: a query grouped over several services (no ``service`` of its own) -> the services
    #: its series were split into
    grouped_services: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, evidence: Evidence, settings: AnalysisSettings, language: str) -> AnalysisContext:
        """The context of ``evidence``: its window in epoch seconds, each query's source."""
        ctx = cls(
            evidence,
            settings,
            epoch(evidence.window.start),
            epoch(evidence.window.end),
            language if language in CATALOGUES else FINDINGS_LANGUAGE,
        )
        for source in evidence.sources:
            for query in source.queries:
                ctx.query_source[query.id] = source.name
                if query.sli is not None and query.service is None:
                    ctx.grouped_services[query.id] = set()
            labels = source.settings.get("service_label")
            if isinstance(labels, str):
                labels = [labels]
            if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
                ctx.service_labels[source.name] = tuple(labels)
        for series in evidence.series:
            if series.query_ref is not None and series.query_ref in ctx.grouped_services:
                ctx.grouped_services[series.query_ref].add(series.service)
        return ctx

    def alert_service(self, alert: Alert) -> str | None:
        """The service an alert is about, named as its source names services (``prod/web``).

        An alert carrying every label of its source's service identity gets the same
        readable name as that service's SLIs; any other falls back to its ``service``,
        ``app``, ``application`` or ``job`` label.
        """
        identity = self.service_labels.get(alert.source)
        if identity and all(alert.labels.get(k) is not None for k in identity):
            return "/".join(alert.labels[k] for k in identity if alert.labels[k]) or None
        return alert.service

    def warn(self, message: str, code: str, **params: Any) -> None:
        """Add a caveat for the report: English ``message``, its cause ``code`` and the values named."""
        self.warnings.append(WarningFinding("analysis", message, code, dict(params)))

    def source_of(self, refs: Iterable[str | None], default: str | None = None) -> str | None:
        """The names of the sources that answered the queries ``refs``, else ``default``."""
        names = sorted({self.query_source[r] for r in refs if r and r in self.query_source})
        if names:
            return ", ".join(names)
        return default

    def read_for(
        self, refs: Iterable[str | None], services: Iterable[str | None]
    ) -> dict[str, list[str]]:
        """For each of ``refs`` that is a grouped query: which of ``services`` it was read for.

        A grouped query names every service; a finding resting on some of them says which
        (its footnote names them). Per-service queries and other references are left out.
        """
        wanted = {s for s in services if s}
        out: dict[str, list[str]] = {}
        for ref in refs:
            read = sorted(self.grouped_services.get(ref or "", set()) & wanted)
            if ref and read:
                out[ref] = read
        return out

    def text(self, key: str, **fields: Any) -> str:
        """A timeline text or label in the findings' language."""
        return text(self.language, f"timeline.{key}", **fields)
