"""OpenSearch (2.x and later): the Elasticsearch source's queries, through ``opensearch-py``.

OpenSearch serves the query DSL and the aggregations pmrecon asks for (date histograms,
terms, composite, cardinality) as Elasticsearch does, so the query building and the reading
of answers are :mod:`connectors.elasticsearch`'s, one copy for both. What differs lives in
:mod:`.flavour`: the client (the Elasticsearch clients refuse OpenSearch by design), its
exceptions, the version and product (``GET /`` names ``"distribution": "opensearch"``), and two
request details: a hit's time sorted as epoch milliseconds through ``numeric_type`` (no sort
``format``), and the point in time's endpoints with ``_id`` as the tiebreaker (no
``_shard_doc``; sorting on ``_id`` loads its fielddata, which OpenSearch deprecates but 2.x
serves, and which only happens when more than 500 lines are read one by one).
:mod:`.source` holds :class:`OpenSearchSource` and its settings.
"""

from __future__ import annotations

from .flavour import CLIENT_VERSION, OPENSEARCH
from .source import SETTINGS_SCHEMA, OpenSearchSource

__all__ = ["CLIENT_VERSION", "OPENSEARCH", "SETTINGS_SCHEMA", "OpenSearchSource"]
