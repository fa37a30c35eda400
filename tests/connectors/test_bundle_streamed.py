"""A bundle folder's series.csv is read a chunk at a time, never whole: the evidence is the
one read from the file's bytes, and a changed, missing or growing file is refused as before.

The reference is ``evidence_from_files``: the bytes in memory, checked and parsed whole.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from connectors import bundle, bundle_checks, bundle_series
from connectors.bundle import bundle_files, evidence_from_files, read_bundle, write_files
from pmrecon.errors import EvidenceError
from tests.connectors.test_bundle import sample_evidence
from tests.connectors.test_bundle_series import DEMO, awkward


def _evidences() -> list[Any]:
    return [read_bundle(DEMO), sample_evidence(), awkward()]


@pytest.fixture
def no_whole_series(monkeypatch: pytest.MonkeyPatch) -> None:
    """A series.csv as pmrecon writes it may not be read in one piece, and is read in chunks
    of a few lines; any other one is read whole, by the csv module."""
    real = bundle_checks.read_member

    def read_member(folder: Path, name: str, limit: int | None = None) -> bytes | None:
        data = real(folder, name, limit)
        if name == "series.csv" and data is not None:
            assert bundle_series._plain_rows(data) is None, "series.csv read whole"
        return data

    monkeypatch.setattr(bundle, "read_member", read_member)
    monkeypatch.setattr(bundle_checks, "MEMBER_CHUNK", 97)  # lines cut across chunks


@pytest.mark.usefixtures("no_whole_series")
def test_a_bundle_read_in_chunks_is_the_bundle_read_whole(tmp_path: Path) -> None:
    plain = []
    for i, evidence in enumerate(_evidences()):
        files = bundle_files(evidence)
        write_files(files, tmp_path / str(i))
        assert read_bundle(tmp_path / str(i)) == evidence_from_files(files)
        plain.append(bundle_series._plain_rows(bytes(files["series.csv"])) is not None)
    assert plain == [True, True, False]  # the awkward ids are quoted: the csv module's


def test_a_series_csv_larger_than_any_other_file_may_be_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit on a file held whole does not apply to series.csv read in chunks; its own does."""
    evidence = read_bundle(DEMO)
    write_files(bundle_files(evidence), tmp_path / "b")
    size = (tmp_path / "b" / "series.csv").stat().st_size
    monkeypatch.setattr(bundle_checks, "MAX_FILE_BYTES", size // 2)
    assert read_bundle(tmp_path / "b") == evidence
    monkeypatch.setattr(bundle, "MAX_SERIES_BYTES", size // 2)
    with pytest.raises(EvidenceError, match="more than the"):
        read_bundle(tmp_path / "b")


def _rewritten(folder: Path, change: Any, *, rehash: bool) -> None:
    """series.csv changed by ``change(bytes)``; its hash in the manifest updated or not."""
    path = folder / "series.csv"
    path.write_bytes(change(path.read_bytes()))
    if rehash:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"]["series.csv"] = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data.replace(b"0.", b"1.", 1),  # still as pmrecon writes it
        lambda data: data[:-1],  # the last line cut short
        lambda data: data + b"x,y\n",  # a line the csv module reads
        lambda data: b'"' + data,  # quoted: read whole by the csv module
    ],
    ids=["plain", "cut", "extra-line", "quoted"],
)
def test_a_changed_series_csv_is_refused_as_modified(tmp_path: Path, change: Any) -> None:
    write_files(bundle_files(read_bundle(DEMO)), tmp_path)
    _rewritten(tmp_path, change, rehash=False)
    with pytest.raises(EvidenceError, match="series.csv does not match its SHA-256"):
        read_bundle(tmp_path)


def test_a_missing_series_csv_is_named(tmp_path: Path) -> None:
    write_files(bundle_files(read_bundle(DEMO)), tmp_path)
    (tmp_path / "series.csv").unlink()
    with pytest.raises(EvidenceError, match="series.csv is missing"):
        read_bundle(tmp_path)


@pytest.mark.usefixtures("no_whole_series")
def test_a_refused_row_is_named_with_its_line_and_text(tmp_path: Path) -> None:
    """The message of a row the rules refuse quotes the file, read again for it."""
    write_files(bundle_files(read_bundle(DEMO)), tmp_path)
    lines = (tmp_path / "series.csv").read_bytes().split(b"\n")
    cells = lines[40].split(b",")
    lines[40] = b",".join([cells[0], cells[1], b"1e20", cells[3]])
    _rewritten(tmp_path, lambda _data: b"\n".join(lines), rehash=True)
    with pytest.raises(EvidenceError, match="line 41: epoch 1e20 is not between 1970 and 9000"):
        read_bundle(tmp_path)


def test_a_series_csv_growing_while_it_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(bundle_files(read_bundle(DEMO)), tmp_path)
    real = bundle_series.plain_runs

    def plain_runs(blocks: Any) -> Any:
        def growing() -> Any:
            for i, block in enumerate(blocks):
                if i == 0:  # something appends to the file once its reading began
                    with open(tmp_path / "series.csv", "ab") as fh:
                        fh.write(b"late,2026-01-01T00:00:00Z,1767225600.0,1.0\n")
                yield block

        return real(growing())

    monkeypatch.setattr(bundle, "plain_runs", plain_runs)
    with pytest.raises(EvidenceError, match="grew while it was read"):
        read_bundle(tmp_path)
