"""The Elasticsearch connector's copies of helpers every connector has.

To be replaced by the connector toolkit (branch conn-kit): the Prometheus connector holds its
own copy of each name below (some with other values: its ``RETRY_STATUS`` also retries 500,
its ``short`` keeps 160 characters), so switching to the toolkit is an edit of this one module
and its importers' ``from ._shared import`` lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from connectors.base import CheckResult
from pmrecon.errors import ConnectorError

#: HTTP statuses the client retries (``retries`` times).
RETRY_STATUS = (429, 502, 503, 504)
#: Values that turn an optional field off.
DISABLED = ("", "off", "none", "false")
#: What the resolver's errors say when a host name does not resolve.
DNS_ERRORS = (
    "NameResolutionError",
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "Temporary failure in name resolution",
)


class RequestFailed(ConnectorError):
    """One request failed; ``fatal`` when no other request can succeed (unreachable, auth, TLS)."""

    def __init__(self, message: str, kind: str, fatal: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.fatal = fatal
        self.status = status


def collect_secrets(settings: Mapping[str, Any], hosts: list[str]) -> list[str]:
    """The values to scrub from every message, longest first: the API key (and its decoded
    parts), the password, and passwords written into the host URLs."""
    out = [v for v in (settings.get("api_key"), settings.get("password")) if v]
    key = settings.get("api_key")
    if key:
        try:
            decoded = base64.b64decode(str(key), validate=True).decode("utf-8")
            out.extend(p for p in decoded.split(":", 1) if len(p) >= 4)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            out.extend(p for p in str(key).split(":", 1) if len(p) >= 4)
    for h in hosts:
        m = re.match(r"^https?://[^/@]*:([^/@]*)@", h)
        if m and m.group(1):
            out.append(m.group(1))
    return sorted(set(out), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` without the secrets and without any ``user:password@`` of a URL."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return re.sub(r"//[^/@\s]*:[^/@\s]*@", "//***@", text)


def check_failure(
    name: str, exc: RequestFailed, fixes: Mapping[str, str], reachable_kinds: tuple[str, ...]
) -> list[CheckResult]:
    """The ``check`` lines for a first request that failed: reachable, then authenticated."""
    reachable = exc.kind in reachable_kinds
    out = [
        CheckResult(
            name,
            "reachable",
            reachable,
            "answers" if reachable else str(exc),
            "" if reachable else fixes.get(exc.kind, ""),
        )
    ]
    if reachable:
        out.append(
            CheckResult(
                name, "authenticated", exc.kind != "auth", str(exc), fixes.get(exc.kind, "")
            )
        )
    return out


def major(version: str | None) -> int | None:
    """The major of a version string ("9.5.4", "v8")."""
    m = re.match(r"v?(\d+)", version or "")
    return int(m.group(1)) if m else None


def short(obj: Any) -> str:
    """``obj`` as one line of at most 200 characters."""
    return " ".join(str(obj).split())[:200]
