"""The evidence bundle: everything a build used, saved as plain files, and read back.

Layout of ``evidence/`` (documented in docs/evidence-bundle.md and in the bundle's own
README.txt so that a person can read it without pmrecon):

- ``manifest.json``: schema_version, pmrecon_version, window, baseline, and the SHA-256 of every other file
- ``sources.json``: each source with its version, settings and every query it answered
- ``alerts.json``, ``events.json``, ``warnings.json``: lists of model objects as JSON
- ``series.json``: series metadata (no points); ``series.csv``: ``series_id,timestamp,epoch,value``
- ``logs.json``: log aggregates (histograms, signatures, counts); ``samples.ndjson``: one log sample per line

Floats are written with ``repr`` so that reading a bundle back gives the exact same
numbers, and therefore the exact same findings.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pmrecon import __version__
from pmrecon.errors import EvidenceError
from pmrecon.fsutil import public_dir
from pmrecon.model import (
    SCHEMA_VERSION,
    Alert,
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

MANIFEST = "manifest.json"
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


def serialize(evidence: Evidence) -> dict[str, bytes]:
    """The bundle's files (name → bytes), manifest excluded."""
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
    chunks: list[bytes] = [head.getvalue().encode("utf-8")]
    stamps: dict[float, str] = {}  # series share their time grid: format each instant once
    for s in evidence.series:
        m = {
            f.name: to_jsonable(getattr(s, f.name))
            for f in dataclasses.fields(s)
            if f.name not in ("timestamps", "values")
        }
        m["id"] = s.id
        meta.append(m)
        one = io.StringIO()
        csv.writer(one, lineterminator="").writerow([s.id])
        sid = one.getvalue()  # quoted once, as csv.writer would
        rows = []
        for ts, v in zip(s.timestamps, s.values):
            stamp = stamps.get(ts)
            if stamp is None:
                stamp = stamps[ts] = f"{rfc3339(utc(ts))},{float(ts)!r}"
            rows.append(f"{sid},{stamp},{float(v)!r}\n")
        chunks.append("".join(rows).encode("utf-8"))
    files["series.json"] = _dumps(meta)
    if evidence.logs is not None:
        logs = to_jsonable(evidence.logs)
        samples = logs.pop("samples")
        files["logs.json"] = _dumps(logs)
        files["samples.ndjson"] = "".join(
            json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in samples
        )
    out = {name: text.encode("utf-8") for name, text in files.items()}
    out["series.csv"] = b"".join(chunks)
    return out


def bundle_files(evidence: Evidence) -> dict[str, bytes]:
    """Every file of the bundle, manifest included, as bytes."""
    files = serialize(evidence)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "pmrecon_version": evidence.pmrecon_version or __version__,
        "window": to_jsonable(evidence.window),
        "baseline": to_jsonable(evidence.baseline),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _dumps(manifest).encode("utf-8")
    return files


def with_files(files: dict[str, bytes], extra: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle's files plus ``extra`` (e.g. the build's settings), listed and hashed in the manifest."""
    manifest = json.loads(files[MANIFEST].decode("utf-8"))
    out = {**files, **extra}
    manifest["files"] = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in sorted(out.items())
        if name != MANIFEST
    }
    out[MANIFEST] = _dumps(manifest).encode("utf-8")
    return out


def write_files(files: dict[str, bytes], target: Path) -> None:
    """Write bundle files into ``target`` atomically: a new folder renamed over the old one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".evidence-", dir=target.parent))
    try:
        public_dir(staging)
        for name, data in files.items():
            (staging / name).write_bytes(data)
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
    """Read and verify a bundle folder; refuse a missing, foreign, tampered or newer one."""
    path = Path(path)
    if not path.is_dir():
        raise EvidenceError(f"evidence bundle {path} does not exist or is not a folder")
    if not (path / MANIFEST).is_file():
        raise EvidenceError(
            f"{path} is not an evidence bundle (no {MANIFEST}); point --source at a report's evidence/ folder"
        )
    files: dict[str, bytes] = {}
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink():
            try:
                files[child.name] = child.read_bytes()
            except OSError as exc:
                raise EvidenceError(
                    f"evidence file {child} is unreadable: {exc.strerror}"
                ) from None
    return evidence_from_files(files, str(path))


def evidence_from_files(files: dict[str, bytes], where: str = "evidence") -> Evidence:
    """Verify the files against the manifest's hashes and rebuild the evidence."""
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        version = manifest["schema_version"]
        hashes: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise EvidenceError(f"evidence manifest in {where} is unreadable: {exc}") from None
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise EvidenceError(
            f"evidence bundle {where} has schema_version {version!r}; this pmrecon reads up to "
            f"{SCHEMA_VERSION}: upgrade pmrecon"
        )
    raw: dict[str, bytes] = {}
    for name, digest in hashes.items():
        if name not in files:
            raise EvidenceError(
                f"evidence file {where}/{name} is missing; the bundle is incomplete"
            )
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise EvidenceError(
                f"evidence file {where}/{name} does not match its SHA-256 in {MANIFEST}: "
                f"it was modified; restore the original bundle"
            )
        raw[name] = files[name]
    try:
        return _deserialize(manifest, raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise EvidenceError(f"evidence bundle {where} is malformed: {exc}") from None


def _load(raw: dict[str, bytes], name: str, default: Any) -> Any:
    return json.loads(raw[name]) if name in raw else default


def _deserialize(manifest: dict[str, Any], raw: dict[str, bytes]) -> Evidence:
    points: dict[str, tuple[list[float], list[float]]] = {}
    if "series.csv" in raw:
        # Read line by line from the bytes (no decoded copy of the whole file); series
        # share their time grid, so each instant becomes one float shared by all of them.
        text = io.TextIOWrapper(io.BytesIO(raw["series.csv"]), encoding="utf-8", newline="")
        reader = csv.reader(text)
        next(reader, None)
        current = None
        ts_list: list[float] = []
        v_list: list[float] = []
        instants: dict[str, float] = {}
        for sid, _ts, epoch, value in reader:
            if sid != current:
                ts_list, v_list = points.setdefault(sid, ([], []))
                current = sid
            t = instants.get(epoch)
            if t is None:
                t = instants[epoch] = float(epoch)
            ts_list.append(t)
            v_list.append(float(value))
    series = []
    for m in _load(raw, "series.json", []):
        sid = m.pop("id")
        ts_list, v_list = points.get(sid, ([], []))
        s = from_jsonable(Series, {**m, "timestamps": [], "values": []})
        s.timestamps, s.values = ts_list, v_list  # floats already: no per-point conversion
        series.append(s)
    logs = None
    if "logs.json" in raw:
        data = _load(raw, "logs.json", {})
        lines = raw.get("samples.ndjson", b"").decode("utf-8").splitlines()
        data["samples"] = [json.loads(line) for line in lines if line.strip()]
        logs = from_jsonable(LogSummary, data)
    return Evidence(
        window=from_jsonable(Window, manifest["window"]),
        baseline=from_jsonable(Window, manifest["baseline"]) if manifest.get("baseline") else None,
        alerts=[from_jsonable(Alert, a) for a in _load(raw, "alerts.json", [])],
        series=series,
        logs=logs,
        events=[from_jsonable(Event, e) for e in _load(raw, "events.json", [])],
        sources=[from_jsonable(SourceInfo, s) for s in _load(raw, "sources.json", [])],
        warnings=[from_jsonable(Warning, w) for w in _load(raw, "warnings.json", [])],
        pmrecon_version=str(manifest.get("pmrecon_version", "")),
        schema_version=int(manifest["schema_version"]),
    )
