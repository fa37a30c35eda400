"""Run the real ``pmrecon`` command in a subprocess, as a user would.

What ``build``, ``demo`` and ``scan`` print with ``--json``, and the findings.json and
manifest.json files in the output folder (``-o``, else ``cwd``), are checked against their
shipped schemas after every run (tests/schemacheck.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.schemacheck import JSON_OUTPUTS, check_output, sweep


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    memory: int | None = None,
) -> Run:
    """``pmrecon *args``; ``memory`` caps its address space in bytes (for inputs that used to explode)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PMRECON_CONFIG")}
    full_env.update(env or {})

    def limit_memory() -> None:
        import resource

        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    # A run that hangs is killed with SIGABRT first: faulthandler (PYTHONFAULTHANDLER) then
    # prints every thread's stack to stderr, so a hang seen once in CI can be diagnosed.
    full_env.setdefault("PYTHONFAULTHANDLER", "1")
    with subprocess.Popen(
        [sys.executable, "-m", "pmrecon", *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit_memory if memory is not None else None,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            try:
                stdout, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            raise AssertionError(
                f"pmrecon {' '.join(args)} did not end within {timeout} s;"
                f" its stacks and output:\n{stderr[-6000:]}\n{stdout[-2000:]}"
            ) from None
    command = next((a for a in args if not a.startswith("-")), None)
    if "--json" in args and command in JSON_OUTPUTS and stdout.strip():
        check_output(command, stdout)
    out = next((b for a, b in zip(args, args[1:]) if a in ("-o", "--out")), None)
    folder = Path(cwd or ".", out) if out else cwd
    if folder is not None and folder.is_dir():
        bad = sweep(folder)
        assert not bad, "written files break their shipped schema:\n" + "\n".join(bad)
    return Run(proc.returncode, stdout, stderr)
