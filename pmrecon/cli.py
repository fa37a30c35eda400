"""The ``pmrecon`` command: a thin layer over :mod:`pmrecon.api`.

Options default to ``None`` so that the config file wins unless a flag is given. Every
error is one line on stderr with a documented exit code; ``--debug`` shows tracebacks.
Heavy modules are imported inside the commands so that ``pmrecon --help`` starts fast.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .cli_init import init_command
from .cli_init import secrets as init_secrets
from .errors import EXIT_DEGRADED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, PmreconError
from .fsutil import OutputFolder

if TYPE_CHECKING:  # imported inside the commands at run time, to keep --help fast
    import datetime as dt

    from .config import Config
    from .result import BuildResult

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  internal error (a bug: please report it, rerun with --debug)
  2  usage or configuration error
  3  a source is unavailable (or every source failed)
  4  the evidence bundle is missing, tampered with, malformed or unreadable
  5  a template failed to render or the output cannot be written
  6  a rebuild met conflicting edits (marked in postmortem.md)
  7  built in degraded mode: a source failed, the report says which
  8  incidents found, with scan --fail-on-incident
  130 interrupted"""

_SECRETS: list[str] = []


def scrub(text: str) -> str:
    """Remove every known secret value, and any ``user:password@`` of a URL, from text about to be printed."""
    from connectors.toolkit.credentials import scrub as scrub_secrets

    # the terminal has always shown "[REDACTED]"; connector messages and the evidence show "***"
    return scrub_secrets(text, [*_SECRETS, *init_secrets], mask="[REDACTED]")


class State:
    """The group's --debug/-v/-q, passed to every command."""

    def __init__(self, debug: bool, verbose: int, quiet: bool) -> None:
        self.debug = debug
        self.verbose = verbose
        self.quiet = quiet

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(scrub(f"pmrecon: {message}"), err=True)


class StatusLine:
    """A build's progress on one self-rewriting stderr line, for a terminal only.

    Nothing is shown when stderr is not a terminal (CI logs, pipes), with ``--json`` or
    ``-q``; ``-v`` prints each step as a log line instead.
    """

    def __init__(self, state: State, as_json: bool) -> None:
        self.state = state
        self.live = not state.quiet and not as_json and not state.verbose and _stderr_is_tty()
        self.shown = False

    def callback(self) -> Any:
        """What to pass as the library's ``progress`` (None: nothing to show)."""
        if self.live:
            return self.update
        if self.state.verbose and not self.state.quiet:
            return lambda p: self.state.say(str(p))
        return None

    def update(self, p: Any) -> None:
        counts = f" [{p.done}/{p.total} sources]" if p.stage == "collect" and p.total else ""
        width = max(20, _terminal_width() - 1)
        text = scrub(f"pmrecon: {p.message}{counts}")[:width]
        click.echo(f"\r\x1b[K{text}", err=True, nl=False)
        self.shown = True

    def close(self) -> None:
        """Erase the line, so that what follows starts on a clean one."""
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)
            self.shown = False


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="pmrecon")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", count=True, help="More progress output (-vv for debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int, quiet: bool) -> None:
    """Reconstruct an incident from Prometheus and Elasticsearch telemetry and draft its post-mortem.

    \b
    Examples:
      pmrecon demo                                   # a full report from the bundled demo incident
      pmrecon build --from now-2h --to now           # the last two hours, config from ./pmrecon.yaml
      pmrecon build --from "2026-03-01 09:30" --to "2026-03-01 12:00" --tz Europe/Paris
      pmrecon build --source postmortems/2026-03-01-checkout/evidence   # rebuild without servers
    """
    logging.basicConfig(format="pmrecon: %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = State(debug, verbose, quiet)
    _apply_log_level(ctx.obj)


def _apply_log_level(state: State) -> None:
    level = logging.WARNING
    if state.debug or state.verbose >= 2:
        level = logging.DEBUG
    elif state.verbose:
        level = logging.INFO
    if state.quiet:
        level = logging.ERROR
    logging.getLogger().setLevel(level)
    # The clients' own retry chatter ("node has failed … putting on timeout") repeats what
    # pmrecon reports once, in words: shown with -v or --debug only.
    chatty = level if state.debug else logging.WARNING if state.verbose else logging.ERROR
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, chatty))


LIBRARY_LOGGERS = ("elastic_transport", "urllib3", "kaleido", "choreographer")


