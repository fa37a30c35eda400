"""Bad inputs a person or a disk can hand pmrecon end in a one-line error, never a traceback.

Issue 14, "internal errors where a clean error is due": a postmortem.md saved in another
encoding, figures near the float limits, malformed bundles (the manifest rewritten to
match, as a forger or a buggy tool would), files in the bundle folder that are not the
manifest's.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon.cli import main
from pmrecon.errors import EXIT_RENDER
from tests.report_data import evidence

HAND = "\nNoté à la main : le cache était froid, café.\n"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMRECON_CONFIG", raising=False)
    return tmp_path


def run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def build(workdir: Path, bundle: Path | None = None, *extra: str) -> int:
    """``pmrecon build --source`` of ``bundle`` (the typical incident by default) into out/."""
    if bundle is None:
        bundle = workdir / "bundle"
        if not bundle.exists():
            write_bundle(evidence(0.3, "2026-03-01 10:10"), bundle)
    args = ["build", "--source", str(bundle), "-o", str(workdir / "out"), "--no-png"]
    return run([*args, "--tz", "Europe/Paris", "--lang", "fr", *extra])


def one_line_error(capsys) -> str:  # noqa: ANN001
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("pmrecon: error:")]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"], ids=lambda e: e
)
def test_a_postmortem_with_a_byte_order_mark_is_merged(workdir, capsys, encoding: str) -> None:
    assert build(workdir) == 0
    md = workdir / "out" / "postmortem.md"
    text = md.read_text(encoding="utf-8")
    data = (text + HAND).encode(encoding)
    if encoding == "utf-16-be":  # the codec writes no mark of its own
        data = codecs.BOM_UTF16_BE + data
    md.write_bytes(data)
    assert build(workdir) == 0, capsys.readouterr().err
    merged = md.read_text(encoding="utf-8")  # rewritten as UTF-8, the edit kept
    assert HAND.strip() in merged and not merged.startswith("\ufeff")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HAND.encode("latin-1"), id="latin-1"),
        pytest.param(HAND.encode("cp1252"), id="windows-1252"),
        pytest.param(b"\xff\xfe\x00\xd8" + HAND.encode("utf-16-le"), id="utf-16-broken"),
        pytest.param(HAND.encode("utf-16-le"), id="utf-16-without-mark"),
        pytest.param(b"# titre\n\xc3(\xa0\xa1 invalid utf-8\n", id="invalid-utf-8"),
    ],
)
def test_a_postmortem_in_another_encoding_is_kept_and_named(workdir, capsys, data: bytes) -> None:
    assert build(workdir) == 0
    out = workdir / "out"
    md = out / "postmortem.md"
    md.write_bytes(data)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert build(workdir) == EXIT_RENDER
    line = one_line_error(capsys)
    assert str(md) in line and "UTF-8" in line and "nothing was replaced" in line, line
    assert md.read_bytes() == data, "the human text is kept byte for byte"
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "a refused rebuild writes nothing"


def test_force_replaces_a_postmortem_in_another_encoding_keeping_a_backup(workdir) -> None:
    assert build(workdir) == 0
    md = workdir / "out" / "postmortem.md"
    md.write_bytes(HAND.encode("latin-1"))
    assert build(workdir, None, "--force") == 0
    backups = [p for p in (workdir / "out" / ".pmrecon").rglob("*") if p.is_file()]
    assert any(p.read_bytes() == HAND.encode("latin-1") for p in backups)
