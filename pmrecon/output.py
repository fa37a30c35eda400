"""The output folder: postmortem.md, report.html, findings.json, graphs/, evidence/.

Nothing is written until everything has rendered; then every file is staged and moved into
place under a journal, so a failed, interrupted or killed build leaves the previous report
or the new one, whole. pmrecon replaces only files it wrote (recorded, with their hashes,
in ``.pmrecon/state.json``); a person's own files beside them are left alone. A rebuild
merges what humans wrote in postmortem.md with the newly generated text, using the last
generated version kept in ``.pmrecon/`` as the common base.
"""

from __future__ import annotations

import codecs
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import wording
from .commit import (
    Move,
    bytes_record,
    commit_moves,
    file_record,
    holding_output_lock,
    matches,
    save_backup,
    staging_area,
)
from .config import Config
from .errors import MergeConflict, OutputError
from .findings import ReportTimes
from .fsutil import STATE_DIR, atomic_write, read_plain, require_plain, safe_child
from .links import make_links
from .merge import merge_rebuild
from .model import Evidence, Warning, rfc3339
from .report import make_environment, render, render_graphs, render_report_html, report_context
from .report.causes import OWN_NOTICE, warning_lines, with_fix
from .report.definitions import phrase_in_language

MARKDOWN = "postmortem.md"
GRAPHS = "graphs"
STATE = f"{STATE_DIR}/state.json"
BASE = f"{STATE_DIR}/last-generated.md"  # the merge base: what pmrecon generated last time


def notices(
    findings: dict[str, Any], lang: str, fmt: Callable[[Any], str], redactions: dict[str, int]
) -> list[str]:
    """The plain-language notices at the top of the report: edge cases are said, never hidden."""

    def text(key: str, **values: Any) -> str:
        return wording.text(lang, f"notice.{key}", **values)

    out: list[str] = []
    warnings = findings.get("warnings", [])
    for w in warnings:
        if str(w.get("code")) in OWN_NOTICE:
            message = str(w.get("message", ""))
            message = phrase_in_language(message, lang, "warning.") or message
            out.append(
                wording.text(
                    lang,
                    OWN_NOTICE[str(w.get("code"))],
                    message=message,
                    source=str(w.get("source", "")),
                )
            )
    # The notices below say what some analysis warnings say, with the times: the warning's
    # fix joins its notice (code -> that notice's line) instead of a second line.
    said: dict[str, int] = {}
    situation: list[str] = []
    inc = findings.get("incident") or {}
    window = findings["window"]
    if not inc.get("found"):
        situation.append(text("none", start=fmt(window["from"]), end=fmt(window["to"])))
    # an impact start found before the window has its own warning: no "may be earlier" here
    found_before = ((findings.get("instants") or {}).get("impact_start") or {}).get(
        "found_before_window"
    )
    if inc.get("ongoing_at_start") and not found_before:
        said["ongoing_at_start"] = len(situation)
        situation.append(text("ongoing_start", start=fmt(window["from"])))
    if inc.get("ongoing_at_end"):
        situation.append(text("ongoing_end", end=fmt(window["to"])))
    others = findings.get("other_incidents") or []
    if others:
        listing = ", ".join(
            f"{fmt(o.get('impact_start'))}–{fmt(o.get('resolution')) or '…'} ({', '.join(o.get('services') or [])})"
            for o in others
        )
        said["several_incidents"] = len(situation)
        situation.append(text("others", n=len(others), list=listing))
    for g in findings.get("gaps") or []:
        said["gaps"] = len(situation)
        situation.append(
            text("gap", service=g.get("service"), start=fmt(g.get("start")), end=fmt(g.get("end")))
        )
    for code, at in said.items():
        situation[at] = with_fix(situation[at], code, warnings, lang)
    out.extend(warning_lines(warnings, lang, said=said))
    out.extend(situation)
    if redactions:
        counts = ", ".join(f"{k} × {v}" for k, v in sorted(redactions.items()))
        out.append(text("redacted", counts=counts))
    return out


