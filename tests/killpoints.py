"""Builds killed with SIGKILL right after their N-th change to the output folder.

Run as ``python -m tests.killpoints``: it imports pmrecon once, then for each JSON line
on stdin, ``{"out": DIR, "source": BUNDLE, "kill_after": N}``, it forks a child that runs
a real build (:func:`pmrecon.api.build`, at a fixed time, so two builds of one bundle give
the same bytes) and kills itself right after the N-th rename, replace, link or unlink of
a path under DIR (0: never). It answers one JSON line: whether the child was killed, its
exit code otherwise, and the operations it made, in order (``[name, source, target]``).

Figures are two small fixed files and templates are compiled once (both take seconds and
are not what is tested).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
GRAPHS = {
    "error_ratio.html": b"<!doctype html><p>error ratio</p>",
    "latency.html": b"<!doctype html><p>latency</p>",
}
COUNTED = ("rename", "replace", "link", "unlink")


def _child(command: dict[str, Any], report: int) -> None:
    """Build, reporting each counted operation on ``report``; never returns."""
    from pmrecon.api import BuildRequest, build
    from pmrecon.errors import PmreconError
    from tests.report_data import config

    out, kill_after = str(command["out"]), int(command["kill_after"])
    count = 0

    def counted(name: str, real: Any) -> Any:
        def operation(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            result = real(*args, **kwargs)
            paths = [str(a) for a in args[:2]]
            if any(p.startswith(out) for p in paths):
                count += 1
                os.write(report, (json.dumps([name, *paths]) + "\n").encode())
                if count == kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result

        return operation

    for name in COUNTED:
        setattr(os, name, counted(name, getattr(os, name)))
    code = 0
    try:
        request = BuildRequest(
            source_dir=Path(command["source"]), out=Path(out), png=False, now=NOW
        )
        build(config(), request)
    except PmreconError as exc:
        print(f"pmrecon: error: {exc.format_message()}", file=sys.stderr)
        code = exc.exit_code
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    """Answer each command of stdin with one line on stdout (see the module's docstring)."""
    import functools

    import pmrecon.api  # noqa: F401 - imported once, before the forks
    import pmrecon.output

    pmrecon.output.render_graphs = lambda *_a, **_k: ([], dict(GRAPHS), [])  # type: ignore[assignment]
    # Templates compiled once, here, rather than in every child.
    pmrecon.output.make_environment = functools.lru_cache(pmrecon.output.make_environment)  # type: ignore[assignment]
    for line in sys.stdin:
        command = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(command, write)
        os.close(write)
        with os.fdopen(read) as fh:
            operations = [json.loads(x) for x in fh]
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"killed": killed, "code": code, "operations": operations}), flush=True)


if __name__ == "__main__":
    serve()
