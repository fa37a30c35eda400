"""What ``pmrecon init`` decided for one source: its settings, and why, key by key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SourcePlan:
    """One source of the written config: its settings in order, the comment above each key,
    the lines said about the source as a whole, and what could not be decided."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)
    about: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def set(self, key: str, value: Any, *why: str) -> None:
        """Set ``key`` (dotted for a nested key: ``slis.latency``) with the reasons for it."""
        node = self.settings
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
        if why:
            self.why.setdefault(key, []).extend(why)


def listing(values: list[str], most: int = 8) -> str:
    """``a, b, c`` or ``a, b, … (12 in all)``."""
    if len(values) <= most:
        return ", ".join(values)
    return f"{', '.join(values[:most])}, … ({len(values)} in all)"
