"""Elasticsearch (8.x and 9.x): what the logs say about an incident, counted by the server.

The same modules serve OpenSearch (:mod:`connectors.opensearch`): what differs between the two
products (client, exceptions, version and product detection, sort on time, point in time) is a
:class:`~.flavour.Flavour`, Elasticsearch's in :mod:`.product`; the source's ``flavour`` says
which one every module below asks.

Every figure is an aggregation computed by Elasticsearch; the connector never downloads the
matching documents, so its memory does not grow with their number. A collect, in the order
the modules below take it:

1. :mod:`.settings` — the settings schema and defaults; where the queries go;
   :mod:`.fields` — the field names of each ``fields_preset`` (ECS, OpenTelemetry).
2. :mod:`.transport` — the connection, and the official client built so that one client
   package serves 8.x and 9.x servers (it rewrites the ``compatible-with`` header);
   :mod:`.failures` turns the client's exceptions (named by the flavour) into one-line
   messages through a table.
3. :mod:`.version` — which major answers; :mod:`.mappings` — the configured fields checked
   against the mapping.
4. :mod:`.session` — a :class:`~.session.CollectSession` holding what every part shares
   (window, baseline, interval, fields, filters, queries, redaction).
5. The parts, run at once by :mod:`.parallel` with a sequential run's ids and errors:
   :mod:`.aggregations` (volume, errors per service, impacted users, baseline errors),
   :mod:`.error_signatures` (the composite signature scan), :mod:`.documents` (samples,
   change events).
6. :mod:`.queries` keeps every request body in the evidence as a
   :class:`~pmrecon.model.QueryRecord`, shard failures and ``timed_out`` answers as warnings.

:mod:`.source` holds :class:`ElasticsearchSource`, which orchestrates the above; :mod:`.check`
is ``pmrecon check``. Driver errors become one-line :class:`~pmrecon.errors.ConnectorError`
messages naming the source, never a secret.

What every connector shares comes from :mod:`connectors.toolkit`: ``RequestFailed``, the
secrets and ``scrub``, the retry policy (here without HTTP 500), the check-failure table,
the query recorder and the constructor (``ConfiguredSource``).
"""

from __future__ import annotations

from connectors.toolkit.failures import RequestFailed

from .aggregations import CARDINALITY_PRECISION
from .answers import UTC
from .answers import get_path as _get_path
from .answers import ms as _ms
from .answers import ms_to_dt as _ms_to_dt
from .documents import change_kind as _change_kind
from .failures import error_detail as _error_detail
from .failures import major_from_media_error as _major_from_media_error
from .mappings import DATE_TYPES, KEYWORD_TYPES, TEXT_TYPES, FieldInfo
from .settings import (
    DEFAULT_CHANGE_CATEGORIES,
    DEFAULT_CHANGE_TAGS,
    ECS_FIELDS,
    FIELD_ROLES,
    REQUIRED_FIELDS,
    SETTINGS_SCHEMA,
)
from .source import ElasticsearchSource
from .transport import CLIENT_MAJOR, CLIENT_VERSION

__all__ = [
    "CARDINALITY_PRECISION",
    "CLIENT_MAJOR",
    "CLIENT_VERSION",
    "DATE_TYPES",
    "DEFAULT_CHANGE_CATEGORIES",
    "DEFAULT_CHANGE_TAGS",
    "ECS_FIELDS",
    "FIELD_ROLES",
    "KEYWORD_TYPES",
    "REQUIRED_FIELDS",
    "SETTINGS_SCHEMA",
    "TEXT_TYPES",
    "UTC",
    "ElasticsearchSource",
    "FieldInfo",
    "RequestFailed",
    "_change_kind",
    "_error_detail",
    "_get_path",
    "_major_from_media_error",
    "_ms",
    "_ms_to_dt",
]