def _subcommand_option(*names: str, **kwargs: Any) -> Any:
    """The group's --debug/-v/-q, also accepted after the subcommand (``pmrecon demo -q``)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        state = ctx.find_object(State)
        if state is None or not value:
            return
        setattr(state, str(param.name), value if param.name != "verbose" else state.verbose + value)
        _apply_log_level(state)

    return click.option(*names, expose_value=False, callback=callback, **kwargs)


def _global_options(f: Any) -> Any:
    f = _subcommand_option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")(f)
    f = _subcommand_option("-v", "--verbose", count=True, help="More progress output.")(f)
    return _subcommand_option("--debug", is_flag=True, help="Show tracebacks and debug logs.")(f)


def _time_options(f: Any) -> Any:
    for name, help_text in reversed(
        [
            ("--ack", "Acknowledgement time (for MTTA); same forms as --from."),
            ("--declared", "Time the incident was declared; same forms as --from."),
            ("--investigation-start", "Start of the investigation; same forms as --from."),
            ("--cause-identified", "Time the cause was identified; same forms as --from."),
        ]
    ):
        f = click.option(name, default=None, metavar="TIME", help=help_text)(f)
    return f


def _config_option(f: Any) -> Any:
    return click.option(
        "-c",
        "--config",
        "config_path",
        default=None,
        metavar="FILE",
        help="Config file (default: $PMRECON_CONFIG, then ./pmrecon.yaml).",
    )(f)


cli.add_command(_global_options(init_command))


def _load(config_path: str | None, overrides: dict[str, Any]) -> Config:
    from .config import find_config_file, load_config

    config = load_config(find_config_file(config_path), overrides)
    _SECRETS.extend(config.secrets)
    return config


@cli.command()
@_global_options
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Window start: RFC 3339, 'YYYY-MM-DD HH:MM' (configured zone), epoch seconds, now-2h…",
)
@click.option(
    "--to", "end", default=None, metavar="TIME", help="Window end (same forms); not in the future."
)
@_config_option
@click.option(
    "-o",
    "--out",
    default=None,
    type=OutputFolder(path_type=Path),
    help="Write exactly into DIR (default: ./postmortems/<date>-<slug>/).",
)
@click.option(
    "--source",
    "source_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Build from a saved evidence bundle instead of live servers.",
)
@click.option(
    "--lang", default=None, type=click.Choice(["fr", "en"]), help="Report language (default: fr)."
)
@click.option("--title", default=None, help="Report title (default: derived from the incident).")
@click.option("--service", "services", multiple=True, help="Restrict to this service (repeatable).")
@click.option(
    "--tz",
    default=None,
    metavar="ZONE",
    help="IANA time zone for displayed times (default: config, else UTC).",
)
@click.option(
    "--template-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Templates looked up before the built-in ones.",
)
@click.option("--no-png", is_flag=True, default=False, help="Skip PNG export (no Chromium needed).")
@click.option(
    "--force",
    is_flag=True,
    help="Regenerate postmortem.md from scratch (the old one is backed up).",
)
@click.option(
    "--strict", is_flag=True, help="Fail if any source fails, instead of a degraded report."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@_time_options
@click.pass_obj
def build(
    state: State,
    start: str | None,
    end: str | None,
    config_path: str | None,
    out: Path | None,
    source_dir: Path | None,
    lang: str | None,
    title: str | None,
    services: tuple[str, ...],
    tz: str | None,
    template_dir: Path | None,
    no_png: bool,
    force: bool,
    strict: bool,
    as_json: bool,
    ack: str | None,
    declared: str | None,
    investigation_start: str | None,
    cause_identified: str | None,
) -> None:
    """Build a post-mortem draft for the window --from … --to.

    \b
    Examples:
      pmrecon build --from now-3h --to now
      pmrecon build --from 2026-03-01T09:30:00Z --to 2026-03-01T12:00:00Z -o pm/checkout
      pmrecon build --from "2026-03-01 10:30" --to "2026-03-01 12:00" --tz Europe/Paris --lang en
      pmrecon build --source pm/checkout/evidence -o pm/checkout   # rebuild, no server needed
    """
    from .api import BuildRequest, HumanInstants
    from .timeparse import parse_instant, parse_window

    overrides = {
        "language": lang,
        "timezone": tz,
        "title": title,
        "services": list(services) or None,
        "report.template_dir": str(template_dir) if template_dir else None,
    }
    config = _load(config_path, overrides)
    zone = config["timezone"]
    window = None
    if source_dir is None:
        if start is None or end is None:
            raise click.UsageError(
                "--from and --to are required (or --source DIR to rebuild from a bundle)"
            )
        window = parse_window(start, end, zone, config["max_window"])
    elif start or end:
        raise click.UsageError("--source uses the bundle's own window: drop --from/--to")

    def instant(value: str | None, option: str) -> dt.datetime | None:
        return parse_instant(value, zone, option=option) if value is not None else None

    human = HumanInstants(
        acknowledged=instant(ack, "--ack"),
        declared=instant(declared, "--declared"),
        investigation_start=instant(investigation_start, "--investigation-start"),
        cause_identified=instant(cause_identified, "--cause-identified"),
    )
    request = BuildRequest(
        window=window,
        out=out,
        source_dir=source_dir,
        title=title,
        human=human,
        png=False if no_png else None,
        force=force,
        strict=strict,
        given=frozenset(key for key, value in overrides.items() if value is not None),
    )
    result = _run_build(state, as_json, config, request)
    _report(state, result, as_json)


def _run_build(state: State, as_json: bool, config: Config, request: Any) -> BuildResult:
    from .api import build as run_build

    status = StatusLine(state, as_json)
    try:
        return run_build(config, request, progress=status.callback())
    finally:
        status.close()


def _report(state: State, result: BuildResult, as_json: bool) -> None:
    import json

    inc = result.findings.get("incident") or {}
    if as_json:
        click.echo(
            scrub(
                json.dumps(
                    {
                        "schema_version": 1,  # pmrecon/schema/build.schema.json
                        "out_dir": str(result.out_dir),
                        "files": [str(p) for p in result.files],
                        "incident_found": inc.get("found"),
                        "impact_start": inc.get("impact_start"),
                        "resolution": inc.get("resolution"),
                        "warnings": [w.message for w in result.warnings],
                        "degraded": result.degraded,
                    },
                    indent=2,
                )
            )
        )
    elif not state.quiet:
        click.echo(scrub(f"{result.out_dir / 'postmortem.md'}"))
        for w in result.warnings:
            click.echo(scrub(f"pmrecon: warning: {w.source}: {w.message}"), err=True)
    if result.degraded:
        raise SystemExit(EXIT_DEGRADED)


@cli.command()
@_global_options
@click.option(
    "-o",
    "--out",
    default=Path("pmrecon-demo"),
    show_default=True,
    type=OutputFolder(path_type=Path),
    help="Where to write the demo report.",
)
@click.option(
    "--lang",
    default="fr",
    show_default=True,
    type=click.Choice(["fr", "en"]),
    help="Report language.",
)
@click.option("--no-png", is_flag=True, help="Skip PNG export (no Chromium needed).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.pass_obj
def demo(state: State, out: Path, lang: str, no_png: bool, as_json: bool) -> None:
    """Build a complete post-mortem from the incident bundled with pmrecon (no server needed).

    \b
    Example:
      pmrecon demo -o /tmp/demo && less /tmp/demo/postmortem.md
    """
    from .api import BuildRequest
    from .config import Config
    from .demo import demo_bundle_dir

    config = Config.from_dict({"language": lang, "timezone": "Europe/Paris", "title": None})
    request = BuildRequest(out=out, source_dir=demo_bundle_dir(), png=False if no_png else None)
    result = _run_build(state, as_json, config, request)
    _report(state, result, as_json)


@cli.command()
@_global_options
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
@click.pass_obj
def check(state: State, config_path: str | None, as_json: bool) -> None:
    """Check the config and every source: reachable, authenticated, version, the data the config needs.

    Run it first in a CI job, and when a report comes out empty.

    \b
    Examples:
      pmrecon check
      pmrecon check --config ci/pmrecon.yaml --json
    """
    import dataclasses
    import json

    from .api import check as run_check
    from .api import check_exit_code

    config = _load(config_path, {})
    results = run_check(config)
    if as_json:
        click.echo(scrub(json.dumps([dataclasses.asdict(r) for r in results], indent=2)))
    else:
        color = None if not os.environ.get("NO_COLOR") else False
        width = max((len(f"{r.source} {r.check}") for r in results), default=10)
        for r in results:
            verdict = (
                click.style(
                    "ok  ",
                    fg="green",
                )
                if r.ok
                else click.style("FAIL", fg="red", bold=True)
            )
            line = f"{verdict} {(r.source + ' ' + r.check).ljust(width)}  {r.detail}"
            if not r.ok and r.fix:
                line += f" — fix: {r.fix}"
            click.echo(scrub(line), color=color)
    code = check_exit_code(results)
    if code:
        raise SystemExit(code)


@cli.command()
@_global_options
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Scan start (default: now-24h); same forms as build --from.",
)
@click.option("--to", "end", default=None, metavar="TIME", help="Scan end (default: now).")
@_config_option
@click.option(
    "-o",
    "--out",
    default=None,
    type=OutputFolder(path_type=Path),
    help="Folder holding one draft per incident (default: output_dir, ./postmortems).",
)
@click.option(
    "--max-incidents",
    default=None,
    type=click.IntRange(min=1),
    help="Most incidents drafted in detail (default: 25); bounds the queries.",
)
@click.option("--no-png", is_flag=True, default=False, help="Skip PNG export (no Chromium needed).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "--fail-on-incident", is_flag=True, help="Exit with code 8 when an incident was found."
)
@click.pass_obj
def scan(
    state: State,
    start: str | None,
    end: str | None,
    config_path: str | None,
    out: Path | None,
    max_incidents: int | None,
    no_png: bool,
    as_json: bool,
    fail_on_incident: bool,
) -> None:
    """Find every incident in a window and draft one post-mortem each (scheduled mode).

    Each incident gets its own folder DIR/<YYYY-MM-DD-HHMM>-<slug>/. A re-run finds the
    same drafts and rebuilds them in place, keeping human edits: nothing new is created.

    \b
    Examples:
      pmrecon scan                                        # the last 24 hours
      pmrecon scan --from now-7d --to now --out postmortems --no-png
      pmrecon scan --from now-1d --to now --json > scan.json
      pmrecon check && pmrecon scan --fail-on-incident    # CI: red when an incident was found
    """
    import json

    from .scanning import (
        MAX_INCIDENTS,
        MAX_SCAN_SECONDS,
        exit_code,
        format_table,
        summary_line,
        table_rows,
        to_json,
    )
    from .scanning import scan as run_scan
    from .timeparse import parse_window

    config = _load(config_path, {})
    window = parse_window(start or "now-24h", end or "now", config["timezone"], MAX_SCAN_SECONDS)
    _refuse_non_folder(out if out is not None else Path(config["output_dir"]))
    bar: Any = None

    def progress(p: Any) -> None:
        # As for build: a bar on a terminal; log lines only with -v; nothing with -q/--json.
        nonlocal bar
        if state.quiet:
            return
        if state.verbose or not _stderr_is_tty():
            if state.verbose and p.stage != "done":
                state.say(f"scan: {p.message}")
            return
        if as_json:
            return
        if p.stage == "candidates" and p.total:
            bar = click.progressbar(length=p.total, label="pmrecon: drafting", file=sys.stderr)
        elif bar is not None and p.stage in ("detail", "done"):
            bar.update(p.done - bar.pos)
            if p.stage == "done":
                bar.render_finish()

    result = run_scan(
        config,
        window.start,
        window.end,
        out,
        png=False if no_png else None,
        max_incidents=max_incidents or MAX_INCIDENTS,
        progress=progress,
    )
    color = False if os.environ.get("NO_COLOR") else None
    if as_json:
        click.echo(scrub(json.dumps(to_json(result, config["timezone"]), indent=2)))
    elif result.incidents:
        header, *lines = format_table(table_rows(result, config["timezone"]))
        click.echo(click.style(header, bold=True), color=color)
        for line in lines:
            click.echo(scrub(line), color=color)
    for cand, message, _code in result.failed:
        click.echo(
            scrub(f"pmrecon: error: incident near {cand.start:%Y-%m-%d %H:%M}Z: {message}"),
            err=True,
        )
    for inc in result.incidents:
        if inc.error:
            click.echo(scrub(f"pmrecon: warning: {inc.id}: {inc.error}"), err=True)
    if not state.quiet:
        for w in result.warnings:
            click.echo(scrub(f"pmrecon: warning: {w}"), err=True)
        state.say(summary_line(result))
    code = exit_code(result, fail_on_incident)
    if code:
        raise SystemExit(code)


@cli.group("config")
def config_group() -> None:
    """Start a config file from the documented example shipped with pmrecon.

    \b
    Example:
      pmrecon config example > pmrecon.yaml     # then edit it, and run pmrecon check
    """


@config_group.command("example")
@_global_options
def config_example() -> None:
    """Print the example config: every key, with its default and what it does.

    \b
    Examples:
      pmrecon config example > pmrecon.yaml     # then edit URLs, services, thresholds
      pmrecon check                             # reads ./pmrecon.yaml
    """
    from .example_config import example_config_text

    click.echo(example_config_text(), nl=False)


@config_group.command("schema")
@_global_options
def config_schema() -> None:
    """Print the config file's JSON Schema, for editors that complete and check YAML.

    \b
    Generated from the settings schema that check and build validate against, every
    source type included. The example config's first line points editors at it:
      pmrecon config schema > pmrecon.schema.json
      # yaml-language-server: $schema=pmrecon.schema.json     (first line of pmrecon.yaml)
    """
    import json

    from .config_schema import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2, ensure_ascii=False))


def _schema_names() -> list[str]:
    from .schema import SCHEMAS

    return sorted([*SCHEMAS, "config"])


@cli.command("schema")
@_global_options
@click.argument("name", type=click.Choice(_schema_names()), metavar="NAME")
@click.option(
    "--open",
    "open_",
    is_flag=True,
    help="Allow unknown keys: for a copy you keep, which later releases' files of the same schema_version satisfy.",
)
def schema_command(name: str, open_: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a file or output pmrecon writes for machines.

    \b
    NAME:
      findings  findings.json of a report
      manifest  evidence/manifest.json of a report's evidence bundle
      scan      what scan --json prints
      build     what build --json and demo --json print
      config    pmrecon.yaml, for editors (the same as pmrecon config schema)
    The schemas are strict: the exact shape this release writes. docs/findings-in-ci.md
    says when schema_version changes and how to validate in CI.

    \b
    Examples:
      pmrecon schema findings > findings.schema.json
      check-jsonschema --schemafile findings.schema.json report/findings.json
      pmrecon schema findings --open > ci/pmrecon-findings.schema.json   # a copy to keep
    """
    import json

    from .schema import load, open_form

    if name == "config":
        from .config_schema import config_json_schema

        schema = config_json_schema()
    else:
        schema = load(name)
    click.echo(json.dumps(open_form(schema) if open_ else schema, indent=2, ensure_ascii=False))


