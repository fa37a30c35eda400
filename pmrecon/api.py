"""The library API: collect evidence, analyse it, write the report. The CLI only calls this.

>>> from pmrecon import BuildRequest, Window, build, load_config
>>> result = build(load_config("pmrecon.yaml"), BuildRequest(window=Window(t1, t2)))  # doctest: +SKIP

docs/python-api.md describes it, with an example that a test runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import connectors
from connectors.base import CheckResult, CollectRequest, Source, SourceContext
from connectors.bundle import bundle_files, evidence_from_files, read_bundle, write_files

from . import __version__
from .config import Config
from .errors import ConnectorError, PmreconError, UsageError
from .fsutil import ensure_writable_dir, slugify
from .model import Evidence, SourceInfo, Warning, Window, rfc3339
from .result import BuildResult

log = logging.getLogger("pmrecon")


@dataclass(frozen=True)
class HumanInstants:
    """Times only people know, entered by hand (``--ack``, ``--declared``…); None when not given.

    Aware datetimes; analysis reads a naive one as UTC.
    """

    acknowledged: dt.datetime | None = None
    declared: dt.datetime | None = None
    investigation_start: dt.datetime | None = None
    cause_identified: dt.datetime | None = None

    def __post_init__(self) -> None:
        from .timeparse import check_instant

        for f in dataclasses.fields(self):
            check_instant(getattr(self, f.name), f.name)

    def as_mapping(self) -> dict[str, dt.datetime | None]:
        """The instants by name, as :func:`pmrecon.analysis.analyse` takes them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass
class BuildRequest:
    """What ``pmrecon build`` was asked: the window (or a saved bundle) and output choices."""

    window: Window | None = None
    out: Path | None = None
    source_dir: Path | None = None
    title: str | None = None
    human: HumanInstants = field(default_factory=HumanInstants)
    png: bool | None = None
    force: bool = False
    strict: bool = False
    now: dt.datetime | None = None


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


def checked_window(window: Window, what: str = "window") -> Window:
    """The window, if its bounds are timezone-aware and in order; else a UsageError."""
    # A naive datetime would silently be read as the machine's local time by connectors.
    if window.start.tzinfo is None or window.end.tzinfo is None:
        raise UsageError(
            f"the {what}'s start and end must be timezone-aware datetimes "
            "(e.g. datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))"
        )
    if window.start >= window.end:
        raise UsageError(f"the {what} must start before it ends")
    return window


#: Warning codes that say a source answered only in part (a query failed, or the server
#: returned partial results): the report lacks data it should have had. Connectors name
#: such warnings ``sli_<kind>`` or ``<what>_failed``; Elasticsearch's own partial answers
#: (failed shards, a search timeout) are listed here.
PARTIAL_CODES = ("alerts_failed", "discovery_failed", "shard_failures", "timed_out")

#: Seconds granted past the deadline for a connector to report its own (more precise)
#: time-limit error before the build gives up on it.
DEADLINE_GRACE = 0.5


def is_partial_failure(code: str) -> bool:
    """Whether a connector warning means some of its data is missing (not merely absent)."""
    return code.startswith("sli_") or code.endswith("_failed") or code in PARTIAL_CODES


def collect(sources: list[Source], request: CollectRequest, strict: bool = False) -> Evidence:
    """Ask every source concurrently; a failing source becomes a warning (an error with ``strict``).

    A source that has not answered by ``request.deadline`` is given up on: its thread is a
    daemon, so neither this function nor the process waits for it. A connector bug (an
    exception outside the PmreconError tree) fails that source only.
    """
    evidence = Evidence(
        window=request.window, baseline=request.baseline, pmrecon_version=__version__
    )
    if not sources:
        raise UsageError(
            "no source configured: add a 'sources:' section to the config "
            "(see config/pmrecon.example.yaml), or build from a saved bundle with --source DIR"
        )
    answers: queue.Queue[tuple[Source, Evidence | None, BaseException | None]] = queue.Queue()

    def run(src: Source) -> None:
        try:
            answers.put((src, src.collect(request), None))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            answers.put((src, None, exc))

    for src in sources:
        threading.Thread(
            target=run, args=(src,), name=f"pmrecon-collect-{src.name}", daemon=True
        ).start()
    pending = {id(src): src for src in sources}
    failures: list[tuple[Source, str]] = []
    partial: list[tuple[Source, list[Warning]]] = []
    while pending:
        wait = None
        if request.deadline is not None:
            wait = max(0.0, request.deadline + DEADLINE_GRACE - time.monotonic())
        try:
            src, got, exc = answers.get(timeout=wait)
        except queue.Empty:
            break
        pending.pop(id(src), None)
        if exc is not None:
            failures.append((src, _failure_message(src, exc)))
            continue
        assert got is not None
        missing = [w for w in got.warnings if is_partial_failure(w.code)]
        if missing:
            partial.append((src, missing))
        evidence.merge(got)
    for src in pending.values():
        failures.append(
            (
                src,
                f"source {src.name!r}: no answer within the build's time limit; "
                "raise 'timeout' in the config or shorten the window",
            )
        )
    failures.sort(key=lambda f: f[0].name)
    partial.sort(key=lambda p: p[0].name)
    if strict and (failures or partial):
        first = failures[0][1] if failures else _partial_message(*partial[0])
        raise ConnectorError(f"{first} (--strict: any source failure fails the build)")
    if len(failures) == len(sources):
        raise ConnectorError("every source failed: " + " | ".join(m for _, m in failures))
    for src, message in failures:
        evidence.warnings.append(
            Warning(source=src.name, message=message, code="source_unavailable")
        )
        evidence.sources.append(SourceInfo(name=src.name, kind=src.kind, ok=False, error=message))
    for src, missing in partial:
        evidence.warnings.append(
            Warning(
                source=src.name, message=_partial_message(src, missing), code="source_unavailable"
            )
        )
    evidence.sources.sort(key=lambda s: s.name)
    return evidence


