"""Whether a rebuild would change a report folder, ignoring when it was generated.

A scheduled scan rebuilds every draft it finds, every night. Were each rebuild to stamp a
new generation time, every run would commit churn. So a build fingerprints what the report
is made from (the evidence bundle's bytes, the findings, the title, the report settings,
the templates, pmrecon's version) and keeps the fingerprint in ``.pmrecon/inputs.json``:

- same inputs as last time: the previous generation time is kept, so the files come out
  byte for byte the same (a fresh CI checkout that lacks some of them writes them back
  unchanged, and git sees nothing);
- same inputs, and every file still as that build left it: nothing is written at all
  (bytes and modification times unchanged).

A human edit of postmortem.md changes the files' digest, so the report is rebuilt (the
merge keeps the edit and report.html shows it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from connectors.bundle_spool import Data, Files, chunks_of, size_of

from . import __version__
from .config import Config
from .fsutil import atomic_write

#: The fingerprint file, in the report's state folder (committed with the draft).
INPUTS_FILE = ".pmrecon/inputs.json"

#: Files of a report folder that are not the report: the fingerprint itself, what a scan
#: records about the draft, backups, and a killed build's leftovers.
NOT_REPORT = (INPUTS_FILE, ".pmrecon/scan.json")


def _feed(h: Any, label: str, data: Data) -> None:
    h.update(f"{label}\0{size_of(data)}\0".encode())
    for chunk in chunks_of(data):  # a spooled series.csv is read back a chunk at a time
        h.update(chunk)


def _tree(root: Path) -> Iterable[tuple[str, Path]]:
    if not root.is_dir():
        return []
    return sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())


def inputs_digest(
    *,
    config: Config,
    bundle: Files,
    findings: Mapping[str, Any],
    title: str,
    png: bool,
    template_dirs: Iterable[Path | None],
) -> str:
    """SHA-256 of everything the report is rendered from, generation time excluded."""
    h = hashlib.sha256()
    _feed(h, "version", __version__.encode())
    for name in sorted(bundle):
        _feed(h, f"bundle/{name}", bundle[name])
    _feed(h, "findings", json.dumps(findings, sort_keys=True, default=str).encode())
    settings = json.dumps(config.data, sort_keys=True, default=str)
    for secret in config.secrets:  # a digest of a secret is still not to be kept on disk
        settings = settings.replace(secret, "***")
    _feed(h, "settings", settings.encode())
    _feed(h, "title", title.encode())
    _feed(h, "png", b"1" if png else b"0")
    for folder in template_dirs:
        if folder is not None:
            for rel, path in _tree(Path(folder)):
                _feed(h, f"template/{rel}", path.read_bytes())
    return h.hexdigest()


def outputs_digest(out: Path) -> str:
    """SHA-256 of every file of the report folder as it is now (names and bytes)."""
    h = hashlib.sha256()
    for rel, path in _tree(out):
        if rel in NOT_REPORT or rel.startswith(".build-") or "/backup-" in rel:
            continue
        if rel.startswith(".pmrecon/") and rel != ".pmrecon/last-generated.md":
            continue  # pmrecon's own bookkeeping (lock, journal, the record of file times)
        _feed_file(h, rel, path)
    return h.hexdigest()


def _feed_file(h: Any, label: str, path: Path) -> None:
    """:func:`_feed` of a file's bytes, read a chunk at a time (series.csv can be a gigabyte)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(f"{label}\0{size}\0".encode())
        while chunk := fh.read(1 << 20):
            h.update(chunk)


def read_fingerprint(out: Path) -> dict[str, Any]:
    """What the last build of ``out`` recorded (empty when none, or unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((out / INPUTS_FILE).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def write_fingerprint(out: Path, inputs: str, generated_at: str) -> str:
    """Record the build just written (inputs, generation time, files' digest); return the digest.

    Not called when the build met conflicting edits: the files then differ from the
    recorded digest, so the next build rebuilds (and reports the conflicts again).
    """
    outputs = outputs_digest(out)
    record = {"inputs": inputs, "generated_at": generated_at, "outputs": outputs}
    atomic_write(out / INPUTS_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return outputs


__all__ = ["inputs_digest", "outputs_digest", "read_fingerprint", "write_fingerprint"]
