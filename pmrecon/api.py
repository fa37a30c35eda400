"""The library API: collect evidence, analyse it, write the report. The CLI only calls this.

>>> from pmrecon import BuildRequest, Window, build, load_config
>>> result = build(load_config("pmrecon.yaml"), BuildRequest(window=Window(t1, t2)))  # doctest: +SKIP

docs/python-api.md describes it, with an example that a test runs.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import connectors
from connectors.base import CheckResult, CollectRequest, MetricsSource, Source, SourceContext
from connectors.bundle import (
    bundle_files,
    evidence_as_read,
    read_bundle,
    read_listed,
    with_files,
    write_files,
)

from . import __version__
from . import freshness as fresh
from .commit import output_lock
from .config import Config, load_config, read_yaml, validate
from .errors import (
    EXIT_SOURCE,
    EXIT_USAGE,
    ConfigError,
    ConnectorError,
    EvidenceError,
    PmreconError,
    UsageError,
)
from .example_config import no_source_error
from .fsutil import ensure_writable_dir, slugify
from .model import Evidence, SourceInfo, Warning, Window, parse_rfc3339, rfc3339
from .result import BuildResult
from .wording import text

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


@dataclass(frozen=True)
class BuildProgress:
    """A step of a build, for a status line or a log line; ``str()`` is its message.

    ``stage``: "collect" (``done``/``total`` sources answered), "read" (a saved bundle),
    "analyse", "render" or "write". The library prints nothing itself: the caller chooses.
    """

    stage: str
    message: str
    done: int = 0
    total: int = 0

    def __str__(self) -> str:
        return self.message


#: What a build reports its steps to (``print`` will do: each step prints as its message).
ProgressCallback = Callable[[BuildProgress], None]


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
    #: Config keys the caller set explicitly (command-line flags: ``timezone``, ``language``…);
    #: a rebuild keeps the bundle's recorded value for every other key (see :func:`build`).
    given: frozenset[str] = frozenset()


def make_sources(config: Config, context: SourceContext) -> list[Source]:
    """Instantiate every enabled source of the config (a ConfigError when it has none)."""
    if not config["sources"]:
        raise no_source_error(config)
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


def collect(
    sources: list[Source],
    request: CollectRequest,
    strict: bool = False,
    progress: ProgressCallback | None = None,
) -> Evidence:
    """Ask every source concurrently; a failing source becomes a warning (an error with ``strict``).

    ``progress`` hears of each source as it answers (``done``/``total`` sources).

    A source that has not answered by ``request.deadline`` is given up on: its thread is a
    daemon, so neither this function nor the process waits for it. A connector bug (an
    exception outside the PmreconError tree) fails that source only.
    """
    evidence = Evidence(
        window=request.window, baseline=request.baseline, pmrecon_version=__version__
    )
    if not sources:
        raise UsageError(
            "no source enabled: enable one under 'sources:' in the config, "
            "or build from a saved bundle with --source DIR"
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
    say = progress or (lambda _p: None)
    say(BuildProgress("collect", f"asking {len(sources)} source(s)", 0, len(sources)))
    failures: list[tuple[Source, str]] = []
    partial: list[tuple[Source, list[Warning]]] = []
    replies: list[tuple[str, Evidence]] = []
    while pending:
        wait = None
        if request.deadline is not None:
            wait = max(0.0, request.deadline + DEADLINE_GRACE - time.monotonic())
        try:
            src, got, exc = answers.get(timeout=wait)
        except queue.Empty:
            break
        pending.pop(id(src), None)
        answered = len(sources) - len(pending)
        if exc is not None:
            failures.append((src, _failure_message(src, exc)))
            say(BuildProgress("collect", f"{src.name} failed", answered, len(sources)))
            continue
        assert got is not None
        missing = [w for w in got.warnings if is_partial_failure(w.code)]
        if missing:
            partial.append((src, missing))
        replies.append((src.name, got))
        say(
            BuildProgress(
                "collect",
                f"{src.name}: {sum(len(i.queries) for i in got.sources)} queries",
                answered,
                len(sources),
            )
        )
    for src in pending.values():
        failures.append(
            (
                src,
                f"source {src.name!r}: no answer within the build's time limit; "
                "raise 'timeout' in the config or shorten the window",
            )
        )
    merge_apart(evidence, replies)
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


def merge_apart(evidence: Evidence, answered: list[tuple[str, Evidence]]) -> None:
    """Merge the sources' evidence in source-name order, two sources' series of a service apart.

    Two sources' series of one name and service (two Prometheus servers that both report
    ``checkout``) would share an id: their points would be mixed into one series. Both are
    renamed ``<name>@<source>`` instead, and a warning says so. Logs come from one source
    per build: a second one is a configuration error, not a silent replacement.
    """
    answered = sorted(answered, key=lambda a: a[0])
    with_logs = [name for name, got in answered if got.logs is not None]
    if len(with_logs) > 1:
        raise ConfigError(
            f"sources {', '.join(repr(n) for n in with_logs)} all return logs; a build reads the "
            "logs of one source: disable the others ('enabled: false')"
        )
    owners: dict[tuple[str, str], list[str]] = {}
    for name, got in answered:
        for key in sorted({(s.name, s.service) for s in got.series}):
            owners.setdefault(key, []).append(name)
    shared = {key: names for key, names in owners.items() if len(names) > 1}
    for name, got in answered:
        for s in got.series:
            if (s.name, s.service) in shared:
                s.name = f"{s.name}@{name}"
        evidence.merge(got)
    for service in sorted({service for _, service in shared}):
        names = sorted({n for (_, svc), ns in shared.items() if svc == service for n in ns})
        evidence.warnings.append(
            Warning(
                source=names[0],
                message=f"service {service!r} is reported by sources "
                f"{', '.join(repr(n) for n in names)}: their series are kept apart (named "
                f"<series>@<source>), not added together; if the servers scrape the same "
                "targets, enable only one of them, or give each its own services",
                code="service_in_two_sources",
                params={"service": service, "names": ", ".join(names)},
            )
        )


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


def gather_evidence(
    config: Config, request: BuildRequest, progress: ProgressCallback | None = None
) -> Evidence:
    """Evidence for the request: read back from a bundle, or collected from live sources.

    Live, a second collect fetches further back when the incident began before the
    baseline (:func:`look_back`).
    """
    if request.source_dir is not None:
        if progress:
            progress(BuildProgress("read", f"reading {request.source_dir}"))
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
    evidence = collect(sources, creq, strict=request.strict, progress=progress)
    return look_back(config, sources, creq, evidence, strict=request.strict, progress=progress)


def look_back(
    config: Config,
    sources: list[Source],
    request: CollectRequest,
    evidence: Evidence,
    strict: bool = False,
    progress: ProgressCallback | None = None,
) -> Evidence:
    """The evidence, fetched further back when its incident was in breach from the baseline's start.

    The metrics sources are asked for the breached services' SLI series over a stretch
    before the baseline (``analysis.lookback_max``; see :mod:`pmrecon.look_back_fetch`).
    A failure there is a warning (an error with ``strict``): the start stays unknown.
    """
    from .look_back_fetch import add_look_back, further_request

    metrics: list[Source] = [src for src in sources if isinstance(src, MetricsSource)]
    further = further_request(config, request, evidence) if metrics else None
    if further is None or further.look_back is None:
        return evidence
    hours = round((request.window.start - further.look_back.start).total_seconds() / 3600, 1)
    if progress:
        progress(BuildProgress("collect", f"looking back {hours:g} h for the incident's start"))
    try:
        extra = collect(metrics, further, strict=strict)
    except ConnectorError as exc:
        if strict:
            raise
        message = f"the look-back before the baseline failed ({exc.format_message()})"
        evidence.warnings.append(Warning("build", message, code="source_unavailable"))
        return evidence
    add_look_back(evidence, extra)
    return evidence


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


#: Most severe first, for the title's tie-break between alerts that fired together.
SEVERITY_ORDER = ("critical", "page", "error", "high", "major", "warning", "minor", "low", "info")


def title_alert(findings: dict[str, Any]) -> str | None:
    """The alert a default title names: the report's first alert.

    That is the alert the ``first_alert`` instant names; without one (no alert fired in
    the incident, or one already firing at the window's start), the alert whose firing
    started earliest, the most severe among those that started together.
    """
    ref = ((findings.get("instants") or {}).get("first_alert") or {}).get("ref")
    if ref:
        # "Name (query ref)": an alert name holds no space.
        return str(ref).split(" (", 1)[0]

    def order(alert: dict[str, Any]) -> tuple[float, int, str]:
        severity = str(alert.get("severity") or "").lower()
        rank = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
        fired = min(parse_rfc3339(str(i[0])).timestamp() for i in alert["firing"])
        return (fired, rank, str(alert.get("name")))

    fired = [a for a in findings.get("alerts") or [] if a.get("firing")]
    if fired:
        return str(min(fired, key=order)["name"])
    alerts = findings.get("alerts") or []
    return str(alerts[0]["name"]) if alerts else None


def default_title(findings: dict[str, Any], lang: str) -> str:
    """A title from the incident's services and its first alert (see ``title_alert``)."""
    inc = findings.get("incident") or {}
    services = [s["name"] for s in inc.get("services") or []]
    start = inc.get("impact_start") or findings["window"]["from"]
    day = str(start)[:10]
    what = title_alert(findings)
    title = text(lang, "title.day", day=day)
    if services:
        title = text(lang, "title.services", title=title, services=", ".join(services[:3]))
    return text(lang, "title.alert", title=title, alert=what) if what else title


def _preload_in_background() -> None:
    """Import what comes after collection (numpy, plotly, jinja2) while sources are asked."""

    def load() -> None:
        import importlib

        for name in ("pmrecon.analysis", "pmrecon.report.graphs", "pmrecon.output"):
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="pmrecon-preload", daemon=True).start()


