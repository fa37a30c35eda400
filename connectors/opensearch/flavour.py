"""OpenSearch as a :class:`~connectors.elasticsearch.flavour.Flavour`: its client, exceptions,
version and product, sort on time, and point in time."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch, Urllib3HttpConnection
from opensearchpy import __versionstr__ as CLIENT_VERSION
from opensearchpy.exceptions import (
    ConnectionError,
    ConnectionTimeout,
    OpenSearchWarning,
    SerializationError,
    SSLError,
    TransportError,
)

from connectors.elasticsearch.flavour import Answer, ErrorClasses, Flavour, PointInTime
from connectors.elasticsearch.queries import Queries
from connectors.elasticsearch.transport import Compat, tls_options
from connectors.elasticsearch.version import asked_version
from connectors.toolkit.failures import RequestFailed, major
from connectors.toolkit.retry import RetryPolicy
from pmrecon.model import Warning

# The client turns the server's deprecation headers into Python warnings, which would print
# in the middle of the CLI's output; the one expected (fielddata on _id, the point in time's
# tiebreaker, see connectors/opensearch/__init__.py) is no news to the user.
warnings.filterwarnings("ignore", category=OpenSearchWarning)

_received = threading.local()  # the size of the last answer on this thread


class SizedConnection(Urllib3HttpConnection):
    """The client's connection, keeping the size of each answer's body as received (the
    client hands back only the parsed body)."""

    def perform_request(self, *args: Any, **kwargs: Any) -> Any:
        status, headers, raw = super().perform_request(*args, **kwargs)
        _received.size = len(raw.encode("utf-8", "surrogatepass")) if raw else 0
        return status, headers, raw


def client_options(s: Mapping[str, Any], hosts: list[str]) -> dict[str, Any]:
    """The ``OpenSearch(...)`` arguments for the settings ``s``."""
    tls = s["tls"]
    # as for Elasticsearch: no HTTP 500 (a failed query repeated only fails again)
    retry = RetryPolicy.from_settings(s, internal_errors=False)
    kwargs: dict[str, Any] = {
        "hosts": hosts,
        "timeout": float(s["timeout"]),
        "max_retries": retry.retries,
        "retry_on_status": tuple(retry.statuses),
        "retry_on_timeout": False,
        "connection_class": SizedConnection,
        "pool_maxsize": max(10, int(s["max_concurrency"] or 1)),
    }
    if s["username"]:
        kwargs["http_auth"] = (str(s["username"]), str(s["password"] or ""))
    if any(h.startswith("https://") for h in hosts):
        kwargs.update(tls_options(tls))
        if not tls["verify"]:
            kwargs["ssl_assert_hostname"] = False
    return kwargs


def new_client(s: Mapping[str, Any], hosts: list[str], compat: Compat) -> OpenSearch:
    """The client (OpenSearch has no compatibility header: ``compat`` only records the major)."""
    return OpenSearch(**client_options(s, hosts))


def send(
    client: OpenSearch,
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    body: Any,
    timeout: float,
) -> Answer:
    """One request through ``opensearch-py`` (raises the client's own exceptions)."""
    _received.size = None
    answer = client.transport.perform_request(
        method, path, params=dict(params) if params else None, body=body, timeout=timeout
    )
    return Answer(answer, getattr(_received, "size", None))


def detect_version(queries: Queries, warnings: list[Warning]) -> str | None:
    """The server's version from ``GET /`` (or ``/_nodes/_local``); refuses another product."""

    def is_opensearch(root: Mapping[str, Any]) -> None:
        distribution = (root.get("version") or {}).get("distribution")
        if distribution != "opensearch":
            raise RequestFailed(
                f"{queries.connection.where()}: the server is not OpenSearch (GET / names no "
                "'distribution: opensearch'); check hosts (for Elasticsearch, use type: "
                "elasticsearch)",
                "not_elasticsearch",
                True,
            )

    version = asked_version(queries, is_opensearch)
    queries.connection.compat.major = major(version)
    if version is None:
        warnings.append(
            Warning(
                queries.name,
                f"source {queries.name!r}: server version unknown (GET / and /_nodes/_local "
                "refused); queries are sent as to OpenSearch 2.x",
                code="version_unknown",
            )
        )
    return version


def _status(exc: BaseException) -> int:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else 0


OPENSEARCH = Flavour(
    product="OpenSearch",
    kind="opensearch",
    client_version=CLIENT_VERSION,
    new_client=new_client,
    send=send,
    errors=ErrorClasses(
        tls=(SSLError,),
        timeout=(ConnectionTimeout,),
        connection=(ConnectionError,),
        wrong_product=(),  # the client does not check: detect_version does
        not_json=(SerializationError,),
        transport=(TransportError,),
        answered=lambda e: isinstance(e, TransportError) and _status(e) > 0,
        status=_status,
        body=lambda e: getattr(e, "info", None),
    ),
    detect_version=detect_version,
    supported=lambda m: m is not None and m >= 2,
    supported_versions="OpenSearch 2.x and later",
    check_fixes={
        "unreachable": "check hosts and that OpenSearch is running and reachable from here",
        "dns": "check the host names in hosts",
        "auth": "set username/password (from environment variables)",
        "not_elasticsearch": "hosts does not point at OpenSearch",
    },
    # no sort 'format' in OpenSearch: numeric_type date gives epoch milliseconds (date_nanos too)
    time_sort=lambda ts: {ts: {"order": "asc", "numeric_type": "date"}},
    pit=PointInTime(
        open_endpoint="_search/point_in_time",
        id_key="pit_id",
        close_path="/_search/point_in_time",
        close_body=lambda pit_id: {"pit_id": [pit_id]},
        # no _shard_doc in OpenSearch; _id is unique within an index
        tiebreaker={"_id": "asc"},
    ),
    unused_settings=("cloud_id", "api_key", "server_major"),
)
