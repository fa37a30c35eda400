"""The output folder: postmortem.md, report.html, findings.json, graphs/, evidence/.

Every file is written atomically (temporary file, then rename), and only once everything
has rendered, so an interrupted or failed build leaves the previous report intact. A
rebuild merges what humans wrote in postmortem.md with the newly generated text, using the
last generated version kept in ``.pmrecon/`` as the common base.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .config import Config
from .errors import MergeConflict, OutputError
from .fsutil import atomic_write, public_dir, safe_child
from .links import make_links
from .merge import merge_rebuild
from .model import Evidence, rfc3339
from .report import make_environment, render, render_graphs, render_report_html, report_context
from .report.definitions import phrase_in_language

STATE_DIR = ".pmrecon"
MARKDOWN = "postmortem.md"
GRAPHS = "graphs"

NOTICE_TEXT = {
    "fr": {
        "unavailable": "Données indisponibles : {message}",
        "none": "Aucun incident détecté dans la fenêtre {start} → {end} : aucune alerte déclenchée, aucun SLI dégradé, aucun pic d'erreurs.",
        "ongoing_end": "Incident en cours à la fin de la fenêtre : il n'était pas résolu à {end}.",
        "ongoing_start": "Incident déjà en cours au début de la fenêtre ({start}) : le début réel peut être antérieur.",
        "others": "{n} autre(s) incident(s) dans la fenêtre (non analysés ici) : {list}.",
        "gap": "Données manquantes pendant l'incident : {service} de {start} à {end}.",
        "warning": "Avertissement ({source}) : {message}",
        "redacted": "Données sensibles masquées dans les extraits : {counts}.",
        "png_skipped": "Graphiques PNG non générés ; les graphiques interactifs de report.html sont complets (détail : {message}).",
    },
    "en": {
        "unavailable": "Data unavailable: {message}",
        "none": "No incident found in the window {start} → {end}: no alert fired, no SLI breached, no error burst.",
        "ongoing_end": "Incident still in progress at the end of the window: not resolved at {end}.",
        "ongoing_start": "Incident already in progress at the start of the window ({start}): the real start may be earlier.",
        "others": "{n} other incident(s) in the window (not analysed here): {list}.",
        "gap": "Missing data during the incident: {service} from {start} to {end}.",
        "warning": "Warning ({source}): {message}",
        "redacted": "Sensitive data masked in the excerpts: {counts}.",
        "png_skipped": "PNG graphs not written; the interactive graphs of report.html are complete ({message}).",
    },
}


def notices(
    findings: dict[str, Any], lang: str, fmt: Callable[[Any], str], redactions: dict[str, int]
) -> list[str]:
    """The plain-language notices at the top of the report: edge cases are said, never hidden."""
    text = NOTICE_TEXT[lang]
    out: list[str] = []
    for w in findings.get("warnings", []):
        key = {"source_unavailable": "unavailable", "png_skipped": "png_skipped"}.get(
            str(w.get("code")), "warning"
        )
        message = str(w.get("message", ""))
        message = phrase_in_language(message, lang, "warning.") or message
        out.append(text[key].format(message=message, source=w.get("source", "")))
    inc = findings.get("incident") or {}
    window = findings["window"]
    if not inc.get("found"):
        out.append(text["none"].format(start=fmt(window["from"]), end=fmt(window["to"])))
    if inc.get("ongoing_at_start"):
        out.append(text["ongoing_start"].format(start=fmt(window["from"])))
    if inc.get("ongoing_at_end"):
        out.append(text["ongoing_end"].format(end=fmt(window["to"])))
    others = findings.get("other_incidents") or []
    if others:
        listing = ", ".join(
            f"{fmt(o.get('impact_start'))}–{fmt(o.get('resolution')) or '…'} ({', '.join(o.get('services') or [])})"
            for o in others
        )
        out.append(text["others"].format(n=len(others), list=listing))
    for g in findings.get("gaps") or []:
        out.append(
            text["gap"].format(
                service=g.get("service"), start=fmt(g.get("start")), end=fmt(g.get("end"))
            )
        )
    if redactions:
        counts = ", ".join(f"{k} × {v}" for k, v in sorted(redactions.items()))
        out.append(text["redacted"].format(counts=counts))
    return out


def log_lines(evidence: Evidence, limit: int, findings: dict[str, Any] | None = None) -> list[str]:
    """Sample log lines for the annex (already redacted by the connector).

    Lines from the incident itself come first (from five minutes before impact start to
    resolution), then the others; each group is shown oldest first.
    """
    if evidence.logs is None:
        return []
    from .model import parse_rfc3339

    inc = (findings or {}).get("incident") or {}
    lo = parse_rfc3339(inc["impact_start"]).timestamp() - 300 if inc.get("impact_start") else None
    hi = parse_rfc3339(inc["resolution"]).timestamp() if inc.get("resolution") else None

    def outside(ts: float) -> bool:
        return lo is not None and (ts < lo or (hi is not None and ts > hi))

    chosen = sorted(
        evidence.logs.samples, key=lambda s: (outside(s.timestamp.timestamp()), s.timestamp)
    )[:limit]
    lines = []
    for s in sorted(chosen, key=lambda s: s.timestamp):
        level = (s.level or "").upper()
        lines.append(f"{rfc3339(s.timestamp)} {level} {s.service or '-'}: {s.message}")
    return lines


def _multi_day(findings: dict[str, Any], tz: str) -> bool:
    import zoneinfo

    from .model import parse_rfc3339

    inc = findings.get("incident") or {}
    times = [inc.get(k) for k in ("impact_start", "end", "resolution")] + [
        findings["window"]["from"],
        findings["window"]["to"],
    ]
    zone = zoneinfo.ZoneInfo(tz)
    days = {parse_rfc3339(t).astimezone(zone).date() for t in times if t}
    return len(days) > 1


def write_outputs(
    out: Path,
    *,
    config: Config,
    evidence: Evidence,
    findings: dict[str, Any],
    title: str,
    generated_at: str,
    png: bool,
    force: bool,
    write_evidence: Callable[[Path], None],
    progress: Callable[[str], None],
) -> Any:
    """Render everything, then write it into ``out``; return a BuildResult.

    Nothing is written until every part has rendered: a failing template, figure or
    merge leaves the previous report as it was.
    """
    from .findings import findings_document
    from .result import BuildResult, findings_json_bytes

    lang = config["language"]
    tz = config["timezone"]
    state_dir = safe_child(out, STATE_DIR)
    check_targets(out)
    state = _read_state(state_dir)
    created = state.get("created_at") or generated_at
    multi_day = _multi_day(findings, tz)
    env = make_environment(config["report"]["template_dir"], lang, tz, multi_day=multi_day)
    fmt = env.filters["dt"]
    redactions = dict(evidence.logs.redactions) if evidence.logs is not None else {}

    progress("drawing graphs")
    graphs, graph_files, extra_warnings = render_graphs(
        evidence, findings, tz=tz, lang=lang, png=png
    )
    for w in extra_warnings:
        progress(f"warning: {w.message}")
    if extra_warnings:
        findings.setdefault("warnings", []).extend(
            {"source": w.source, "message": w.message, "code": w.code} for w in extra_warnings
        )

    links = make_links(config, findings)
    context = report_context(
        findings,
        lang=lang,
        tz=tz,
        title=title,
        notices=notices(findings, lang, fmt, redactions),
        log_lines=log_lines(evidence, int(config["report"]["max_log_lines"]), findings),
        graphs=graphs,
        links=links,
        created=created,
        generated=generated_at,
    )
    generated_md = render(f"postmortem.{lang}.md.j2", context, env)

    md_path = safe_child(out, MARKDOWN)
    final_md, conflicts = generated_md, 0
    if md_path.is_symlink():
        raise OutputError(f"refusing to read or write {md_path}: it is a symbolic link")
    previous = md_path.read_text(encoding="utf-8") if md_path.exists() else None
    if previous is not None and not force:
        base_path = state_dir / "last-generated.md"
        base = base_path.read_text(encoding="utf-8") if base_path.is_file() else None
        final_md, conflicts = merge_rebuild(base, previous, generated_md)

    # report.html shows what postmortem.md says, human edits included.
    progress("rendering report.html")
    html_env = make_environment(
        config["report"]["template_dir"], lang, tz, html=True, multi_day=multi_day
    )
    html = render_report_html(html_env, f"report.{lang}.html.j2", context, final_md, graphs)

    findings_out = findings_document(findings, title=title, generated_at=generated_at)
    findings_bytes = findings_json_bytes(findings_out)
    state_bytes = json.dumps({"created_at": created, "last_build": generated_at}, indent=1) + "\n"
    progress("writing files")
    if previous is not None and force:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        backup = safe_child(out, f"{STATE_DIR}/backup-{stamp}-{MARKDOWN}")
        atomic_write(backup, previous)
        progress(f"previous {MARKDOWN} saved as {backup}")
    # Everything is written into a staging folder inside ``out`` first, then moved into
    # place by renames, with Ctrl-C and SIGTERM held back: a report never mixes the new
    # evidence with the old text, and a failure half-way puts the old files back.
    with staging_dir(out) as stage:
        write_evidence(stage / "evidence")
        graphs_dir = stage / GRAPHS
        graphs_dir.mkdir()
        for name, data in graph_files.items():
            atomic_write(safe_child(graphs_dir, name), data)
        # postmortem.md is placed before last-generated.md: were the two ever to part, the
        # next rebuild would see pmrecon's new lines on both sides (no conflict), never the
        # human's old lines passed off as edits.
        contents: dict[str, bytes | str] = {
            "findings.json": findings_bytes,
            "report.html": html,
            MARKDOWN: final_md,
            f"{STATE_DIR}/last-generated.md": generated_md,
            f"{STATE_DIR}/state.json": state_bytes,
        }
        for name, content in contents.items():
            atomic_write(stage / name, content)
        commit(out, stage, ["evidence", GRAPHS, *contents])
    written = [out / "evidence", *(out / GRAPHS / name for name in sorted(graph_files))]
    written += [out / "findings.json", out / "report.html", md_path]
    result = BuildResult(
        out_dir=out,
        findings=findings_out,
        files=written,
        warnings=list(evidence.warnings) + list(extra_warnings),
        conflicts=conflicts,
    )
    if conflicts:
        exc = MergeConflict(
            f"{md_path}: {conflicts} conflict(s) between your edits and regenerated lines, marked with "
            f"<<<<<<< / >>>>>>>; resolve them by hand (or rebuild with --force to start over, keeping a backup)"
        )
        exc.result = result  # type: ignore[attr-defined]
        raise exc
    return result


#: Every path a build replaces, folders first (checked before anything is written).
OUTPUT_DIRS = ("evidence", GRAPHS)
OUTPUT_FILES = (
    "findings.json",
    "report.html",
    MARKDOWN,
    f"{STATE_DIR}/last-generated.md",
    f"{STATE_DIR}/state.json",
)


def check_targets(out: Path) -> None:
    """Refuse, before writing anything, an output whose paths are symlinks or of the wrong kind."""
    state = safe_child(out, STATE_DIR)
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise OutputError(f"refusing to write under {state}: not a plain folder; remove it first")
    for name in OUTPUT_DIRS + OUTPUT_FILES:
        path = safe_child(out, name)
        if path.is_symlink():
            raise OutputError(f"refusing to write {path}: it is a symbolic link; remove it first")
        wrong = path.is_file() if name in OUTPUT_DIRS else path.is_dir()
        if path.exists() and wrong:
            kind = "folder" if name in OUTPUT_DIRS else "file"
            raise OutputError(f"refusing to replace {path}: not a plain {kind}; remove it first")


def _staged_name(name: str) -> str:
    return name.replace("/", "__")


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A private folder inside ``out`` (same file system: renames are atomic), always removed."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".build-*.tmp"):
        # Left by a build that was killed (SIGKILL, power loss) an hour or more ago.
        with contextlib.suppress(OSError):
            if stale.is_dir() and time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale)
    stage = Path(tempfile.mkdtemp(prefix=".build-", suffix=".tmp", dir=out))
    public_dir(stage)
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back (main thread only) and deliver them when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            signal.raise_signal(received[0])


def commit(out: Path, stage: Path, names: list[str]) -> None:
    """Move each staged ``name`` over ``out/name``; on any failure, put every old one back."""
    aside = stage / ".old"
    aside.mkdir()
    done: list[tuple[Path, Path | None]] = []
    with signals_held():
        try:
            safe_child(out, STATE_DIR).mkdir(exist_ok=True)
            for name in names:
                target, new = out / name, stage / name
                old = None
                if target.exists():
                    old = aside / _staged_name(name)
                    target.rename(old)
                done.append((target, old))
                new.rename(target)
        except BaseException as exc:
            for target, old in reversed(done):
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                elif target.exists():
                    target.unlink()
                if old is not None:
                    old.rename(target)
            if isinstance(exc, OSError):
                raise OutputError(
                    f"cannot move the new report into {out}: {exc.strerror or exc}; "
                    "the previous report is intact, fix the folder and rebuild"
                ) from None
            raise


def _read_state(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


__all__ = ["OutputError", "write_outputs"]
