"""PromQL helpers: string literals that cannot inject, template placeholders, step choice.

SLI templates use ``$selector`` (the service's label matchers, built by the connector
from escaped literals), ``$status_label`` (a checked label name), ``$service`` (or
``${service}``), ``$window`` (the rate window), ``$step`` (the counting step) and
``$quantile``. A service name is a value, never PromQL: it is written as a double-quoted
string literal, escaped the way the PromQL lexer (Go string syntax) reads it, and
regex-quoted as well when it is the operand of ``=~``/``!~``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

#: Steps a query may use (seconds): a step is always rounded up to one of these.
NICE_STEPS: tuple[int, ...] = (
    1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800,
    3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip

#: Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000

PLACEHOLDERS = ("selector", "status_label", "service", "window", "step", "quantile")

_PLACEHOLDER = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: PromQL words that look like metric names but are not.
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "atan2", "inf", "nan", "le", "start", "end",
}  # fmt: skip


class TemplateError(ValueError):
    """A template uses an unknown placeholder or an impossible value."""


def escape_string(value: str) -> str:
    """The content of a double-quoted PromQL string holding ``value`` (without the quotes)."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def string_literal(value: str) -> str:
    """``value`` as a complete PromQL string literal, quotes included."""
    return f'"{escape_string(value)}"'


def regex_quote(value: str) -> str:
    """``value`` with RE2 metacharacters escaped, so a regex matcher matches it literally."""
    return _RE2_SPECIAL.sub(r"\\\1", value)


def format_duration(seconds: float) -> str:
    """Seconds as a PromQL duration (``90s``, ``1500ms``); never fractional seconds."""
    if seconds <= 0:
        raise TemplateError(f"a PromQL duration must be positive, got {seconds!r}")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def format_number(value: float) -> str:
    return repr(float(value))


def substitute(template: str, values: Mapping[str, object]) -> str:
    """Replace ``$name``/``${name}`` placeholders; string values are escaped for their context.

    Outside a string literal a string value becomes a whole literal (``"checkout"``); inside
    one (``"$service"`` or ``"$service-.*"``) only its escaped content is inserted. After
    ``=~``/``!~`` the value is also regex-quoted. Numbers are written as they are.
    """
    out: list[str] = []
    pos = 0
    in_string: str | None = None  # the quote char of the literal we are in
    string_is_regex = False
    i = 0
    while i < len(template):
        ch = template[i]
        if in_string is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == in_string:
                in_string = None
                i += 1
                continue
        elif ch in "\"'`":
            in_string = ch
            string_is_regex = _before_is_regex_op(template, i)
            i += 1
            continue
        if ch == "$":
            m = _PLACEHOLDER.match(template, i)
            if m:
                name = m.group("braced") or m.group("bare")
                if name not in values:
                    known = ", ".join(f"${k}" for k in values)
                    raise TemplateError(f"unknown placeholder ${name} (known: {known})")
                out.append(template[pos:i])
                out.append(
                    _render(
                        values[name],
                        inside=in_string is not None,
                        regex=string_is_regex if in_string else _before_is_regex_op(template, i),
                        quote=in_string,
                    )
                )
                i = m.end()
                pos = i
                continue
        i += 1
    out.append(template[pos:])
    return "".join(out)


def _before_is_regex_op(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return j >= 1 and text[j - 1 : j + 1] in ("=~", "!~")


def _render(value: object, *, inside: bool, regex: bool, quote: str | None) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        raise TemplateError("a placeholder value cannot be a boolean")
    if isinstance(value, (int, float)):
        return format_number(value)
    text = str(value)
    if regex:
        text = regex_quote(text)
    if not inside:
        return string_literal(text)
    if quote == "`":
        # raw strings cannot escape anything: refuse values that would end them
        if "`" in text:
            raise TemplateError("a value containing ` cannot go inside a raw string")
        return text
    if quote == "'":
        return escape_string(text).replace("'", "\\'").replace('\\"', '"')
    return escape_string(text)


class Raw(str):
    """A placeholder value written verbatim (a duration such as ``60s``), never quoted."""


def duration_values(**seconds: float) -> dict[str, object]:
    """Durations as raw PromQL text: ``duration_values(window=60)`` → ``{"window": "60s"}``."""
    return {k: Raw(format_duration(v)) for k, v in seconds.items()}


def choose_step(window_seconds: float, min_step: float, max_points: int = MAX_POINTS) -> int:
    """The smallest nice step ≥ ``min_step`` that keeps the window under ``max_points``."""
    need = max(float(min_step), window_seconds / max(1, max_points - 1), 1.0)
    for s in NICE_STEPS:
        if s >= need - 1e-9:
            return s
    return int(math.ceil(need / 86400) * 86400)


def nice_at_least(seconds: float) -> int:
    """The smallest nice step ≥ ``seconds``."""
    return choose_step(0, seconds)


def label_matcher(name: str, spec: str) -> str:
    """``name`` plus a matcher spec: ``value`` (equality) or ``=~re``, ``!~re``, ``!=value``, ``=value``."""
    if not _LABEL_NAME.match(name):
        raise TemplateError(f"not a label name: {name!r}")
    spec = str(spec)
    for op in ("=~", "!~", "!=", "="):
        if spec.startswith(op):
            return f"{name}{op}{string_literal(spec[len(op) :])}"
    return f"{name}={string_literal(spec)}"


def selector(metric: str, matchers: list[str]) -> str:
    body = ",".join(matchers)
    return f"{metric}{{{body}}}" if body else metric


def metric_names(query: str) -> list[str]:
    """Metric names a query reads, in order, without repeats (for messages and ``check``)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', query)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    text = re.sub(r"@\s*[-+0-9.e()a-z]+", " ", text)
    names: list[str] = []
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = m.group(0)
        if word.lower() in _KEYWORDS or text[m.end() :].lstrip().startswith("("):
            continue
        if word not in names:
            names.append(word)
    return names
