"""What a failed request means: the client's exceptions as one-line :class:`RequestFailed`.

The table names the client's exceptions by what they mean (``tls``, ``connection``, ...); the
source's :class:`~.flavour.Flavour` says which classes of its client those are, so one table
serves Elasticsearch's client and OpenSearch's.

:data:`FAILURES` is read top to bottom and the first row that matches wins, so a narrower row
(a TLS error, a 403) stands above the broader one it is a case of (a connection error, an HTTP
error). Each row says whether the failure is fatal (no other request can succeed) and how the
message reads; messages name the source and how to fix the problem, never a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.toolkit.failures import RequestFailed, error_reason, is_dns_error, short

from .shapes import WrongShape

if TYPE_CHECKING:
    from .flavour import ErrorClasses


def _unchanged(text: str) -> str:
    return text


def error_detail(body: Any, scrub: Callable[[str], str] = _unchanged) -> str:
    """``type: reason`` from an Elasticsearch error body (root cause and cause included),
    ``scrub`` applied before the text is cut (a secret cut in two would no longer match)."""
    if not isinstance(body, Mapping):
        return " ".join(scrub(str(body or "")).split())[:300]
    err = body.get("error")
    if isinstance(err, str):
        return scrub(err)[:300]
    if not isinstance(err, Mapping):
        return scrub(json.dumps(body))[:300]
    parts = [f"{err.get('type', 'error')}: {err.get('reason', '')}".strip()]
    roots = err.get("root_cause") or []
    if roots and isinstance(roots[0], Mapping):
        root = roots[0]
        text = f"{root.get('type')}: {root.get('reason')}"
        if root.get("type") != err.get("type") or root.get("reason") != err.get("reason"):
            parts.append(text)
    failed = err.get("failed_shards") or []
    if failed and isinstance(failed[0], Mapping):
        reason = failed[0].get("reason") or {}
        if isinstance(reason, Mapping):
            cause = reason.get("caused_by") or {}
            text = f"{reason.get('type')}: {reason.get('reason')}"
            if isinstance(cause, Mapping) and cause.get("reason"):
                text += f" ({cause.get('reason')})"
            if text not in parts:
                parts.append(text)
    cause = err.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("reason"):
        parts.append(f"{cause.get('type')}: {cause.get('reason')}")
    return scrub(" — ".join(p for p in parts if p))[:400]


def major_from_media_error(detail: str) -> int | None:
    """The server major from "Accept version must be either version 8 or 7, but found 9"."""
    m = re.search(r"must be either version (\d+)", detail)
    return int(m.group(1)) if m else None


class _CauseText(Exception):
    """A transport error with its causes' texts: with ``max_retries=0`` the client's own
    message is just "Connection error", the reason lives in ``__cause__`` or ``errors``.

    Its name shows in a message when no reason is found (``error_reason`` then gives the
    class name): renaming it changes messages."""

    def __init__(self, exc: BaseException) -> None:
        parts: list[str] = []
        seen: set[int] = set()
        todo: list[BaseException] = [exc]
        while todo and len(parts) < 10:
            e = todo.pop(0)
            if id(e) in seen:
                continue
            seen.add(id(e))
            parts.append(f"{type(e).__name__}: {e}")
            todo.extend(x for x in getattr(e, "errors", ()) or () if isinstance(x, BaseException))
            for nxt in (e.__cause__, e.__context__):
                if nxt is not None:
                    todo.append(nxt)
        super().__init__(" | ".join(parts))


class Facts:
    """What the rows of :data:`FAILURES` match on and their messages name (``{key}``); each
    fact is worked out only when a row asks for it."""

    def __init__(
        self,
        exc: BaseException,
        *,
        where: str,
        context: str,
        timeout: float,
        index: str,
        retries: Any,
        errors: ErrorClasses,
        product: str = "Elasticsearch",
        scrub: Callable[[str], str] = _unchanged,
    ) -> None:
        self.exc = exc
        self.scrub = scrub  # applied to a server's texts before they are cut
        self.errors = errors
        self.product = product
        self.where = where
        self.ctx = f" (while {context})" if context else ""
        self.timeout = timeout
        self.index = index
        self.retries = retries

    def __getitem__(self, key: str) -> Any:  # for str.format_map
        return getattr(self, key)

    @property
    def connection(self) -> bool:
        return isinstance(self.exc, self.errors.connection)

    @property
    def answered(self) -> bool:
        """The server answered with an error status."""
        return not self.connection and self.errors.answered(self.exc)

    @cached_property
    def status(self) -> int:
        return self.errors.status(self.exc) if self.answered else 0

    @cached_property
    def detail(self) -> str:
        return error_detail(self.errors.body(self.exc), self.scrub)

    @cached_property
    def text(self) -> str:
        return str(_CauseText(self.exc))

    @cached_property
    def reason(self) -> str:
        return error_reason(_CauseText(self.exc))

    @cached_property
    def host(self) -> str:
        m = re.search(r"Failed to resolve '([^']+)'", self.text)
        return f" {m.group(1)!r}" if m else ""

    @cached_property
    def short(self) -> str:
        return short(self.scrub(str(self.exc)))

    @property
    def exc_type(self) -> str:
        return type(self.exc).__name__


Matcher = Callable[[Facts], bool]


@dataclass(frozen=True)
class Failure:
    """A row: when it ``matches``, the failure's kind, whether it is fatal, and its message
    (a ``str.format`` template over :class:`Facts`). ``http``: the row is an HTTP error
    status, kept on the :class:`RequestFailed`."""

    matches: Matcher
    kind: str
    fatal: bool
    message: str
    http: bool = False


def _raised(role: str) -> Matcher:
    """The exception is one of the client's classes of ``role`` (see :class:`ErrorClasses`)."""
    return lambda f: isinstance(f.exc, getattr(f.errors, role))


