"""Scheduled mode: find every incident in a long window and draft one post-mortem each.

Two passes keep the number of queries bounded whatever the window's length:

1. a **coarse pass** over the whole window (``CollectRequest(coarse=True)``: a large
   step, no baseline, no log signatures). Its evidence is analysed with one step in
   breach being enough, after dropping alerts whose severity is not in
   ``scan.severities``; what analysis groups into incidents (signals closer than
   ``analysis.merge_gap``) are the *candidates*;
2. a **detail pass** per candidate: its span padded by ``scan.margin`` (never into a
   neighbour's) is collected at full resolution with a baseline and analysed; a
   confirmed incident is built by :func:`pmrecon.api.build` into
   ``DIR/<YYYY-MM-DD-HHMM>-<slug>/``.

Each draft records what the scan found in ``.pmrecon/scan.json``. A later scan gives an
incident the draft whose recorded span overlaps it and rebuilds that draft in place
(the rebuild keeps human edits), so re-running a scan creates nothing new.

>>> from pmrecon import load_config, scan
>>> result = scan(load_config("pmrecon.yaml"), t1, t2, Path("postmortems"))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import CollectRequest

from .api import (
    BuildRequest,
    analyse_evidence,
    build,
    checked_window,
    collect,
    deadline_for,
    gather_evidence,
    make_sources,
    source_context,
)
from .config import Config
from .errors import (
    EXIT_CONFLICT,
    EXIT_DEGRADED,
    EXIT_INCIDENT,
    EXIT_OK,
    MergeConflict,
    PmreconError,
    UsageError,
)
from .fsutil import atomic_write, slugify
from .model import Evidence, Window, parse_rfc3339, rfc3339

# Named after the command, not the module: log lines read "pmrecon.scan: …".
log = logging.getLogger("pmrecon.scan")

#: Longest window a scan accepts (a build's limit is ``max_window``).
MAX_SCAN_SECONDS = 92 * 86400
#: Most incidents built in detail by one scan: the bound on the detail queries.
MAX_INCIDENTS = 25
#: Where a draft keeps what the scan found (beside the rebuild state of pmrecon.output).
RECORD = ".pmrecon/scan.json"
#: Major version of the ``--json`` summary (pmrecon/schema/scan.schema.json).
SUMMARY_SCHEMA_VERSION = 1
#: Alert severities that never open an incident, whatever the config says.
QUIET_SEVERITIES = ("none", "info")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Candidate:
    """A group of signals seen on coarse data: where the detail pass will look."""

    start: dt.datetime
    end: dt.datetime
    services: tuple[str, ...]
    alerts: tuple[str, ...]
    ongoing: bool = False

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class ScanIncident:
    """One incident the scan confirmed, and the draft it lives in."""

    id: str
    path: Path
    status: str  # "new" or "updated"
    window: Window  # the window the draft was built from
    impact_start: dt.datetime | None  # None: already going on at the window's start
    resolution: dt.datetime | None  # None: still going on at the window's end
    services: list[str]
    alerts: list[str]
    duration_seconds: float | None
    impact: str | None  # the suggested impact level
    title: str = ""
    conflicts: int = 0
    degraded: bool = False
    error: str | None = None
    exit_code: int = EXIT_OK

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.impact_start or self.window.start, self.resolution or self.window.end)


@dataclass
class ScanResult:
    """What a scan found, built and spent."""

    window: Window
    out_dir: Path
    incidents: list[ScanIncident] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    discarded: list[Candidate] = field(default_factory=list)  # not confirmed by the detail pass
    skipped: list[Candidate] = field(default_factory=list)  # beyond max_incidents
    failed: list[tuple[Candidate, str, int]] = field(
        default_factory=list
    )  # (candidate, error, exit code)
    queries: dict[str, int] = field(default_factory=lambda: {"coarse": 0, "detail": 0})
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    degraded: bool = False  # a source failed in the coarse pass: incidents may be missing

    @property
    def new(self) -> list[ScanIncident]:
        return [i for i in self.incidents if i.status == "new"]

    @property
    def total_queries(self) -> int:
        return sum(self.queries.values())


@dataclass
class ScanProgress:
    """A step of the scan, for a progress bar or a log line."""

    stage: str  # "coarse", "candidates", "detail", "done"
    message: str
    done: int = 0
    total: int = 0


# --------------------------------------------------------------------------- the scan


def scan(
    config: Config,
    start: dt.datetime,
    end: dt.datetime,
    out_dir: Path | None = None,
    *,
    png: bool | None = None,
    now: dt.datetime | None = None,
    max_incidents: int = MAX_INCIDENTS,
    progress: Callable[[ScanProgress], None] | None = None,
) -> ScanResult:
    """Find the incidents of [start, end) and build (or rebuild) one draft per incident."""
    say = progress or (lambda _p: None)
    window = checked_window(Window(start, end), "scan window")
    if window.seconds > MAX_SCAN_SECONDS:
        raise UsageError(
            f"a scan covers at most {MAX_SCAN_SECONDS // 86400} days; split the window"
        )
    out = Path(out_dir) if out_dir is not None else Path(config["output_dir"])
    result = ScanResult(window=window, out_dir=out)

    say(ScanProgress("coarse", "looking for incidents on coarse data"))
    t0 = time.monotonic()
    coarse = collect_coarse(config, window, now=now)
    result.queries["coarse"] = count_queries(coarse)
    result.warnings.extend(f"{w.source}: {w.message}" for w in coarse.warnings)
    result.degraded = any(w.code == "source_unavailable" for w in coarse.warnings)
    candidates = find_candidates(coarse, config)
    result.seconds["coarse"] = round(time.monotonic() - t0, 3)
    result.candidates = candidates
    if len(candidates) > max_incidents:
        # The longest ones matter most; the others are listed, not drafted.
        keep = sorted(candidates, key=lambda c: (-c.seconds, c.start))[:max_incidents]
        result.skipped = [c for c in candidates if c not in keep]
        candidates = [c for c in candidates if c in keep]
        result.warnings.append(
            f"scan: {len(result.skipped)} more candidate(s) than --max-incidents "
            f"({max_incidents}) were not drafted; scan a shorter window"
        )
    say(ScanProgress("candidates", f"{len(candidates)} candidate(s)", 0, len(candidates)))

    t1 = time.monotonic()
    drafts = read_drafts(out)
    claimed: set[Path] = set()
    windows = detail_windows(candidates, config, end)
    for i, (cand, dwin) in enumerate(zip(candidates, windows), start=1):
        say(
            ScanProgress(
                "detail",
                f"incident {i}/{len(candidates)}: {_local(cand.start, config)}",
                i - 1,
                len(candidates),
            )
        )
        try:
            found = _detail(config, cand, dwin, out, drafts, claimed, result, png=png, now=now)
        except PmreconError as exc:
            result.failed.append((cand, exc.format_message(), exc.exit_code))
            # Debug only: the caller reports result.failed (the CLI prints each once).
            log.debug("incident near %s: %s", rfc3339(cand.start), exc.format_message())
            continue
        if found is None:
            result.discarded.append(cand)
    result.seconds["detail"] = round(time.monotonic() - t1, 3)
    result.seconds["total"] = round(time.monotonic() - t0, 3)
    say(
        ScanProgress(
            "done", f"{len(result.incidents)} incident(s)", len(candidates), len(candidates)
        )
    )
    return result


def collect_coarse(config: Config, window: Window, now: dt.datetime | None = None) -> Evidence:
    """Evidence for the whole window on coarse data (every source, no baseline)."""
    request = CollectRequest(
        window=window,
        baseline=None,
        services=tuple(config.get("services") or ()),
        deadline=deadline_for(config),
        coarse=True,
    )
    return collect(make_sources(config, source_context(config, now)), request)


def count_queries(evidence: Evidence) -> int:
    """Queries the sources sent for this evidence."""
    return sum(len(s.queries) for s in evidence.sources)


# --------------------------------------------------------------------------- candidates


def qualifying(severity: str | None, severities: list[str]) -> bool:
    """Whether an alert of this severity may open an incident (empty list: every severity)."""
    sev = (severity or "").lower()
    if sev in QUIET_SEVERITIES:
        return False
    return not severities or sev in {str(s).lower() for s in severities}


def find_candidates(evidence: Evidence, config: Config) -> list[Candidate]:
    """Candidate incidents in coarse evidence: analysis's incidents, alerts filtered by severity.

    Pure: no I/O. One step in breach is enough here, since a coarse step can be longer
    than a whole incident; the detail pass decides.
    """
    from dataclasses import replace

    from .analysis import analyse

    severities = list(config["scan"]["severities"] or [])
    alerts = [a for a in evidence.alerts if qualifying(a.severity, severities)]
    filtered = replace(evidence, alerts=alerts, warnings=[])
    settings = {**config["analysis"], "consecutive_steps": 1}
    findings = analyse(filtered, settings, timezone="UTC", language="en")
    ws, we = evidence.window.start, evidence.window.end
    spans: list[tuple[dt.datetime, dt.datetime, list[str], bool]] = []
    inc = findings.incident
    if inc.found:
        s = inc.impact_start or inc.first_alert or ws
        spans.append(
            (s, inc.resolution or we, [x.name for x in inc.services], inc.resolution is None)
        )
    for o in findings.other_incidents:
        s = o.impact_start or o.first_alert or ws
        spans.append((s, o.resolution or we, list(o.services), o.resolution is None))
    out = []
    for s, e, services, ongoing in sorted(spans, key=lambda x: x[0]):
        names = sorted({a.name for a in alerts for iv in a.firing if iv.start <= e and iv.end >= s})
        out.append(Candidate(s, max(s, e), tuple(sorted(services)), tuple(names), ongoing))
    return out


def detail_windows(
    candidates: list[Candidate], config: Config, scan_end: dt.datetime
) -> list[Window]:
    """Each candidate's span padded by ``scan.margin``, stopping halfway to its neighbours."""
    margin = dt.timedelta(seconds=float(config["scan"]["margin"]))
    longest = dt.timedelta(seconds=float(config["max_window"]))
    out = []
    for i, c in enumerate(candidates):
        lo, hi = c.start - margin, c.end + margin
        if i > 0:
            prev = candidates[i - 1]
            lo = max(lo, prev.end + (c.start - prev.end) / 2)
        if i + 1 < len(candidates):
            nxt = candidates[i + 1]
            hi = min(hi, c.end + (nxt.start - c.end) / 2)
        lo = _floor_minute(lo)
        hi = min(scan_end, _ceil_minute(hi))
        if c.ongoing:
            hi = scan_end
        if hi - lo > longest:  # keep the start: that is where a post-mortem begins
            hi = lo + longest
        out.append(Window(lo, hi))
    return out


