"""Run the ``console`` blocks of a docs page and compare what they print with the page.

A block is preceded by ``<!-- tested: TAG -->``; the test owning TAG prepares a folder
(a demo report, a scan's ``scan.json``) and runs every block of that TAG in it, in order.
``$ command`` lines run in bash (``pipefail``) with this venv's ``pmrecon``, ``python``
and ``check-jsonschema`` first on PATH; the lines after one are its expected stdout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"(?:<!-- tested: (\w+) -->\n)?```console\n(.*?)```", re.S)


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    tag: str | None
    commands: list[Command]


def console_blocks(page: Path) -> list[Block]:
    """Every ``console`` block of ``page``, with its tag (``None``: untested)."""
    blocks = []
    for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        commands: list[Command] = []
        for line in m.group(2).splitlines():
            if line.startswith("$ "):
                commands.append(Command(line[2:]))
            else:
                assert commands, f"{page.name}: output before any command: {line!r}"
                commands[-1].expected.append(line)
        blocks.append(Block(m.group(1), commands))
    return blocks


def run_blocks(page: Path, tag: str, cwd: Path) -> int:
    """Run the commands of every block tagged ``tag`` in ``cwd``; return how many ran."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMRECON_CONFIG")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    ran = 0
    for block in console_blocks(page):
        if block.tag != tag:
            continue
        for cmd in block.commands:
            proc = subprocess.run(
                ["bash", "-c", "set -o pipefail\n" + cmd.line],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            where = f"{page.name}: $ {cmd.line}"
            assert proc.returncode == 0, f"{where}\nexit {proc.returncode}: {proc.stderr[-2000:]}"
            assert proc.stdout.splitlines() == cmd.expected, f"{where}\n{proc.stdout}"
            ran += 1
    return ran
