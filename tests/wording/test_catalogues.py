"""The wording catalogues: the same ids and the same placeholders in every language, and
every entry renders."""

from __future__ import annotations

import ast
import datetime as dt
import string
from collections.abc import Mapping
from pathlib import Path

import pytest

from pmrecon import wording
from pmrecon.wording import CATALOGUES, catalogue, text

#: A value for every placeholder the catalogues use.
SAMPLES = {
    "tz": "Europe/Paris",
    "day": "01/03/2026",
    "interval": "5 min",
    "shift": "1 j",
    "value": "5 %",
    "service": "checkout",
    "n": 3,
    "shown": 12,
    "span": "(impact start, resolution]",
    "q": "p99",
    "sli": "latency_p99",
    "where": "'/opt/chrome'",
    "seconds": 60,
    "browser": "/usr/bin/chromium",
    "reason": "crashed",
    "message": "source prometheus unavailable",
    "start": "10:00",
    "end": "11:00",
    "list": "10:05–10:20 (cart)",
    "source": "elasticsearch",
    "counts": "3 email",
    "title": "Incident du 01/03/2026",
    "services": "checkout, cart",
    "alert": "CheckoutDown",
    "name": "CheckoutHighErrorRate",
    "on": " (checkout)",
    "threshold": "1 %",
    "count": 1089,
    "series": "error_ratio.checkout",
    "names": "prom-a, prom-b",
    "signature": "TimeoutError: upstream",
    # Warnings grouped by cause (cause.*, fix.*, notice.cause*): the line's parts, then the
    # values the warnings carry.
    "what": "No data",
    "fix": "Run pmrecon check",
    "sources": "prometheus, victoria",
    "metric": "http_requests_total",
    "label": "service",
    "kind": "timeout",
    "field": "user.id",
    "total": 1200,
    "read": 1000,
    "documents": 42,
    "limit": 20,
    "setting": "signatures.max_tracked",
    "major": 8,
    "query": "q7, q9",
    "signal": "SIGTERM",
    "gaps": 2,
    "incidents": 4,
    "stability": 300,
    "hours": "6",
    # the leads (pmrecon/report/leads.py)
    "at": "10:05",
    "lag": "4 min",
    "duration": "3 min",
    "when": "3 min before impact start",
    "subject": "`Deployed api to 2.0`",
    "related": "`Rolled back api to 1.9`",
    "ratio": "88",
    "delay": "40 min",
    "episodes": 4,
    "score": "0.87",
    "spans": "2026-03-01T09:50:00+00:00/2026-03-01T10:00:00+00:00",
    "samples": 240,
    "clean": 200,
    # changes seen in the metrics (pmrecon/analysis/metric_changes.py)
    "change": "version 1.4.2 → 1.5.0",
    "replicaset": "checkout-7f8b9",
    "deployment": "checkout",
    "old": "7",
    "new": "8",
    "namespaces": "shop, staging",
    # novelty judged on a baseline that holds the incident ("new" above serves as a count);
    # the concentration leads' {known} is a clause, the novelty warnings' a count
    "known": 1,
    # concentration leads
    "share": "97%",
    "traffic": "20%",
    "spread": ", spread over 3 values of instance",
    "baseline": "90%",
}

#: Entries that are separators, not words.
SYMBOLS = {"number.decimal_point", "number.thousands_separator", "graph.separators"}


def fields(entry: str) -> set[tuple[str, str, str | None]]:
    """(name, format spec, conversion) of every placeholder of a catalogue entry."""
    return {
        (name, spec or "", conversion)
        for _, name, spec, conversion in string.Formatter().parse(entry)
        if name is not None
    }


def problems(catalogues: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What differs between catalogues: an id missing in one, or other placeholders."""
    out = []
    ids = set().union(*(c.keys() for c in catalogues.values()))
    for key in sorted(ids):
        missing = sorted(lang for lang, c in catalogues.items() if key not in c)
        if missing:
            out.append(f"{key}: missing in {', '.join(missing)}")
            continue
        shapes = {lang: fields(c[key]) for lang, c in catalogues.items()}
        if len({frozenset(s) for s in shapes.values()}) > 1:
            out.append(f"{key}: placeholders differ {shapes}")
    return out


def test_every_language_has_the_same_ids_and_placeholders() -> None:
    assert set(CATALOGUES) == {"fr", "en"}
    assert problems(CATALOGUES) == []


def test_a_missing_translation_or_placeholder_is_reported() -> None:
    fr = dict(CATALOGUES["fr"])
    del fr["graph.title.latency"]
    fr["graph.threshold"] = "seuil"  # {value} forgotten
    en = dict(CATALOGUES["en"], **{"graph.only_english": "new"})
    assert problems({"fr": fr, "en": en}) == [
        "graph.only_english: missing in fr",
        "graph.threshold: placeholders differ {'fr': set(), 'en': {('value', '', None)}}",
        "graph.title.latency: missing in fr",
    ]


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_entry_renders(lang: str) -> None:
    entries = catalogue(lang)
    assert len(entries) >= 70
    when = dt.datetime(2026, 3, 1, 10, 5)
    for key, entry in entries.items():
        assert {name for name, _, _ in fields(entry)} <= SAMPLES.keys(), key
        shown = text(lang, key, **SAMPLES)
        if key.startswith("date."):
            shown = when.strftime(shown)
            assert "%" not in shown and "2026" in shown, key
        elif key in SYMBOLS:
            assert 1 <= len(shown) <= 2 and not shown.isalnum(), key
        else:
            assert shown.strip() and "{" not in shown and "}" not in shown, key
        for name, _, _ in fields(entry):
            assert str(SAMPLES[name]) in shown, (key, name)


def test_an_unknown_language_reads_english() -> None:
    assert catalogue("de") is CATALOGUES["en"]
    assert text("de", "graph.more_lanes", n=2) == "2 more alerts not shown"
    assert text("fr", "graph.more_lanes", n=2) == "2 autres alertes non affichées"


def test_the_catalogues_import_nothing_from_pmrecon() -> None:
    """A leaf: the analysis, the report and the output may all use it, in any order."""
    for path in Path(wording.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1 and not (node.module or "").startswith("pmrecon"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("pmrecon") for a in node.names), path
