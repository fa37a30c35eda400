"""The commit of a build into its output folder: all or nothing, crash included.

A build takes the folder's lock (``.pmrecon/lock``), stages every file in
``.pmrecon/commit/``, writes a journal of the moves there, then moves the files in one by
one (:func:`commit_moves`). A crash at any moment leaves a folder that the next build,
under the lock, completes wholly (:func:`recover`). A replaced file is deleted only if it
holds what pmrecon expected; anything else is kept in ``.pmrecon/`` as a backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import functools
import hashlib
import itertools
import json
import logging
import os
import shutil
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .errors import MergeConflict, OutputError
from .fsutil import (
    STATE_DIR,
    atomic_write,
    ensure_writable_dir,
    file_kind,
    read_plain,
    safe_child,
    sync_all,
    sync_folder,
)

log = logging.getLogger("pmrecon")
P = ParamSpec("P")
R = TypeVar("R")

LOCK = f"{STATE_DIR}/lock"
COMMIT = f"{STATE_DIR}/commit"
JOURNAL = "journal.json"


# --------------------------------------------------------------------------- what pmrecon wrote


def file_record(path: Path) -> dict[str, Any]:
    """What pmrecon knows of a file it wrote: SHA-256, size and modification time.

    Not synced here: :func:`commit_moves` syncs every staged file before its journal.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        st = os.fstat(fh.fileno())
    return {"sha256": digest.hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def bytes_record(data: bytes) -> dict[str, Any]:
    """The record of a file known only by its content (no time: the content is compared)."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def matches(path: Path, record: dict[str, Any] | None) -> bool:
    """Whether the plain file at ``path`` still holds what ``record`` says (its hash, when
    its size is right and its time is not the recorded one)."""
    if not record:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != record.get("size"):
        return False
    if record.get("mtime_ns") == st.st_mtime_ns:
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == record.get("sha256")


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _backup_names(state_dir: Path, name: str) -> Iterator[Path]:
    """Candidate backup names: microseconds, then a counter for two in the same microsecond."""
    stamp = _stamp()
    for n in itertools.count():
        yield state_dir / f"backup-{stamp}{f'-{n}' if n else ''}-{name}"


def save_backup(state_dir: Path, name: str, data: bytes | str) -> Path:
    """Write ``data`` as a new backup in ``state_dir``; never over another file (``O_EXCL``)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    state_dir.mkdir(exist_ok=True)
    for path in _backup_names(state_dir, name):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        sync_folder(state_dir)
        return path
    raise AssertionError("unreachable")


def keep_file(path: Path, state_dir: Path, name: str) -> Path:
    """Move ``path`` to a new backup name in ``state_dir``, never over another file."""
    for target in _backup_names(state_dir, name):
        try:
            os.link(path, target)  # fails if ``target`` exists: no backup is ever replaced
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS or os.path.lexists(target):
                raise
            os.rename(path, target)
            return target
        os.unlink(path)
        return target
    raise AssertionError("unreachable")


#: What ``link`` fails with on a file system without hard links (then a rename does).
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


# --------------------------------------------------------------------------- the lock

_HELD: dict[str, list[int]] = {}  # folder -> [thread holding its lock, depth]


@contextlib.contextmanager
def output_lock(out: Path | None) -> Iterator[None]:
    """Hold the output folder's exclusive lock (``.pmrecon/lock``) and finish any commit a
    crash interrupted there.

    A second build into the folder fails at once (exit 5). Re-entrant in one thread, so both
    the whole build and its writing step take it; a no-op while the folder is not known.
    Folders it had to create are removed again when the build left nothing in them.
    """
    if out is None:
        yield
        return
    key = os.path.abspath(out)
    held = _HELD.get(key)
    if held is not None and held[0] == threading.get_ident():
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    created = [p for p in [out, *out.parents] if not os.path.lexists(p)]
    ensure_writable_dir(out)
    state = out / STATE_DIR
    if not os.path.lexists(state):
        created.insert(0, state)
    try:
        fd = _acquire(out)
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[key] = [threading.get_ident(), 1]
    try:
        recover(out)
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            if state in created and os.listdir(state) == ["lock"]:
                # A build that wrote nothing leaves no trace (the lock is still held here).
                os.unlink(out / LOCK)
        os.close(fd)
        _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def holding_output_lock(
    func: Callable[Concatenate[Path, P], R],
) -> Callable[Concatenate[Path, P], R]:
    """Decorate a function whose first argument is the output folder: it runs under its lock."""

    @functools.wraps(func)
    def locked(out: Path, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with output_lock(out):
            return func(out, *args, **kwargs)

    return locked


def _acquire(out: Path) -> int:
    """Open and lock ``.pmrecon/lock``; a file a finishing build just removed is retried."""
    state, lock = out / STATE_DIR, out / LOCK
    for _ in range(10):
        try:
            with contextlib.suppress(FileExistsError):
                state.mkdir()
            if state.is_symlink() or not state.is_dir():
                raise OutputError(
                    f"refusing to write under {state}: not a plain folder; remove it first"
                )
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(lock, flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OutputError(f"refusing to use {lock}: it is a symbolic link") from None
            raise OutputError(
                f"cannot write to output folder {out}: {exc.strerror or exc}; choose a writable --out"
            ) from None
        try:
            opened = os.fstat(fd)
            if file_kind(opened.st_mode) is not None:
                raise OutputError(
                    f"refusing to use {lock}: it is {file_kind(opened.st_mode)}, not a plain file; remove it"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(
                    f"another pmrecon build is writing into {out} (it holds {lock}); "
                    "wait for it to finish, or choose another --out"
                ) from None
            except OSError as exc:
                raise OutputError(f"cannot lock {lock}: {exc.strerror or exc}") from None
            with contextlib.suppress(FileNotFoundError):
                now = os.stat(lock)
                if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino):
                    return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OutputError(f"cannot lock {lock}: it keeps being replaced; retry")


# --------------------------------------------------------------------------- the commit


@dataclass
class Move:
    """One file of a commit: ``staged`` (in the commit folder) replaces ``path`` (in the
    output folder); ``staged`` None removes pmrecon's own stale file. ``expect`` is what
    pmrecon knows the replaced file holds: a replaced file that does not match it is kept."""

    path: str
    staged: str | None
    expect: dict[str, Any] | None


@contextlib.contextmanager
def staging_area(out: Path) -> Iterator[Path]:
    """The commit folder, fresh; removed at the end unless a journal still needs it."""
    area = out / COMMIT
    if os.path.lexists(area):
        recover(out)
    area.mkdir(parents=True)
    try:
        yield area
    finally:
        if not os.path.lexists(area / JOURNAL):
            shutil.rmtree(area, ignore_errors=True)


def commit_moves(out: Path, moves: list[Move]) -> tuple[list[Path], list[int]]:
    """Carry out ``moves`` all or none, crash included; return the files kept as backups
    and the signals (SIGINT, SIGTERM) that arrived meanwhile, held until the end.

    Every staged file, and its name in its folder, is synced first, all at once (the
    files were written without an fsync each). Then the journal is written (and synced)
    before the first move: from then on the build is committed, and a process killed
    half-way is completed by the next build. A failure (permissions, a full disk) puts
    every old file back instead.
    """
    area = out / COMMIT
    journal = {"version": 1, "moves": [asdict(m) for m in moves]}
    staged = [area / m.staged for m in moves if m.staged is not None]
    try:
        sync_all(staged, {p.parent for p in staged})
    except OSError as exc:
        raise OutputError(
            f"cannot write into {area}: {exc.strerror or exc}; "
            "the previous report is intact, fix the folder and rebuild"
        ) from None
    with signals_held() as received:
        try:
            atomic_write(area / JOURNAL, json.dumps(journal, indent=1) + "\n")
        except OSError as exc:
            raise OutputError(
                f"cannot write into {area}: {exc.strerror or exc}; "
                "the previous report is intact, fix the folder and rebuild"
            ) from None
        sync_folder(area)
        try:
            kept = _forward(out, area, moves)
        except BaseException as exc:
            try:
                _backward(out, area, moves)
                os.unlink(area / JOURNAL)
            except OSError as undo:
                raise OutputError(
                    f"cannot move the new report into {out}: {exc}; nor put the old one back: "
                    f"{undo.strerror or undo}; fix the folder, then rebuild (it finishes the move)"
                ) from None
            if isinstance(exc, OSError):
                raise OutputError(
                    f"cannot move the new report into {out}: {exc.strerror or exc}; "
                    "the previous report is intact, fix the folder and rebuild"
                ) from None
            raise
        try:
            kept += _finish(out, area, moves)
        except OSError as exc:
            raise OutputError(
                f"the new report is in {out}, but its commit could not be closed: "
                f"{exc.strerror or exc}; fix the folder, then rebuild (it closes it)"
            ) from None
    return kept, received


def recover(out: Path) -> None:
    """Finish a commit a crash interrupted (the output lock must be held).

    Without a journal, the commit folder holds only staged files of a build that never
    reached its commit point, or the replaced files of a finished one: removed.
    """
    area = out / COMMIT
    if not os.path.lexists(area):
        return
    if area.is_symlink() or not area.is_dir():
        raise OutputError(f"refusing to use {area}: not a plain folder; remove it first")
    raw = read_plain(area / JOURNAL)
    if raw is None:
        shutil.rmtree(area)
        return
    try:
        moves = [Move(**m) for m in json.loads(raw)["moves"]]
        for m in moves:
            if m.staged is not None:
                safe_child(area, m.staged)
    except (ValueError, KeyError, TypeError) as exc:
        raise OutputError(
            f"cannot finish the build interrupted in {out}: its journal {area / JOURNAL} is "
            f"unreadable ({exc}); nothing was deleted, restore the files from {area} by hand"
        ) from None
    with signals_held() as received:
        kept = _forward(out, area, moves) + _finish(out, area, moves)
    log.warning("finished the build that was interrupted in %s", out)
    if received:  # this build has done nothing of its own yet: it stops here
        signal.raise_signal(received[0])
    if kept:
        raise MergeConflict(
            f"finished the build that was interrupted in {out}; files changed meanwhile are kept "
            f"as {', '.join(str(p) for p in kept)}: compare them with the report, then rebuild"
        )


def _paths(out: Path, area: Path, i: int, move: Move) -> tuple[Path, Path | None, Path]:
    staged = area / move.staged if move.staged is not None else None
    return safe_child(out, move.path), staged, area / "old" / str(i)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _forward(out: Path, area: Path, moves: list[Move]) -> list[Path]:
    """Apply each move not yet applied (idempotent: a killed run is resumed from anywhere)."""
    kept: list[Path] = []
    state = out / STATE_DIR
    (area / "old").mkdir(exist_ok=True)
    for i, move in enumerate(moves):
        target, staged, aside = _paths(out, area, i, move)
        if staged is not None and not os.path.lexists(staged):
            continue  # in place already
        if staged is not None and _same(staged, target):
            os.unlink(staged)  # linked in place; only the staged name was left
            continue
        if os.path.lexists(target):
            if not os.path.lexists(aside):
                os.rename(target, aside)
            elif staged is None:
                continue  # pmrecon's stale file is gone; what is there now is someone else's
            else:
                # Written by someone after the old file was moved aside: kept, not replaced.
                kept.append(keep_file(target, state, _flat(move.path)))
        if staged is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            _place(staged, target, state, move.path, kept)
    return kept


def _place(staged: Path, target: Path, state: Path, name: str, kept: list[Path]) -> None:
    """Move ``staged`` to ``target`` without ever replacing a file that appeared there."""
    for _ in range(3):
        try:
            os.link(staged, target)
        except FileExistsError:
            kept.append(keep_file(target, state, _flat(name)))
            continue
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            os.rename(staged, target)
            return
        os.unlink(staged)
        return
    raise OutputError(f"cannot place {target}: something keeps writing it; retry")


def _backward(out: Path, area: Path, moves: list[Move]) -> None:
    """Undo the moves already applied, last first: every old file back in its place."""
    for i, move in reversed(list(enumerate(moves))):
        target, staged, aside = _paths(out, area, i, move)
        if staged is not None and os.path.lexists(target):
            if _same(staged, target):
                os.unlink(target)
            elif not os.path.lexists(staged):
                os.rename(target, staged)
        if os.path.lexists(aside) and not os.path.lexists(target):
            os.rename(aside, target)


def _finish(out: Path, area: Path, moves: list[Move]) -> list[Path]:
    """Make the moves durable, keep every replaced file pmrecon cannot vouch for, and end
    the commit (journal removed, then the commit folder)."""
    sync_all((), {safe_child(out, m.path).parent for m in moves} | {area / "old"})
    kept = []
    for i, move in enumerate(moves):
        _target, _staged, aside = _paths(out, area, i, move)
        if os.path.lexists(aside) and not matches(aside, move.expect):
            kept.append(keep_file(aside, out / STATE_DIR, _flat(move.path)))
    os.unlink(area / JOURNAL)
    sync_folder(area)
    shutil.rmtree(area, ignore_errors=True)
    return kept


def _flat(relative: str) -> str:
    return relative.replace("/", "__")


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM back (main thread only); yield the list of those received.

    If the block fails, they are delivered when it ends; if it succeeds, the caller decides.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in held}
    failed = True
    try:
        yield received
        failed = False
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if failed and received:
            signal.raise_signal(received[0])
