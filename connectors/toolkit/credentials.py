"""Secrets: the one list of values that can authenticate, and the one way to scrub them.

Every message a connector builds (and everything the CLI prints) goes through
:func:`scrub`: each value of :func:`collect_secrets` becomes :data:`MASK`, and any URL's
``user:password@`` becomes ``***@``. The same list feeds the redaction of log content
(:class:`pmrecon.redact.Redactor`), through ``Config.secrets``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pmrecon.settings_schema import Key

#: What a secret becomes in a message, in the evidence and in the report.
MASK = "***"
#: Shorter values are not scrubbed: a test password "x" would garble every message, and no
#: real credential is that short.
MIN_SECRET_LENGTH = 4

#: Settings that authenticate whatever the connector's schema says.
AUTH_KEYS = ("bearer_token", "password", "api_key")

_URL_USERINFO = re.compile(r"//[^/@\s]*:[^/@\s]*@")


def collect_secrets(
    settings: Mapping[str, Any], schema: Mapping[str, Any] | None = None
) -> list[str]:
    """Every value in a source's settings that can authenticate, in each form a request carries.

    That is: the values the schema marks ``secret`` (at any depth) and the well-known
    :data:`AUTH_KEYS`; every configured header value (an API-key or tenant header grants
    access); the password of a ``user:pass@`` URL (``url``, ``hosts``), as written and
    decoded; the base64 ``user:pass`` of the Basic ``Authorization`` built from
    ``username``/``password`` or from such a URL; an ``api_key`` as configured, in base64
    when it is given as ``id:key``, and its id and key parts. Longest first (a secret that
    holds another is replaced whole), without duplicates; :func:`scrub` skips the values
    shorter than :data:`MIN_SECRET_LENGTH`.
    """
    found = list(_marked_secret(settings, schema or {}))
    found += [str(settings[k]) for k in AUTH_KEYS if settings.get(k)]
    found += [str(v) for v in (settings.get("headers") or {}).values() if v]
    if settings.get("username"):
        found += _basic_forms(str(settings["username"]), str(settings.get("password") or ""))
    for url in _urls(settings):
        found += _url_forms(url)
    if settings.get("api_key"):
        found += _api_key_forms(str(settings["api_key"]))
    return sorted({s for s in found if s}, key=lambda s: (-len(s), s))


def scrub(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with each secret replaced by ``mask`` and any URL's ``user:password@`` by ``***@``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, mask)
    return _URL_USERINFO.sub(f"//{MASK}@", text)


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
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def _marked_secret(data: Any, schema: Mapping[str, Any]) -> Iterator[str]:
    """The text values of keys the schema marks ``secret``, at any depth."""
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        spec = schema.get(key)
        if isinstance(spec, Key) and spec.secret and isinstance(value, str):
            yield value
        elif isinstance(spec, Mapping):
            yield from _marked_secret(value, spec)


def _urls(settings: Mapping[str, Any]) -> list[str]:
    hosts = settings.get("hosts") or []
    urls = [settings.get("url"), *(hosts if isinstance(hosts, list) else [hosts])]
    return [str(u) for u in urls if u]


def _basic_forms(user: str, password: str) -> list[str]:
    """The base64 of ``user:password`` as a Basic ``Authorization`` header carries it."""
    pair = f"{user}:{password}"
    out = [base64.b64encode(pair.encode("utf-8")).decode("ascii")]
    with contextlib.suppress(UnicodeEncodeError):  # requests encodes text as latin-1
        out.append(base64.b64encode(pair.encode("latin-1")).decode("ascii"))
    return out


def _url_forms(url: str) -> list[str]:
    """A URL's password as written and decoded, and the Basic header its user info becomes."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if not parts.password:
        return []
    password = parts.password
    return [
        password,
        unquote(password),
        *_basic_forms(unquote(parts.username or ""), unquote(password)),
    ]


def _api_key_forms(key: str) -> list[str]:
    """An API key as configured, ``id:key`` in base64 (the form sent), and its two parts."""
    out = [key]
    if ":" in key:
        out.append(base64.b64encode(key.encode("utf-8")).decode("ascii"))
        out += key.split(":", 1)
        return out
    try:
        decoded = base64.b64decode(key, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return out
    return out + decoded.split(":", 1)
