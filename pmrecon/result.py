"""What a build produced, and the bytes of findings.json.

A leaf below both :mod:`pmrecon.api` (which returns a :class:`BuildResult`) and
:mod:`pmrecon.output` (which writes the files and fills it in), so that neither
imports the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Warning


@dataclass
class BuildResult:
    """What a build produced: the folder, the findings as written, the files, the warnings."""

    out_dir: Path
    findings: dict[str, Any]
    files: list[Path]
    warnings: list[Warning]
    degraded: bool = False
    conflicts: int = 0
    #: False when the folder's files are as before, generation time aside (nothing to commit)
    changed: bool = True


def findings_json_bytes(findings: dict[str, Any]) -> bytes:
    """findings.json as written: sorted keys, UTF-8, a final newline."""
    return (json.dumps(findings, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


__all__ = ["BuildResult", "findings_json_bytes"]