def _refuse_non_folder(out: Path) -> None:
    """Fail before scanning when ``out`` (or the nearest existing parent) is not a folder.

    Found only after the scan, it would fail every incident's draft, one error each.
    """
    from .errors import OutputError

    for path in (out, *out.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise OutputError(f"output {path} exists and is not a folder; choose another --out")
            return


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, documented exit codes, no traceback unless --debug."""
    import contextlib
    import signal
    import traceback

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("PMRECON_DEBUG") == "1"
    console = argv is None

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def print_traceback() -> None:
        click.echo(scrub(traceback.format_exc()), err=True, nl=False)

    def exit_interrupted() -> None:
        # Exit now: a source thread still waiting on a server must not hold the exit.
        if not console:
            sys.exit(EXIT_INTERRUPTED)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(EXIT_INTERRUPTED)

    if console:
        # SIGTERM (a cancelled CI job, `timeout`, systemd) unwinds like Ctrl-C: temporary
        # files are removed and the previous report stays as it was.
        signal.signal(signal.SIGTERM, interrupt)
    if console and not debug:
        # Libraries log tracebacks with their warnings (elastic_transport on a retry):
        # tracebacks are for --debug only.
        make_record = logging.getLogRecordFactory()

        def record_without_traceback(*a: Any, **k: Any) -> logging.LogRecord:
            record = make_record(*a, **k)
            record.exc_info = record.exc_text = record.stack_info = None
            return record

        logging.setLogRecordFactory(record_without_traceback)
    try:
        cli.main(args=args, prog_name="pmrecon", standalone_mode=False)
    except PmreconError as exc:
        if debug:
            print_traceback()
        click.echo(scrub(f"pmrecon: error: {exc.format_message()}"), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        hint = f"; see 'pmrecon {exc.ctx.info_name if exc.ctx and exc.ctx.parent else ''} --help'".replace(
            "  ", " "
        )
        click.echo(scrub(f"pmrecon: error: {exc.format_message()}{hint}"), err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("pmrecon: interrupted", err=True)
        exit_interrupted()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("pmrecon: interrupted; the previous report, if any, is intact", err=True)
        exit_interrupted()
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            print_traceback()
        click.echo(
            scrub(
                f"pmrecon: internal error: {type(exc).__name__}: {exc}; rerun with --debug and report it"
            ),
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
