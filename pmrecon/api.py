"""The library API: collect evidence, analyse it, write the report. The CLI only calls this.

>>> from pmrecon.api import BuildRequest, build
>>> from pmrecon.config import load_config
>>> result = build(load_config("pmrecon.yaml"), BuildRequest(start=t1, end=t2))  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import connectors
from connectors.base import CollectRequest, Source, SourceContext
from connectors.bundle import bundle_files, evidence_from_files, read_bundle, write_files

from . import __version__
from .config import Config
from .errors import ConnectorError, PmreconError, UsageError
from .fsutil import atomic_write, ensure_writable_dir, slugify
from .model import Evidence, SourceInfo, Warning, Window, rfc3339

log = logging.getLogger("pmrecon")

HUMAN_INSTANTS = ("acknowledged", "declared", "investigation_start", "cause_identified")
STATE_DIR = ".pmrecon"


@dataclass
class BuildRequest:
    """What ``pmrecon build`` was asked: the window (or a saved bundle) and output choices."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    out: Path | None = None
    source_dir: Path | None = None
    title: str | None = None
    human: dict[str, dt.datetime | None] = field(default_factory=dict)
    png: bool | None = None
    force: bool = False
    strict: bool = False
    now: dt.datetime | None = None


@dataclass
class BuildResult:
    """What a build produced."""

    out_dir: Path
    findings: dict[str, Any]
    files: list[Path]
    warnings: list[Warning]
    degraded: bool = False
    conflicts: int = 0


def make_sources(config: Config, context: SourceContext) -> list[Source]:
    """Instantiate every enabled source of the config."""
    sources = []
    for name, settings in config["sources"].items():
        if not settings.get("enabled", True):
            continue
        sources.append(connectors.create(settings["type"], name, settings, context))
    return sources


def baseline_window(window: Window, config: Config) -> Window:
    """The period before the window that tells what normal looked like."""
    length = config.get("baseline") or window.seconds
    return Window(window.start - dt.timedelta(seconds=length), window.start)


