"""Bad inputs a person or a disk can hand pmrecon end in a one-line error, never a traceback.

Issue 14, "internal errors where a clean error is due": a postmortem.md saved in another
encoding, figures near the float limits, malformed bundles (the manifest rewritten to
match, as a forger or a buggy tool would), files in the bundle folder that are not the
manifest's.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors import bundle_checks
from connectors.bundle import MANIFEST, write_bundle
from pmrecon.cli import main
from pmrecon.errors import EXIT_EVIDENCE, EXIT_RENDER
from tests import schemacheck
from tests.clihelp import run_cli
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


# --------------------------------------------------------------------------- figures


def bundle_of(workdir: Path, name: str = "bundle") -> Path:
    folder = workdir / name
    write_bundle(evidence(0.3, "2026-03-01 10:10"), folder)
    return folder


def rewrite(bundle: Path, name: str, data: bytes, *, rehash: bool = True) -> None:
    """Put ``data`` in ``bundle/name`` and, like a forger would, its hash in the manifest."""
    (bundle / name).write_bytes(data)
    if rehash and name != MANIFEST:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (bundle / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def edit_csv(bundle: Path, change: Callable[[list[list[str]]], None]) -> None:
    rows = list(csv.reader(io.StringIO((bundle / "series.csv").read_text(encoding="utf-8"))))
    change(rows)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    rewrite(bundle, "series.csv", text.getvalue().encode("utf-8"))


@pytest.mark.parametrize(
    "value", ["1e308", "-1e308", "1.7976931348623157e308", "inf", "-inf", "nan", "1e101"]
)
def test_figures_beyond_any_measurement_are_unknown(workdir, capsys, value: str) -> None:
    """A value near the float limit used to end in OverflowError; now it is no sample."""
    bundle = bundle_of(workdir)

    def extreme(rows: list[list[str]]) -> None:
        for row in rows[1:][::7]:  # every kind of series, window and baseline
            row[3] = value

    edit_csv(bundle, extreme)
    assert build(workdir, bundle) == 0, capsys.readouterr().err
    text = (workdir / "out" / "findings.json").read_text(encoding="utf-8")
    found = json.loads(text, parse_constant=pytest.fail)  # no Infinity, no NaN
    (warning,) = [w for w in found["warnings"] if w["code"] == "unusable_values"]
    assert "read as unknown" in warning["message"]
    assert "unusable_values" not in open_findings(bundle_of(workdir, "clean"), workdir)


def open_findings(bundle: Path, workdir: Path) -> str:
    out = workdir / "clean-out"
    assert run(["build", "--source", str(bundle), "-o", str(out), "--no-png"]) == 0
    return (out / "findings.json").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- malformed bundles


def _json_edit(name: str, change: Callable[[Any], Any]) -> Callable[[Path], None]:
    def edit(bundle: Path) -> None:
        data = json.loads((bundle / name).read_text(encoding="utf-8"))
        rewrite(bundle, name, json.dumps(change(data)).encode("utf-8"))

    return edit


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], Any]:
    def change(data: Any) -> Any:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return data

    return change


def _raw(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda bundle: rewrite(bundle, name, data)


def _csv_row(index: int, column: int, value: str) -> Callable[[Path], None]:
    def change(rows: list[list[str]]) -> None:
        rows[index][column] = value

    return lambda bundle: edit_csv(bundle, change)


def _csv_back_in_time(bundle: Path) -> None:
    edit_csv(bundle, lambda rows: rows.insert(3, rows[1]))


#: (id, edit of the bundle, words the one-line error holds). The manifest is rewritten to
#: match each edit, so that only the content is wrong.
MALFORMED: list[tuple[str, Callable[[Path], None], str]] = [
    ("mapping-for-list", _json_edit("alerts.json", lambda _: {"a": 1}), "alerts"),
    ("number-for-alert", _json_edit("alerts.json", lambda a: [1, *a]), "alerts"),
    ("text-step", _json_edit("series.json", _set((0, "step_seconds"), "15s")), "step_seconds"),
    ("zero-step", _json_edit("series.json", _set((0, "step_seconds"), 0)), "step_seconds"),
    ("huge-step", _json_edit("series.json", _set((0, "step_seconds"), 1e300)), "step_seconds"),
    ("list-labels", _json_edit("series.json", _set((0, "labels"), ["a"])), "series.json"),
    ("year-9999", _json_edit("alerts.json", _set((0, "active_at"), "9999-12-31T23:59:59Z")), "9999"),
    ("time-as-number", _json_edit("events.json", _set((0, "at"), 1772359200)), "events"),
    ("deep-json", _raw("sources.json", b"[" * 100_000 + b"]" * 100_000), "sources.json"),
    ("truncated-json", lambda b: rewrite(b, "alerts.json", (b / "alerts.json").read_bytes()[:40]), "alerts"),
    ("not-utf8", _raw("events.json", b'[{"at": "\xff"}]'), "events"),
    ("epoch-1e20", _csv_row(1, 2, "1e20"), "epoch 1e20"),
    ("text-value", _csv_row(1, 3, "many"), "many"),
    ("three-columns", lambda b: edit_csv(b, lambda rows: rows[1].pop()), "3 columns"),
    ("back-in-time", _csv_back_in_time, "goes back in time"),
    ("window-reversed", _json_edit(MANIFEST, _set(("window", "end"), "2020-01-01T00:00:00Z")), "ends before it starts"),
    ("files-as-list", _json_edit(MANIFEST, _set(("files",), ["alerts.json"])), "files"),
    ("file-outside", _json_edit(MANIFEST, _set(("files", "../outside.json"), "0" * 64)), "../outside.json"),
    ("version-true", _json_edit(MANIFEST, _set(("schema_version",), True)), "schema_version"),
    ("histogram-short", _json_edit("logs.json", _set(("volume_by_level", "timestamps"), [1772359200.0])), "counts"),
    ("zone", _json_edit("build.json", _set(("timezone",), "-1")), "time zone"),
    ("analysis-type", _json_edit("build.json", _set(("analysis", "consecutive_steps"), "x")), "consecutive_steps"),
    ("hand-time", _json_edit("build.json", _set(("human", "acknowledged"), 5)), "build.json"),
    ("title-type", _json_edit("build.json", _set(("title",), ["x"])), "title"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "words"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_bundle_is_an_evidence_error(workdir, capsys, edit, words: str) -> None:  # noqa: ANN001
    bundle = workdir / "bundle"
    assert build(workdir) == 0  # a bundle with build.json, as builds write it
    shutil.copytree(workdir / "out" / "evidence", bundle, dirs_exist_ok=True)
    shutil.rmtree(workdir / "out")
    capsys.readouterr()
    edit(bundle)
    schemacheck.exempt(bundle / MANIFEST)  # broken on purpose
    # no --tz, no --lang: the zone and language recorded in build.json are read
    assert (
        run(["build", "--source", str(bundle), "-o", str(workdir / "out"), "--no-png"])
        == EXIT_EVIDENCE
    )
    line = one_line_error(capsys)
    assert words in line and len(line) < 800, line
    assert not (workdir / "out").exists(), "nothing written"


# --------------------------------------------------------------------------- --source DIR


def test_source_reads_only_the_files_its_manifest_lists(tmp_path) -> None:  # noqa: ANN001
    """A 3 GiB stray file beside the bundle used to be read whole (2.1 GB for a 2 GB file)."""
    bundle = bundle_of(tmp_path)
    with open(bundle / "stray.bin", "wb") as fh:
        fh.truncate(3 << 30)  # sparse: no disk used, 3 GiB if read
    os.mkfifo(bundle / "stray.fifo")
    (bundle / "stray.link").symlink_to("/dev/zero")
    out = tmp_path / "out"
    run_ = run_cli(
        "build", "--source", str(bundle), "-o", str(out), "--no-png", timeout=120, memory=2 << 30
    )
    assert run_.code == 0, run_.err


@pytest.mark.parametrize("kind", ["symlink-out", "fifo", "folder", "too-big"])
def test_a_listed_file_that_is_no_plain_file_of_the_folder_is_refused(
    workdir, capsys, monkeypatch, kind: str
) -> None:
    bundle = bundle_of(workdir)
    target = bundle / "events.json"
    if kind == "symlink-out":
        outside = workdir / "events-elsewhere.json"
        outside.write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(outside)  # the same bytes: only where they are is wrong
    elif kind == "fifo":
        target.unlink()
        os.mkfifo(target)  # would block forever if opened for reading
    elif kind == "folder":
        target.unlink()
        target.mkdir()
    else:
        rewrite(bundle, "events.json", b"[]" + b" " * (2 << 20))
        monkeypatch.setattr(bundle_checks, "MAX_FILE_BYTES", 1 << 20)
    assert build(workdir, bundle) == EXIT_EVIDENCE
    line = one_line_error(capsys)
    expected = {
        "symlink-out": "symbolic link",
        "fifo": "named pipe (FIFO)",
        "folder": "a folder",
        "too-big": "holds 2 MiB, more than the 1 MiB",
    }[kind]
    assert str(target) in line and expected in line, line


def test_an_oversized_manifest_is_refused(workdir, capsys) -> None:
    bundle = bundle_of(workdir)
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    manifest["padding"] = "x" * (2 << 20)
    (bundle / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    schemacheck.exempt(bundle / MANIFEST)
    assert build(workdir, bundle) == EXIT_EVIDENCE
    assert "more than the 1 MiB a bundle file may hold" in one_line_error(capsys)
