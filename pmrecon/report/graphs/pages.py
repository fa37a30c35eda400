"""Each figure as HTML: the ``<div>`` report.html embeds, and a page of its own.

A graph page loads plotly.js from the file beside it (``graphs/plotly.min.js``, shared with
report.html) under a Content-Security-Policy allowing only its own scripts: it opens
offline, like report.html, as long as it stays in its report folder.
"""

from __future__ import annotations

import html

from ..offline import PLOTLY_FILE, content_security_policy
from .canvas import Drawn, written

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def figure_div(d: Drawn) -> str:
    """The figure as an HTML ``<div>`` plus the script that draws it (plotly.js not included)."""
    import plotly.io as pio

    return str(
        pio.to_html(
            # Not validated again: plotly would copy the template into a new figure.
            written(d.fig),
            validate=False,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"pm-fig-{d.name}",
            config=PLOTLY_CONFIG,
            default_width="100%",
            default_height=f"{d.height}px",
        )
    )


def standalone_html(title: str, div: str, lang: str) -> str:
    """A complete page holding one figure, plotly.js read from the file beside it (offline)."""
    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="@CSP@">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
        "margin:1rem 2rem;color:#1f2933}</style>\n"
        f'<script src="{PLOTLY_FILE}"></script>\n</head>\n<body>\n'
        f"<h1>{html.escape(title)}</h1>\n{div}\n</body>\n</html>\n"
    )
    return page.replace("@CSP@", content_security_policy(page), 1)