def collect(sources: list[Source], request: CollectRequest, strict: bool = False) -> Evidence:
    """Ask every source concurrently; a failing source becomes a warning (an error with ``strict``)."""
    evidence = Evidence(
        window=request.window, baseline=request.baseline, pmrecon_version=__version__
    )
    if not sources:
        raise UsageError(
            "no source configured: add a 'sources:' section to the config "
            "(see config/pmrecon.example.yaml), or build from a saved bundle with --source DIR"
        )
    failures: list[tuple[Source, PmreconError]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = {pool.submit(src.collect, request): src for src in sources}
        timeout = (
            None if request.deadline is None else max(1.0, request.deadline - time.monotonic())
        )
        try:
            done = concurrent.futures.as_completed(futures, timeout=timeout)
            for fut in done:
                src = futures[fut]
                try:
                    evidence.merge(fut.result())
                except PmreconError as exc:
                    failures.append((src, exc))
        except concurrent.futures.TimeoutError:
            for fut, src in futures.items():
                if not fut.done():
                    fut.cancel()
                    failures.append(
                        (src, ConnectorError(f"{src.name}: no answer within the build timeout"))
                    )
    for src, err in failures:
        message = err.format_message()
        if strict:
            raise ConnectorError(f"{message} (--strict: any source failure fails the build)")
        evidence.warnings.append(
            Warning(source=src.name, message=message, code="source_unavailable")
        )
        evidence.sources.append(SourceInfo(name=src.name, kind=src.kind, ok=False, error=message))
    if len(failures) == len(sources):
        raise ConnectorError(
            "every source failed: " + " | ".join(e.format_message() for _, e in failures)
        )
    evidence.sources.sort(key=lambda s: s.name)
    return evidence


def gather_evidence(config: Config, request: BuildRequest) -> Evidence:
    """Evidence for the request: read back from a bundle, or collected from live sources."""
    if request.source_dir is not None:
        return read_bundle(request.source_dir)
    if request.start is None or request.end is None:
        raise UsageError("--from and --to are required unless --source DIR is given")
    window = Window(request.start, request.end)
    deadline = time.monotonic() + float(config.get("timeout") or 300)
    from .redact import Redactor

    context = SourceContext(
        timezone=config["timezone"],
        analysis=config["analysis"],
        redactor=Redactor.from_config(config["redaction"]),
        now=request.now,
    )
    sources = make_sources(config, context)
    creq = CollectRequest(
        window=window,
        baseline=baseline_window(window, config),
        services=tuple(config.get("services") or ()),
        deadline=deadline,
    )
    return collect(sources, creq, strict=request.strict)


def analyse_evidence(
    evidence: Evidence, config: Config, human: dict[str, dt.datetime | None]
) -> dict[str, Any]:
    """Pure analysis of the evidence into the findings.json structure."""
    from .analysis import analyse
    from .findings import findings_to_json

    findings = analyse(
        evidence,
        config["analysis"],
        timezone=config["timezone"],
        human=human,
        language=config["language"],
    )
    return findings_to_json(findings)


def default_title(findings: dict[str, Any], lang: str) -> str:
    """A title from the incident's services and first alert."""
    inc = findings.get("incident") or {}
    services = [s["name"] for s in inc.get("services") or []]
    start = inc.get("impact_start") or findings["window"]["from"]
    day = str(start)[:10]
    alerts = [a["name"] for a in findings.get("alerts") or []]
    what = alerts[0] if alerts else None
    if lang == "fr":
        base = f"Incident du {day}"
        if services:
            base += f" — {', '.join(services[:3])}"
        return f"{base} ({what})" if what else base
    base = f"Incident of {day}"
    if services:
        base += f" — {', '.join(services[:3])}"
    return f"{base} ({what})" if what else base


def output_dir_for(config: Config, findings: dict[str, Any], title: str) -> Path:
    start = (findings.get("incident") or {}).get("impact_start") or findings["window"]["from"]
    return Path(config["output_dir"]) / f"{str(start)[:10]}-{slugify(title)}"


def build(
    config: Config,
    request: BuildRequest,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Collect (or load) evidence, analyse it and write the post-mortem folder."""
    say = progress or (lambda _msg: None)
    lang = config["language"]
    say("collecting evidence")
    evidence = gather_evidence(config, request)
    # Analyse what the bundle holds, read back from its bytes, so a rebuild from the
    # bundle gives byte-identical findings.
    files = bundle_files(evidence)
    evidence = evidence_from_files(files)
    say("analysing")
    human = {k: request.human.get(k) for k in HUMAN_INSTANTS}
    findings = analyse_evidence(evidence, config, human)
    title = request.title or config.get("title") or default_title(findings, lang)
    out = request.out or output_dir_for(config, findings, title)
    created = [p for p in [out, *out.parents] if not p.exists()]
    ensure_writable_dir(out)
    try:
        say(f"rendering into {out}")
        from .output import write_outputs

        now = request.now or dt.datetime.now(dt.timezone.utc)
        result = write_outputs(
            out,
            config=config,
            evidence=evidence,
            findings=findings,
            title=title,
            generated_at=rfc3339(now),
            png=config["report"]["png"] if request.png is None else request.png,
            force=request.force,
            write_evidence=lambda target: write_files(files, target),
            progress=say,
        )
    except BaseException:
        # Leave no trace of a failed first build: remove the folders this build created.
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    result.degraded = any(w.code == "source_unavailable" for w in evidence.warnings)
    return result


def check(config: Config) -> list[Any]:
    """Run every source's own checks (connectivity, auth, version, data the config needs)."""
    from connectors.base import CheckResult

    from .redact import Redactor

    if not config["sources"]:
        return [
            CheckResult(
                "config",
                "sources",
                False,
                "no source configured",
                "add a 'sources:' section (see config/pmrecon.example.yaml)",
            )
        ]
    context = SourceContext(
        timezone=config["timezone"],
        analysis=config["analysis"],
        redactor=Redactor.from_config(config["redaction"]),
    )
    results: list[CheckResult] = [
        CheckResult("config", "valid", True, str(config.path or "defaults"))
    ]
    for name, settings in config["sources"].items():
        if not settings.get("enabled", True):
            results.append(CheckResult(name, "enabled", True, "disabled in the config: skipped"))
            continue
        try:
            source = connectors.create(settings["type"], name, settings, context)
            results.extend(source.check())
        except PmreconError as exc:
            results.append(
                CheckResult(name, "connect", False, exc.format_message(), "see the message")
            )
    return results


def findings_json_bytes(findings: dict[str, Any]) -> bytes:
    """findings.json as written: sorted keys, UTF-8, a final newline."""
    return (json.dumps(findings, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


__all__ = [
    "BuildRequest",
    "BuildResult",
    "atomic_write",
    "build",
    "collect",
    "findings_json_bytes",
    "gather_evidence",
]
