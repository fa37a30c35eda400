"""The series selectors of a PromQL query: which metrics it reads, with which label matchers.

A small tokenizer, not a regex over the text: string literals (with their escapes), range
brackets, ``by (...)``/``on (...)`` label lists and function names are told apart the way
the PromQL lexer tells them, so ``label_replace(x, "dst", "$1", "src", "(.*)")`` or
``sum by (service) (...)`` never look like selectors. No PromQL parser is a dependency of
pmrecon, and ``check`` only needs the selectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<number>(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:[A-Za-z][0-9A-Za-z]*)*)
    | (?P<op>=~|!~|!=|==|>=|<=|[{}()\[\],=<>+\-*/%^@])
    """,
    re.VERBOSE,
)
#: Words after which a parenthesised list holds label names, not an expression.
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
#: Aggregation operators: ``sum by (x) (...)`` puts a label list between name and body.
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
#: Words that are never metric names where they stand.
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan", "start", "end"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


@dataclass(frozen=True)
class Matcher:
    """``label op "value"``: one label matcher of a selector."""

    label: str
    op: str
    value: str

    def matches_empty(self) -> bool:
        """Whether a series without the label passes (its value is then the empty string)."""
        if self.op == "=":
            return self.value == ""
        if self.op == "!=":
            return self.value != ""
        try:
            hit = re.fullmatch(self.value, "") is not None
        except re.error:
            return False
        return hit if self.op == "=~" else not hit


@dataclass
class Selector:
    """A vector selector: its metric name (None when only matchers name it) and matchers."""

    metric: str | None
    matchers: list[Matcher] = field(default_factory=list)


class SelectorSyntaxError(ValueError):
    """A query the tokenizer cannot read."""


def _unquote(literal: str) -> str:
    """The value of a PromQL string literal (Go string syntax)."""
    body = literal[1:-1]
    if literal[0] == "`":
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU" or nxt.isdigit():
            width = {"x": 2, "u": 4, "U": 8}.get(nxt, 3)
            digits = body[i + 2 : i + 2 + width] if nxt in "xuU" else body[i + 1 : i + 4]
            try:
                out.append(chr(int(digits, 16 if nxt in "xuU" else 8)))
            except ValueError:
                out.append(nxt)
            i += 2 + width if nxt in "xuU" else 4
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def tokens(query: str) -> list[tuple[str, str]]:
    """The query's tokens as (kind, text), spaces and comments left out."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:
            raise SelectorSyntaxError(f"cannot read the query at {query[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            out.append((kind, m.group(0)))
        pos = m.end()
    return out


def _balanced(toks: list[tuple[str, str]]) -> None:
    """Raise when a bracket of ``toks`` is not closed, or closed by another kind."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for kind, text in toks:
        if kind != "op":
            continue
        if text in "([{":
            stack.append(text)
        elif text in pairs and (not stack or stack.pop() != pairs[text]):
            raise SelectorSyntaxError(f"unbalanced {text!r}")
    if stack:
        raise SelectorSyntaxError(f"unclosed {stack[-1]!r}")


def _closing(toks: list[tuple[str, str]], i: int, opening: str, closing: str) -> int:
    """The index of the token closing the bracket opened at ``i``."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][1] == opening:
            depth += 1
        elif toks[j][1] == closing:
            depth -= 1
            if depth == 0:
                return j
    raise SelectorSyntaxError(f"unbalanced {opening!r}")


def _matchers(toks: list[tuple[str, str]], i: int, end: int) -> tuple[str | None, list[Matcher]]:
    """The matchers between the braces at ``i`` and ``end``; and a quoted metric name."""
    name: str | None = None
    out: list[Matcher] = []
    j = i + 1
    while j < end:
        kind, text = toks[j]
        if text == ",":
            j += 1
            continue
        label = _unquote(text) if kind == "string" else text
        if j + 1 < end and toks[j + 1][0] == "op" and toks[j + 1][1] in ("=", "!=", "=~", "!~"):
            if j + 2 >= end or toks[j + 2][0] != "string":
                raise SelectorSyntaxError(f"label {label!r} is not matched to a string")
            out.append(Matcher(label, toks[j + 1][1], _unquote(toks[j + 2][1])))
            j += 3
        else:  # a quoted metric name: {"my.metric", job="x"}
            name = label
            j += 1
    return name, out


def selectors(query: str) -> list[Selector]:
    """Every vector selector of ``query``, in order; the metric name from ``__name__=`` when
    the selector has none before its braces."""
    toks = tokens(query)
    _balanced(toks)
    out: list[Selector] = []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text.lower() in _LABEL_LISTS and nxt == "(":
            i = _closing(toks, i + 1, "(", ")") + 1
            continue
        if text == "[":
            i = _closing(toks, i, "[", "]") + 1
            continue
        if kind == "ident" and (
            nxt == "("
            or text.lower() in _KEYWORDS
            or text.lower() in _AGGREGATIONS
            or text.lower() in _LABEL_LISTS
        ):
            i += 1
            continue
        if kind == "ident" or text == "{":
            metric = text if kind == "ident" else None
            matchers: list[Matcher] = []
            start = i + 1 if kind == "ident" else i
            if start < len(toks) and toks[start][1] == "{":
                end = _closing(toks, start, "{", "}")
                quoted, matchers = _matchers(toks, start, end)
                metric = metric or quoted
                i = end + 1
            else:
                i += 1
            names = [m for m in matchers if m.label == "__name__" and m.op == "="]
            if metric is None and names:
                metric = names[0].value
            out.append(Selector(metric, matchers))
            continue
        i += 1
    return out
