"""Every warning code pmrecon's own code emits has its words (cause and fix) in every language.

The codes are found by reading the source: ``Warning(..., code=...)`` (or the third positional
argument), ``session.warning("<code>", ...)`` and ``ctx.warn(message, "<code>")``. A code
written as an f-string (``f"sli_{kind}"``) must belong to a family the report words
(``cause.sli_*``). A new code without wording fails here, not in a reader's report.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pmrecon.report.causes import FAMILIES, OWN_NOTICE, cause_key
from pmrecon.wording import CATALOGUES

ROOT = Path(__file__).parents[2]
PACKAGES = ("pmrecon", "connectors")


def _code_arg(call: ast.Call) -> ast.expr | None:
    """The expression giving the code of a warning-making call, None for another call."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    if name in ("Warning", "WarningFinding"):
        for kw in call.keywords:
            if kw.arg == "code":
                return kw.value
        return call.args[2] if len(call.args) > 2 else None
    receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
    if name == "warning" and receiver.endswith("session") and call.args:
        return call.args[0]
    if name == "warn" and receiver.endswith("ctx") and len(call.args) > 1:
        return call.args[1]
    return None


def emitted_codes(source: str) -> tuple[set[str], set[str]]:
    """(literal codes, literal prefixes of f-string codes) of the warnings ``source`` makes."""
    codes: set[str] = set()
    prefixes: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        arg = _code_arg(node) if isinstance(node, ast.Call) else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            codes.add(arg.value)
        elif isinstance(arg, ast.JoinedStr):
            head = arg.values[0] if arg.values else None
            prefixes.add(head.value if isinstance(head, ast.Constant) else "")
    return codes, prefixes


def all_emitted() -> tuple[set[str], set[str]]:
    codes: set[str] = set()
    prefixes: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found, heads = emitted_codes(path.read_text(encoding="utf-8"))
            codes |= found
            prefixes |= heads
    return codes, prefixes


def unworded(codes: set[str], prefixes: set[str], lang: str) -> list[str]:
    missing = [c for c in sorted(codes) if c not in OWN_NOTICE and cause_key(c, lang) is None]
    missing += [f"{p}*" for p in sorted(prefixes) if p not in FAMILIES]
    entries = CATALOGUES[lang]
    for code in sorted(codes | {f"{p}x" for p in prefixes if p in FAMILIES}):
        key = cause_key(code, lang)
        if key is not None and f"fix.{key}" not in entries:
            missing.append(f"fix.{key}")
    return missing


def test_the_scan_finds_the_codes_of_every_producer() -> None:
    codes, prefixes = all_emitted()
    # one of each way a warning is made: connector, Elasticsearch session, analysis, output
    assert {"metric_missing", "signatures_truncated", "gaps", "interrupted_after_commit"} <= codes
    assert len(codes) >= 35 and prefixes == {"sli_"}


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_emitted_code_has_a_cause_and_a_fix(lang: str) -> None:
    codes, prefixes = all_emitted()
    assert unworded(codes, prefixes, lang) == []


def test_a_new_code_without_wording_is_reported() -> None:
    source = """
warnings.append(Warning(name, "x", code="brand_new"))
warnings.append(Warning(name, "x", "positional_new"))
warnings.append(session.warning("session_new", "text"))
ctx.warn("text", "analysis_new", sli="x")
log.warning("not a code")
warnings.append(Warning(name, "x", code=f"odd_{kind}"))
warnings.append(Warning(name, "x", code=f"sli_{kind}"))
"""
    codes, prefixes = emitted_codes(source)
    assert codes == {"brand_new", "positional_new", "session_new", "analysis_new"}
    assert unworded(codes, prefixes, "fr") == [
        "analysis_new",
        "brand_new",
        "positional_new",
        "session_new",
        "odd_*",
    ]