def output_dir_for(config: Config, findings: dict[str, Any], title: str) -> Path:
    """Where a build writes without ``out``: ``output_dir/<day of impact start>-<slug of title>``."""
    start = (findings.get("incident") or {}).get("impact_start") or findings["window"]["from"]
    return Path(config["output_dir"]) / f"{str(start)[:10]}-{slugify(title)}"


#: The bundle file that records the settings a build used, so that a rebuild reproduces it.
BUILD_SETTINGS = "build.json"
#: The config keys recorded there besides the analysis section (and the title).
RECORDED_KEYS = ("timezone", "language")


def build_settings(config: Config, title: str | None, human: HumanInstants) -> dict[str, Any]:
    """What a build used that its findings depend on: zone, language, title, analysis, hand times.

    ``title`` is the one given (by hand or in the config); None for the default title, which
    a rebuild writes again in its own language.
    """
    return {
        "timezone": config["timezone"],
        "language": config["language"],
        "title": title,
        "analysis": config["analysis"],
        "human": {k: rfc3339(v) if v else None for k, v in human.as_mapping().items()},
    }


def recorded_settings(source_dir: Path) -> dict[str, Any] | None:
    """The settings recorded in a bundle (None for a bundle written before they were)."""
    data = read_listed(Path(source_dir), BUILD_SETTINGS)
    if data is None:
        return None
    try:
        recorded = json.loads(data.decode("utf-8"))
        if not isinstance(recorded, dict):
            raise ValueError("not an object")
        return recorded
    except (ValueError, RecursionError) as exc:
        raise EvidenceError(
            f"evidence file {Path(source_dir) / BUILD_SETTINGS} is unreadable ({exc}); "
            "restore the original bundle"
        ) from None


