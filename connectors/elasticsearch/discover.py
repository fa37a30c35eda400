"""What an Elasticsearch index pattern holds, read without changing anything: for ``pmrecon init``.

Three kinds of request: the server's version (as a collect finds it), the field
capabilities of a bounded list of candidate field names and their sub-fields
(``_field_caps``), and, once a level field is chosen, one count with a ``terms``
aggregation of its values over the time range. The answers are plain data
(:class:`FieldCaps`, :class:`LevelCounts`); what to make of them belongs to
:mod:`pmrecon.initconfig`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.recording import QueryRecorder
from connectors.toolkit.settings import settings_with_defaults
from pmrecon.errors import ConnectorError
from pmrecon.model import Warning

from .answers import ms, total
from .dsl import count_body
from .mappings import DATE_TYPES, KEYWORD_TYPES, TEXT_TYPES, _keyword_subfield, field_caps
from .product import ELASTICSEARCH
from .queries import Queries
from .settings import SETTINGS_SCHEMA, target
from .transport import Connection

#: Most distinct level values counted.
MAX_LEVELS = 50


@dataclass(frozen=True)
class FieldCaps:
    """The mapped types of the candidate fields across the indices the pattern matches."""

    types: dict[str, tuple[str, ...]]  # field name -> its types (unmapped left out)
    indices: int
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def mapped(self, name: str) -> bool:
        """Whether ``name`` holds values (an object or a nested field does not)."""
        types = self.types.get(name, ())
        return bool(types) and not ({"object", "nested"} & set(types))

    def is_date(self, name: str) -> bool:
        """Whether ``name`` is a date in every index."""
        types = self.types.get(name, ())
        return bool(types) and set(types) <= set(DATE_TYPES)

    def countable(self, name: str) -> str | None:
        """The field to aggregate ``name`` on: itself, its keyword sub-field, or None."""
        types = self.types.get(name, ())
        if any(t in TEXT_TYPES for t in types):
            return _keyword_subfield(name, self.raw)
        if types and all(t in KEYWORD_TYPES for t in types):
            return name
        return None


@dataclass(frozen=True)
class LevelCounts:
    """How many documents of the range carry each value of the level field."""

    field: str
    documents: int  # every document of the range
    counts: dict[str, int]


class LogInventory:
    """Read-only questions to one Elasticsearch cluster about one index pattern."""

    def __init__(self, url: str, auth: Mapping[str, Any], index: str) -> None:
        settings = settings_with_defaults(
            SETTINGS_SCHEMA, {"hosts": [url], "index": [index], **auth}, "--elasticsearch"
        )
        where = target("elasticsearch", settings)
        self.connection = Connection("elasticsearch", settings, where, ELASTICSEARCH)
        self.queries = Queries(self.connection, QueryRecorder("elasticsearch"))
        self.shown_url = where.shown_url
        self.index = where.index
        self.warnings: list[Warning] = []
        self._version: str | None = None
        self._asked = False

    def close(self) -> None:
        """Close the client's connections."""
        self.connection.close()

    def version(self) -> str | None:
        """The server's version (asked once); sets the dialect of the next requests."""
        if not self._asked:
            try:
                self._version = ELASTICSEARCH.detect_version(self.queries, self.warnings)
            except RequestFailed as exc:
                raise ConnectorError(str(exc)) from exc
            self._asked = True
        return self._version

    def field_caps(self, names: list[str]) -> FieldCaps:
        """The types of ``names`` and of their sub-fields; a pattern matching nothing is an error."""
        try:
            caps = field_caps(self.queries, names)
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc
        fields = caps.get("fields") or {}
        types = {
            str(name): tuple(sorted(t for t in entry if t != "unmapped"))
            for name, entry in fields.items()
        }
        return FieldCaps(
            {k: v for k, v in types.items() if v}, len(caps.get("indices") or []), fields
        )

    def levels(
        self,
        timestamp: str,
        level: str,
        start: dt.datetime,
        end: dt.datetime,
        only: dict[str, Any] | None = None,
    ) -> LevelCounts:
        """The documents of the range, by value of ``level`` (a countable field); ``only``:
        a filter narrowing them (one convention's documents)."""
        window = (ms(start), ms(end))
        filters: list[dict[str, Any]] = [
            {"range": {timestamp: {"gte": window[0], "lt": window[1], "format": "epoch_millis"}}}
        ]
        if only:
            filters.append(only)
        body = count_body(filters, {"levels": {"terms": {"field": level, "size": MAX_LEVELS}}})
        try:
            ans = self.queries.search(
                body, purpose=f"values of {level}", window=window, warnings=self.warnings
            )
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc
        buckets = ((ans.get("aggregations") or {}).get("levels") or {}).get("buckets") or []
        counts = {str(b["key"]): int(b["doc_count"]) for b in buckets}
        return LevelCounts(level, total(ans), counts)
