"""What every connector needs: settings with their defaults, URLs and errors fit to show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pmrecon.config import Key, parse_duration
from pmrecon.errors import ConfigError


def settings_with_defaults(
    schema: Mapping[str, Any], raw: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """Fill defaults and parse durations of settings that may not have gone through validate()."""
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        value = raw.get(key) if isinstance(raw, Mapping) else None
        if isinstance(spec, Key):
            if value is None:
                out[key] = spec.default
            elif spec.type == "duration":
                try:
                    out[key] = parse_duration(value)
                except ValueError as exc:
                    raise ConfigError(f"{where}.{key}: {exc}") from None
            else:
                out[key] = value
        else:
            out[key] = settings_with_defaults(spec, value or {}, f"{where}.{key}")
    return out


def redact_url(url: str) -> str:
    """The URL without its ``user:password@`` part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


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
