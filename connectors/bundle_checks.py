"""What a bundle folder may hand pmrecon: its manifest's files only, and evidence of the right shape.

A bundle is read from a folder anyone may have touched. Each file is read only if the
manifest names it (a stray 2 GB file beside it is never opened), only if it is a plain
file inside the folder (a symbolic link, a FIFO or a device is refused without blocking),
and only up to a size limit. What the files hold is then checked against the model's
types and ranges, so that a wrong type, a time past year 9000 or a step of 0 is an
evidence error (exit 4) naming the field, never an internal error later in analysis.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import types
import typing
from collections.abc import Generator
from pathlib import Path
from typing import Any, BinaryIO, Union

from pmrecon.errors import EvidenceError
from pmrecon.fsutil import open_plain
from pmrecon.model import LogSummary, Series, field_types
from pmrecon.timeparse import EARLIEST, LATEST

#: Largest file of a bundle read (a 24 h bundle's series.csv is about 70 MB).
MAX_FILE_BYTES = 1 << 30
#: Largest series.csv read a chunk at a time: the points held are about a quarter of its size.
MAX_SERIES_BYTES = 8 << 30
#: Bytes read at a time from a file read in chunks.
MEMBER_CHUNK = 4 << 20
#: Largest manifest read: it lists a dozen files.
MAX_MANIFEST_BYTES = 1 << 20
#: Largest number of seconds in a step, an interval or a duration: 100 years.
MAX_SECONDS = 100 * 366 * 86400.0
#: A figure beyond this is no measurement (and sums of a few would overflow a float).
MAX_MAGNITUDE = 1e100
EPOCH_RANGE = (EARLIEST.timestamp(), LATEST.timestamp())


class ShapeError(ValueError):
    """A bundle value of the wrong type or out of range; the message names where."""


def plain_name(name: Any) -> bool:
    """Whether ``name`` is a file directly inside the bundle folder (no path, not hidden)."""
    return (
        isinstance(name, str)
        and bool(name)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def read_member(folder: Path, name: str, limit: int | None = None) -> bytes | None:
    """The bytes of ``folder/name`` (None when absent): a plain file of at most ``limit``
    bytes (default :data:`MAX_FILE_BYTES`).

    Opened without following links and without blocking, checked on the open file, then
    read in one piece of its announced size: a file that grows while it is read is refused.
    """
    opened = _open_member(folder, name, limit)
    if opened is None:
        return None
    fh, size, path = opened
    with fh:
        try:
            data = fh.read(size + 1)
        except OSError as exc:
            raise EvidenceError(f"evidence file {path} is unreadable: {exc.strerror}") from None
    if len(data) > size:
        raise _grew(path)
    return data


def member_chunks(folder: Path, name: str, limit: int) -> Generator[bytes, None, None] | None:
    """:func:`read_member`'s bytes a chunk at a time (None when absent), with its checks: the
    file's whole is never held."""
    opened = _open_member(folder, name, limit)
    if opened is None:
        return None
    fh, size, path = opened

    def chunks() -> Generator[bytes, None, None]:
        with fh:
            left = size
            while left > 0:
                try:
                    chunk = fh.read(min(MEMBER_CHUNK, left))
                except OSError as exc:
                    raise EvidenceError(
                        f"evidence file {path} is unreadable: {exc.strerror}"
                    ) from None
                if not chunk:
                    return  # shorter than announced: its hash says so
                left -= len(chunk)
                yield chunk
            if fh.read(1):
                raise _grew(path)

    return chunks()


def _open_member(folder: Path, name: str, limit: int | None) -> tuple[BinaryIO, int, Path] | None:
    """``folder/name`` opened (None when absent) if it is a plain file of at most ``limit`` bytes."""
    if not plain_name(name):
        raise EvidenceError(
            f"evidence manifest in {folder} lists {name!r}, which is not a file of the folder; "
            "restore the original bundle"
        )
    path = folder / name
    limit = MAX_FILE_BYTES if limit is None else limit
    opened = open_plain(path, EvidenceError)
    if opened is None:
        return None
    fd, st = opened
    fh = os.fdopen(fd, "rb")
    if st.st_size > limit:
        fh.close()
        raise EvidenceError(
            f"evidence file {path} holds {_size(st.st_size)}, more than the {_size(limit)} "
            "a bundle file may hold; restore the original bundle"
        )
    return fh, st.st_size, path


