"""PNG export: every figure of a report rendered by kaleido in ONE Chromium session.

Starting Chromium costs ~3 s, rendering one more figure ~0.3 s. A missing browser, a
failure or a timeout skips the PNGs with one warning; the interactive graphs are complete
without them. kaleido is imported only when PNGs are asked for.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Sequence
from typing import Any

from ...model import Warning
from ...wording import FINDINGS_LANGUAGE, text
from .canvas import Drawn, written

#: Seconds allowed to render one figure, and to export all of them.
FIGURE_TIMEOUT = 60.0
EXPORT_TIMEOUT = 180.0

# The warnings are in findings.json's language; a report's notice shows its own (warning.*).
NO_CHROMIUM = text(FINDINGS_LANGUAGE, "warning.no_chromium")


def find_chromium() -> str | None:
    """The browser kaleido should drive: ``$BROWSER_PATH``, else Chromium or Chrome on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def export_pngs(
    drawn: Sequence[Drawn], *, timeout: float = EXPORT_TIMEOUT
) -> tuple[dict[str, bytes], Warning | None]:
    """PNG bytes per figure name, all rendered in one Chromium session; a Warning if skipped."""
    browser = find_chromium()
    if browser is None:
        where = os.environ.get("BROWSER_PATH")
        message = (
            text(FINDINGS_LANGUAGE, "warning.no_chromium_at", where=repr(where))
            if where
            else NO_CHROMIUM
        )
        return {}, Warning(source="graphs", message=message, code="png_skipped")
    box: dict[str, Any] = {}

    def run() -> None:
        # A thread of our own: asyncio.run() cannot nest in a caller's running loop.
        try:
            box["images"] = asyncio.run(_export(drawn, browser))
        except BaseException as exc:  # noqa: BLE001 - reported as a warning below
            box["error"] = exc

    worker = threading.Thread(target=run, name="pmrecon-png", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {}, Warning(
            source="graphs",
            message=text(FINDINGS_LANGUAGE, "warning.png_timeout", seconds=f"{timeout:.0f}"),
            code="png_skipped",
        )
    error = box.get("error")
    if error is not None:
        if type(error).__name__ == "ChromeNotFoundError":
            return {}, Warning(source="graphs", message=NO_CHROMIUM, code="png_skipped")
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        return {}, Warning(
            source="graphs",
            message=text(FINDINGS_LANGUAGE, "warning.png_failed", browser=browser, reason=reason),
            code="png_skipped",
        )
    images: dict[str, bytes] = box.get("images", {})
    return images, None


async def _export(drawn: Sequence[Drawn], browser: str) -> dict[str, bytes]:
    import kaleido

    out: dict[str, bytes] = {}
    # mathjax=False: kaleido would otherwise fetch MathJax from a CDN; plotly.js comes
    # from the installed plotly package, so the export works offline.
    async with kaleido.Kaleido(n=1, timeout=FIGURE_TIMEOUT, mathjax=False, path=browser) as k:
        for d in drawn:
            out[d.name] = await k.calc_fig(
                written(d.fig, d.png_layout),
                opts={"format": "png", "width": d.width, "height": d.height, "scale": 1},
            )
    return out