def _any(f: Facts) -> bool:
    return True


def _status(*codes: int, detail: str = "") -> Matcher:
    """The server answered one of ``codes``, its error body saying ``detail``."""
    return lambda f: f.answered and f.status in codes and detail in f.detail


def _timed_out(f: Facts) -> bool:
    return f.connection and "timed out" in f.text.lower()


def _unresolved(f: Facts) -> bool:
    return f.connection and is_dns_error(f.text)


def _server_gave_up(f: Facts) -> bool:
    return f.answered and (f.status in (408, 504) or "timeout" in f.detail.lower())


def _server_error(f: Facts) -> bool:
    return f.answered and f.status >= 500


_TLS = (
    "{where}: TLS handshake failed ({reason}); check tls.ca_file, tls.cert_file or tls.verify{ctx}"
)
_NO_ANSWER = (
    "{where}: timeout: no answer within {timeout:g}s; raise 'timeout' or shorten the window{ctx}"
)
_DNS = "{where}: DNS: cannot resolve host{host}; check hosts{ctx}"
_UNREACHABLE = (
    "{where}: unreachable: cannot connect ({reason}); "
    "check hosts and that {product} is running{ctx}"
)
_NOT_ES = (
    "{where}: the server is not Elasticsearch (no 'X-Elastic-Product: Elasticsearch' header); "
    "check hosts (for OpenSearch, use type: opensearch){ctx}"
)
_WRONG_SHAPE = (
    "{where} answered something that is not an {product} response ({short}); "
    "check hosts (a proxy or another server?){ctx}"
)
_NOT_JSON = "{where}: the answer is not JSON ({short}); check hosts (a proxy?){ctx}"
_UNAUTHENTICATED = (
    "{where}: authentication failed (HTTP 401); check api_key or username/password{ctx}"
)
_DENIED = (
    "{where}: access denied (HTTP 403): {detail}; grant the API key or user the "
    "'read' and 'view_index_metadata' privileges on {index}{ctx}"
)
_NO_INDEX = "{where}: index pattern {index!r} matches no index ({detail}); check 'index'{ctx}"
_VERSION = (
    "{where}: the server refuses the client's API version ({detail}); "
    "set server_major to the server's major version{ctx}"
)
_BAD_QUERY = "{where}: bad query (HTTP {status}): {detail}{ctx}"
_BUSY = "{where}: too many requests (HTTP 429) after {retries} retries: {detail}{ctx}"
_GAVE_UP = "{where}: timeout: the server gave up (HTTP {status}): {detail}; shorten the window{ctx}"
_HTTP_ERROR = "{where}: server error (HTTP {status}): {detail}{ctx}"
_REQUEST = "{where}: request failed ({short}){ctx}"
_INTERNAL = "{where}: request failed ({exc_type}: {short}){ctx}"

# fmt: off
FAILURES: tuple[Failure, ...] = (
    # what the client raised says it all
    Failure(lambda f: isinstance(f.exc, WrongShape), "not_elasticsearch", True, _WRONG_SHAPE),
    Failure(_raised("tls"), "tls", True, _TLS),
    Failure(_raised("timeout"), "timeout", True, _NO_ANSWER),
    Failure(_timed_out, "timeout", True, _NO_ANSWER),
    Failure(_unresolved, "dns", True, _DNS),
    Failure(_raised("connection"), "unreachable", True, _UNREACHABLE),
    Failure(_raised("wrong_product"), "not_elasticsearch", True, _NOT_ES),
    Failure(_raised("not_json"), "not_elasticsearch", True, _NOT_JSON),
    # the server answered an error: its status and error body say
    Failure(_status(401), "auth", True, _UNAUTHENTICATED, http=True),
    Failure(_status(403), "auth", True, _DENIED, http=True),
    Failure(_status(404, detail="index_not_found"), "no_index", True, _NO_INDEX, http=True),
    Failure(_status(400, detail="media_type_header_exception"), "version", True, _VERSION, http=True),
    Failure(_status(400, 422), "bad_query", False, _BAD_QUERY, http=True),
    Failure(_status(429), "busy", False, _BUSY, http=True),
    Failure(_server_gave_up, "timeout", True, _GAVE_UP, http=True),
    Failure(_server_error, "server", False, _HTTP_ERROR, http=True),
    Failure(lambda f: f.answered, "http", False, _HTTP_ERROR, http=True),
    # anything else
    Failure(_raised("transport"), "unreachable", True, _REQUEST),
    Failure(_any, "internal", True, _INTERNAL),
)
# fmt: on


def request_failed(exc: BaseException, facts: Facts, scrub: Callable[[str], str]) -> RequestFailed:
    """``exc`` as the :class:`RequestFailed` of the first row of :data:`FAILURES` it matches."""
    if isinstance(exc, RequestFailed):
        return exc
    row = next(r for r in FAILURES if r.matches(facts))
    message = scrub(row.message.format_map(facts))
    return RequestFailed(message, row.kind, row.fatal, facts.status if row.http else None)
