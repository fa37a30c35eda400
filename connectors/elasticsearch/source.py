"""The Elasticsearch source: a collect is the version, the mapping, then its parts at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.recording import QueryRecorder
from connectors.toolkit.settings import ConfiguredSource
from pmrecon.errors import ConnectorError
from pmrecon.model import (
    ErrorSignature,
    Event,
    Evidence,
    LogSample,
    LogSummary,
    SourceInfo,
    Warning,
)

from . import aggregations, documents
from .check import check
from .error_signatures import SignatureScan, error_signatures
from .fields import with_change_fields
from .flavour import Flavour
from .mappings import resolve_fields
from .parallel import Part, run_parts
from .product import ELASTICSEARCH
from .queries import Queries
from .redaction import Redaction
from .session import CollectSession, open_session
from .settings import SETTINGS_SCHEMA, target
from .transport import Connection


class ElasticsearchSource(ConfiguredSource):
    """An Elasticsearch cluster (8.x or 9.x) as a :class:`connectors.base.LogsSource`."""

    kind = "elasticsearch"
    SETTINGS_SCHEMA = SETTINGS_SCHEMA
    #: what differs for another product served by the same queries (OpenSearch)
    flavour: Flavour = ELASTICSEARCH

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        super().__init__(name, settings, context)
        self.settings = with_change_fields(self.settings)
        where = target(name, self.settings)
        self.hosts = where.hosts
        self.shown_url = where.shown_url
        self.index = where.index
        self.connection = Connection(name, self.settings, where, self.flavour)
        self.timeout = self.connection.timeout
        self.secrets = self.connection.secrets
        self.error_levels = [str(x).lower() for x in self.settings["error_levels"] or []]
        self.warning_levels = [str(x).lower() for x in self.settings["warning_levels"] or []]
        # a collect numbers its queries from 1; a check goes on from the last collect or check
        # (its ids only show in its messages): as it always has
        self.recorder = QueryRecorder(name)

    def scrub(self, text: str) -> str:
        """``text`` without this source's secrets."""
        return self.connection.scrub(text)

    def _client(self) -> Any:
        return self.connection.client()

    def close(self) -> None:
        """Close the client's connections."""
        self.connection.close()

    # ------------------------------------------------------------------ collect

    def collect(self, request: CollectRequest) -> Evidence:
        """Log aggregates, signatures, samples and change events for the request's window."""
        self.recorder.reset()
        queries = Queries(self.connection, self.recorder, request.deadline)
        redaction = Redaction(self.context.redactor)
        warnings: list[Warning] = []
        try:
            return self._collect(request, queries, redaction, warnings)
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc

    def _collect(
        self,
        request: CollectRequest,
        queries: Queries,
        redaction: Redaction,
        warnings: list[Warning],
    ) -> Evidence:
        version = self.flavour.detect_version(queries, warnings)
        fields = resolve_fields(
            queries, self.settings["fields"], warnings, self.settings["fields_preset"]
        )
        session = open_session(
            request,
            self.settings,
            fields,
            queries,
            redaction,
            (self.error_levels, self.warning_levels),
        )
        workers = max(1, int(self.settings["max_concurrency"]))
        done = run_parts(self._parts(session, request), warnings, queries, workers)
        return self._evidence(request, session, version, done, warnings)

    def _parts(self, session: CollectSession, request: CollectRequest) -> list[Part]:
        """The parts in the order a sequential run takes them: query ids, records and
        warnings follow this order whatever the concurrency."""
        parts = [
            Part("volume", lambda w, _: aggregations.volume(session, w)),
            Part("errors", lambda w, _: aggregations.errors(session, w)),
            Part("users", lambda w, _: aggregations.users(session, w)),
        ]
        if session.has_baseline:
            parts.append(Part("baseline", lambda w, _: aggregations.baseline_errors(session, w)))
        if not request.coarse:
            parts.append(Part("signatures", lambda w, _: error_signatures(session, w)))
            # samples start at the first error and at the peak, and show the new signatures
            parts.append(
                Part(
                    "samples",
                    lambda w, done: documents.samples(
                        session,
                        done["errors"].first,
                        done["errors"].peak,
                        done["signatures"].new_keys,
                        w,
                    ),
                    after=("errors", "signatures"),
                )
            )
        if self.settings["changes"]["enabled"]:
            parts.append(Part("changes", lambda w, _: documents.changes(session, w)))
        return parts

    def _evidence(
        self,
        request: CollectRequest,
        session: CollectSession,
        version: str | None,
        done: dict[str, Any],
        warnings: list[Warning],
    ) -> Evidence:
        """The parts' results as evidence."""
        volume, total = done["volume"]
        errors: aggregations.ErrorCounts = done["errors"]
        users, users_ref = done["users"]
        scan: SignatureScan | None = done.get("signatures")
        signatures: list[ErrorSignature] = scan.signatures if scan is not None else []
        samples: list[LogSample] = done.get("samples", [])
        events: list[Event] = done.get("changes", [])
        with_baseline = request.baseline is not None and not request.coarse
        summary = LogSummary(
            volume_by_level=volume,
            errors_by_service=errors.histogram,
            signatures=signatures,
            samples=samples,
            impacted_users=users,
            impacted_users_ref=users_ref,
            total_documents=total,
            error_documents=errors.total,
            baseline_error_documents=done.get("baseline"),
            baseline_seconds=(session.baseline_end - session.baseline_start) / 1000
            if with_baseline
            else None,
            error_levels=list(self.error_levels),
            redactions=session.redaction.since_start(),
        )
        source = SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.shown_url,
            version=version,
            settings={
                "index": self.index,
                "client": self.flavour.client_version,
                "compatible_with": self.connection.compat.major,
                "interval": session.interval,
                "fields_preset": self.settings["fields_preset"],
                "fields": {
                    k: {"field": f.name, "aggregated_on": f.agg, "types": list(f.types)}
                    for k, f in session.fields.items()
                },
                "error_levels": self.error_levels,
                "warning_levels": self.warning_levels,
                "filter": self.settings["filter"],
                "services": list(request.services),
            },
            queries=list(session.queries.records),
        )
        return Evidence(
            window=request.window,
            baseline=request.baseline,
            logs=summary,
            events=events,
            sources=[source],
            warnings=warnings,
        )

    # ------------------------------------------------------------------ check

    def check(self) -> list[CheckResult]:
        """Reachability, authentication, version, index pattern, fields, recent documents."""
        self.recorder.reset(renumber=False)
        return check(Queries(self.connection, self.recorder), self.context.now)
