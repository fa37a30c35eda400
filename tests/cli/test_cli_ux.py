"""What a new user meets first (issue 18): progress on a terminal, shared exit codes, the
no-config error, and ``pmrecon config example``.

The terminal cases give the command a real pseudo-terminal as stderr (the ``pty`` module),
and a pipe for the others, as a CI job would.
"""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.base import CheckResult, CollectRequest
from pmrecon.api import BuildProgress, check_exit_code, collect
from pmrecon.config import load_config
from pmrecon.errors import EXIT_SOURCE, EXIT_USAGE
from pmrecon.model import Evidence, QueryRecord, SourceInfo, Window
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]


def run_with_tty_stderr(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run pmrecon with stderr on a pseudo-terminal; return (code, stdout, what the terminal got)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMRECON_CONFIG")}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmrecon", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=120)
    return code, out, b"".join(chunks).decode(errors="replace")


# --------------------------------------------------------------------------- progress


def test_build_shows_its_steps_on_a_terminal_and_erases_them(tmp_path: Path) -> None:
    code, out, tty = run_with_tty_stderr("demo", "--no-png", "-o", "r", cwd=tmp_path)
    assert code == 0, tty
    assert out.strip().endswith("postmortem.md")
    for step in ("reading", "analysing", "rendering", "writing files"):
        assert step in tty, (step, tty)
    assert "\x1b[K" in tty
    # the line is erased at the end: nothing of the status stays on screen
    assert tty.endswith("\r\x1b[K"), repr(tty[-80:])


@pytest.mark.parametrize("extra", [["--json"], ["-q"]], ids=["json", "quiet"])
def test_build_shows_nothing_on_a_terminal_with_json_or_quiet(
    tmp_path: Path, extra: list[str]
) -> None:
    code, _out, tty = run_with_tty_stderr("demo", "--no-png", "-o", "r", *extra, cwd=tmp_path)
    assert code == 0, tty
    assert tty == ""


def test_build_shows_nothing_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    run = run_cli("demo", "--no-png", "-o", "r", cwd=tmp_path)
    assert run.code == 0, run.err
    assert run.err == ""


def test_verbose_prints_each_step_as_a_line(tmp_path: Path) -> None:
    run = run_cli("demo", "--no-png", "-o", "r", "-v", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "pmrecon: analysing\n" in run.err and "\x1b[K" not in run.err


class FakeSource:
    """A source that answers at once with one SLI query (no server involved)."""

    kind = "fake"

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail = name, fail

    def collect(self, request: CollectRequest) -> Evidence:
        from pmrecon.errors import ConnectorError

        if self.fail:
            raise ConnectorError(f"source {self.name!r}: refused")
        query = QueryRecord(id=f"{self.name}:q1", source=self.name, purpose="sli", query="up")
        ev = Evidence(window=request.window)
        ev.sources.append(SourceInfo(name=self.name, kind=self.kind, queries=[query]))
        return ev

    def check(self) -> list[CheckResult]:
        return []


def test_collect_tells_each_source_as_it_answers() -> None:
    events: list[BuildProgress] = []
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    window = Window(start, start + dt.timedelta(hours=1))
    sources: list[Any] = [FakeSource("prom"), FakeSource("logs", fail=True)]
    collect(sources, CollectRequest(window=window), progress=events.append)
    assert [(e.stage, e.done, e.total) for e in events] == [
        ("collect", 0, 2),
        ("collect", 1, 2),
        ("collect", 2, 2),
    ]
    said = sorted(e.message for e in events[1:])
    assert said == ["logs failed", "prom: 1 queries"]
    assert str(events[0]) == events[0].message  # progress=print prints the message


# --------------------------------------------------------------------------- exit codes


def test_check_and_build_exit_2_for_a_config_without_sources(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("language: fr\n", encoding="utf-8")
    built = run_cli("build", "--from", "now-1h", "--to", "now", "-c", "c.yaml", cwd=tmp_path)
    checked = run_cli("check", "-c", "c.yaml", cwd=tmp_path)
    assert built.code == checked.code == EXIT_USAGE, (built.err, checked.out, checked.err)
    for run in (built, checked):
        assert len(run.error_lines) == 1
        assert "no source configured in c.yaml" in run.err
        assert "pmrecon config example" in run.err


def test_check_exit_code_tells_a_config_problem_from_a_source_problem() -> None:
    ok = CheckResult("prom", "reachable", True)
    down = CheckResult("prom", "reachable", False, "refused", "start it")
    bad_config = CheckResult("logs", "config", False, "its dependency is not installed", "fix")
    assert check_exit_code([ok]) == 0
    assert check_exit_code([ok, down]) == EXIT_SOURCE
    assert check_exit_code([down, bad_config]) == EXIT_USAGE


# --------------------------------------------------------------------------- no config


@pytest.mark.parametrize(
    "args",
    [["build", "--from", "now-1h", "--to", "now"], ["check"], ["scan"]],
    ids=["build", "check", "scan"],
)
def test_no_config_says_where_it_looked_and_how_to_start_one(
    tmp_path: Path, args: list[str]
) -> None:
    run = run_cli(*args, cwd=tmp_path)
    assert run.code == EXIT_USAGE, run.err
    assert len(run.error_lines) == 1, run.err
    line = run.error_lines[0]
    assert "no config file found" in line
    assert "--config (not given)" in line and "$PMRECON_CONFIG (not set)" in line
    assert f"{tmp_path.resolve() / 'pmrecon.yaml'} (absent)" in line
    assert "pmrecon config example > pmrecon.yaml" in line
    # a path that exists only in a checkout of pmrecon is no help to a user
    assert "config/pmrecon.example.yaml" not in line


def test_a_missing_config_file_points_at_the_example_command(tmp_path: Path) -> None:
    run = run_cli("check", "-c", "nowhere.yaml", cwd=tmp_path)
    assert run.code == EXIT_USAGE
    assert "nowhere.yaml does not exist" in run.err and "pmrecon config example" in run.err
    assert "config/pmrecon.example.yaml" not in run.err


# --------------------------------------------------------------------------- config example


def test_config_example_prints_the_documented_example_which_loads(tmp_path: Path) -> None:
    run = run_cli("config", "example", cwd=tmp_path)
    assert run.code == 0 and run.err == ""
    assert run.out == (ROOT / "config" / "pmrecon.example.yaml").read_text(encoding="utf-8")
    (tmp_path / "pmrecon.yaml").write_text(run.out, encoding="utf-8")
    config = load_config(tmp_path / "pmrecon.yaml", env={})
    assert set(config["sources"]) == set(yaml.safe_load(run.out)["sources"])


def test_config_example_has_help_with_an_example() -> None:
    run = run_cli("config", "example", "--help")
    assert run.code == 0 and "pmrecon config example > pmrecon.yaml" in run.out
    assert "config" in run_cli("--help").out
