"""The points of series.csv as analysis reads them: from the file, or from the series written.

A build analyses exactly what a rebuild from its bundle reads (findings are byte-identical
between the two), but without parsing back the series.csv it has just written: both paths
turn their rows into the same columns (:class:`Rows`) and go through one set of rules,
:func:`usable_points`. Floats are written with ``repr``, so a number read back is the
number written; what the rules change is the same whichever way the rows came.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeGuard

import numpy as np

from connectors.bundle_checks import EPOCH_RANGE, MAX_MAGNITUDE, ShapeError
from pmrecon.model import Series, Warning

#: Each series' (timestamps, values), by series id.
Points = dict[str, tuple["array[float]", "array[float]"]]

#: Bytes of series.csv parsed at a time: the reader's work arrays stay a few MB whatever the file.
CHUNK_BYTES = 4 << 20


@dataclass
class Run:
    """Consecutive rows of one series."""

    sid: str
    start: int  # its first row
    epochs: np.ndarray
    values: np.ndarray
    #: the columns the rows were read from, when they are already the points a rebuild
    #: reads (machine floats): kept rather than copied when every row is usable
    columns: tuple[array[float], array[float]] | None = None


@dataclass
class Rows:
    """series.csv's rows in file order, as runs of rows of one series."""

    runs: Iterable[Run]
    line: Callable[[int], int]  # the line of the file that ends row i
    epoch_text: Callable[[int, float], str]  # row i's epoch as the file writes it
    #: what stopped the reading after the last row (raised once the rows pass the rules)
    failure: Exception | None = None


def usable_points(rows: Rows, warnings: list[Warning]) -> Points:
    """Each series' points, refused as a rebuild refuses them; values no figure can be are left out.

    Row by row, in file order: an epoch outside 1970–9000, or an instant not after the
    series' last usable one, is refused (the first such row is named); a value infinite,
    NaN or beyond ±MAX_MAGNITUDE is unknown, as a sample never taken (one warning).
    """
    points: Points = {}
    latest: dict[str, float] = {}  # each series' last usable instant, across its runs
    unusable: dict[str, int] = {}
    shared: set[str] = set()  # series whose columns are a run's own (never appended to)
    for run in rows.runs:
        keep = (run.values >= -MAX_MAGNITUDE) & (run.values <= MAX_MAGNITUDE)  # NaN fails it
        _check_run(rows, run, keep, latest.get(run.sid, -np.inf))
        if run.columns is not None and run.sid not in points and bool(keep.all()):
            # a build's own points, all usable: the same numbers, without a second copy
            points[run.sid] = run.columns
            shared.add(run.sid)
            latest[run.sid] = run.columns[0][-1]
            continue
        if run.sid in shared:  # a second run of the series: its points are copied first
            shared.discard(run.sid)
            points[run.sid] = (array("d", points[run.sid][0]), array("d", points[run.sid][1]))
        ts_col, v_col = points.setdefault(run.sid, (array("d"), array("d")))
        dropped = len(keep) - int(np.count_nonzero(keep))
        # machine floats copied as bytes: no Python object per point
        ts_col.frombytes(run.epochs[keep].astype(float).tobytes())
        v_col.frombytes(run.values[keep].astype(float).tobytes())
        if dropped:
            unusable[run.sid] = unusable.get(run.sid, 0) + dropped
        if ts_col:
            latest[run.sid] = ts_col[-1]
    if rows.failure is not None:
        raise rows.failure
    if unusable:
        warnings.append(unusable_warning(unusable))
    return points


def _check_run(rows: Rows, run: Run, keep: np.ndarray, before: float) -> None:
    """Raise the first refused row of one run: a wrong epoch, or a step back in time."""
    t = run.epochs
    outside = ~((t >= EPOCH_RANGE[0]) & (t <= EPOCH_RANGE[1]))  # NaN too
    # The last usable instant before each row: an earlier usable row of the run, or `before`.
    last = np.where(keep, np.arange(len(t)), -1)
    np.maximum.accumulate(last, out=last)
    previous = np.full(len(t), before)
    previous[1:] = np.where(last[:-1] >= 0, t[np.maximum(last[:-1], 0)], before)
    wrong = np.flatnonzero(outside)
    back = np.flatnonzero(t <= previous)
    first_wrong = int(wrong[0]) if len(wrong) else len(t)
    first_back = int(back[0]) if len(back) else len(t)
    if first_wrong < len(t) and first_wrong <= first_back:  # a row's epoch is read first
        i = run.start + first_wrong
        raise ShapeError(
            f"line {rows.line(i)}: epoch {rows.epoch_text(i, float(t[first_wrong]))} is not "
            "between 1970 and 9000"
        )
    if first_back < len(t):
        raise ShapeError(
            f"line {rows.line(run.start + first_back)}: series {run.sid!r} goes back in time or "
            "repeats an instant"
        )