def _floor_minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


def _ceil_minute(t: dt.datetime) -> dt.datetime:
    f = _floor_minute(t)
    return f if f == t else f + dt.timedelta(minutes=1)


# --------------------------------------------------------------------------- detail pass


def _detail(
    config: Config,
    cand: Candidate,
    dwin: Window,
    out: Path,
    drafts: list[dict[str, Any]],
    claimed: set[Path],
    result: ScanResult,
    *,
    png: bool | None,
    now: dt.datetime | None,
) -> ScanIncident | None:
    """Collect and analyse one candidate's window; build its draft if the incident is confirmed."""
    evidence = gather_evidence(config, BuildRequest(window=dwin, now=now))
    result.queries["detail"] += count_queries(evidence)
    findings = analyse_evidence(evidence, config)
    if not confirmed(findings, list(config["scan"]["severities"] or [])):
        return None
    inc = findings["incident"]
    impact_start = _time(inc.get("impact_start"))
    resolution = _time(inc.get("resolution"))
    span = (impact_start or dwin.start, resolution or dwin.end)
    for seen in result.incidents:  # two candidates that turn out to be one incident
        if _overlap(span, seen.span) > 0:
            return seen
    services = [s["name"] for s in inc.get("services") or []]
    alerts = sorted({a["name"] for a in findings.get("alerts") or [] if a.get("in_incident")})
    match = match_draft(span, drafts, claimed)
    if match is not None:
        path, status = Path(match["path"]), "updated"
        incident_id = str(match.get("id") or path.name)
        first_seen = match.get("first_seen")
    else:
        incident_id = incident_id_for(config, span[0], services, alerts)
        path, status = _free_folder(out, incident_id, drafts), "new"
        incident_id = path.name
        first_seen = None
    claimed.add(path.resolve())

    scan_inc = ScanIncident(
        id=incident_id,
        path=path,
        status=status,
        window=dwin,
        impact_start=impact_start,
        resolution=resolution,
        services=services,
        alerts=alerts,
        duration_seconds=inc.get("duration_seconds") or inc.get("elapsed_seconds"),
        impact=inc.get("impact_level_suggested"),
    )
    # Built from the evidence just collected, as a build from its bundle would be (the
    # analysis reads what the bundle holds): not written to a bundle and parsed back, which
    # held a second copy of every point beside the file's bytes.
    request = BuildRequest(window=dwin, out=path, png=png, now=now)
    built: Any
    try:
        built = build(config, request, evidence=evidence)
    except MergeConflict as exc:
        # The draft was written, conflict markers included: say so and go on.
        built = getattr(exc, "result", None)
        if built is None:
            raise
        scan_inc.conflicts = built.conflicts or 1
        scan_inc.error = exc.format_message()
        scan_inc.exit_code = exc.exit_code
    scan_inc.title = str(built.findings.get("title") or "")
    scan_inc.degraded = bool(built.degraded)
    scan_now = rfc3339(now or dt.datetime.now(dt.timezone.utc))
    record = {
        "id": incident_id,
        "impact_start": _rfc(impact_start),
        "resolution": _rfc(resolution),
        "window": {"from": rfc3339(dwin.start), "to": rfc3339(dwin.end)},
        "services": services,
        "alerts": alerts,
        "first_seen": first_seen or scan_now,
        "last_scan": scan_now,
    }
    # ``last_scan`` is the last scan that changed the draft: a scan that finds the same
    # draft leaves the record as it was, so a scheduled job has nothing to commit.
    kept = {k: v for k, v in (match or {}).items() if k not in ("path", "span")}
    if built.changed or {**kept, "last_scan": scan_now} != record:
        atomic_write(path / RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
    result.incidents.append(scan_inc)
    return scan_inc


def confirmed(findings: dict[str, Any], severities: list[str]) -> bool:
    """Whether the detail findings hold an incident the scan drafts.

    An incident seen in SLIs or logs always counts; one seen only through alerts counts
    when one of its alerts has a qualifying severity.
    """
    inc = findings.get("incident") or {}
    if not inc.get("found"):
        return False
    for svc in inc.get("services") or []:
        if any(sig != "alert" for sig in svc.get("signals") or []):
            return True
    return any(
        a.get("in_incident") and qualifying(a.get("severity"), severities)
        for a in findings.get("alerts") or []
    )


# --------------------------------------------------------------------------- drafts and ids


def read_drafts(out: Path) -> list[dict[str, Any]]:
    """The records of drafts an earlier scan wrote under ``out`` (unreadable ones are ignored)."""
    found: list[dict[str, Any]] = []
    if not out.is_dir():
        return found
    for rec in sorted(out.glob("*/" + RECORD)):
        try:
            data = json.loads(rec.read_text(encoding="utf-8"))
            window = data["window"]
            w0, w1 = parse_rfc3339(window["from"]), parse_rfc3339(window["to"])
            start = _time(data.get("impact_start")) or w0
            end = _time(data.get("resolution")) or w1
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s: %s", rec, exc)
            continue
        data["path"] = str(rec.parent.parent)
        data["span"] = (start, max(start, end))
        found.append(data)
    return found


def match_draft(
    span: tuple[dt.datetime, dt.datetime], drafts: list[dict[str, Any]], claimed: set[Path]
) -> dict[str, Any] | None:
    """The unclaimed draft whose recorded span overlaps ``span`` the most (touching counts)."""
    best: tuple[float, float, dict[str, Any]] | None = None
    for d in drafts:
        if Path(d["path"]).resolve() in claimed:
            continue
        ov = _overlap(span, d["span"])
        if ov < 0:
            continue
        key = (ov, -abs((d["span"][0] - span[0]).total_seconds()))
        if best is None or key > best[:2]:
            best = (*key, d)
    return best[2] if best else None


def incident_id_for(
    config: Config, start: dt.datetime, services: list[str], alerts: list[str]
) -> str:
    """``YYYY-MM-DD-HHMM-<services>-<first alert>``, the time in the configured zone."""
    local = start.astimezone(zoneinfo.ZoneInfo(config["timezone"]))
    words = services[:2] + alerts[:1]
    return f"{local:%Y-%m-%d-%H%M}-{slugify('-'.join(words) or 'incident', 50)}"


def _free_folder(out: Path, incident_id: str, drafts: list[dict[str, Any]]) -> Path:
    """``out/incident_id``, or with a -2, -3… suffix when that folder is taken."""
    taken = {Path(d["path"]).name for d in drafts}
    n = 1
    while True:
        name = incident_id if n == 1 else f"{incident_id}-{n}"
        if name not in taken and not (out / name).exists():
            return out / name
        n += 1


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> float:
    """Seconds two spans share (0 when they touch, negative when apart)."""
    return (min(a[1], b[1]) - max(a[0], b[0])).total_seconds()


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t.astimezone(dt.timezone.utc)


def _rfc(t: dt.datetime | None) -> str | None:
    return rfc3339(t) if t is not None else None


def _local(t: dt.datetime, config: Config) -> str:
    return t.astimezone(zoneinfo.ZoneInfo(config["timezone"])).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- presentation


def exit_code(result: ScanResult, fail_on_incident: bool = False) -> int:
    """The scan's exit code: 6 conflicts, a failed build's code, 8 incidents (opt-in), 7 degraded."""
    if any(i.conflicts for i in result.incidents):
        return EXIT_CONFLICT
    if result.failed:
        return max(code for _, _, code in result.failed)
    if fail_on_incident and result.incidents:
        return EXIT_INCIDENT
    if result.degraded or any(i.degraded for i in result.incidents):
        return EXIT_DEGRADED
    return EXIT_OK


def to_json(result: ScanResult, timezone: str = "UTC") -> dict[str, Any]:
    """The scan's summary as plain JSON data (times in ``timezone``, with their offset)."""
    zone = zoneinfo.ZoneInfo(timezone)

    def t(x: dt.datetime | None) -> str | None:
        return x.astimezone(zone).isoformat(timespec="seconds") if x is not None else None

    def cand(c: Candidate) -> dict[str, Any]:
        return {
            "from": t(c.start),
            "to": t(c.end),
            "services": list(c.services),
            "alerts": list(c.alerts),
        }

    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "window": {"from": t(result.window.start), "to": t(result.window.end)},
        "out_dir": str(result.out_dir),
        "incidents": [
            {
                "id": i.id,
                "status": i.status,
                "path": str(i.path),
                "window": {"from": t(i.window.start), "to": t(i.window.end)},
                "impact_start": t(i.impact_start),
                "resolution": t(i.resolution),
                "ongoing": i.resolution is None,
                "services": i.services,
                "alerts": i.alerts,
                "duration_seconds": i.duration_seconds,
                "impact_suggested": i.impact,
                "title": i.title,
                "conflicts": i.conflicts,
                "degraded": i.degraded,
            }
            for i in result.incidents
        ],
        "new": len(result.new),
        "candidates": len(result.candidates),
        "discarded": [cand(c) for c in result.discarded],
        "skipped": [cand(c) for c in result.skipped],
        "failed": [{**cand(c), "error": msg} for c, msg, _ in result.failed],
        "queries": {**result.queries, "total": result.total_queries},
        "seconds": result.seconds,
        "warnings": result.warnings,
        "degraded": result.degraded,
    }