def with_recorded_settings(
    config: Config, request: BuildRequest, recorded: dict[str, Any]
) -> tuple[Config, BuildRequest]:
    """The config and request of a rebuild: the bundle's recorded settings unless told otherwise.

    Told otherwise: a flag in ``request.given``, a key of the config file, a value other
    than the default, a title or a time given by hand.
    """
    defaults = load_config(None)
    in_file = read_yaml(config.path) if config.path is not None else {}
    data = copy.deepcopy(config.data)

    def given(key: str, value: Any, default: Any, file_section: Any) -> bool:
        in_section = isinstance(file_section, dict) and key in file_section
        return in_section or value != default

    for key in RECORDED_KEYS:
        chosen = key in request.given or given(key, config[key], defaults[key], in_file)
        if key in recorded and not chosen:
            data[key] = recorded[key]
    analysis = recorded.get("analysis")
    if isinstance(analysis, dict) and "analysis" not in request.given:
        for key, value in analysis.items():
            mine = config["analysis"].get(key)
            if not given(key, mine, defaults["analysis"].get(key), in_file.get("analysis")):
                data["analysis"][key] = value
    where = f"evidence file {Path(request.source_dir or '.') / BUILD_SETTINGS}"
    # What the bundle recorded is checked as the config is (a bad value is the bundle's
    # fault: exit 4, not a configuration error nor an internal one).
    try:
        # validate() fills every other section with its defaults: take back only these keys
        keys = (*RECORDED_KEYS, "analysis")
        checked = validate({k: data[k] for k in keys}, where=where)
        data.update({k: checked[k] for k in keys})
        title = request.title or config.get("title") or recorded.get("title")
        if not isinstance(title, (str, type(None))):
            raise ValueError(f"{where}: title is a {type(title).__name__}, not text")
        hand = recorded.get("human") or {}
        human = HumanInstants(
            **{
                name: getattr(request.human, name) or _recorded_time(hand.get(name))
                for name in HumanInstants.__dataclass_fields__
            }
        )
    except (PmreconError, ValueError, AttributeError) as exc:
        text = exc.format_message() if isinstance(exc, PmreconError) else str(exc)
        text = text if text.startswith(where) else f"{where}: {text}"
        raise EvidenceError(
            f"{text}; restore the original bundle, or give that setting in the "
            "config or on the command line"
        ) from None
    return Config(data=data, path=config.path), dataclasses.replace(
        request, title=title, human=human
    )


