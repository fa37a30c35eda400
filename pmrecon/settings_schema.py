"""The vocabulary of settings schemas, shared by the config and every connector.

A schema is a dict whose values are either a nested schema, ``{"*": spec}`` for
free-form names, or a :class:`Key`. A connector declares its own section as a
module-level ``SETTINGS_SCHEMA`` built from :class:`Key`; :mod:`pmrecon.config`
validates the whole file against the core schema plus those sections.

This module is a leaf: it imports nothing of pmrecon's, so a connector (built-in or
third-party) can describe its settings without importing the config machinery.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    """A leaf of the schema: its type, default, one-line description and valid range.

    Types: str, path (non-empty text), folder (an existing folder), file (an existing
    regular file), int, float, ratio, bool, duration, timezone, list, dict, patterns (name
    -> regular expression), any, choice. Numbers and durations must lie within
    ``minimum`` (or above ``exclusive_minimum``) and ``maximum``; an int is ≥ 0 and a
    ratio within [0, 1] unless told otherwise. ``items`` checks each element of a list.
    """

    type: str
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    secret: bool = False
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    items: Key | None = None


Schema = dict[str, Any]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
#: About 100 years: anything longer is a typo, and would overflow datetime arithmetic.
_MAX_DURATION = 100 * 366 * 86400.0
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"5m"``, ``"2h"``, ``"7d"`` → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value) if abs(value) < 1e300 else math.inf
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 5m, 2h, 7d)")
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if not math.isfinite(seconds) or seconds > _MAX_DURATION:
        raise ValueError(f"not a finite duration: {value!r} (use e.g. 90s, 5m, 2h, 7d)")
    if seconds < 0:
        raise ValueError(f"negative duration: {value!r}")
    return seconds