def _grew(path: Path) -> EvidenceError:
    return EvidenceError(
        f"evidence file {path} grew while it was read; stop what writes it, then rebuild"
    )


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


# --------------------------------------------------------------------------- shapes


def check_series(s: Series, where: str) -> None:
    """Raise ShapeError unless the series' metadata has its types, a step and a quantile in range."""
    check_shape(s, Series, where)
    if not s.step_seconds > 0:
        raise ShapeError(f"{where}.step_seconds must be above 0")
    if s.quantile is not None and not 0 <= s.quantile <= 1:
        raise ShapeError(f"{where}.quantile {s.quantile!r} is not between 0 and 1")


def check_logs(logs: LogSummary) -> None:
    """Raise ShapeError unless the log summary has its types, and counts for each bucket."""
    check_shape(logs, LogSummary, "")
    for name in ("volume_by_level", "errors_by_service"):
        hist = getattr(logs, name)
        if not hist.interval_seconds > 0:
            raise ShapeError(f"{name}.interval_seconds must be above 0")
        for key, counts in hist.counts.items():
            if len(counts) != len(hist.timestamps):
                raise ShapeError(
                    f"{name}.counts[{key!r}] has {len(counts)} counts for "
                    f"{len(hist.timestamps)} timestamps"
                )


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_shape(value: Any, tp: Any, where: str) -> None:
    """Raise ShapeError unless ``value`` is of the model type ``tp`` (recursively)."""
    if tp is Any:
        return
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1:  # Optional[X]: X's own message says more
            check_shape(value, others[0], where)
            return
        for arg in args:
            if arg is not type(None):
                try:
                    check_shape(value, arg, where)
                    return
                except ShapeError:
                    pass
        raise ShapeError(f"{where}: {type(value).__name__} where {_type_name(tp)} is due")
    if origin is list:
        _expect(value, list, where, tp)
        (arg,) = typing.get_args(tp)
        for i, item in enumerate(value):
            check_shape(item, arg, f"{where}[{i}]")
        return
    if origin is dict:
        _expect(value, dict, where, tp)
        _, arg = typing.get_args(tp)
        for key, item in value.items():
            if not isinstance(key, str):
                raise ShapeError(f"{where}: key {key!r} is not a string")
            check_shape(item, arg, f"{where}[{key!r}]")
        return
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        _check_dataclass(value, tp, where)
        return
    _check_scalar(value, tp, where)


def _expect(value: Any, kind: type, where: str, tp: Any) -> None:
    if not isinstance(value, kind):
        raise ShapeError(f"{where}: {type(value).__name__} where {_type_name(tp)} is due")


def _check_dataclass(value: Any, tp: type, where: str) -> None:
    _expect(value, tp, where, tp)
    hints = field_types(tp)
    for f in dataclasses.fields(tp):
        if tp is Series and f.name in ("timestamps", "values"):
            continue  # parsed from series.csv, checked there point by point
        item = getattr(value, f.name)
        path = f"{where}.{f.name}"
        check_shape(item, hints[f.name], path)
        if f.name.endswith("seconds") and item is not None and not 0 <= item <= MAX_SECONDS:
            raise ShapeError(f"{path}: {item!r} is not a duration between 0 and 100 years")
        if f.name == "timestamps":
            for t in item:
                if not EPOCH_RANGE[0] <= t <= EPOCH_RANGE[1]:
                    raise ShapeError(f"{path}: epoch {t!r} is not between 1970 and 9000")


def _check_scalar(value: Any, tp: Any, where: str) -> None:
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
            raise ShapeError(f"{where}: {value!r} is not a finite number")
    elif tp is int or tp is bool or tp is str:
        ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
    elif tp is dt.datetime:
        ok = isinstance(value, dt.datetime)
        if ok and not EARLIEST <= value <= LATEST:
            raise ShapeError(f"{where}: {value.isoformat()} is not between 1970 and 9000")
    else:
        ok = True  # Literal and the like: the model keeps them as plain strings
    if not ok:
        raise ShapeError(f"{where}: {type(value).__name__} where {_type_name(tp)} is due")