def log_lines(evidence: Evidence, limit: int, findings: dict[str, Any] | None = None) -> list[str]:
    """Sample log lines for the annex (already redacted by the connector).

    Lines from the incident itself come first (from five minutes before impact start to
    resolution), then the others; each group is shown oldest first.
    """
    if evidence.logs is None:
        return []
    times = ReportTimes.of(findings) if findings else None
    start = times.impact_start if times else None
    lo = start.timestamp() - 300 if start else None
    hi = times.resolution.timestamp() if times and times.resolution else None

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

    return len(ReportTimes.of(findings).days(zoneinfo.ZoneInfo(tz))) > 1


@holding_output_lock
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
    merge leaves the previous report as it was. The folder is locked meanwhile, only files
    pmrecon wrote are replaced, and the files are moved in through a journal (see
    :func:`pmrecon.commit.commit_moves`): a crash leaves the old report or the new one.
    """
    from .findings import findings_document
    from .result import BuildResult, findings_json_bytes

    lang = config["language"]
    tz = config["timezone"]
    check_targets(out)
    read = {name: read_plain(safe_child(out, name)) for name in (STATE, BASE)}
    state = _parse_state(read[STATE])
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
            {"source": w.source, "message": w.message, "code": w.code, "params": w.params}
            for w in extra_warnings
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
    base = _base_text(read[BASE])
    html_env = make_environment(
        config["report"]["template_dir"], lang, tz, html=True, multi_day=multi_day
    )

    def compose(previous: str | None) -> tuple[str, int, str]:
        final_md, conflicts = generated_md, 0
        if previous is not None and not force:
            final_md, conflicts = merge_rebuild(base, previous, generated_md)
        # report.html shows what postmortem.md says, human edits included.
        progress("rendering report.html")
        html = render_report_html(html_env, f"report.{lang}.html.j2", context, final_md, graphs)
        return final_md, conflicts, html

    md_path = safe_child(out, MARKDOWN)
    findings_out = findings_document(findings, title=title, generated_at=generated_at)
    progress("writing files")
    # Everything is staged inside .pmrecon/commit/ first (same file system: renames are
    # atomic), unsynced, then synced all at once and moved into place under a journal.
    with staging_area(out) as area:
        write_evidence(area / "evidence")
        staged = _stage_derived(area, graph_files, findings_json_bytes(findings_out))
        records = {rel: file_record(area / path) for rel, path in staged.items()}
        final_md, conflicts, moves = _settle(
            out, area, md_path, compose, force, progress, staged, records, state, read,
            text={"generated": generated_md, "created": created, "last_build": generated_at},
        )  # fmt: skip
        kept, received = commit_moves(out, moves)
    written = [out / "evidence", *(out / GRAPHS / name for name in sorted(graph_files))]
    written += [out / "findings.json", out / "report.html", md_path]
    result = BuildResult(
        out_dir=out,
        findings=findings_out,
        files=written,
        warnings=list(evidence.warnings) + list(extra_warnings) + _held_back(received),
        conflicts=conflicts,
    )
    return _finished(result, md_path, conflicts, kept)


def _stage_derived(area: Path, graph_files: dict[str, bytes], findings: bytes) -> dict[str, str]:
    """Stage the graphs and findings.json beside the evidence; where each file of the
    report (relative to the output folder) is staged (relative to ``area``)."""
    staged = {f"evidence/{p.name}": f"evidence/{p.name}" for p in _files(area / "evidence")}
    for name, data in graph_files.items():
        atomic_write(safe_child(area / GRAPHS, name), data, sync=False)
        staged[f"{GRAPHS}/{name}"] = f"{GRAPHS}/{name}"
    atomic_write(area / "files" / "findings.json", findings, sync=False)
    staged["findings.json"] = "files/findings.json"
    return staged


def _held_back(received: list[int]) -> list[Warning]:
    """Signals that arrived during the moves: the build went on, since the report was whole."""
    return [
        Warning(
            source="build",
            message=f"{signal.Signals(signum).name} arrived while the new report was being "
            "put in place: it was finished first, the report is complete",
            code="interrupted_after_commit",
            params={"signal": signal.Signals(signum).name},
        )
        for signum in received
    ]


def _finished(result: Any, md_path: Path, conflicts: int, kept: list[Path]) -> Any:
    """``result``, or a MergeConflict (exit 6) carrying it when a human must look."""
    problems = []
    if conflicts:
        problems.append(
            f"{md_path}: {conflicts} conflict(s) between your edits and regenerated lines, marked with "
            f"<<<<<<< / >>>>>>>; resolve them by hand (or rebuild with --force to start over, keeping a backup)"
        )
    if kept:
        problems.append(
            f"changed while pmrecon replaced them, kept as {', '.join(str(p) for p in kept)}: "
            "compare them with the new report and copy back what is yours"
        )
    if problems:
        exc = MergeConflict("; ".join(problems))
        exc.result = result  # type: ignore[attr-defined]
        raise exc
    return result


#: How many times a build merges again when postmortem.md keeps changing under it.
MERGE_ATTEMPTS = 3


def _settle(
    out: Path,
    area: Path,
    md_path: Path,
    compose: Callable[[str | None], tuple[str, int, str]],
    force: bool,
    progress: Callable[[str], None],
    staged: dict[str, str],
    records: dict[str, dict[str, Any]],
    state: dict[str, Any],
    read: dict[str, bytes | None],
    text: dict[str, str],
) -> tuple[str, int, list[Move]]:
    """Stage postmortem.md, report.html and the state from the human file as it is now, and
    plan the moves; postmortem.md is read again last, and merged again if it changed."""
    current = read_plain(md_path)
    for _attempt in range(MERGE_ATTEMPTS):
        previous = current
        # --force replaces the file whatever it holds (after a byte-for-byte backup).
        text_now = (
            human_text(previous, md_path, progress) if previous is not None and not force else None
        )
        final_md, conflicts, html = compose(text_now)
        if previous is not None and force:
            backup = save_backup(safe_child(out, STATE_DIR), MARKDOWN, previous)
            progress(f"previous {MARKDOWN} saved as {backup}")
        files = dict(staged)
        for rel, content in [
            (MARKDOWN, final_md),
            ("report.html", html),
            (BASE, text["generated"]),
        ]:
            atomic_write(area / "files" / Path(rel).name, content, sync=False)
            files[rel] = f"files/{Path(rel).name}"
        records = {**records, "report.html": file_record(area / "files" / "report.html")}
        state_bytes = json.dumps(
            {"created_at": text["created"], "last_build": text["last_build"], "files": records},
            indent=1,
            sort_keys=True,
        )
        atomic_write(area / "files" / "state.json", state_bytes + "\n", sync=False)
        files[STATE] = "files/state.json"
        moves = plan_moves(out, files, state, {**read, MARKDOWN: previous})
        # The last look at the human file before it is replaced: an edit saved while this
        # build ran is merged, not lost (one saved later still is kept by the commit).
        current = read_plain(md_path)
        if current == previous:
            return final_md, conflicts, moves
        progress(f"{MARKDOWN} changed while pmrecon rebuilt it: merging again")
    raise MergeConflict(
        f"{md_path} kept changing while pmrecon rebuilt it ({MERGE_ATTEMPTS} times); nothing "
        "was replaced: save your edits, then rebuild"
    )


def plan_moves(
    out: Path, staged: dict[str, str], state: dict[str, Any], read: dict[str, bytes | None]
) -> list[Move]:
    """The moves of a commit, refusing (before anything is written) to replace a file
    pmrecon did not write, or one changed since it wrote it.

    ``read`` holds the files this build read (postmortem.md, the state): each is replaced
    if it still holds what was read, else kept. Files of an earlier build not written now
    are removed; every other file is left alone.
    """
    recorded = state.get("files")
    # A folder from a pmrecon that kept no records: what it wrote has the names written now.
    legacy = bool(state) and not isinstance(recorded, dict)
    known: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    # postmortem.md first (the shortest time from its last reading), pmrecon's state last.
    rank = {MARKDOWN: 0, "findings.json": 1, "report.html": 1, BASE: 4, STATE: 5}
    moves: list[Move] = []
    for rel in sorted(staged, key=lambda rel: rank.get(rel, 2)):
        target = safe_child(out, rel)
        expect = None
        if require_plain(target, "replace") is not None:
            if rel in read:
                data = read[rel]
                expect = bytes_record(data) if data is not None else None
            elif legacy:
                expect = file_record(target)
            elif matches(target, known.get(rel)):
                expect = known[rel]
            else:
                why = (
                    "it changed since pmrecon wrote it"
                    if rel in known
                    else "pmrecon did not write it"
                )
                raise OutputError(
                    f"refusing to replace {target}: {why}; move it away (or choose another --out), then rebuild"
                )
        moves.append(Move(rel, staged[rel], expect))
    moves += [
        Move(rel, None, rec)
        for rel, rec in sorted(known.items())
        if rel not in staged and _is_ours(out, rel, rec)
    ]
    return sorted(moves, key=lambda m: rank.get(m.path, 3 if m.staged is None else 2))


def _is_ours(out: Path, rel: str, record: Any) -> bool:
    """Whether ``rel`` is a file of an earlier build, unchanged (so it may be removed)."""
    if not isinstance(rel, str) or not isinstance(record, dict) or rel in (MARKDOWN, STATE, BASE):
        return False
    try:
        return matches(safe_child(out, rel), record)
    except OutputError:
        return False


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


#: Every folder a build writes into, and the files at fixed names (checked before anything is written).
OUTPUT_DIRS = ("evidence", GRAPHS)
OUTPUT_FILES = ("findings.json", "report.html", MARKDOWN, BASE, STATE)


def check_targets(out: Path) -> None:
    """Refuse, before writing anything, an output whose paths are symlinks or of the wrong kind."""
    for name in (STATE_DIR, *OUTPUT_DIRS):
        path = safe_child(out, name)
        if path.is_symlink():
            raise OutputError(
                f"refusing to write under {path}: it is a symbolic link; remove it first"
            )
        if path.exists() and not path.is_dir():
            raise OutputError(
                f"refusing to write under {path}: not a plain folder; remove it first"
            )
    for name in OUTPUT_FILES:
        require_plain(safe_child(out, name), "replace")


#: Byte-order marks an editor may write, and the encoding each announces (UTF-32 first:
#: its little-endian mark begins with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def human_text(data: bytes, path: Path, progress: Callable[[str], None]) -> str:
    """The text of a file people edit: UTF-8, or what its byte-order mark announces.

    Anything else is refused before a byte is written, never guessed: Latin-1 decodes any
    bytes, so a wrong guess would merge mojibake into the report the next build keeps.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                break
            if encoding != "utf-8-sig":
                progress(f"{path.name} was saved as {encoding.upper()}: it is rewritten as UTF-8")
            return text
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OutputError(
                f"refusing to rebuild over {path}: it is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                f"at offset {exc.start}: Latin-1 or Windows-1252?); nothing was replaced: save it as UTF-8 "
                "(e.g. iconv -f latin1 -t utf-8) and rebuild, or rebuild with --force to "
                "start over (a backup is kept)"
            ) from None
        if "\x00" not in text:
            return text
    raise OutputError(
        f"refusing to rebuild over {path}: it is not text in UTF-8 or in the encoding its "
        "byte-order mark announces (UTF-16 without a mark?); nothing was replaced: save it as "
        "UTF-8 and rebuild, or rebuild with --force to start over (a backup is kept)"
    )


def _base_text(data: bytes | None) -> str | None:
    """The last generated text (pmrecon's own, UTF-8); unreadable, the merge keeps both sides."""
    try:
        return data.decode("utf-8") if data is not None else None
    except UnicodeDecodeError:
        return None


def _parse_state(raw: bytes | None) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw is not None else {}
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}


__all__ = ["OutputError", "write_outputs"]
