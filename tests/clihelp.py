"""Run the real ``pmrecon`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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

    proc = subprocess.run(
        [sys.executable, "-m", "pmrecon", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory if memory is not None else None,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
