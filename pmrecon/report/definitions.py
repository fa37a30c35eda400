"""The analysis's definitions of figures and instants, in the report's language.

``findings.json`` keeps the English definitions (one contract for every tool that reads
it); a report in another language shows them in its own. Both wordings live in the
catalogues (``definition.*`` in ``pmrecon.wording``): the English text of an entry is what
the analysis writes, the other language's is what the report shows. The analysis composes
some definitions from parts (the interval, the quantile, a sentence added for an incident
already in progress), so the translation goes sentence by sentence, and an entry with
``{span}`` or ``{q}`` is read back as a pattern. A sentence no entry matches stays in
English: a footnote is never dropped for want of a translation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import lru_cache

from ..wording import FINDINGS_LANGUAGE, catalogue

PREFIX = "definition."
SPAN_PREFIX = "definition.span."

#: What each placeholder of a definition matches in the analysis's English text.
PLACEHOLDERS = {
    "span": r".+",  # one of the definition.span.* texts, checked after the match
    "q": r"p\d+(?:\.\d+)?",
}


def _sentences(text: str) -> list[str]:
    """Split a definition into sentences (a full stop followed by a space and a capital)."""
    return re.split(r"(?<=\.) (?=[A-Z])", text)


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching what ``template`` gives once its fields are filled."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>{PLACEHOLDERS.get(field, '.+')})")
    return re.compile("".join(parts))


@lru_cache(maxsize=8)
def _translation(lang: str) -> _Translation:
    return _Translation(catalogue(FINDINGS_LANGUAGE), catalogue(lang))


class _Translation:
    """The definition entries of two catalogues: whole sentences, then patterns, then spans."""

    def __init__(self, source: Mapping[str, str], target: Mapping[str, str]) -> None:
        keys = [k for k in source if k.startswith(PREFIX) and not k.startswith(SPAN_PREFIX)]
        has_fields = {
            k for k in keys if any(f for _, f, _, _ in string.Formatter().parse(source[k]))
        }
        self.sentences = {source[k]: target[k] for k in keys if k not in has_fields}
        self.patterns = [(_pattern(source[k]), target[k]) for k in keys if k in has_fields]
        self.spans = {source[k]: target[k] for k in source if k.startswith(SPAN_PREFIX)}

    def sentence(self, sentence: str) -> str:
        if sentence in self.sentences:
            return self.sentences[sentence]
        for pattern, template in self.patterns:
            m = pattern.fullmatch(sentence)
            if m and m.groupdict().get("span", "") in self.spans:
                values = m.groupdict()
                values["span"] = self.spans[values.get("span", "")]
                return template.format(**values)
        return sentence


def in_language(definition: str, lang: str) -> str:
    """``definition`` (as findings.json has it) in ``lang``, sentence by sentence."""
    if lang == FINDINGS_LANGUAGE:
        return definition
    translation = _translation(lang)
    return " ".join(translation.sentence(s) for s in _sentences(definition.strip()))


@lru_cache(maxsize=16)
def _phrases(lang: str, prefix: str) -> list[tuple[re.Pattern[str], str]]:
    source, target = catalogue(FINDINGS_LANGUAGE), catalogue(lang)
    return [(_pattern(source[k]), target[k]) for k in source if k.startswith(prefix)]


def phrase_in_language(phrase: str, lang: str, prefix: str) -> str | None:
    """``phrase`` (English, as the catalogue's ``prefix*`` entries write it) in ``lang``.

    None when no entry matches: the caller decides whether English may show.
    """
    for pattern, template in _phrases(lang, prefix):
        m = pattern.fullmatch(phrase)
        if m:
            return template.format(**m.groupdict())
    return None
