"""The OpenSearch source: :class:`~connectors.elasticsearch.ElasticsearchSource` with the
OpenSearch flavour and the settings OpenSearch has a use for."""

from __future__ import annotations

import dataclasses

from connectors.elasticsearch import SETTINGS_SCHEMA as ES_SETTINGS_SCHEMA
from connectors.elasticsearch import ElasticsearchSource
from connectors.elasticsearch.flavour import Flavour
from pmrecon.settings_schema import Key, Schema

from .flavour import OPENSEARCH

#: The Elasticsearch source's settings, without those of Elastic's own (cloud_id, api_key,
#: server_major): every query setting means the same on both.
SETTINGS_SCHEMA: Schema = {
    key: value for key, value in ES_SETTINGS_SCHEMA.items() if key not in OPENSEARCH.unused_settings
}
_hosts = ES_SETTINGS_SCHEMA["hosts"]
assert isinstance(_hosts, Key)
SETTINGS_SCHEMA["hosts"] = dataclasses.replace(_hosts, doc="one or more node URLs")


class OpenSearchSource(ElasticsearchSource):
    """An OpenSearch cluster (2.x and later) as a :class:`connectors.base.LogsSource`."""

    kind = "opensearch"
    SETTINGS_SCHEMA = SETTINGS_SCHEMA
    flavour: Flavour = OPENSEARCH
