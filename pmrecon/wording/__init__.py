"""The words of a report, one catalogue per language: ``fr.py`` and ``en.py``.

Each catalogue is one flat dict from a message id to its text. Ids are dotted by where the
text appears (``graph.…`` on the figures, ``report.…`` in the Markdown's Python-side
strings, ``unit.…``, ``number.…`` and ``date.…`` for how values are written,
``definition.…`` for the definitions of figures and instants). Placeholders use
``str.format`` fields; a test checks that both catalogues have the same ids and the same
fields per id, so a text added in one language and forgotten in the other fails.

This package is a leaf: it imports nothing from pmrecon, so every room may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import en, fr

#: Every catalogue, by language code.
CATALOGUES: Mapping[str, Mapping[str, str]] = {"fr": fr.TEXT, "en": en.TEXT}

#: The language of findings.json: its definitions are written in it, whatever the report's.
FINDINGS_LANGUAGE = "en"


def catalogue(lang: str) -> Mapping[str, str]:
    """Every text of ``lang`` by id (English for a language without a catalogue)."""
    return CATALOGUES.get(lang, CATALOGUES[FINDINGS_LANGUAGE])


def text(lang: str, key: str, /, **values: Any) -> str:
    """The text ``key`` in ``lang``, its placeholders filled from ``values``."""
    return catalogue(lang)[key].format(**values)


__all__ = ["CATALOGUES", "FINDINGS_LANGUAGE", "catalogue", "text"]
