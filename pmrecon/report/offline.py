"""What makes a page of the report work offline under a strict Content-Security-Policy.

report.html and every graph page carry plotly.js inline (nothing is fetched from
anywhere) and a CSP that lets exactly the page's own inline scripts run, each allowed by
its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

_SCRIPT_OPEN = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
_SCRIPT_CLOSE = re.compile(r"</script", re.IGNORECASE)


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the installed plotly package (works offline)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    text = path.read_text(encoding="utf-8")
    # A literal "</script" inside would end the inline script early.
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def inline_scripts(page: str) -> list[str]:
    """The text of every ``<script>`` element of ``page``, as the browser will hash it."""
    out = []
    pos = 0
    while (m := _SCRIPT_OPEN.search(page, pos)) is not None:
        close = _SCRIPT_CLOSE.search(page, m.end())
        if close is None:
            break
        out.append(page[m.end() : close.start()])
        pos = close.end()
    return out


def content_security_policy(page: str) -> str:
    """A CSP for ``page`` allowing exactly its inline scripts (by hash), and no network."""
    hashes = sorted(
        {
            "'sha256-"
            + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
            + "'"
            for body in inline_scripts(page)
        }
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(hashes) or chr(39) + 'none' + chr(39)}",
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


__all__ = ["content_security_policy", "inline_scripts", "plotly_js"]
