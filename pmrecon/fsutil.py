"""Files written safely: atomically, never through a symlink, never outside the output folder."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from .errors import OutputError


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise OutputError(f"refusing to write {path}: it is a symbolic link; remove it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def public_dir(path: Path) -> None:
    """Give a folder made by mkdtemp (0700) the permissions of an ordinary new folder."""
    os.chmod(path, 0o777 & ~_umask())


def safe_child(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would land outside ``root`` or cross a symlink."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise OutputError(f"refusing output path {relative!r}: it leaves the output folder")
    target = root / rel
    node = root
    for part in rel.parts[:-1]:
        node = node / part
        if node.is_symlink():
            raise OutputError(f"refusing to write under {node}: it is a symbolic link")
    return target


def slugify(text: str, max_length: int = 60) -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes only (no traversal possible)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "incident"


def ensure_writable_dir(path: Path) -> None:
    """Create ``path`` if needed and prove it is writable, with a one-line error otherwise."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} exists and is not a folder; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".pmrecon-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write to output folder {path}: {exc.strerror or exc}; choose a writable --out"
        ) from None
