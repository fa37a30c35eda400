"""The official client, built so that one client package serves 8.x and 9.x servers.

The client (9.x here) sends ``Accept``/``Content-Type: application/vnd.elasticsearch+json;
compatible-with=9``, which an 8.x server refuses (``media_type_header_exception``). The client
is built with a node class that rewrites that header on every request: plain
``application/json`` until the server's version is known (:mod:`.version` finds it), then
``compatible-with=<server major>`` for a server older than the client (REST API compatibility
mode, which 8.x serves), unchanged otherwise. The same node class measures each answer's body,
which Elasticsearch sends chunked, without ``Content-Length``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, Urllib3HttpNode
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import __versionstr__ as CLIENT_VERSION

from connectors.toolkit.credentials import collect_secrets, scrub
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.retry import RetryPolicy
from pmrecon.errors import ConfigError

from .failures import Facts, request_failed
from .flavour import Answer, Flavour
from .settings import SETTINGS_SCHEMA, Target
from .shapes import WrongShape, answer_problem

CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])


@dataclass
class Compat:
    """The compatibility header the node class writes; ``major`` None: plain JSON."""

    major: int | None = None


_COMPAT_MEDIA = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+);\s*compatible-with=\d+")


@dataclass
class SizedMeta(ApiResponseMeta):
    """The transport's response metadata plus the size of the body as received.

    Elasticsearch sends chunked answers without ``Content-Length``, and the client only hands
    back the parsed body, so the node class, which still holds the raw bytes, measures them."""

    body_bytes: int | None = None


def _compat_headers(headers: HttpHeaders, major: int | None) -> HttpHeaders:
    """``headers`` with the media types a server of ``major`` (None: not known yet) accepts."""
    headers = HttpHeaders(headers)
    for name in ("accept", "content-type"):
        value = headers.get(name)
        if not value:
            continue
        if major is None or major < 8:
            # before detection (and for 7.x): the plain media type every version takes
            headers[name] = _COMPAT_MEDIA.sub(r"application/\1", value)
        else:
            headers[name] = _COMPAT_MEDIA.sub(
                rf"application/vnd.elasticsearch+\1; compatible-with={major}", value
            )
    return headers


def compat_node_class(compat: Compat) -> type[Urllib3HttpNode]:
    """A node class that rewrites ``compatible-with=N`` to what the server accepts."""

    class CompatNode(Urllib3HttpNode):
        def perform_request(
            self,
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: DefaultType | float | None = DEFAULT,
        ) -> Any:
            major = compat.major
            if headers and (major is None or major < CLIENT_MAJOR):
                headers = _compat_headers(headers, major)
            resp = super().perform_request(method, target, body, headers, request_timeout)
            meta = resp.meta
            # the body as urllib3 gives it: de-chunked and, had the server compressed it, decoded
            sized = SizedMeta(
                meta.status,
                meta.http_version,
                meta.headers,
                meta.duration,
                meta.node,
                body_bytes=len(resp.body or b""),
            )
            return resp._replace(meta=sized)

    return CompatNode


def client_options(s: Mapping[str, Any], hosts: list[str], compat: Compat) -> dict[str, Any]:
    """The ``Elasticsearch(...)`` arguments for the settings ``s``."""
    tls = s["tls"]
    # the toolkit's policy without HTTP 500: Elasticsearch answers 500 when the query
    # itself failed on the shards, which a repeat only repeats
    retry = RetryPolicy.from_settings(s, internal_errors=False)
    kwargs: dict[str, Any] = {
        "request_timeout": float(s["timeout"]),
        "max_retries": retry.retries,
        "retry_on_status": retry.statuses,
        "retry_on_timeout": False,  # a slow query repeated only adds load
        "node_class": compat_node_class(compat),
        # one connection per concurrent query (urllib3 blocks for one above its pool size)
        "connections_per_node": max(10, int(s["max_concurrency"] or 1)),
    }
    if s["cloud_id"]:
        kwargs["cloud_id"] = s["cloud_id"]
    else:
        kwargs["hosts"] = hosts
    if s["api_key"]:
        key = str(s["api_key"])
        if ":" in key:
            key_id, _, secret = key.partition(":")
            kwargs["api_key"] = (key_id, secret)
        else:
            kwargs["api_key"] = key
    elif s["username"]:
        kwargs["basic_auth"] = (str(s["username"]), str(s["password"] or ""))
    if any(h.startswith("https://") for h in hosts) or s["cloud_id"]:
        kwargs.update(tls_options(tls))
    return kwargs


def tls_options(tls: Mapping[str, Any]) -> dict[str, Any]:
    """The client arguments of the ``tls`` settings (the same names in opensearch-py)."""
    kwargs: dict[str, Any] = {"verify_certs": bool(tls["verify"])}
    if tls["verify"] and tls["ca_file"]:
        kwargs["ca_certs"] = tls["ca_file"]
    if not tls["verify"]:
        kwargs["ssl_show_warn"] = False
    if tls["cert_file"]:
        kwargs["client_cert"] = tls["cert_file"]
    if tls["key_file"]:
        kwargs["client_key"] = tls["key_file"]
    return kwargs


def send(
    client: Any,
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    body: Any,
    timeout: float,
) -> Answer:
    """One request through the official client (raises the client's own exceptions)."""
    headers = {"accept": "application/json"}
    if body is not None:
        headers["content-type"] = "application/json"
    resp = client.options(request_timeout=timeout).perform_request(
        method, path, params=dict(params) if params else None, headers=headers, body=body
    )
    size = getattr(resp.meta, "body_bytes", None)
    if size is None:  # a node class other than ours
        length = resp.meta.headers.get("content-length")
        size = int(length) if length and str(length).isdigit() else None
    return Answer(resp.body, size)


class Connection:
    """A source's way to its cluster: the client of its :class:`~.flavour.Flavour` (built on
    first use, shared by the threads of a collect), the compatibility header, and its failures
    as one-line messages."""

    def __init__(
        self, name: str, settings: Mapping[str, Any], target: Target, flavour: Flavour
    ) -> None:
        self.name = name
        self.flavour = flavour
        self.settings = settings
        self.hosts = target.hosts
        self.shown_url = target.shown_url
        self.index = target.index
        self.timeout = float(settings["timeout"])
        self.secrets = collect_secrets(settings, SETTINGS_SCHEMA)
        # kept from one collect to the next: the next one asks in the last known dialect
        forced = settings.get("server_major")
        self.compat = Compat(int(forced) if forced else None)
        self._es: Any = None

    def where(self) -> str:
        """The source as messages name it."""
        return f"source {self.name!r} ({self.shown_url})"

    def scrub(self, text: str) -> str:
        """``text`` without this source's secrets."""
        return scrub(text, self.secrets)

    def client(self) -> Any:
        """The client; a :class:`ConfigError` when the settings cannot make one."""
        if self._es is not None:
            return self._es
        try:
            self._es = self.flavour.new_client(self.settings, self.hosts, self.compat)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                self.scrub(f"source {self.name!r}: invalid connection settings: {exc}")
            ) from None
        return self._es

    def close(self) -> None:
        """Close the client's connections."""
        if self._es is not None:
            self._es.close()
            self._es = None

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        body: Any,
        timeout: float,
    ) -> Answer:
        """One request as the client answers it (raises the client's own exceptions, and
        :class:`WrongShape` for an answer that is not of the shape the request asks for)."""
        answer = self.flavour.send(self.client(), method, path, params, body, timeout)
        problem = answer_problem(method, path, body, answer.body, self.flavour.pit.id_key)
        if problem is not None:
            raise WrongShape(problem)
        return answer

    def failure(self, exc: BaseException, context: str, timeout: float) -> RequestFailed:
        """The one-line :class:`RequestFailed` that ``exc`` means (see :mod:`.failures`)."""
        facts = Facts(
            exc,
            where=self.where(),
            context=context,
            timeout=timeout,
            index=self.index,
            retries=self.settings["retries"],
            errors=self.flavour.errors,
            product=self.flavour.product,
            scrub=self.scrub,
        )
        return request_failed(exc, facts, self.scrub)
