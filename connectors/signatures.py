"""Error signatures: log messages with their variable parts folded, so one family is one key.

``normalise("timeout after 3012ms")`` and ``normalise("timeout after 2981ms")`` are both
``"timeout after <n>ms"``. What is folded, in this order (the most specific first, so a
UUID is not eaten digit by digit):

- UUIDs → ``<uuid>``; ISO 8601 timestamps and clock times → ``<time>``;
  IPv4 addresses (with an optional port) → ``<ip>``; e-mail addresses → ``<email>``;
- ``0x…`` hexadecimal and runs of 8+ hex digits holding a digit (hashes, trace ids) → ``<hex>``;
- long mixed tokens (16+ characters of letters, digits and ``_-+/``, optional ``=`` padding,
  with 2+ digits: base64 ids, session keys) → ``<id>``;
- numbers not glued to a preceding letter (``3012ms``, ``order 42``, ``-7``, ``1.5``) and
  digit runs of 4+ anywhere (``user12345``) → ``<n>``; short codes such as ``v1`` or
  ``ERR42`` stay, because they name *which* thing failed.

Only the first line counts (a stack trace's first line names the error), and only its first
:data:`MAX_INPUT` characters, so the cost per message is bounded. Pure functions, no I/O:
connectors call them on messages the server already aggregated.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_INPUT = 1000  # characters of the first line that are looked at
MAX_LENGTH = 200  # characters of a signature
EMPTY = "(empty message)"

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"

_UUID = re.compile(
    _NOT_ALNUM_BEFORE
    + r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    + _NOT_ALNUM_AFTER
)
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_CLOCK = re.compile(
    _NOT_ALNUM_BEFORE + r"[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?" + _NOT_ALNUM_AFTER
)
_IPV4 = re.compile(
    _NOT_ALNUM_BEFORE + r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?" + _NOT_ALNUM_AFTER
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# The leading lookaheads repeat what the match starts with: the engine then skips the
# positions where it cannot start, instead of trying the lookbehind at each (a third of the cost).
_HEX0X = re.compile(r"(?=0)" + _NOT_ALNUM_BEFORE + r"0[xX][0-9a-fA-F]+" + _NOT_ALNUM_AFTER)
_HEXRUN = re.compile(
    r"(?=[0-9a-fA-F]{8})"
    + _NOT_ALNUM_BEFORE
    + r"(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}"
    + _NOT_ALNUM_AFTER
)
_TOKEN = re.compile(r"[A-Za-z0-9_+/-]{16,}={0,2}")
_NUMBER = re.compile(r"(?=[0-9])(?:(?<![A-Za-z0-9])[0-9]+(?:[.,][0-9]+)*|[0-9]{4,})")
_PLACEHOLDER_RUN = re.compile(r"<n>(?:[.,:]<n>)+")


def _fold_token(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = sum(c.isdigit() for c in text)
    letters = sum(c.isalpha() for c in text)
    return "<id>" if digits >= 2 and letters >= 1 else text


#: The folds in order, each with a cheap test that is False only when its pattern cannot
#: match (a literal every match holds), or None when no test is cheaper than the search.
#: Tens of thousands of messages are folded on a 24 h build's critical path.
_FOLDS: tuple[
    tuple[Callable[[str], bool] | None, re.Pattern[str], str | Callable[[re.Match[str]], str]],
    ...,
] = (
    (lambda text: text.count("-") >= 4, _UUID, "<uuid>"),
    (lambda text: text.count("-") >= 2, _ISO_TIME, "<time>"),
    (lambda text: text.count(":") >= 2, _CLOCK, "<time>"),
    (lambda text: text.count(".") >= 3, _IPV4, "<ip>"),
    (lambda text: "@" in text, _EMAIL, "<email>"),
    (lambda text: "0x" in text or "0X" in text, _HEX0X, "<hex>"),
    (None, _HEXRUN, "<hex>"),
    (None, _TOKEN, _fold_token),
    (None, _NUMBER, "<n>"),
    # its leading literal "<n>" is found by the engine faster than by a test
    (None, _PLACEHOLDER_RUN, "<n>"),
)


def first_line(message: str) -> str:
    """The first non-blank line of ``message``, at most :data:`MAX_INPUT` characters."""
    for line in message.splitlines():
        if line.strip():
            return line[:MAX_INPUT]
    return ""


def normalise(message: object, max_length: int = MAX_LENGTH) -> str:
    """The signature of one log message: variable parts folded, whitespace collapsed, bounded."""
    text = first_line(message if isinstance(message, str) else str(message or ""))
    for may_match, pattern, placeholder in _FOLDS:
        if may_match is None or may_match(text):
            text = pattern.sub(placeholder, text)
    # str.split() splits where r"\s+" would (both use Unicode whitespace), at a third the cost
    text = " ".join(text.split())
    if not text:
        return EMPTY
    return truncate(text, max_length)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``…``."""
    if limit <= 0 or len(text) <= limit:
        return text
    return text[: max(1, limit - 1)] + "…"


def redact_then_cut(text: str, limit: int, redact: Callable[[str], str]) -> str:
    """``text`` redacted, then cut to ``limit`` characters.

    In that order: a cut first could leave half an e-mail address or a JWT that no
    pattern recognises any more. Only a bounded prefix is redacted, generously longer than
    the limit, so a huge line costs no more than a long one; whatever the pre-cut splits
    lies beyond the limit and is dropped by the final cut.
    """
    if limit <= 0:
        return redact(text)
    return truncate(redact(text[: limit * 4 + 2000]), limit)
