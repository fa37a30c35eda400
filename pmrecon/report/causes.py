"""Warnings as a reader sees them: one line per cause, in the report's language.

A build can raise the same warning for every query of a misconfigured source (fifteen
"no data" warnings when the SLI selectors name a label the metric lacks). The report says
it once per cause code: what happened, naming the values its warnings carry (services,
metrics, SLIs…), how many queries it hit, which sources, and the fix — from the catalogue
entries ``cause.<code>`` and ``fix.<code>``. findings.json keeps every warning, in English.

A code with no wording (a third-party connector's) shows each of its English messages, so
nothing is hidden; so does a group whose warnings lack a value the wording names (a bundle
written before warnings carried their values).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from .. import wording

#: Codes whose warnings keep a notice of their own (one line each, with the English detail).
OWN_NOTICE = {"source_unavailable": "notice.unavailable", "png_skipped": "notice.png_skipped"}

#: Code families: a connector names a failed SLI query ``sli_<kind of failure>``.
FAMILIES = ("sli_",)

#: Warnings from these producers hit no query: their line carries no count.
NOT_QUERIES = frozenset({"analysis", "build", "graphs"})

#: How many distinct values a line names before it says how many more there are.
SHOWN_VALUES = 5


def cause_key(code: str, lang: str = wording.FINDINGS_LANGUAGE) -> str | None:
    """The catalogue id (without ``cause.``/``fix.``) that words ``code``; None when none does."""
    entries = wording.catalogue(lang)
    if f"cause.{code}" in entries:
        return code
    for prefix in FAMILIES:
        if code.startswith(prefix) and f"cause.{prefix}*" in entries:
            return f"{prefix}*"
    return None


def warning_lines(
    warnings: Iterable[Mapping[str, Any]], lang: str, said: Collection[str] = ()
) -> list[str]:
    """The report's lines for findings.json's ``warnings``: one per cause, in order of first sight.

    Codes in ``said`` (and :data:`OWN_NOTICE`'s) are left to the caller's own notices.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for w in warnings:
        groups.setdefault(str(w.get("code") or "warning"), []).append(w)
    lines: list[str] = []
    grouped = False
    for code, members in groups.items():
        if code in OWN_NOTICE or code in said:
            continue
        line = cause_line(code, members, lang)
        grouped = grouped or (line is not None and len(members) > 1)
        lines.extend([line] if line is not None else english_lines(members, lang))
    if grouped:
        lines.append(wording.text(lang, "notice.causes_detail"))
    return lines


def with_fix(notice: str, code: str, warnings: Iterable[Mapping[str, Any]], lang: str) -> str:
    """``notice`` followed by the fix of its warnings of ``code``, when there are any."""
    worded = _worded(code, [w for w in warnings if w.get("code") == code], lang)
    return f"{notice} {worded[1]}." if worded else notice


def cause_line(code: str, members: Sequence[Mapping[str, Any]], lang: str) -> str | None:
    """One line for every warning of ``code``; None when the catalogue cannot word them."""
    worded = _worded(code, members, lang)
    if worded is None:
        return None
    what, fix = worded
    sources = ", ".join(dict.fromkeys(str(w.get("source", "")) for w in members))
    if all(w.get("source") in NOT_QUERIES for w in members):
        return wording.text(lang, "notice.cause", what=what, fix=fix)
    if len(members) == 1:
        return wording.text(lang, "notice.cause_query", what=what, sources=sources, fix=fix)
    return wording.text(
        lang, "notice.cause_queries", what=what, n=len(members), sources=sources, fix=fix
    )


def english_lines(members: Iterable[Mapping[str, Any]], lang: str) -> list[str]:
    """Each distinct English message, as the catalogue's generic warning notice."""
    seen = dict.fromkeys((str(w.get("source", "")), str(w.get("message", ""))) for w in members)
    return [wording.text(lang, "notice.warning", source=s, message=m) for s, m in seen]


def _worded(code: str, members: Sequence[Mapping[str, Any]], lang: str) -> tuple[str, str] | None:
    """(what, fix) for the warnings of ``code``; None without wording or a value it names."""
    key = cause_key(code, lang)
    if key is None or not members:
        return None
    values = {name: _listing(found) for name, found in _values(members).items()}
    try:
        return (
            wording.text(lang, f"cause.{key}", **values),
            wording.text(lang, f"fix.{key}", **values),
        )
    except KeyError:  # a value the wording names is missing from some warning
        return None


def _values(members: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each value name carried by every member, with its distinct values in order of sight."""
    params = [w.get("params") or {} for w in members]
    shared = set.intersection(*(set(p) for p in params)) if params else set()
    return {
        name: list(dict.fromkeys(str(p[name]) for p in params if p[name] not in (None, "")))
        for name in sorted(shared)
    }


def _listing(values: list[str]) -> str:
    shown = ", ".join(values[:SHOWN_VALUES])
    return f"{shown} (+{len(values) - SHOWN_VALUES})" if len(values) > SHOWN_VALUES else shown
