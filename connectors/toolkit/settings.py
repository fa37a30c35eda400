"""Connector settings: defaults filled in, durations parsed, and the words that mean "off"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pmrecon.errors import ConfigError
from pmrecon.settings_schema import Key, parse_duration

#: Values that turn a setting off (an SLI template, a field name): ``off``, ``none``…
DISABLED = ("", "off", "none", "false")


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
