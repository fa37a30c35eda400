"""Files written safely: atomically, never through a symlink, never outside the output
folder, and read only when they are plain files (a FIFO would block forever)."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from .errors import OutputError, PmreconError

STATE_DIR = ".pmrecon"


def atomic_write(path: Path, data: bytes | str, *, sync: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``sync=False`` leaves the fsync to the caller, who must sync the file before anything
    publishes it: a build's staged files are synced together before its commit
    (:func:`pmrecon.commit.commit_moves`).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise OutputError(f"refusing to write {path}: it is a symbolic link; remove it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Files synced at once: fsync waits for the disk with the GIL released, and the file
#: system can write the files of concurrent fsyncs in one journal commit.
SYNC_THREADS = 8


def sync_all(files: Iterable[Path], folders: Iterable[Path] = ()) -> None:
    """fsync ``files`` and ``folders`` concurrently; return once every one is on disk.

    A file that cannot be synced raises (it would not be durable); a folder is passed over
    when the file system refuses to sync one (:func:`sync_folder`).
    """
    jobs = [functools.partial(_sync_file, p) for p in dict.fromkeys(files)]
    jobs += [functools.partial(sync_folder, p) for p in dict.fromkeys(folders)]
    if len(jobs) < 2:
        for job in jobs:
            job()
        return
    from concurrent.futures import ThreadPoolExecutor

    workers = min(SYNC_THREADS, len(jobs))
    with ThreadPoolExecutor(workers, thread_name_prefix="pmrecon-fsync") as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(path: Path) -> None:
    """fsync a folder, making the names in it durable (skipped where the file system refuses)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


class OutputFolder(click.Path):
    """``--out``: a folder; an empty value (an unset variable in CI) is refused, not read as '.'."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(
                "is empty (an unset variable?); give a folder, e.g. --out postmortems/incident",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


# --------------------------------------------------------------------------- plain files only


def file_kind(mode: int) -> str | None:
    """What a non-plain file is, in words; None for a plain file."""
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ]
    return next((word for test, word in kinds if test(mode)), "not a plain file")


def require_plain(path: Path, verb: str = "read") -> os.stat_result | None:
    """``lstat`` of ``path`` (None if absent); anything but a plain file is refused (exit 5)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot {verb} {path}: {exc.strerror or exc}") from None
    kind = file_kind(st.st_mode)
    if kind is not None:
        raise OutputError(
            f"refusing to {verb} {path}: it is {kind}, not a plain file; remove it first"
        )
    return st


def read_plain(path: Path) -> bytes | None:
    """The bytes of a plain file, None when it is absent.

    A FIFO, socket, device or symlink is refused without being opened for reading (a FIFO
    would block forever): checked with ``lstat``, then opened non-blocking without
    following links and checked again on the open file.
    """
    if require_plain(path) is None:
        return None
    opened = open_plain(path)
    if opened is None:
        return None
    with os.fdopen(opened[0], "rb") as fh:
        return fh.read()


def open_plain(
    path: Path, error: type[PmreconError] = OutputError
) -> tuple[int, os.stat_result] | None:
    """A read-only descriptor of the plain file ``path`` and its ``fstat`` (None if absent).

    Opened without following a link and without blocking (a FIFO would), then checked on
    the open file; anything but a plain file raises ``error``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"refusing to read {path}: it is a symbolic link") from None
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    kind = file_kind(st.st_mode)
    if kind is not None:
        os.close(fd)
        raise error(f"refusing to read {path}: it is {kind}, not a plain file")
    return fd, st
