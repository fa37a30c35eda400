"""The evidence bundle: everything a build used, saved as plain files, and read back.

Layout of ``evidence/`` (documented in docs/evidence-bundle.md and in the bundle's own
README.txt so that a person can read it without pmrecon):

- ``manifest.json``: schema_version, pmrecon_version, window, baseline, and the SHA-256 of every other file
- ``sources.json``: each source with its version, settings and every query it answered
- ``alerts.json``, ``events.json``, ``warnings.json``: lists of model objects as JSON
- ``series.json``: series metadata (no points); ``series.csv``: ``series_id,timestamp,epoch,value``
- ``breakdowns.json``: requests by label value (instance, route, status), points inline; only when there are some
- ``logs.json``: log aggregates (histograms, signatures, counts); ``samples.ndjson``: one log sample per line

Floats are written with ``repr`` so that reading a bundle back gives the exact same
numbers, and therefore the exact same findings.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from connectors.bundle_checks import (
    MAX_MANIFEST_BYTES,
    MAX_SERIES_BYTES,
    ShapeError,
    check_logs,
    check_series,
    check_shape,
    member_chunks,
    plain_name,
    read_member,
)
from connectors.bundle_series import (
    Points,
    Rows,
    line_blocks,
    plain_runs,
    read_rows,
    usable_points,
    written_rows,
)
from connectors.bundle_spool import Data, Files, SpooledFile, chunks_of, sha256_of
from pmrecon import __version__
from pmrecon.errors import EvidenceError
from pmrecon.fsutil import public_dir
from pmrecon.model import (
    BREAKDOWN_ROLES,
    SCHEMA_VERSION,
    Alert,
    Breakdown,
    Event,
    Evidence,
    LogSummary,
    Series,
    SourceInfo,
    Warning,
    Window,
    from_jsonable,
    rfc3339,
    to_jsonable,
    utc,
)
from pmrecon.model import points as as_points

_T = TypeVar("_T")

MANIFEST = "manifest.json"
#: The bundle's points, its one large file.
SERIES = "series.csv"
FORMAT_README = """\
pmrecon evidence bundle
=======================
This folder holds the raw evidence a pmrecon build used, so the post-mortem can be
checked and rebuilt after the servers' retention has expired:
  pmrecon build --source <this folder>

manifest.json   schema_version, pmrecon version, window, SHA-256 of every file below
sources.json    each source: kind, version, URL (credentials removed), settings, and
                every query sent (text or body, time range, step, result count, warnings)
alerts.json     each alert: name, labels, severity, activeAt, pending and firing intervals
series.json     each metric series: name, kind, service, unit, step, query id
series.csv      the series' points: series_id, timestamp (RFC 3339 UTC), epoch, value
breakdowns.json each service's bad and total requests by value of a label (instance,
                route, method, status), step by step (only when a source read them)
logs.json       log aggregates computed by Elasticsearch: volume per level, errors per
                service, error signatures, distinct users, document counts
samples.ndjson  sample log lines (redacted), one JSON object per line
events.json     change events (deploys, rollbacks, silences, ...)
warnings.json   what went wrong while collecting
build.json      the settings the build used (zone, language, title, analysis settings,
                times given by hand), which a rebuild from this folder reuses
