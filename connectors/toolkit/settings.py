"""Connector settings: the shared keys, defaults filled in, and the words that mean "off".

:func:`http_settings` is the schema section :class:`~connectors.toolkit.http.HttpClient`
reads; :data:`BASIC_AUTH` and :data:`TLS` are the parts a source with its own client
(Elasticsearch) shares. :class:`ConfiguredSource` gives a source its name, context and
settings with defaults, from its class's ``SETTINGS_SCHEMA``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SourceContext
from pmrecon.errors import ConfigError
from pmrecon.settings_schema import Key, Schema, parse_duration

#: Values that turn a setting off (an SLI template, a field name): ``off``, ``none``…
DISABLED = ("", "off", "none", "false")


BASIC_AUTH: Schema = {
    "username": Key("str", None, "basic-auth user"),
    "password": Key("str", None, "basic-auth password (use ${ENV_VAR})", secret=True),
}

TLS: Schema = {
    "ca_file": Key("file", None, "CA bundle that signed the server's certificate"),
    "cert_file": Key("file", None, "client certificate (mutual TLS)"),
    "key_file": Key("file", None, "client certificate's private key"),
    "verify": Key("bool", True, "verify the server's certificate"),
}


def http_settings(url: str, url_doc: str, headers_doc: str = "extra HTTP headers") -> Schema:
    """The settings an HTTP source's client reads: URL, headers, auth, TLS, timeout, retries."""
    return {
        "url": Key("str", url, url_doc),
        "headers": Key("dict", {}, headers_doc),
        "bearer_token": Key("str", None, "bearer token (use ${ENV_VAR})", secret=True),
        **BASIC_AUTH,
        "tls": dict(TLS),
        "timeout": Key("duration", 30, "limit for one HTTP request", exclusive_minimum=0),
        "retries": Key(
            "int",
            2,
            "retries after a connection error, 429 or 5xx (never after other 4xx)",
            minimum=0,
            maximum=10,
        ),
        "retry_backoff": Key(
            "float", 0.5, "backoff factor between retries, in seconds", minimum=0, maximum=60
        ),
    }


class ConfiguredSource:
    """A source's name, context and settings (defaults filled in from ``SETTINGS_SCHEMA``)."""

    SETTINGS_SCHEMA: Schema = {}

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        self.name = name
        self.context = context or SourceContext()
        self.settings = settings_with_defaults(
            self.SETTINGS_SCHEMA, dict(settings or {}), f"sources.{name}"
        )


def is_disabled(value: Any) -> bool:
    """Whether a configured text turns its setting off (``off``, ``none``, ``false``, empty)."""
    return str(value).strip().lower() in DISABLED


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