def unusable_warning(unusable: dict[str, int]) -> Warning:
    """One warning for the values read as unknown, naming the first series that held them."""
    named = ", ".join(sorted(unusable)[:3]) + (", …" if len(unusable) > 3 else "")
    return Warning(
        source="evidence",
        message=f"{sum(unusable.values())} value(s) of {len(unusable)} series infinite, NaN or "
        f"beyond ±{MAX_MAGNITUDE:g} read as unknown, as if never sampled ({named})",
        code="unusable_values",
        params={"count": sum(unusable.values()), "series": named},
    )


# --------------------------------------------------------------------------- the rows


def written_rows(series: Sequence[Series]) -> Rows:
    """The rows series.csv holds for ``series``, as a rebuild reads them (serialize's floats)."""
    sizes = [min(len(s.timestamps), len(s.values)) for s in series]  # what zip() writes
    ids = [s.id for s, n in zip(series, sizes) if n]
    bounds = list(itertools.accumulate((n for n in sizes if n), initial=0))

    def runs() -> Iterator[Run]:  # a series at a time: no second copy of all the points
        start = 0
        for s, n in zip(series, sizes):
            if not n:
                continue
            ts, vs = s.timestamps, s.values
            if _whole_floats(ts, n) and _whole_floats(vs, n):
                # numpy reads machine floats in place; the columns are the points themselves
                yield Run(s.id, start, np.frombuffer(ts), np.frombuffer(vs), (ts, vs))
            else:
                yield Run(s.id, start, np.array(ts[:n], dtype=float), np.array(vs[:n], dtype=float))
            start += n

    return Rows(runs(), _lines_of(ids, bounds), lambda _i, t: repr(t))


def _whole_floats(column: Sequence[float], n: int) -> TypeGuard[array[float]]:
    """Whether ``column`` is an array of machine floats of exactly ``n`` points."""
    return type(column) is array and column.typecode == "d" and len(column) == n


def _lines_of(ids: list[str], bounds: list[int]) -> Callable[[int], int]:
    """The line that ends each row as the csv module counts them (an id may hold line breaks)."""
    breaks = [len(re.findall(r"\r\n|\r|\n", sid)) for sid in ids]
    if not any(breaks):
        return lambda i: i + 2  # the header is line 1

    def line(i: int) -> int:
        extra = 0
        for k, n in enumerate(breaks):
            a, b = bounds[k], bounds[k + 1]
            extra += n * (min(i + 1, b) - a) if i >= a else 0
        return i + 2 + extra

    return line


def read_rows(data: bytes) -> Rows:
    """series.csv's rows (the header skipped), as Python's csv module reads them."""
    return _plain_rows(data) or _csv_rows(data)


def _plain_rows(data: bytes) -> Rows | None:
    """The rows of a file as pmrecon writes them, parsed a chunk at a time in C; None for any
    other file (quotes, carriage returns, a line of other than 4 columns, a number float()
    refuses, ...), which the csv module then reads, naming the first wrong line."""
    if not data.endswith(b"\n"):
        return None
    runs = plain_runs(_blocks(data))

    def epoch_text(i: int, _t: float) -> str:
        return data.split(b"\n", i + 2)[i + 1].split(b",")[2].decode("utf-8")

    return None if runs is None else Rows(runs, lambda i: i + 2, epoch_text)


def _blocks(data: bytes) -> Iterator[bytes]:
    """``data`` in blocks of whole lines of about :data:`CHUNK_BYTES`."""
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + CHUNK_BYTES) + 1 or data.find(b"\n", start) + 1
        end = end or len(data)
        yield data[start:end]
        start = end