Times are RFC 3339 in UTC. Edit nothing: a file whose hash differs from the manifest is refused.
"""


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def serialize(evidence: Evidence, *, spool: bool = False) -> dict[str, Data]:
    """The bundle's files (name → bytes), manifest excluded; with ``spool``, series.csv is
    written to a :class:`SpooledFile` as it is formatted instead of being held as bytes."""
    files: dict[str, str] = {
        "README.txt": FORMAT_README,
        "sources.json": _dumps(to_jsonable(evidence.sources)),
        "alerts.json": _dumps(to_jsonable(evidence.alerts)),
        "events.json": _dumps(to_jsonable(evidence.events)),
        "warnings.json": _dumps(to_jsonable(evidence.warnings)),
    }
    meta = []
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\n")
    writer.writerow(["series_id", "timestamp", "epoch", "value"])
    # Encoded series by series: the whole file never exists as a million small strings.
    chunks: list[bytes] = []
    spooled = SpooledFile() if spool else None
    write = spooled.write if spooled is not None else chunks.append
    write(head.getvalue().encode("utf-8"))
    # Series share their time grid: each instant's "timestamp,epoch," is formatted once.
    stamps: dict[float, str] = {}
    for s in evidence.series:
        m = {
            f.name: to_jsonable(getattr(s, f.name))
            for f in dataclasses.fields(s)
            if f.name not in ("timestamps", "values")
        }
        m["id"] = s.id
        meta.append(m)
        write(_csv_rows(s, stamps).encode("utf-8"))
    files["series.json"] = _dumps(meta)
    if evidence.breakdowns:
        files["breakdowns.json"] = _dumps(to_jsonable(evidence.breakdowns))
    if evidence.logs is not None:
        logs = to_jsonable(evidence.logs)
        samples = logs.pop("samples")
        files["logs.json"] = _dumps(logs)
        files["samples.ndjson"] = "".join(
            json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in samples
        )
    out: dict[str, Data] = {name: text.encode("utf-8") for name, text in files.items()}
    out[SERIES] = spooled if spooled is not None else b"".join(chunks)
    return out


def _csv_rows(s: Series, stamps: dict[float, str]) -> str:
    """The series.csv lines of one series: ``id,timestamp,epoch,value`` per point, floats by repr."""
    timestamps, values = s.timestamps, s.values
    n = min(len(timestamps), len(values))  # as zip() pairs them
    if len(timestamps) != len(values):
        timestamps, values = timestamps[:n], values[:n]
    for ts in set(timestamps).difference(stamps):
        stamps[ts] = f"{rfc3339(utc(ts))},{float(ts)!r},"
    one = io.StringIO()
    csv.writer(one, lineterminator="").writerow([s.id])
    sid = one.getvalue()  # quoted once, as csv.writer would
    text = _value_texts(values)
    if text is None:
        return "".join([f"{sid},{stamps[t]}{float(v)!r}\n" for t, v in zip(timestamps, values)])
    return "".join([f"{sid},{stamps[t]}{text[v]}\n" for t, v in zip(timestamps, values)])


def _value_texts(values: Sequence[float]) -> dict[float, str] | None:
    """``repr(float(v))`` of each distinct value when values repeat; None when they do not."""
    # repr is most of the cost of series.csv, and an uptime, a count or a quiet error
    # ratio takes few values (its first points tell). Not when a zero is negative: -0.0
    # == 0.0 as a key.
    first = values[:256]
    if 2 * len(set(first)) > len(first):
        return None
    distinct = set(values)
    if 2 * len(distinct) > len(values) or (0.0 in distinct and _negative_zero(values)):
        return None
    return {v: repr(float(v)) for v in distinct}


def _negative_zero(values: Sequence[float]) -> bool:
    a = np.asarray(values, dtype=float)
    return bool(np.signbit(a[a == 0]).any())


def bundle_files(evidence: Evidence, *, spool: bool = False) -> dict[str, Data]:
    """Every file of the bundle, manifest included, as bytes (series.csv spooled to a
    temporary file with ``spool``: a build's largest file is not held in memory)."""
    files = serialize(evidence, spool=spool)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "pmrecon_version": evidence.pmrecon_version or __version__,
        "window": to_jsonable(evidence.window),
        "baseline": to_jsonable(evidence.baseline),
        "files": {name: sha256_of(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _dumps(manifest).encode("utf-8")
    return files


def with_files(files: Files, extra: dict[str, bytes]) -> dict[str, Data]:
    """The bundle's files plus ``extra`` (e.g. the build's settings), listed and hashed in the manifest."""
    manifest = json.loads(bytes(files[MANIFEST]).decode("utf-8"))
    out = {**files, **extra}
    manifest["files"] = {
        name: sha256_of(data) for name, data in sorted(out.items()) if name != MANIFEST
    }
    out[MANIFEST] = _dumps(manifest).encode("utf-8")
    return out


def write_files(files: Files, target: Path) -> None:
    """Write bundle files into ``target`` atomically: a new folder renamed over the old one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".evidence-", dir=target.parent))
    try:
        public_dir(staging)
        for name, data in files.items():
            with open(staging / name, "wb") as fh:
                for chunk in chunks_of(data):
                    fh.write(chunk)
        old = None
        if target.exists() or target.is_symlink():
            if target.is_symlink() or not target.is_dir():
                raise EvidenceError(f"refusing to replace {target}: not a plain folder")
            old = target.with_name(f".{target.name}-old-{staging.name[-8:]}")
            target.rename(old)
        try:
            staging.rename(target)
        except BaseException:
            if old is not None and not target.exists():
                old.rename(target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_bundle(evidence: Evidence, target: Path) -> None:
    """Save ``evidence`` as a bundle folder at ``target``."""
    write_files(bundle_files(evidence), target)


def read_bundle(path: Path) -> Evidence:
    """Read and verify a bundle folder; refuse a missing, foreign, tampered or newer one.

    Only the files its manifest lists are read (see :mod:`connectors.bundle_checks`).
    """
    path = Path(path)
    if not path.is_dir():
        raise EvidenceError(f"evidence bundle {path} does not exist or is not a folder")
    head = read_member(path, MANIFEST, MAX_MANIFEST_BYTES)
    if head is None:
        raise EvidenceError(
            f"{path} is not an evidence bundle (no {MANIFEST}); point --source at a report's evidence/ folder"
        )
    manifest, hashes = _manifest(head, str(path))
    files = {MANIFEST: head}
    # series.csv, the one large file, is hashed and parsed a chunk at a time when it is as
    # pmrecon writes it: a bundle of any size is read without holding its bytes.
    streamed = _streamed_rows(path, hashes[SERIES]) if SERIES in hashes else None
    for name in hashes:
        if name == SERIES and streamed is not None:
            continue
        data = read_member(path, name)
        if data is not None:  # a missing file is named by evidence_from_files
            files[name] = data
    if streamed is None:
        return evidence_from_files(files, str(path))
    raw = _verified(files, {k: v for k, v in hashes.items() if k != SERIES}, str(path))
    return _evidence(manifest, {**raw, SERIES: b""}, str(path), lambda: streamed)


def _streamed_rows(folder: Path, digest: str) -> Rows | None:
    """series.csv's rows, read and hashed a chunk at a time, refused unless its hash is the
    manifest's; None when it is not as pmrecon writes it (then it is read whole)."""
    chunks = member_chunks(folder, SERIES, MAX_SERIES_BYTES)
    if chunks is None:
        raise _missing(SERIES, str(folder))
    sha = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in chunks:
            sha.update(chunk)
            yield chunk

    runs = plain_runs(line_blocks(hashed()))
    if runs is None:
        chunks.close()
        return None
    _check_digest(SERIES, sha.hexdigest(), digest, str(folder))

    def epoch_text(i: int, t: float) -> str:  # for a message: row i's epoch as written
        with open(folder / SERIES, "rb") as fh:
            for line in itertools.islice(fh, i + 1, i + 2):
                return line.split(b",")[2].decode("utf-8", "replace")
        return repr(t)

    return Rows(runs, lambda i: i + 2, epoch_text)


def read_listed(path: Path, name: str) -> bytes | None:
    """One file of a bundle folder, verified against the manifest; None if the manifest omits it."""
    head = read_member(Path(path), MANIFEST, MAX_MANIFEST_BYTES)
    if head is None:
        return None
    hashes = _manifest(head, str(path))[1]
    if name not in hashes:
        return None
    data = read_member(Path(path), name)
    _verify(name, data, hashes[name], str(path))
    assert data is not None  # _verify refused a missing file
    return data


def _manifest(data: bytes, where: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The manifest and its file hashes (name -> SHA-256), refused unless well formed."""
    try:
        manifest = json.loads(data.decode("utf-8"))
        version = manifest["schema_version"]
        hashes = manifest["files"]
        if not isinstance(hashes, dict):
            raise TypeError(f"'files' is a {type(hashes).__name__}, not an object")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise EvidenceError(f"evidence manifest in {where} is unreadable: {exc}") from None
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise EvidenceError(
            f"evidence bundle {where} has schema_version {version!r}; this pmrecon reads up to "
            f"{SCHEMA_VERSION}: upgrade pmrecon"
        )
    for name, digest in hashes.items():
        if not plain_name(name) or name == MANIFEST or not isinstance(digest, str):
            raise EvidenceError(
                f"evidence manifest in {where} lists {name!r}: {digest!r}, not a file of the "
                "folder and its SHA-256; restore the original bundle"
            )
    return manifest, hashes


def _verify(name: str, data: bytes | None, digest: str, where: str) -> None:
    if data is None:
        raise _missing(name, where)
    _check_digest(name, hashlib.sha256(data).hexdigest(), digest, where)


def _missing(name: str, where: str) -> EvidenceError:
    return EvidenceError(f"evidence file {where}/{name} is missing; the bundle is incomplete")


def _check_digest(name: str, actual: str, digest: str, where: str) -> None:
    if actual != digest:
        raise EvidenceError(
            f"evidence file {where}/{name} does not match its SHA-256 in {MANIFEST}: "
            f"it was modified; restore the original bundle"
        )


def _verified(files: dict[str, bytes], hashes: dict[str, str], where: str) -> dict[str, bytes]:
    """The files the manifest lists, each checked against its hash."""
    raw: dict[str, bytes] = {}
    for name, digest in hashes.items():
        _verify(name, files.get(name), digest, where)
        raw[name] = files[name]
    return raw


def evidence_from_files(files: dict[str, bytes], where: str = "evidence") -> Evidence:
    """Verify the files against the manifest's hashes and rebuild the evidence."""
    if MANIFEST not in files:
        raise EvidenceError(f"{where} is not an evidence bundle (no {MANIFEST})")
    manifest, hashes = _manifest(files[MANIFEST], where)
    raw = _verified(files, hashes, where)
    return _evidence(manifest, raw, where, lambda: read_rows(raw[SERIES]))


def evidence_as_read(evidence: Evidence, files: Files) -> Evidence:
    """What :func:`evidence_from_files` reads from ``files``, ``bundle_files(evidence)``, without
    parsing series.csv back: its points come from ``evidence``'s series, through the same rules."""
    manifest, hashes = _manifest(bytes(files[MANIFEST]), "evidence")
    # series.csv is not read (its points come from memory): a spooled one stays on disk
    raw = {}
    for name in hashes:
        data = files[name]
        raw[name] = b"" if isinstance(data, SpooledFile) else data
    return _evidence(manifest, raw, "evidence", lambda: written_rows(evidence.series))


def _evidence(
    manifest: dict[str, Any], raw: dict[str, bytes], where: str, rows: Callable[[], Rows]
) -> Evidence:
    try:
        return _deserialize(manifest, raw, rows)
    except _CONTENT_ERRORS as exc:
        what = str(exc) if isinstance(exc, ShapeError) else f"{type(exc).__name__}: {exc}"
        raise EvidenceError(
            f"evidence bundle {where} is malformed: {what[:300]}; restore the original bundle "
            "(or rebuild it from the sources)"
        ) from None


#: What a file of a bundle may fail with when its content is not what it should be.
_CONTENT_ERRORS = (
    ValueError,  # ShapeError, UnicodeDecodeError, JSON and number syntax
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,  # JSON nested thousands deep
)


def _part(name: str, read: Callable[[], _T]) -> _T:
    """``read()``, its failure named by the bundle file it read."""
    try:
        return read()
    except ShapeError as exc:
        raise ShapeError(f"{name}: {exc}") from None
    except _CONTENT_ERRORS as exc:
        raise ShapeError(f"{name}: {type(exc).__name__}: {exc}") from None


def _load(raw: dict[str, bytes], name: str, default: Any) -> Any:
    return json.loads(raw[name]) if name in raw else default


def _objects(raw: dict[str, bytes], name: str, cls: type[_T]) -> list[_T]:
    """The list of ``cls`` objects a JSON file of the bundle holds, checked."""

    def read() -> list[_T]:
        data = _load(raw, name, [])
        if not isinstance(data, list):
            raise ShapeError(f"a {type(data).__name__} where a list is due")
        objects = [from_jsonable(cls, item) for item in data]
        check_shape(objects, list[cls], "")  # type: ignore[valid-type]
        return objects

    return _part(name, read)


def _deserialize(
    manifest: dict[str, Any], raw: dict[str, bytes], rows: Callable[[], Rows]
) -> Evidence:
    warnings: list[Warning] = []
    points: Points = {}
    if SERIES in raw:
        points = _part(SERIES, lambda: usable_points(rows(), warnings))
    logs = _part("logs.json", lambda: _logs(raw)) if "logs.json" in raw else None
    window, baseline = _part(MANIFEST, lambda: _windows(manifest))
    evidence = Evidence(
        window=window,
        baseline=baseline,
        alerts=_objects(raw, "alerts.json", Alert),
        series=_part("series.json", lambda: _series(raw, points)),
        logs=logs,
        events=_objects(raw, "events.json", Event),
        sources=_objects(raw, "sources.json", SourceInfo),
        warnings=_objects(raw, "warnings.json", Warning) + warnings,
        pmrecon_version=str(manifest.get("pmrecon_version", "")),
        schema_version=int(manifest["schema_version"]),
        breakdowns=_breakdowns(raw),
    )
    return evidence


def _windows(manifest: dict[str, Any]) -> tuple[Window, Window | None]:
    window = from_jsonable(Window, manifest["window"])
    baseline = from_jsonable(Window, manifest["baseline"]) if manifest.get("baseline") else None
    for name, w in (("window", window), ("baseline", baseline)):
        if w is not None:
            check_shape(w, Window, name)
            if not w.start < w.end:
                raise ShapeError(f"the {name} ends before it starts ({w.start} > {w.end})")
    return window, baseline


def _series(raw: dict[str, bytes], points: Points) -> list[Series]:
    series = []
    seen: set[str] = set()
    for i, m in enumerate(_load(raw, "series.json", [])):
        sid = m.pop("id")
        ts_list, v_list = points.get(sid, ([], []))
        s = from_jsonable(Series, {**m, "timestamps": [], "values": []})
        check_series(s, f"[{i}]")
        if s.id in seen:
            raise ShapeError(f"series {s.id!r} appears twice (two sources' series merged?)")
        seen.add(s.id)
        s.timestamps, s.values = as_points(ts_list), as_points(v_list)
        series.append(s)
    return series


def _breakdowns(raw: dict[str, bytes]) -> list[Breakdown]:
    """The breakdowns, refused unless each has one bad and one total count per instant, in
    time order (numbers are checked finite and bounded by ``check_shape``)."""
    out = _objects(raw, "breakdowns.json", Breakdown)
    _part("breakdowns.json", lambda: _check_breakdowns(out))
    return out


def _check_breakdowns(breakdowns: list[Breakdown]) -> None:
    for i, b in enumerate(breakdowns):
        if b.role not in BREAKDOWN_ROLES:
            raise ShapeError(f"[{i}]: role {b.role!r} is not one of {', '.join(BREAKDOWN_ROLES)}")
        if not len(b.timestamps) == len(b.bad) == len(b.total):
            raise ShapeError(
                f"[{i}]: {len(b.timestamps)} instants, {len(b.bad)} bad and {len(b.total)} total counts"
            )
        if any(t1 <= t0 for t0, t1 in zip(b.timestamps, b.timestamps[1:])):
            raise ShapeError(f"[{i}]: the instants go back in time or repeat")


def _logs(raw: dict[str, bytes]) -> LogSummary:
    data = _load(raw, "logs.json", {})
    lines = raw.get("samples.ndjson", b"").decode("utf-8").splitlines()
    data["samples"] = [json.loads(line) for line in lines if line.strip()]
    logs = from_jsonable(LogSummary, data)
    check_logs(logs)
    return logs
