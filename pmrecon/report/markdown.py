"""Render findings into the post-mortem: Markdown from Jinja2 templates, formatted per language.

Templates are looked up user-first (``--template-dir`` / ``report.template_dir``), then the
built-in ones; a user template can ``{% extends "default:postmortem.fr.md.j2" %}``. Rendering
happens in a sandboxed environment with ``StrictUndefined``: a template naming a missing
variable fails with the template's name and line.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .. import __version__
from ..errors import RenderError
from ..wording import catalogue, text
from .definitions import in_language, phrase_in_language
from .formatting import Formatter, md_cell, md_code, md_fence_line, md_inline
from .leads import LeadWriter, lead_footnotes, lead_graph

#: The key instants the templates name (``labels``), by their name in findings.json.
LABELLED_INSTANTS = (
    "impact_start",
    "first_alert",
    "acknowledged",
    "mitigation_start",
    "resolution",
    "end",
)


def builtin_template_dir() -> Path:
    """The built-in templates: inside the installed package, else the checkout's ``templates/``."""
    try:
        packaged = Path(str(resources.files("pmrecon") / "templates"))
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


def make_environment(
    template_dir: str | Path | None,
    lang: str,
    tz: str,
    *,
    html: bool = False,
    multi_day: bool = False,
) -> SandboxedEnvironment:
    """A sandboxed Jinja environment with pmrecon's filters; user templates first."""
    builtin = jinja2.FileSystemLoader(str(builtin_template_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        path = Path(template_dir)
        if not path.is_dir():
            raise RenderError(
                f"template folder {path} does not exist; fix --template-dir or report.template_dir"
            )
        loaders.append(jinja2.FileSystemLoader(str(path)))
    loaders.append(builtin)
    loader = jinja2.ChoiceLoader(
        [jinja2.PrefixLoader({"default": builtin}, delimiter=":"), *loaders]
    )
    env = SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    fmt = Formatter(lang, tz, multi_day)
    leads = LeadWriter(lang, fmt)
    env.filters.update(
        cascade=leads.cascade,
        lead=leads.lead,
        detection_gap=leads.gap,
        lead_graph=lead_graph,
        source_kind=lambda value: source_kind(value, lang),
        impact=lambda value: text_or(lang, f"report.impact.{value}", value),
        sli=lambda value: text_or(lang, f"report.sli.{value}", value),
        hm=fmt.hm,
        dt=fmt.dt,
        dur=fmt.dur,
        minutes=fmt.minutes,
        pct=fmt.pct,
        ms=fmt.ms,
        num=fmt.num,
        quantile=fmt.quantile,
        cell=md_cell,
        inline=md_inline,
        code=md_code,
        fence=md_fence_line,
    )
    return env


def text_or(lang: str, key: str, default: Any) -> Any:
    """The catalogue's text ``key`` in ``lang``, else ``default`` (data, shown as it is)."""
    return catalogue(lang).get(key, default)


def source_kind(source: Any, lang: str) -> Any:
    """The kind of evidence behind an instant in words ("metrics"), or a source's own name."""
    return text_or(lang, f"report.source.{source}", source)


def render(template_name: str, context: Mapping[str, Any], env: SandboxedEnvironment) -> str:
    """Render a template; any template problem becomes a one-line RenderError."""
    try:
        template = env.get_template(template_name)
        return template.render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"template {exc.name or template_name} line {exc.lineno}: {exc.message}; fix the template"
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"template {exc.name!r} not found in --template-dir or the built-in templates"
        ) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(
            f"template {template_name}{_line_of(exc)}: {exc.message}; fix the template"
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(f"template {template_name}: unsafe operation refused ({exc})") from None
    except (
        TypeError,
        ValueError,
        KeyError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
    ) as exc:
        raise RenderError(
            f"template {template_name}{_line_of(exc)}: {type(exc).__name__}: {exc}; fix the template"
        ) from None


def _line_of(exc: BaseException) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = f" ({Path(tb.tb_frame.f_code.co_filename).name} line {tb.tb_lineno})"
        tb = tb.tb_next
    return line or ""


def footnotes(findings: Mapping[str, Any], lang: str = "en") -> list[dict[str, str]]:
    """One footnote per figure and instant: its definition, its source and the query behind it."""
    word = text(lang, "report.source")
    queries: dict[str, dict[str, Any]] = {}
    for src in findings.get("sources", []):
        for q in src.get("queries", []):
            queries[q["id"]] = q
    notes = []
    items = list(findings.get("figures", {}).items()) + [
        (
            name,
            {
                "definition": i.get("definition"),
                "source": i.get("source"),
                "query_refs": [i["ref"]] if i.get("ref") else [],
                "query_services": i.get("query_services") or {},
            },
        )
        for name, i in findings.get("instants", {}).items()
        if i and i.get("at")
    ]
    items += lead_footnotes(findings, lang)
    for key, fig in items:
        # Pre-rendered Markdown: prose escaped, queries as code spans (they hold [ ] _ * ...).
        parts = []
        if fig.get("definition"):
            definition = str(fig["definition"]).rstrip(".") + "."
            parts.append(md_inline(in_language(definition, lang)))
        if fig.get("source"):
            parts.append(f"{word} {md_inline(source_kind(fig['source'], lang))}")
        for ref in fig.get("query_refs") or []:
            q = queries.get(ref)
            if q is None:
                parts.append(f"ref {md_code(ref)}")
                continue
            query = (
                q["query"]
                if isinstance(q["query"], str)
                else json.dumps(q["query"], sort_keys=True)
            )
            if len(query) > 300:
                query = query[:297] + "..."
            # A purpose the catalogue lacks is left out rather than shown in another language.
            purpose = phrase_in_language(str(q.get("purpose", "")), lang, "query.")
            # A grouped query names every service: say which of them the figure rests on.
            read = (fig.get("query_services") or {}).get(ref) or []
            said = [md_inline(purpose)] if purpose else []
            said += [services_read(read, lang)] if read else []
            label = f" ({', '.join(said)})" if said else ""
            parts.append(f"{md_code(ref)}{label} {md_code(query)}")
        notes.append({"key": re.sub(r"[^A-Za-z0-9_-]", "_", key), "text": " — ".join(parts)})
    return notes


#: Most services a footnote names for one grouped query; the others are counted.
FOOTNOTE_SERVICES = 5


def services_read(services: list[str], lang: str) -> str:
    """The services of a grouped query a figure rests on, as its footnote says them (Markdown)."""
    shown = ", ".join(md_inline(s) for s in services[:FOOTNOTE_SERVICES])
    if len(services) == 1:
        return text(lang, "report.footnote.service", service=shown)
    if len(services) <= FOOTNOTE_SERVICES:
        return text(lang, "report.footnote.services", services=shown)
    return text(
        lang, "report.footnote.services_more", services=shown, n=len(services) - FOOTNOTE_SERVICES
    )


def report_context(
    findings: Mapping[str, Any],
    *,
    lang: str,
    tz: str,
    title: str,
    notices: list[str],
    log_lines: list[str],
    graphs: list[dict[str, str]],
    links: Mapping[str, Any],
    created: str,
    generated: str,
) -> dict[str, Any]:
    """Everything the templates see; every key always present so StrictUndefined never trips."""
    inc = dict(findings.get("incident") or {})
    for key in ("max_error_rate", "max_latency_seconds", "availability", "error_budget_consumed"):
        inc[key] = inc.get(key) or {}
        inc[key].setdefault("value", None)
    notes = footnotes(findings, lang)
    top = list(findings.get("top_errors", []))
    timeline = list(findings.get("timeline", []))
    tzname = zoneinfo.ZoneInfo(tz).key
    words = catalogue(lang)
    return {
        "version": __version__,
        "title": title,
        "f": findings,
        "inc": _Obj(inc),
        "instants": findings.get("instants", {}),
        "alerts": findings.get("alerts", []),
        "timeline": timeline,
        "suspects": [e for e in top if e.get("new_since_baseline")][:10],
        # null novelty: no logs in the baseline nor before impact start to tell new from old
        "novelty_unknown": (
            words["report.novelty_unknown"]
            if any(e.get("new_since_baseline", False) is None for e in top)
            else None
        ),
        "top_errors": top,
        "changes": [
            e
            for e in timeline
            if e.get("kind") in ("deploy", "rollback", "config_change", "change")
        ],
        "notices": notices,
        "log_lines": log_lines,
        "fence": "`"
        * max(
            3, 1 + max((len(r) for line in log_lines for r in re.findall(r"`+", line)), default=0)
        ),
        "graphs": graphs,
        "links": {"grafana": [], "kibana": None, "evidence": "evidence/", **links},
        "footnotes": notes,
        "footnote_keys": {n["key"] for n in notes},
        # Filled by the templates' fn macro as they reference footnotes (see _macros.j2).
        "used_footnotes": [],
        # Filled by the graph_image macro: the graphs shown in the text, left out of graphs_inline.
        "placed_graphs": [],
        "labels": {name: words[f"report.instant.{name}"] for name in LABELLED_INSTANTS},
        "tzname": tzname,
        "created": created,
        "generated": generated,
    }


class _Obj(dict[str, Any]):
    """A dict whose missing keys read as None in templates (findings may omit optional keys)."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Obj(value) if isinstance(value, dict) and not isinstance(value, _Obj) else value
