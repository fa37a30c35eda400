"""The report room: findings and evidence in, the files people read out.

- ``markdown``: the Jinja environment (user templates first), the template context and the
  footnotes; ``postmortem.md`` is rendered from it.
- ``formatting``: numbers, times, durations and Markdown escapes, per language (the
  templates' filters).
- ``definitions``: the definitions of figures and instants in the report's language.
- ``graphs``: the figures (plotly), their offline HTML pages and their PNGs.
- ``htmlreport``: ``report.html``, the Markdown rendered with the interactive figures.
- ``offline``: plotly.js inline and the Content-Security-Policy shared by every page.

Words come from ``pmrecon.wording``. Nothing here writes files: ``pmrecon.output`` does.
"""

from __future__ import annotations

from .graphs import render_graphs
from .htmlreport import render_report_html
from .markdown import (
    make_environment,
    md_cell,
    md_code,
    md_fence_line,
    md_inline,
    render,
    report_context,
)

__all__ = [
    "make_environment",
    "md_cell",
    "md_code",
    "md_fence_line",
    "md_inline",
    "render",
    "render_graphs",
    "render_report_html",
    "report_context",
]