def _recorded_time(value: Any) -> dt.datetime | None:
    """A hand time as build.json records it (RFC 3339), None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a recorded time is a {type(value).__name__}, not RFC 3339 text")
    return parse_rfc3339(value)


def build(
    config: Config,
    request: BuildRequest,
    progress: ProgressCallback | None = None,
    *,
    evidence: Evidence | None = None,
) -> BuildResult:
    """Collect (or load) evidence, analyse it and write the post-mortem folder.

    From a bundle (``request.source_dir``), the settings it recorded are reused unless the
    config or the request says otherwise, so a rebuild gives the same findings.
    ``evidence`` already collected (by :func:`gather_evidence` for ``request.window``) is
    used as it is, not collected again; the draft is the one a build from its bundle
    writes. ``progress`` is told each step (:class:`BuildProgress`); the library prints nothing.
    """
    if evidence is not None and request.source_dir is not None:
        raise UsageError("build from collected evidence or from a bundle (source_dir), not both")
    # A known --out folder is locked for the whole build: a second build into it fails at
    # once, and a commit a crash interrupted is finished before its evidence is read.
    with output_lock(request.out):
        return _build(config, request, progress, evidence)


def _build(
    config: Config,
    request: BuildRequest,
    progress: ProgressCallback | None,
    collected: Evidence | None = None,
) -> BuildResult:
    tell = progress or (lambda _p: None)

    def say(message: str, stage: str = "write") -> None:
        tell(BuildProgress(stage, message))

    if collected is not None:
        evidence = collected
    else:
        if request.source_dir is None:
            _preload_in_background()
        evidence = gather_evidence(config, request, progress)
    if request.source_dir is not None:
        recorded = recorded_settings(request.source_dir)
        if recorded is not None:
            config, request = with_recorded_settings(config, request, recorded)
    lang = config["language"]
    # Analyse what the bundle holds, as a rebuild from it reads it (byte-identical
    # findings), without parsing back the series.csv just written.
    files = bundle_files(evidence, spool=True)
    evidence = evidence_as_read(evidence, files)
    say("analysing", "analyse")
    findings = analyse_evidence(evidence, config, request.human)
    title = request.title or config.get("title") or default_title(findings, lang)
    out = request.out or output_dir_for(config, findings, title)
    given_title = request.title or config.get("title")
    settings = json.dumps(
        build_settings(config, given_title, request.human), indent=2, sort_keys=True
    )
    files = with_files(files, {BUILD_SETTINGS: (settings + "\n").encode("utf-8")})
    png = config["report"]["png"] if request.png is None else request.png
    from .report.markdown import builtin_template_dir

    inputs = fresh.inputs_digest(
        config=config,
        bundle=files,
        findings=findings,
        title=title,
        png=png,
        template_dirs=[builtin_template_dir(), config["report"]["template_dir"]],
    )
    last = fresh.read_fingerprint(out)
    same_inputs = not request.force and last.get("inputs") == inputs and last.get("generated_at")
    if same_inputs and last.get("outputs") == fresh.outputs_digest(out):
        say(f"{out} is up to date: nothing to write", "write")
        return _unchanged_result(out, evidence, findings)
    # Same inputs: the same generation time, so the files come out byte for byte the same.
    generated_at = str(last["generated_at"]) if same_inputs else rfc3339(request.now or utcnow())
    created = [p for p in [out, *out.parents] if not p.exists()]
    ensure_writable_dir(out)
    try:
        say(f"rendering into {out}", "render")
        from .output import write_outputs

        result = write_outputs(
            out,
            config=config,
            evidence=evidence,
            findings=findings,
            title=title,
            generated_at=generated_at,
            png=png,
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
    result.changed = fresh.write_fingerprint(out, inputs, generated_at) != last.get("outputs")
    result.degraded = any(w.code == "source_unavailable" for w in evidence.warnings)
    return result


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def _unchanged_result(out: Path, evidence: Evidence, findings: dict[str, Any]) -> BuildResult:
    """The result of a build that found its report folder already up to date."""
    import json

    from .output import GRAPHS, MARKDOWN

    written = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    # what the writer added to the analysis' warnings (a PNG export that could not run)
    extra = written.get("warnings", [])[len(findings.get("warnings") or []) :]
    graphs = sorted(p for p in (out / GRAPHS).iterdir() if p.is_file())
    result = BuildResult(
        out_dir=out,
        findings=written,
        files=[
            out / "evidence",
            *graphs,
            out / "findings.json",
            out / "report.html",
            out / MARKDOWN,
        ],
        warnings=list(evidence.warnings)
        + [
            Warning(
                str(w.get("source")),
                str(w.get("message")),
                str(w.get("code")),
                dict(w.get("params") or {}),
            )
            for w in extra
        ],
        changed=False,
    )
    result.degraded = any(w.code == "source_unavailable" for w in evidence.warnings)
    return result


def check(config: Config) -> list[CheckResult]:
    """Run every source's own checks (connectivity, auth, version, data the config needs)."""
    if not config["sources"]:
        raise no_source_error(config)
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
        except ConfigError as exc:
            # a config problem, whichever command meets it: exit code 2, as for build
            results.append(
                CheckResult(name, CONFIG_CHECK, False, exc.format_message(), "edit the config")
            )
        except PmreconError as exc:
            results.append(
                CheckResult(name, "connect", False, exc.format_message(), "see the message")
            )
    return results


#: The ``check`` name of a CheckResult that reports a config problem (not a source's).
CONFIG_CHECK = "config"


def check_exit_code(results: list[CheckResult]) -> int:
    """The exit code of ``pmrecon check``: 2 for a config problem (as build), 3 for a source's, else 0."""
    failed = [r for r in results if not r.ok]
    if any(r.check == CONFIG_CHECK for r in failed):
        return EXIT_USAGE
    return EXIT_SOURCE if failed else 0


__all__ = [
    "BuildProgress",
    "BuildRequest",
    "BuildResult",
    "HumanInstants",
    "build",
    "check",
    "check_exit_code",
    "collect",
    "gather_evidence",
]