def duration_text(seconds: float | None) -> str:
    """``1h05``, ``42m``, ``-`` — short, for a table cell."""
    if seconds is None:
        return "-"
    minutes = int(round(seconds / 60))
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}"
    return f"{minutes}m"


def table_rows(result: ScanResult, timezone: str = "UTC") -> list[list[str]]:
    """The summary table: a header, then one row per incident."""
    zone = zoneinfo.ZoneInfo(timezone)

    def hm(x: dt.datetime | None, day: bool) -> str:
        if x is None:
            return "…"
        return x.astimezone(zone).strftime("%Y-%m-%d %H:%M" if day else "%H:%M")

    rows = [["ID", "WINDOW", "SERVICES", "DURATION", "IMPACT", "STATUS", "PATH"]]
    for i in result.incidents:
        a = i.impact_start or i.window.start
        same_day = (
            i.resolution is not None
            and a.astimezone(zone).date() == i.resolution.astimezone(zone).date()
        )
        window = f"{hm(i.impact_start, True)} → {hm(i.resolution, not same_day)}"
        rows.append(
            [
                i.id,
                window,
                ", ".join(i.services) or "-",
                duration_text(i.duration_seconds) + ("+" if i.resolution is None else ""),
                i.impact or "-",
                i.status + (" (conflicts)" if i.conflicts else ""),
                str(i.path),
            ]
        )
    return rows


def format_table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned text lines."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def summary_line(result: ScanResult) -> str:
    """One line: incidents found, new, queries and time spent."""
    n = len(result.incidents)
    return (
        f"{n} incident(s) in {result.window.start:%Y-%m-%d %H:%M} → "
        f"{result.window.end:%Y-%m-%d %H:%M} UTC ({len(result.new)} new, "
        f"{n - len(result.new)} updated, {len(result.discarded)} candidate(s) not confirmed); "
        f"{result.total_queries} queries (coarse {result.queries['coarse']}, "
        f"detail {result.queries['detail']}) in {result.seconds.get('total', 0):.1f}s"
    )


__all__ = [
    "Candidate",
    "ScanIncident",
    "ScanProgress",
    "ScanResult",
    "exit_code",
    "find_candidates",
    "scan",
    "to_json",
]
