"""The config file ``pmrecon init`` writes: YAML with a comment above every choice."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable
from typing import Any

from .plan import SourcePlan

WIDTH = 92
#: Scalars written without quotes: nothing YAML would read as another type or syntax.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/@*+-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value: Any) -> str:
    """``value`` as a YAML flow value (JSON quoting for anything not plainly safe)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def comment(lines: Iterable[str], indent: str) -> list[str]:
    """``lines`` as wrapped ``#`` comments at ``indent``."""
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(
            line,
            WIDTH - len(indent) - 2,
            initial_indent=f"{indent}# ",
            subsequent_indent=f"{indent}#   ",
            break_on_hyphens=False,
            break_long_words=False,
        ) or [f"{indent}#"]
    return out


def render(header: list[str], plans: list[SourcePlan]) -> str:
    """The whole file: the header, then ``sources:`` with each plan."""
    out = comment(header, "")
    out += ["", "sources:"]
    for plan in plans:
        out.append("")
        out += comment(plan.about, "  ")
        if plan.undecided:
            out += comment([f"NOT DECIDED: {u}" for u in plan.undecided], "  ")
        out.append(f"  {plan.name}:")
        out += _mapping(plan.settings, plan.why, "    ", "")
    return "\n".join(out) + "\n"


def _mapping(
    data: dict[str, Any], why: dict[str, list[str]], indent: str, prefix: str
) -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        out += comment(why.get(dotted, []), indent)
        if isinstance(value, dict) and dotted != "filter":  # a filter is query DSL: one value
            out.append(f"{indent}{key}:")
            out += _mapping(value, why, indent + "  ", f"{dotted}.")
        else:
            out.append(f"{indent}{key}: {scalar(value)}")
    return out
