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


# ---------------------------------------------------------------------- grouping

#: Aggregations whose ``by`` clause keeps one result per group and no other labels.
_GROUPING_AGGREGATIONS = {
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile",
}  # fmt: skip
#: Functions after which a result per group may not be the per-service result: they make
#: series out of nothing (``vector``, ``absent``), keep every input label (``topk``), or
#: rewrite labels.
_UNGROUPABLE = {
    "vector", "scalar", "absent", "absent_over_time", "label_replace", "label_join",
    "topk", "bottomk", "limitk", "limit_ratio", "count_values", "sort_by_label",
    "sort_by_label_desc",
}  # fmt: skip
_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
#: What follows an aggregation (a keyword: PromQL reads ``SUM BY`` as ``sum by``).
_AFTER_AGG = {"(", "by", "without"}
_TOKEN = re.compile(
    r"""(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<num>[0-9.][0-9A-Za-z_.]*)
    |(?P<space>\s+)
    |(?P<op>.)""",
    re.S | re.X,
)


def _lex(query: str) -> list[tuple[str, str, int]]:
    """``(kind, text, position)`` of each token but spaces; strings stay whole."""
    return [
        (str(m.lastgroup), m.group(0), m.start())
        for m in _TOKEN.finditer(query)
        if m.lastgroup != "space"
    ]


def group_by(query: str, labels: tuple[str, ...]) -> tuple[str, frozenset[str]]:
    """``query`` with ``labels`` added to every aggregation's ``by``: one result per group.

    Returns the grouped query and the labels that were added (not already in a ``by``
    list of the query), which a per-group result has and the ungrouped one has not.
    Raises :class:`TemplateError` when grouping could change a group's figures: a metric
    read outside any aggregation, ``without`` (its result keeps the labels the ungrouped
    query's has not), an ``ignoring`` list naming one of the labels,
    ``on``/``group_left``/``group_right`` matching, or a function of :data:`_UNGROUPABLE`.
    """
    toks = _lex(query)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the query
    already: set[str] = set()
    frames: list[bool] = []  # per open parenthesis: is it an aggregation's body
    pending_body = False  # the next "(" opens an aggregation's body
    closes: dict[int, int] = {}  # an aggregation body's "(" index -> its aggregator's index
    i = 0
    depth_braces = depth_brackets = 0
    while i < len(toks):
        kind, text, pos = toks[i]
        if depth_braces or depth_brackets:
            depth_braces += {"{": 1, "}": -1}.get(text, 0) if kind == "op" else 0
            depth_brackets += {"[": 1, "]": -1}.get(text, 0) if kind == "op" else 0
            i += 1
            continue
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "op" and text == "{":
            if not any(frames):
                raise TemplateError("a series is read outside any aggregation")
            depth_braces = 1
        elif kind == "op" and text == "[":
            depth_brackets = 1
        elif kind == "op" and text == "(":
            frames.append(pending_body)
            pending_body = False
        elif kind == "op" and text == ")":
            if frames:
                frames.pop()
            opened = closes.pop(len(frames), None)
            if opened is not None:
                i = _trailing_clause(toks, i, opened, labels, edits, already)
        elif kind == "ident" and text.lower() in _LIST_KEYWORDS:
            word = text.lower()
            names, end = _label_list(toks, i + 1)
            if word in ("on", "group_left", "group_right", "without"):
                raise TemplateError(f"{word}(...) matching cannot be grouped")
            if word == "ignoring" and set(names) & set(labels):
                raise TemplateError(f"{word}({', '.join(names)}) drops a grouping label")
            i = end - 1
        elif kind == "ident" and nxt.lower() in _AFTER_AGG and text.lower() in _UNGROUPABLE:
            raise TemplateError(f"{text}() cannot be grouped")
        elif (
            kind == "ident" and text.lower() in _GROUPING_AGGREGATIONS and nxt.lower() in _AFTER_AGG
        ):
            nxt = nxt.lower()
            if nxt == "(":
                closes[len(frames)] = i
                pending_body = True
            elif nxt == "by":
                names, end = _label_list(toks, i + 2)
                already.update(names)
                _extend_list(toks, i + 2, end, names, labels, edits)
                if end < len(toks) and toks[end][1] == "(":
                    pending_body = True
                i = end - 1
            else:
                raise TemplateError("without(...) keeps labels a grouping would add")
        elif kind == "ident" and nxt != "(" and text.lower() not in _KEYWORDS and not any(frames):
            raise TemplateError(f"{text} is read outside any aggregation")
        i += 1
    if frames or depth_braces or depth_brackets:
        raise TemplateError("unbalanced brackets")
    out = query
    for start, end, repl in sorted(edits, reverse=True):
        out = out[:start] + repl + out[end:]
    return out, frozenset(labels) - already


def _label_list(toks: list[tuple[str, str, int]], i: int) -> tuple[list[str], int]:
    """The names of a ``(a, b)`` list starting at token ``i``, and the index after it."""
    if i >= len(toks) or toks[i][1] != "(":
        return [], i
    names = []
    j = i + 1
    while j < len(toks) and toks[j][1] != ")":
        if toks[j][0] in ("ident", "str"):
            names.append(toks[j][1].strip("\"'`"))
        j += 1
    return names, j + 1


def _extend_list(
    toks: list[tuple[str, str, int]],
    i: int,
    end: int,
    names: list[str],
    labels: tuple[str, ...],
    edits: list[tuple[int, int, str]],
) -> None:
    """Rewrite the ``(…)`` list from token ``i`` to ``end`` as ``labels`` then ``names``."""
    start, stop = toks[i][2], toks[end - 1][2] + 1
    merged = [*labels, *(n for n in names if n not in labels)]
    edits.append((start, stop, f"({', '.join(merged)})"))


def _trailing_clause(
    toks: list[tuple[str, str, int]],
    i: int,
    agg: int,
    labels: tuple[str, ...],
    edits: list[tuple[int, int, str]],
    already: set[str],
) -> int:
    """After an aggregation's body closing at ``i``: extend its trailing ``by``, or add one."""
    after = toks[i + 1][1].lower() if i + 1 < len(toks) else ""
    if after == "by":
        names, end = _label_list(toks, i + 2)
        already.update(names)
        _extend_list(toks, i + 2, end, names, labels, edits)
        return end - 1
    if after == "without":
        raise TemplateError("without(...) keeps labels a grouping would add")
    at = toks[agg][2] + len(toks[agg][1])
    edits.append((at, at, f" by ({', '.join(labels)}) "))
    return i


def alternatives(values: list[str]) -> str:
    """A regex matching exactly each of ``values`` (RE2-quoted), as a PromQL string literal."""
    return string_literal("|".join(regex_quote(v) for v in sorted(set(values))))
