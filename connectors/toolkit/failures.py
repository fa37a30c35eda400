"""Failed requests: one exception, reading a driver's error, and what ``pmrecon check`` says.

Every request a connector sends either answers or raises :class:`RequestFailed` with a
one-line message (secrets scrubbed), a ``kind`` and whether it is ``fatal``. Kinds
shared by the connectors: ``unreachable``, ``dns``, ``tls``, ``timeout``, ``auth``,
``not_found``, ``bad_query``, ``http``, ``server``, ``redirect``, ``too_large``,
``truncated``, ``malformed``, ``deadline``; a connector adds its own (``not_prometheus``,
``no_index``, ``busy``…).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from connectors.base import CheckResult
from pmrecon.errors import ConnectorError

#: What the resolvers of Linux (glibc), macOS and Windows, and urllib3, say when a host
#: name does not resolve.
DNS_ERRORS = (
    "NameResolutionError",
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "Temporary failure in name resolution",
)

#: How to fix a failed first request, by kind, in words true for every connector; a
#: connector's own table (naming its settings) adds to and overrides these.
CHECK_FIXES = {
    "tls": "set tls.ca_file to the CA that signed the server certificate, or tls.verify: false",
    "timeout": "check the network, or raise this source's timeout",
}


class RequestFailed(ConnectorError):
    """One request failed; ``fatal`` when no other request can succeed (unreachable, auth, TLS)."""

    def __init__(self, message: str, kind: str, fatal: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.fatal = fatal
        self.status = status


def error_reason(exc: BaseException) -> str:
    """The innermost useful reason of a requests/urllib3 error, without URLs."""
    text = str(exc)
    for pat in (
        r"\[SSL: [A-Z_]+\] ([^(\]'\"|]+)",
        r"\[Errno -?\d+\] ([^'\")|]+)",
        r"(certificate verify failed[^'\")|]*)",
        r"(Connection refused|Connection reset by peer|Network is unreachable|No route to host)",
        r"(Remote end closed connection without response)",
        r"(Read timed out)",
    ):
        m = re.search(pat, text)
        if m:
            return m.group(1).strip().rstrip(".")
    return type(exc).__name__


def is_dns_error(text: str) -> bool:
    """Whether an error's text says a host name did not resolve."""
    return any(s in text for s in DNS_ERRORS)


def check_failure(
    source: str,
    exc: RequestFailed,
    fixes: Mapping[str, str],
    reachable_kinds: Collection[str],
) -> list[CheckResult]:
    """The ``check`` lines for a failed first request: reachable or not, then authenticated.

    ``reachable_kinds``: the kinds of failure that prove the server answered (a refused
    credential, a bad query); ``fixes``: the connector's fix by kind, over :data:`CHECK_FIXES`.
    """
    table = {**CHECK_FIXES, **fixes}
    reachable = exc.kind in reachable_kinds
    out = [
        CheckResult(
            source,
            "reachable",
            reachable,
            "answers" if reachable else str(exc),
            "" if reachable else table.get(exc.kind, ""),
        )
    ]
    if reachable:
        out.append(
            CheckResult(
                source, "authenticated", exc.kind != "auth", str(exc), table.get(exc.kind, "")
            )
        )
    return out


def short(obj: Any, limit: int = 200) -> str:
    """An exception or value as one line of at most ``limit`` characters."""
    return " ".join(str(obj).split())[:limit]


def major(version: str | None) -> int | None:
    """The major number of a version (``v2.42.0`` → 2), None when there is none."""
    m = re.match(r"v?(\d+)", version or "")
    return int(m.group(1)) if m else None


_JSON_KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list"}


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in words ("a number", "a list", "null"…), for messages."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return _JSON_KINDS.get(type(value), type(value).__name__)
