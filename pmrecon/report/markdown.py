"""Render findings into the post-mortem: Markdown from Jinja2 templates, formatted per language.

Templates are looked up user-first (``--template-dir`` / ``report.template_dir``), then the
built-in ones; a user template can ``{% extends "default:postmortem.fr.md.j2" %}``. Rendering
happens in a sandboxed environment with ``StrictUndefined``: a template naming a missing
variable fails with the template's name and line.
"""

from __future__ import annotations

import datetime as dt
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
from ..model import parse_rfc3339

LABELS = {
    "fr": {
        "impact_start": "Début d'impact mesuré",
        "first_alert": "Première alerte",
        "acknowledged": "Prise en compte",
        "mitigation_start": "Début de mitigation détecté",
        "resolution": "SLI rétablis",
        "end": "Alertes résolues et stabilité confirmée",
    },
    "en": {
        "impact_start": "Measured impact start",
        "first_alert": "First alert",
        "acknowledged": "Acknowledged",
        "mitigation_start": "Mitigation start detected",
        "resolution": "SLIs back to normal",
        "end": "Alerts resolved, stability confirmed",
    },
}


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
    env.filters.update(
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


class Formatter:
    """Numbers, times and durations the way a reader of ``lang`` expects them."""

    def __init__(self, lang: str, tz: str, multi_day: bool = False) -> None:
        self.lang = lang
        self.zone = zoneinfo.ZoneInfo(tz)
        self.multi_day = multi_day

    def _time(self, value: Any) -> dt.datetime | None:
        if value is None or value == "":
            return None
        t = value if isinstance(value, dt.datetime) else parse_rfc3339(str(value))
        return t.astimezone(self.zone)

    def hm(self, value: Any) -> str:
        t = self._time(value)
        if t is None:
            return ""
        return t.strftime("%Y-%m-%d %H:%M") if self.multi_day else t.strftime("%H:%M")

    def dt(self, value: Any) -> str:
        t = self._time(value)
        return "" if t is None else f"{t.strftime('%Y-%m-%d %H:%M')} ({t.tzname()})"

    def dur(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        total = int(round(float(seconds) / 60.0))
        days, rest = divmod(total, 1440)
        hours, minutes = divmod(rest, 60)
        words = {
            "fr": (("jour", "jours"), ("heure", "heures"), ("minute", "minutes")),
            "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes")),
        }[self.lang]
        parts = []
        for n, (one, many) in zip((days, hours, minutes), words):
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        if not parts:
            secs = int(round(float(seconds)))
            return f"{secs} s"
        return " ".join(parts)

    def minutes(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        m = float(seconds) / 60.0
        text = f"{m:.1f}" if m < 10 else f"{m:.0f}"
        text = text.removesuffix(".0")
        if self.lang == "fr":
            text = text.replace(".", ",")
        return f"{text} minute{'s' if m >= 2 or m == 0 else ''}"

    def pct(self, ratio: Any, digits: int = 2) -> str:
        if ratio is None:
            return ""
        text = f"{float(ratio) * 100:.{digits}f}"
        return f"{text.replace('.', ',')} %" if self.lang == "fr" else f"{text}%"

    def ms(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        return f"{self.num(round(float(seconds) * 1000))} ms"

    def num(self, value: Any) -> str:
        if value is None:
            return ""
        text = f"{int(value):,}"
        return text.replace(",", "\u202f") if self.lang == "fr" else text

    def quantile(self, q: Any) -> str:
        if q is None:
            return ""
        return f"{float(q) * 100:g}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def md_inline(value: Any) -> str:
    """Text that stays text in Markdown: no markup, no HTML, one line."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_cell(value: Any) -> str:
    """Text for a Markdown table cell: escaped like inline text, ``|`` cannot end the cell."""
    return md_inline(value)


def md_code(value: Any) -> str:
    """A complete code span that holds any text, backticks included."""
    text = " ".join(str(value).split())
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_fence_line(value: Any) -> str:
    """One line inside a fenced block: a run of three backticks cannot close the fence."""
    text = " ".join(str(value).split())
    return re.sub(r"`{3,}", lambda m: "`\u200b" * len(m.group(0)), text)


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
    from .definitions import to_french

    word = "source :" if lang == "fr" else "source:"
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
            },
        )
        for name, i in findings.get("instants", {}).items()
        if i and i.get("at")
    ]
    for key, fig in items:
        # Pre-rendered Markdown: prose escaped, queries as code spans (they hold [ ] _ * ...).
        parts = []
        if fig.get("definition"):
            text = str(fig["definition"]).rstrip(".") + "."
            parts.append(md_inline(to_french(text) if lang == "fr" else text))
        if fig.get("source"):
            parts.append(f"{word} {md_inline(fig['source'])}")
        for ref in fig.get("query_refs") or []:
            q = queries.get(ref)
            if q is None:
                parts.append(f"ref {md_code(ref)}")
                continue
            text = (
                q["query"]
                if isinstance(q["query"], str)
                else json.dumps(q["query"], sort_keys=True)
            )
            if len(text) > 300:
                text = text[:297] + "..."
            parts.append(f"{md_code(ref)} ({md_inline(q.get('purpose', ''))}) {md_code(text)}")
        notes.append({"key": re.sub(r"[^A-Za-z0-9_-]", "_", key), "text": " — ".join(parts)})
    return notes


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
    return {
        "version": __version__,
        "title": title,
        "f": findings,
        "inc": _Obj(inc),
        "instants": findings.get("instants", {}),
        "alerts": findings.get("alerts", []),
        "timeline": timeline,
        "suspects": [e for e in top if e.get("new_since_baseline")][:10],
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
        "labels": LABELS[lang],
        "tzname": tzname,
        "created": created,
        "generated": generated,
    }


class _Obj(dict[str, Any]):
    """A dict whose missing keys read as None in templates (findings may omit optional keys)."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Obj(value) if isinstance(value, dict) and not isinstance(value, _Obj) else value