def _failure_message(src: Source, exc: BaseException) -> str:
    if isinstance(exc, PmreconError):
        return exc.format_message()
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        raise exc
    log.debug("source %s failed", src.name, exc_info=exc)
    text = " ".join(str(exc).split())[:200]
    return (
        f"source {src.name!r}: internal error in the {src.kind} connector "
        f"({type(exc).__name__}: {text}); rerun with --debug and report it"
    )


def _partial_message(src: Source, missing: list[Warning]) -> str:
    return (
        f"source {src.name!r} answered only in part: {len(missing)} "
        f"quer{'y' if len(missing) == 1 else 'ies'} failed, their data is missing "
        f"(first: {missing[0].message})"
    )


def gather_evidence(config: Config, request: BuildRequest) -> Evidence:
    """Evidence for the request: read back from a bundle, or collected from live sources."""
    if request.source_dir is not None:
        return read_bundle(request.source_dir)
    if request.window is None:
        raise UsageError("--from and --to are required unless --source DIR is given")
    window = checked_window(request.window)
    sources = make_sources(config, source_context(config, request.now))
    creq = CollectRequest(
        window=window,
        baseline=baseline_window(window, config),
        services=tuple(config.get("services") or ()),
        deadline=deadline_for(config),
    )
    return collect(sources, creq, strict=request.strict)


def source_context(config: Config, now: dt.datetime | None = None) -> SourceContext:
    """What every source is given: zone, analysis settings and the redactor."""
    from .redact import Redactor

    return SourceContext(
        timezone=config["timezone"],
        analysis=config["analysis"],
        # the configured credentials too: an application may log its own token
        redactor=Redactor.from_config(config["redaction"], secrets=config.secrets),
        now=now,
    )


def deadline_for(config: Config) -> float:
    """The monotonic time by which every source must have answered (config ``timeout``)."""
    return time.monotonic() + float(config.get("timeout") or 300)


def analyse_evidence(
    evidence: Evidence, config: Config, human: HumanInstants | None = None
) -> dict[str, Any]:
    """Pure analysis of the evidence into the findings.json structure."""
    from .analysis import analyse
    from .findings import findings_to_json

    findings = analyse(
        evidence,
        config["analysis"],
        timezone=config["timezone"],
        human=(human or HumanInstants()).as_mapping(),
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


def _preload_in_background() -> None:
    """Import what comes after collection (numpy, plotly, jinja2) while sources are asked."""

    def load() -> None:
        import importlib

        for name in ("pmrecon.analysis", "pmrecon.graphs", "pmrecon.output"):
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="pmrecon-preload", daemon=True).start()


def output_dir_for(config: Config, findings: dict[str, Any], title: str) -> Path:
    """Where a build writes without ``out``: ``output_dir/<day of impact start>-<slug of title>``."""
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
    if request.source_dir is None:
        _preload_in_background()
    evidence = gather_evidence(config, request)
    # Analyse what the bundle holds, read back from its bytes, so a rebuild from the
    # bundle gives byte-identical findings.
    files = bundle_files(evidence)
    del evidence  # not held while its copy is parsed back: that is the peak of memory
    evidence = evidence_from_files(files)
    say("analysing")
    findings = analyse_evidence(evidence, config, request.human)
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


def check(config: Config) -> list[CheckResult]:
    """Run every source's own checks (connectivity, auth, version, data the config needs)."""
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
    context = source_context(config)
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


__all__ = [
    "BuildRequest",
    "BuildResult",
    "HumanInstants",
    "build",
    "check",
    "collect",
    "gather_evidence",
]
