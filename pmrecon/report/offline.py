"""What makes a page of the report work offline under a strict Content-Security-Policy.

One copy of plotly.js sits in the report folder (``graphs/plotly.min.js``), shared by
report.html and every graph page: nothing is fetched from anywhere, and the bundle is not
repeated in six pages. It is plotly.js's basic bundle (1.2 MB, shipped in ``vendor/``)
when it matches the installed plotly's version, else plotly's full bundle (4.8 MB). Each page's CSP lets run exactly its own inline scripts, each
allowed by its SHA-256, plus scripts from the page's own origin (``'self'``), which is what
allows the shared file: a hash with an ``integrity`` attribute would be stricter, but
browsers refuse integrity checks on ``file://`` pages, where reports are usually opened.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

_SCRIPT_OPEN = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
_SCRIPT_CLOSE = re.compile(r"</script", re.IGNORECASE)
_SCRIPT_SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)

#: The shared plotly.js, in the report folder's graphs/ (beside the graph pages).
PLOTLY_FILE = "plotly.min.js"


#: plotly.js's basic bundle (scatter, bar, pie), shipped with pmrecon: see vendor/README.md.
BASIC_BUNDLE = Path(__file__).parent / "vendor" / "plotly-basic.min.js"
#: The trace types the basic bundle draws; every figure pmrecon makes uses only these.
BASIC_TRACE_TYPES = frozenset({"scatter", "bar", "pie"})
_VERSION = re.compile(rb"plotly\.js(?: \([^)]*\))? v(\d+\.\d+\.\d+)")


def bundle_version(bundle: bytes) -> str | None:
    """The plotly.js version in a bundle's banner."""
    m = _VERSION.search(bundle[:300])
    return m.group(1).decode("ascii") if m else None


def full_bundle() -> bytes:
    """The full plotly.js bundle shipped with the installed plotly package."""
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / PLOTLY_FILE).read_bytes()


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """The plotly.js a report folder carries: the basic bundle if it matches plotly's version."""
    full = full_bundle()
    basic = BASIC_BUNDLE.read_bytes() if BASIC_BUNDLE.is_file() else b""
    # The figures are built by the installed plotly for its own plotly.js: an older or newer
    # basic bundle could misread them.
    if basic and bundle_version(basic) == bundle_version(full):
        return basic
    return full


def _scripts(page: str) -> list[tuple[str, str]]:
    """(opening tag, text) of every ``<script>`` element of ``page``."""
    out = []
    pos = 0
    while (m := _SCRIPT_OPEN.search(page, pos)) is not None:
        close = _SCRIPT_CLOSE.search(page, m.end())
        if close is None:
            break
        out.append((m.group(0), page[m.end() : close.start()]))
        pos = close.end()
    return out


def inline_scripts(page: str) -> list[str]:
    """The text of every inline ``<script>`` element of ``page``, as the browser will hash it."""
    return [body for tag, body in _scripts(page) if not _SCRIPT_SRC.search(tag)]


def content_security_policy(page: str) -> str:
    """A CSP for ``page`` allowing exactly its inline scripts (by hash), its own files, no network."""
    sources = sorted(
        {
            "'sha256-"
            + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
            + "'"
            for body in inline_scripts(page)
        }
    )
    if any(_SCRIPT_SRC.search(tag) for tag, _ in _scripts(page)):
        sources.insert(0, "'self'")
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(sources) or chr(39) + 'none' + chr(39)}",
            # plotly styles its SVG with inline styles and a <style> element of its own
            "style-src 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src data:",
            "connect-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


__all__ = [
    "BASIC_TRACE_TYPES",
    "PLOTLY_FILE",
    "bundle_version",
    "full_bundle",
    "content_security_policy",
    "inline_scripts",
    "plotly_js",
]
