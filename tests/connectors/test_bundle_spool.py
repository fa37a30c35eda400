"""A build's series.csv is spooled to a temporary file, not held in memory: the bundle it
writes, its manifest and the report's freshness digest are the same as from bytes."""

from __future__ import annotations

import os
from pathlib import Path

from connectors.bundle import (
    bundle_files,
    evidence_as_read,
    evidence_from_files,
    read_bundle,
    with_files,
    write_files,
)
from connectors.bundle_spool import CHUNK, SpooledFile
from pmrecon.config import Config
from pmrecon.freshness import inputs_digest
from tests.connectors.test_bundle import sample_evidence
from tests.connectors.test_bundle_series import DEMO, awkward


def _evidences():
    return [read_bundle(DEMO), sample_evidence(), awkward()]


def test_a_spooled_bundle_writes_the_same_bytes(tmp_path: Path) -> None:
    for i, evidence in enumerate(_evidences()):
        plain = with_files(bundle_files(evidence), {"build.json": b"{}\n"})
        spooled = with_files(bundle_files(evidence, spool=True), {"build.json": b"{}\n"})
        assert isinstance(spooled["series.csv"], SpooledFile)
        assert spooled["manifest.json"] == plain["manifest.json"]
        write_files(plain, tmp_path / f"plain{i}")
        write_files(spooled, tmp_path / f"spooled{i}")
        for name, data in plain.items():
            assert (tmp_path / f"spooled{i}" / name).read_bytes() == data, name
        assert read_bundle(tmp_path / f"spooled{i}") == evidence_from_files(plain)


def test_a_build_reads_a_spooled_bundle_as_a_rebuild_does() -> None:
    for evidence in _evidences():
        files = bundle_files(evidence, spool=True)
        assert evidence_as_read(evidence, files) == evidence_from_files(bundle_files(evidence))


def test_the_freshness_digest_reads_a_spooled_file_as_its_bytes() -> None:
    evidence = read_bundle(DEMO)
    config = Config(data={"report": {}})

    def digest(files):
        return inputs_digest(
            config=config, bundle=files, findings={}, title="t", png=False, template_dirs=[]
        )

    assert digest(bundle_files(evidence, spool=True)) == digest(bundle_files(evidence))


def test_a_spooled_file_reads_back_across_chunks_and_leaves_nothing_behind() -> None:
    spooled = SpooledFile()
    data = os.urandom(CHUNK * 2 + 123)
    for at in range(0, len(data), 70_000):
        spooled.write(data[at : at + 70_000])
    assert bytes(spooled) == data and spooled.size == len(data)
    assert bytes(spooled) == data  # read twice: it starts from the first byte again
    spooled.write(b"tail")  # and writing goes on at the end
    assert bytes(spooled).endswith(data[-10:] + b"tail")
    fd = spooled._file.fileno()
    assert os.readlink(f"/proc/self/fd/{fd}").endswith("(deleted)")  # no name on disk
    spooled.close()
    assert spooled._file.closed


def test_the_outputs_digest_reads_files_in_chunks_as_it_read_them_whole(tmp_path: Path) -> None:
    """The report folder's digest is the same whether a file is read whole or by chunks (a
    bundle's series.csv can be a gigabyte); it still changes with a file's bytes."""
    import hashlib

    from pmrecon.freshness import outputs_digest

    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "series.csv").write_bytes(os.urandom(CHUNK * 3 + 7))
    (tmp_path / "report.html").write_text("<p>é</p>", encoding="utf-8")
    (tmp_path / "empty.md").write_bytes(b"")
    h = hashlib.sha256()
    for rel in ("empty.md", "evidence/series.csv", "report.html"):
        data = (tmp_path / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    assert outputs_digest(tmp_path) == h.hexdigest()
    (tmp_path / "empty.md").write_bytes(b"x")
    assert outputs_digest(tmp_path) != h.hexdigest()