def line_blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` of a file regrouped into blocks of whole lines (the last one as it ends)."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def plain_runs(blocks: Iterable[bytes]) -> list[Run] | None:
    """The runs of a series.csv given as blocks of whole lines (its header first), parsed
    in C a block at a time (:func:`_plain_chunk`); None at the first block that is not as
    pmrecon writes it (the caller then reads the file with the csv module).

    A run ends at its block's end: a series over two blocks is two runs, read as one.
    """
    runs: list[Run] = []
    total = 0
    header = True
    for block in blocks:
        if not block.endswith(b"\n") or any(c in block for c in (b'"', b"\r", b"\0")):
            return None
        if header:  # the header line is the first line of the first block
            header = False
            block = block[block.find(b"\n") + 1 :]
            if not block:
                continue
        chunk = _plain_chunk(block)
        if chunk is None:
            return None
        heads, epochs, values = chunk
        for k, (sid, first) in enumerate(heads):
            last = heads[k + 1][1] if k + 1 < len(heads) else len(epochs)
            runs.append(Run(sid, total + first, epochs[first:last], values[first:last]))
        total += len(epochs)
    return None if header else runs


def _runs(ids: list[str], bounds: list[int], epochs: np.ndarray, values: np.ndarray) -> list[Run]:
    """Run k is rows bounds[k]:bounds[k + 1], of series ids[k]."""
    return [Run(sid, a, epochs[a:b], values[a:b]) for sid, a, b in zip(ids, bounds, bounds[1:])]


def _plain_chunk(chunk: bytes) -> tuple[list[tuple[str, int]], np.ndarray, np.ndarray] | None:
    """(each run's id and first row, epochs, values) of whole lines of plain cells."""
    u8 = np.frombuffer(chunk, np.uint8)
    ends = np.flatnonzero(u8 == ord("\n"))
    commas = np.flatnonzero(u8 == ord(","))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (
        len(commas) != 3 * len(ends)
        or (np.searchsorted(commas, ends) != 3 * np.arange(1, len(ends) + 1)).any()
        or (ends - starts).max() > csv.field_size_limit()
    ):
        return None
    try:
        # numpy's parser: C, no Python object per cell, and what it reads it reads as
        # float() does (correctly rounded); what it refuses, the csv module reads.
        numbers = np.loadtxt(
            io.BytesIO(chunk),
            delimiter=",",
            usecols=(2, 3),
            comments=None,
            quotechar=None,
            dtype=float,
            encoding="utf-8",
            ndmin=2,
        )
    except ValueError:
        return None
    if len(numbers) != len(ends):
        return None
    heads = _runs_of(u8, starts, commas[0::3])
    try:
        return [(chunk[a:b].decode("utf-8"), int(k)) for k, a, b in heads], *numbers.T
    except UnicodeDecodeError:
        return None


def _runs_of(u8: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> list[tuple[int, int, int]]:
    """(first line, id start, id stop) of each run of lines whose ids (u8[start:stop]) are equal."""
    widths = stops - starts
    same = widths[1:] == widths[:-1]  # each line's id against the line before's, byte by byte
    before, here, last = starts[:-1], starts[1:], len(u8) - 1
    for j in range(int(widths.max(initial=0))):
        same &= (j >= widths[1:]) | (u8[before + j] == u8[np.minimum(here + j, last)])
    firsts = np.concatenate(([0], np.flatnonzero(~same) + 1))
    return list(zip(firsts.tolist(), starts[firsts].tolist(), stops[firsts].tolist()))


def _csv_rows(data: bytes) -> Rows:
    """The rows as the csv module reads them, up to the first it cannot make numbers of."""
    # Read line by line from the bytes (no decoded copy of the whole file).
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""))
    ids: list[str] = []
    bounds: list[int] = []
    epochs: list[float] = []
    values: list[float] = []
    lines: list[int] = []
    texts: list[str] = []
    failure: Exception | None = None
    try:
        next(reader, None)
        for row in reader:
            if len(row) != 4:
                raise ShapeError(f"line {reader.line_num}: {len(row)} columns, not 4")
            sid, _ts, epoch, value = row
            t = float(epoch)
            if not ids or sid != ids[-1]:
                ids.append(sid)
                bounds.append(len(epochs))
            epochs.append(t)
            texts.append(epoch)
            lines.append(reader.line_num)
            try:
                values.append(float(value))
            except ValueError as exc:  # after this row's instant is checked, as it was read first
                values.append(float("nan"))
                failure = exc
                break
    except (ValueError, csv.Error) as exc:
        failure = exc
    bounds.append(len(epochs))
    runs = _runs(ids, bounds, np.array(epochs, dtype=float), np.array(values, dtype=float))
    return Rows(runs, lines.__getitem__, lambda i, _t: texts[i], failure)
