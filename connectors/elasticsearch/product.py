"""Elasticsearch as a :class:`~.flavour.Flavour`: the official client, its exceptions, the
version detection with the compatibility header, ``_pit`` and ``_shard_doc``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elastic_transport import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    SerializationError,
    TlsError,
    TransportError,
)
from elasticsearch import Elasticsearch, UnsupportedProductError

from .check import FIXES
from .flavour import ErrorClasses, Flavour, PointInTime
from .transport import CLIENT_VERSION, Compat, client_options, send
from .version import detect_version


def new_client(s: Mapping[str, Any], hosts: list[str], compat: Compat) -> Elasticsearch:
    """The official client, with the node class that writes the compatibility header."""
    return Elasticsearch(**client_options(s, hosts, compat))


class ElasticsearchFlavour(Flavour):
    """Elasticsearch: ``pmrecon check`` also shows the compatibility header sent."""

    def describe(self, version: str | None, major: int | None) -> str:
        shown = version or "unknown"
        return f"Elasticsearch {shown} (client {CLIENT_VERSION}, compatible-with={major})"


ELASTICSEARCH = ElasticsearchFlavour(
    product="Elasticsearch",
    kind="elasticsearch",
    client_version=CLIENT_VERSION,
    new_client=new_client,
    send=send,
    errors=ErrorClasses(
        tls=(TlsError,),
        timeout=(ConnectionTimeout,),
        connection=(ConnectionError,),
        wrong_product=(UnsupportedProductError,),
        not_json=(SerializationError,),
        transport=(TransportError,),
        answered=lambda e: isinstance(e, ApiError),
        status=lambda e: int(getattr(getattr(e, "meta", None), "status", 0) or 0),
        body=lambda e: getattr(e, "body", None),
    ),
    detect_version=detect_version,
    supported=lambda major: major is not None and major >= 8,
    supported_versions="Elasticsearch 8.x and 9.x",
    check_fixes=FIXES,
    time_sort=lambda ts: {ts: {"order": "asc", "format": "epoch_millis"}},
    pit=PointInTime(
        open_endpoint="_pit",
        id_key="id",
        close_path="/_pit",
        close_body=lambda pit_id: {"id": pit_id},
        tiebreaker={"_shard_doc": "asc"},
    ),
)
