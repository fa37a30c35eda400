"""pytest hooks that keep a run honest about order and about what it leaves behind.

Imported into tests/conftest.py (any pytest run of this repository uses them); a stand-alone
run loads them with ``-p tests.infra.run_guard``.

- ``--reverse`` runs the collected tests in reverse order (after pytest has grouped them by
  fixture parameter, so each Elasticsearch node still starts once): every test, fixture and
  server must pass whatever ran before it, on a machine where nothing was set up yet.
- Each run gets its own temporary directory, ``pmrecon-run-*`` in the system one: ``TMPDIR``
  and :data:`tempfile.tempdir` point there for the run and for every process it starts (the
  benchmark, Elasticsearch nodes, Chromium). At the end, a ``pmrecon-*`` folder still in it is
  a leak: the run fails and names it, then the whole directory is removed, so the system
  temporary directory keeps nothing, passed or failed, and other runs on the same machine
  (their folders are not in ours) never trip the check. pytest's own ``tmp_path`` folders
  stay where pytest keeps them (``PYTEST_DEBUG_TEMPROOT``: the system directory).
  ``PMRECON_ES_KEEP=1`` (keep a failed node's folder for a post-mortem) keeps the directory and
  says where it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.infra.machine import SCRATCH_PREFIX


@dataclass
class _RunTmp:
    root: Path
    pin: IO[str]  # an open file inside: `scripts/test --fresh` leaves a folder in use alone
    saved_env: str | None
    saved_tempdir: str | None
    keep: bool = False


_KEY = pytest.StashKey[_RunTmp]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the tests in reverse order (each must pass whatever ran before it)",
    )


@pytest.hookimpl(trylast=True)  # after pytest grouped the items by fixture parameter
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("reverse"):
        items.reverse()


def pytest_configure(config: pytest.Config) -> None:
    system_tmp = tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="pmrecon-run-", dir=system_tmp))
    os.chmod(root, 0o755)  # Elasticsearch's unprivileged user works in folders made here
    pin = open(root / ".in-use", "w")  # noqa: SIM115 - open for the whole run
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", system_tmp)
    config.stash[_KEY] = _RunTmp(root, pin, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = str(root)


def leftovers(root: Path) -> list[Path]:
    """The ``pmrecon-*`` folders still in a run's temporary directory."""
    return sorted(p for p in root.iterdir() if p.name.startswith(SCRATCH_PREFIX))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(_KEY, None)
    if run is None:
        return
    left = leftovers(run.root)
    keep = os.environ.get("PMRECON_ES_KEEP") == "1" and bool(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:  # pragma: no cover - only without the terminal plugin
            print(line)

    if left and not keep:
        say(
            f"pmrecon: this run left {len(left)} temporary folder(s) behind (a test, fixture "
            "or server did not clean up after itself; removed now):"
        )
        for p in left:
            say(f"  {p.name}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif keep:
        say(f"pmrecon: PMRECON_ES_KEEP=1: kept {run.root} ({len(left)} folder(s))")
        run.keep = True


def pytest_unconfigure(config: pytest.Config) -> None:
    # Also reached without a session (--help, usage errors): the folder goes in every case.
    run = config.stash.get(_KEY, None)
    if run is None:
        return
    del config.stash[_KEY]
    run.pin.close()
    if run.saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = run.saved_env
    tempfile.tempdir = run.saved_tempdir
    if not run.keep:
        shutil.rmtree(run.root, ignore_errors=True)
