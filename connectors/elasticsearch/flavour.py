"""What differs between the servers this package's query building serves: a :class:`Flavour`.

Elasticsearch and OpenSearch share the query DSL, the aggregations pmrecon asks for (terms,
date histograms, composite, cardinality) and the shape of their answers, so every module of
this package is one copy for both. They differ in the client package and its exceptions, how
the server's version and product are found, and a few request details: how a hit's time is
sorted as epoch milliseconds, and the point in time's endpoints and tiebreaker. Those
differences, and only those, are a flavour: ``ELASTICSEARCH`` in :mod:`.product`,
``OPENSEARCH`` in :mod:`connectors.opensearch.flavour`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmrecon.model import Warning

    from .queries import Queries
    from .transport import Compat


@dataclass(frozen=True)
class Answer:
    """A request's answer: its parsed body, and its size as received (None: unknown)."""

    body: Any
    bytes_received: int | None


@dataclass(frozen=True)
class ErrorClasses:
    """The client's exceptions by what they mean to :mod:`.failures` (empty: never raised)."""

    tls: tuple[type[BaseException], ...]
    timeout: tuple[type[BaseException], ...]
    connection: tuple[type[BaseException], ...]
    wrong_product: tuple[type[BaseException], ...]
    not_json: tuple[type[BaseException], ...]
    transport: tuple[type[BaseException], ...]
    #: the server answered with an error status
    answered: Callable[[BaseException], bool]
    status: Callable[[BaseException], int]
    body: Callable[[BaseException], Any]


@dataclass(frozen=True)
class PointInTime:
    """Opening, using and closing a point in time: endpoints, the answer's id key, the sort's
    tiebreaker after the time (unique per document, so ``search_after`` skips no tie)."""

    open_endpoint: str
    id_key: str
    close_path: str
    close_body: Callable[[str], dict[str, Any]]
    tiebreaker: dict[str, Any]


@dataclass(frozen=True)
class Flavour:
    """One server product as this package's modules need to know it."""

    product: str  # in messages: "Elasticsearch"
    kind: str  # the source type: "elasticsearch"
    client_version: str
    #: the client for the settings, hosts and compatibility header; ValueError/TypeError when
    #: the settings cannot make one
    new_client: Callable[[Mapping[str, Any], list[str], Compat], Any]
    #: one request: client, method, path, params, body, timeout
    send: Callable[[Any, str, str, Mapping[str, Any] | None, Any, float], Answer]
    errors: ErrorClasses
    #: the server's version (None: unknown); sets the connection's ``compat.major``
    detect_version: Callable[[Queries, list[Warning]], str | None]
    #: whether pmrecon supports a server of this major
    supported: Callable[[int | None], bool]
    supported_versions: str  # "Elasticsearch 8.x and 9.x"
    #: how ``pmrecon check`` says to fix a failed first request, by kind
    check_fixes: Mapping[str, str]
    #: the sort clause on the time field whose sort value is epoch milliseconds
    time_sort: Callable[[str], dict[str, Any]]
    pit: PointInTime
    #: settings this product has no use for (absent from its schema)
    unused_settings: tuple[str, ...] = field(default=())

    def describe(self, version: str | None, major: int | None) -> str:
        """The server and client as ``pmrecon check`` shows them."""
        return f"{self.product} {version or 'unknown'} (client {self.client_version})"
