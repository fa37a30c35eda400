"""report.html: the post-mortem's Markdown as one self-contained, offline HTML page.

The Markdown (the same text as postmortem.md) is rendered with markdown-it-py with raw
HTML disabled, so whatever a log line or a label holds stays text. Where the Markdown
shows a graph's PNG, the page shows the interactive figure instead (plotly.js from the
report folder's ``graphs/plotly.min.js``, shared with the graph pages), and a link to a
graph (a lead's) goes to that figure on the page. A
Content-Security-Policy lets only the page's own scripts run: each inline one by its
SHA-256, files from the page's own origin; nothing is fetched from anywhere.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from .offline import PLOTLY_FILE, content_security_policy


def markdown_renderer() -> Any:
    """CommonMark plus tables, strikethrough and footnotes; raw HTML stays text."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    # breaks: the template puts one field per line ("**Durée**: …"), as a reader expects.
    md = MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
    )
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    return md


def markdown_to_html(text: str, figures: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The Markdown as HTML, each graph PNG replaced by its interactive figure.

    Returns the HTML and the names of the figures placed (the first reference to a graph
    gets the figure; later ones link to it). A link to a graph's PNG or page becomes a link
    to its figure: every figure is on the page (here, or among the others at its end).
    """
    md = markdown_renderer()
    by_png = {str(f["png"]): f for f in figures if f.get("png")}
    by_html = {str(f["html"]): f for f in figures if f.get("html")}
    placed: list[str] = []
    tokens = md.parse(text)
    # A paragraph holding only images becomes a <div>: a figure cannot sit inside <p>.
    for i, tok in enumerate(tokens):
        if tok.type != "paragraph_open" or i + 2 >= len(tokens):
            continue
        inline = tokens[i + 1]
        children = inline.children or []
        if (
            children
            and all(
                c.type in ("image", "softbreak") or (c.type == "text" and not c.content.strip())
                for c in children
            )
            and any(c.type == "image" for c in children)
        ):
            tok.tag = "div"
            tok.attrSet("class", "pm-figures")
            tokens[i + 2].tag = "div"

    def render_image(self: Any, toks: Any, idx: int, options: Any, env: Any) -> str:
        tok = toks[idx]
        src = str(tok.attrGet("src") or "")
        alt = self.renderInlineAsText(tok.children or [], options, env)
        figure = by_png.get(src) or by_html.get(src)
        if figure is None:
            return (
                f'<img src="{html.escape(src)}" alt="{html.escape(alt)}" loading="lazy">'
                if _local_path(src)
                else f'<a href="{html.escape(src)}">{html.escape(alt or src)}</a>'
            )
        name = str(figure["name"])
        if name in placed:
            return f'<a class="pm-figref" href="#fig-{html.escape(name)}">{html.escape(alt or str(figure["title"]))}</a>'
        placed.append(name)
        return figure_block(figure)

    def render_link(self: Any, toks: Any, idx: int, options: Any, env: Any) -> str:
        # A link to a graph (a lead's "graph") goes to its figure on this page, not away.
        tok = toks[idx]
        href = str(tok.attrGet("href") or "")
        figure = by_png.get(href) or by_html.get(href)
        if figure is not None:
            tok.attrSet("href", f"#fig-{figure['name']}")
        return str(self.renderToken(toks, idx, options, env))

    md.add_render_rule("image", render_image)
    md.add_render_rule("link_open", render_link)
    return md.renderer.render(tokens, md.options, {}), placed


def _local_path(src: str) -> bool:
    """A relative path inside the report folder (no scheme, no traversal)."""
    return bool(src) and ":" not in src and not src.startswith(("/", "\\")) and ".." not in src


def figure_block(figure: Mapping[str, Any]) -> str:
    name = html.escape(str(figure["name"]))
    title = html.escape(str(figure["title"]))
    link = html.escape(str(figure.get("html") or ""))
    caption = f'{title} — <a href="{link}">{link}</a>' if link else title
    return (
        f'<figure class="pm-figure" id="fig-{name}">{figure["div"]}'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def render_report_html(
    env: Any,
    template_name: str,
    context: Mapping[str, Any],
    markdown: str,
    figures: Sequence[Mapping[str, Any]],
) -> str:
    """report.html: the rendered Markdown, figures embedded, the shared plotly.js, a strict CSP."""
    from .markdown import render

    body, placed = markdown_to_html(markdown, figures)
    rest = [f for f in figures if f["name"] not in placed]
    # The template writes the CSP as this token; it is replaced once the page (and so
    # the set of inline scripts) is final. Data cannot guess it.
    token = f"pmrecon-csp-{secrets.token_hex(16)}"
    page = render(
        template_name,
        {
            **context,
            "markdown": markdown,
            "body": Markup(body),
            "figures": [{**f, "block": Markup(figure_block(f))} for f in figures],
            "more_figures": [{**f, "block": Markup(figure_block(f))} for f in rest],
            "plotly_src": f"graphs/{PLOTLY_FILE}" if figures else "",
            "csp": token,
        },
        env,
    )
    return page.replace(token, content_security_policy(page), 1)


__all__ = ["markdown_to_html", "render_report_html"]
