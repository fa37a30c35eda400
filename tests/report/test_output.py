"""The output folder: every file written, rebuilds that keep human work, atomic on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon import output
from pmrecon.cli import main
from pmrecon.errors import EXIT_CONFLICT, EXIT_RENDER
from pmrecon.merge import END_MARKER, START_MARKER
from tests import schemacheck
from tests.report_data import HOSTILE_LOG, HOSTILE_SERVICE, evidence


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMRECON_CONFIG", raising=False)
    return tmp_path


def build(workdir: Path, *, error_ratio: float = 0.3, end: str = "2026-03-01 10:10", extra=()):
    """``pmrecon build --source …`` on a bundle of the typical incident; the exit code."""
    bundle = workdir / f"bundle-{error_ratio}-{end[-5:].replace(':', '')}"
    if not bundle.exists():
        write_bundle(evidence(error_ratio, end), bundle)
    args = ["build", "--source", str(bundle), "-o", str(workdir / "out"), "--no-png"]
    args += ["--tz", "Europe/Paris", "--lang", "fr", "--title", "Checkout en erreur", *extra]
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_build_writes_every_output(workdir):
    assert build(workdir) == 0
    out = workdir / "out"
    names = {p.name for p in out.iterdir()}
    assert {
        "postmortem.md",
        "report.html",
        "findings.json",
        "graphs",
        "evidence",
        ".pmrecon",
    } <= names
    graphs = sorted(p.name for p in (out / "graphs").iterdir())
    assert graphs == sorted(
        ["plotly.min.js"]
        + [
            f"{n}.html"
            for n in ("alerts", "cascade", "error_ratio", "latency", "log_volume", "throughput")
        ]
    )
    findings = json.loads((out / "findings.json").read_text())
    assert findings["title"] == "Checkout en erreur"
    md = (out / "postmortem.md").read_text()
    assert md.startswith("# Post-Mortem: Checkout en erreur")
    assert (out / ".pmrecon" / "last-generated.md").read_text() == md
    # No temporary file left behind anywhere.
    assert not [
        p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".graphs-")
    ]


def test_hostile_text_survives_intact_in_markdown_tables(workdir):
    from markdown_it import MarkdownIt

    assert build(workdir) == 0
    md = (workdir / "out" / "postmortem.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    rows: list[list[str]] = []
    current: list[str] | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "tr_open":
            current = []
        elif tok.type in ("td_open", "th_open"):
            inline = tokens[i + 1]
            assert current is not None
            current.append(
                "".join(
                    c.content for c in inline.children or [] if c.type in ("text", "code_inline")
                )
            )
        elif tok.type == "tr_close":
            rows.append(current or [])
    hostile_rows = [r for r in rows if any("alert(1)" in c for c in r)]
    assert hostile_rows, "the hostile log line is not in a table"
    for r in hostile_rows:
        assert len(r) == 3, r  # the | inside did not split the cell
        assert any(HOSTILE_LOG in c for c in r), r  # text intact once Markdown is read
    service_rows = [r for r in rows if any("pay" in c for c in r)]
    assert service_rows and all(len(r) == 3 for r in service_rows)
    assert any(HOSTILE_SERVICE in c for r in service_rows for c in r)
    # A renderer that lets raw HTML through (as many do) finds none: only code and text.
    permissive = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    raw_html = [
        t.content
        for tok in permissive
        for t in [tok, *(tok.children or [])]
        if t.type in ("html_inline", "html_block")
    ]
    assert raw_html == []


def test_rebuild_keeps_six_human_edits_and_updates_derived_numbers(workdir):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md = md_path.read_text()
    assert "Taux d'erreur max: 30,00 %" in md
    edits = [
        # 1-2. names in two adjacent timeline rows whose times pmrecon will change
        (
            "| Résolution | SLI rétablis",
            "| Carol |",
            lambda line: line.replace("| [Nom] |", "| Carol |"),
        ),
        (
            "| Fin de l'incident | Alertes résolues",
            "| Dave |",
            lambda line: line.replace("| [Nom] |", "| Dave |"),
        ),
        # 3. a whole placeholder line
        (
            "[Description détaillée de l'incident et de son évolution]",
            "Le pool de connexions",
            lambda _l: "Le pool de connexions à la base s'est épuisé après le déploiement.",
        ),
        # 4. a placeholder on a line whose numbers pmrecon will change
        (
            "- Impact sur les utilisateurs:",
            "paiements refusés",
            lambda line: line.replace("[Description]", "paiements refusés pendant l'incident"),
        ),
        # 5. next to a line pmrecon rewrites on every build (the date of the last update)
        (
            "**Auteur principal**: [Nom]",
            "Eve Martin",
            lambda _l: "**Auteur principal**: Eve Martin",
        ),
    ]
    lines = md.split("\n")
    for marker, _check, change in edits:
        idx = [i for i, line in enumerate(lines) if marker in line]
        assert len(idx) == 1, marker
        lines[idx[0]] = change(lines[idx[0]])
    # 6. a paragraph added by hand
    chance = lines.index("### Points de chance")
    lines[chance + 2 : chance + 2] = [
        "",
        "Heureusement, l'incident a eu lieu un dimanche matin.",
        "",
    ]
    md_path.write_text("\n".join(lines))

    assert build(workdir, error_ratio=0.5, end="2026-03-01 10:25") == 0
    merged = md_path.read_text()
    for _marker, check, _change in edits:
        assert check in merged, check
    assert "Heureusement, l'incident a eu lieu un dimanche matin." in merged
    assert START_MARKER not in merged
    # Derived numbers moved with the data.
    assert "Taux d'erreur max: 50,00 %" in merged and "30,00 %" not in merged
    resolution_row = next(
        line for line in merged.split("\n") if "| Résolution | SLI rétablis" in line
    )
    assert resolution_row.startswith("| 11:25 |") and resolution_row.endswith("| Carol |")
    impact = next(
        line for line in merged.split("\n") if line.startswith("- Impact sur les utilisateurs:")
    )
    assert "paiements refusés pendant l'incident" in impact
    findings = json.loads((workdir / "out" / "findings.json").read_text())
    assert findings["incident"]["max_error_rate"]["value"] == 0.5
    # report.html shows the merged text, human edits included.
    page = (workdir / "out" / "report.html").read_text()
    assert "Eve Martin" in page and "dimanche matin" in page


def test_conflicting_edit_of_a_derived_line_is_marked_and_exits_6(workdir, capsys):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md = md_path.read_text()
    md_path.write_text(
        md.replace("Taux d'erreur max: 30,00 %", "Taux d'erreur max: 31 % (mesuré par Frank)")
    )
    capsys.readouterr()
    assert build(workdir, error_ratio=0.5) == EXIT_CONFLICT
    err = capsys.readouterr().err
    assert "1 conflict" in err and "\n" not in err.strip()
    merged = md_path.read_text()
    block = merged[merged.index(START_MARKER) : merged.index(END_MARKER)]
    assert "31 % (mesuré par Frank)" in block and "50,00 %" in block
    # The other outputs were still written.
    assert (
        json.loads((workdir / "out" / "findings.json").read_text())["incident"]["max_error_rate"][
            "value"
        ]
        == 0.5
    )
    # Resolving by hand, then rebuilding with the same data: no conflict any more.
    resolved = merged.split("\n")
    s, e = resolved.index(START_MARKER), resolved.index(END_MARKER)
    mid = resolved.index("=======", s)
    resolved[s : e + 1] = resolved[mid + 1 : e]
    md_path.write_text("\n".join(resolved))
    assert build(workdir, error_ratio=0.5) == 0


def test_force_regenerates_and_keeps_a_backup(workdir):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md_path.write_text(md_path.read_text() + "\nNotes de Grace.\n")
    assert build(workdir, extra=["--force"]) == 0
    assert "Notes de Grace." not in md_path.read_text()
    backups = list((workdir / "out" / ".pmrecon").glob("backup-*-postmortem.md"))
    assert len(backups) == 1 and "Notes de Grace." in backups[0].read_text()


@pytest.mark.parametrize("victim", ["render_report_html", "render_graphs", "merge_rebuild"])
def test_failure_mid_render_leaves_the_previous_report_intact(workdir, monkeypatch, victim):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md_path.write_text(md_path.read_text() + "\nUne note humaine.\n")
    before = snapshot(workdir / "out")

    def boom(*_a, **_k):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(output, victim, boom)
    assert build(workdir, error_ratio=0.5) == 1  # internal error, one line, no traceback
    assert snapshot(workdir / "out") == before


def test_failure_while_writing_keeps_the_merge_base_consistent(workdir, monkeypatch):
    assert build(workdir) == 0
    out = workdir / "out"
    base_before = (out / ".pmrecon" / "last-generated.md").read_bytes()
    md_before = (out / "postmortem.md").read_bytes()
    real = output.atomic_write

    def failing(path, data, **options):
        if Path(path).name == "postmortem.md":
            raise OSError(28, "No space left on device")
        real(path, data, **options)

    monkeypatch.setattr(output, "atomic_write", failing)
    assert build(workdir, error_ratio=0.5) != 0
    # postmortem.md is written before the merge base: both still the previous build's.
    assert (out / "postmortem.md").read_bytes() == md_before
    assert (out / ".pmrecon" / "last-generated.md").read_bytes() == base_before


def test_graphs_folder_is_never_written_through_a_symlink(workdir, tmp_path):
    assert build(workdir) == 0
    graphs = workdir / "out" / "graphs"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    shutil.rmtree(graphs)
    graphs.symlink_to(elsewhere, target_is_directory=True)
    assert build(workdir) != 0
    assert list(elsewhere.iterdir()) == []


def test_no_chromium_is_one_warning_line_and_the_report_is_still_built(
    workdir, monkeypatch, capsys
):
    monkeypatch.setenv("BROWSER_PATH", str(workdir / "no-such-chromium"))
    bundle = workdir / "bundle"
    write_bundle(evidence(), bundle)
    capsys.readouterr()
    try:
        main(["build", "--source", str(bundle), "-o", str(workdir / "out"), "--tz", "UTC"])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    assert code == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "graphs" in line]
    assert len(err) == 1 and "PNG graphs skipped" in err[0] and "--no-png" in err[0]
    out = workdir / "out"
    assert (out / "postmortem.md").exists() and (out / "report.html").exists()
    assert not list((out / "graphs").glob("*.png")) and list((out / "graphs").glob("*.html"))
    findings = json.loads((out / "findings.json").read_text())
    assert any(w["code"] == "png_skipped" for w in findings["warnings"])
    # the French report says it in French, the English detail in brackets
    md = (out / "postmortem.md").read_text()
    assert (
        "Graphiques PNG non générés ; les graphiques interactifs de report.html sont complets" in md
    )


# --------------------------------------------------------------------------- what pmrecon may replace

FAST_GRAPHS = {
    "error_ratio.html": b"<!doctype html><p>error ratio</p>",
    "latency.html": b"<!doctype html><p>latency</p>",
}


@pytest.fixture
def fast_graphs(monkeypatch):
    """Figures are not what these tests are about: two small fixed files instead of plotly."""
    files = dict(FAST_GRAPHS)

    def fake(*_a, **_k):
        return [], dict(files), []

    monkeypatch.setattr(output, "render_graphs", fake)
    return files


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pmrecon: error: "), err
    return lines[0]


def test_a_rebuild_keeps_every_file_a_person_added(workdir, fast_graphs):
    out = workdir / "out"
    (out / "graphs").mkdir(parents=True)
    (out / "graphs" / "fig.png").write_bytes(b"a figure made by hand")  # before the first build
    assert build(workdir) == 0
    added = {
        "graphs/fig.png": b"a figure made by hand",
        "graphs/screenshot.png": b"a screenshot",
        "evidence/screenshot.png": b"another screenshot",
        "notes.txt": b"notes",
        ".pmrecon/mine.txt": b"mine",
    }
    for rel, data in added.items():
        (out / rel).write_bytes(data)
    assert build(workdir, error_ratio=0.5) == 0
    for rel, data in added.items():
        assert (out / rel).read_bytes() == data, rel
    assert json.loads((out / "findings.json").read_text())["incident"]["max_error_rate"][
        "value"
    ] == pytest.approx(0.5)
    # The bundle beside a person's file still rebuilds.
    args = ["build", "--source", str(out / "evidence"), "-o", str(workdir / "copy"), "--no-png"]
    try:
        main(args)
    except SystemExit as exc:
        assert not exc.code


def test_files_of_an_earlier_build_not_written_now_are_removed(workdir, fast_graphs):
    out = workdir / "out"
    assert build(workdir) == 0
    (out / "graphs" / "mine.html").write_bytes(b"mine")
    del fast_graphs["latency.html"]
    assert build(workdir) == 0
    assert sorted(p.name for p in (out / "graphs").iterdir()) == ["error_ratio.html", "mine.html"]


def test_a_folder_built_before_pmrecon_kept_records_is_rebuilt(workdir, fast_graphs):
    out = workdir / "out"
    assert build(workdir) == 0
    state_path = out / ".pmrecon" / "state.json"
    state = json.loads(state_path.read_text())
    del state["files"]  # as earlier versions wrote it
    state_path.write_text(json.dumps(state))
    (out / "graphs" / "fig.png").write_bytes(b"mine")
    assert build(workdir, error_ratio=0.5) == 0
    assert (out / "graphs" / "fig.png").read_bytes() == b"mine"
    recorded = json.loads(state_path.read_text())["files"]
    assert "graphs/latency.html" in recorded and "graphs/fig.png" not in recorded


@pytest.mark.parametrize(
    ("rel", "built_first", "why"),
    [
        ("findings.json", False, "pmrecon did not write it"),
        ("report.html", False, "pmrecon did not write it"),
        ("graphs/latency.html", False, "pmrecon did not write it"),
        ("graphs/latency.html", True, "it changed since pmrecon wrote it"),
        ("evidence/series.csv", True, "it changed since pmrecon wrote it"),
        ("report.html", True, "it changed since pmrecon wrote it"),
    ],
)
def test_a_file_pmrecon_did_not_write_is_never_replaced(
    workdir, fast_graphs, capsys, rel, built_first, why
):
    out = workdir / "out"
    if built_first:
        assert build(workdir) == 0
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(b"a person's own file")
    if rel == "findings.json":
        schemacheck.exempt(out / rel)  # a person's file, not pmrecon's: no contract
    before = snapshot(out)
    capsys.readouterr()
    assert build(workdir, error_ratio=0.5) == EXIT_RENDER
    line = one_error_line(capsys.readouterr().err)
    assert f"refusing to replace {out / rel}: {why}" in line and "move it away" in line
    assert snapshot(out) == before


@pytest.mark.parametrize("command", ["build", "demo", "scan"])
def test_an_empty_out_is_a_usage_error(workdir, capsys, command):
    (workdir / "graphs").mkdir()
    (workdir / "graphs" / "fig.png").write_bytes(b"x")
    before = snapshot(workdir)
    args = [command, "--out", ""] + (["--source", "somewhere"] if command == "build" else [])
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--out" in line and "empty" in line
    assert snapshot(workdir) == before


def test_force_backups_never_overwrite_each_other(workdir, fast_graphs, monkeypatch):
    import datetime as dt
    import types

    from pmrecon import commit

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=tz)

    # Every build in the same instant: the names must still differ.
    frozen = types.SimpleNamespace(datetime=Frozen, timezone=dt.timezone)
    for module in (output, commit):
        monkeypatch.setattr(module, "dt", frozen, raising=False)
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    for note in ("Notes de Grace.", "Notes de Heidi."):
        md_path.write_text(md_path.read_text() + f"\n{note}\n")
        assert build(workdir, extra=["--force"]) == 0
    backups = sorted((workdir / "out" / ".pmrecon").glob("backup-*-postmortem.md"))
    assert len(backups) == 2
    texts = [b.read_text() for b in backups]
    assert any("Grace" in t and "Heidi" not in t for t in texts)
    assert any("Heidi" in t and "Grace" not in t for t in texts)


# --------------------------------------------------------------------------- one build at a time


def test_a_second_build_into_the_same_folder_fails_at_once(workdir, fast_graphs, capsys):
    import fcntl
    import time

    assert build(workdir) == 0
    out = workdir / "out"
    before = snapshot(out)
    capsys.readouterr()
    with open(out / ".pmrecon" / "lock", "a") as held:  # as another build holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        assert build(workdir, error_ratio=0.5) == EXIT_RENDER
        assert time.monotonic() - started < 10
    line = one_error_line(capsys.readouterr().err)
    assert f"another pmrecon build is writing into {out}" in line
    assert snapshot(out) == before
    assert build(workdir, error_ratio=0.5) == 0  # once it is released


def test_two_builds_at_once_leave_one_whole_report(workdir):
    import hashlib
    import subprocess
    import sys

    bundles = []
    for ratio, end in ((0.3, "2026-03-01 10:10"), (0.5, "2026-03-01 10:30")):
        bundles.append(workdir / f"bundle-{ratio}")
        write_bundle(evidence(ratio, end), bundles[-1])
    out = workdir / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pmrecon", "build", "--source", str(b), "-o", str(out)]
            + ["--no-png", "--tz", "UTC"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for b in bundles
    ]
    runs = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert 0 in [code for code, _ in runs], runs
    for code, err in runs:
        assert code == 0 or (code == EXIT_RENDER and "another pmrecon build" in err), runs
    # Whatever the order, the folder is one build's report: every file it recorded is
    # there as it wrote it, and the findings are those of the evidence beside them.
    state = json.loads((out / ".pmrecon" / "state.json").read_text())
    for rel, record in state["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == record["sha256"], rel
    placed = json.loads((out / "evidence" / "manifest.json").read_bytes())
    placed["files"].pop("build.json")  # the settings the build recorded beside the evidence
    (ratio,) = [
        r
        for r, b in zip((0.3, 0.5), bundles)
        if json.loads((b / "manifest.json").read_bytes()) == placed
    ]
    found = json.loads((out / "findings.json").read_text())["incident"]["max_error_rate"]["value"]
    assert found == pytest.approx(ratio)
    assert not (out / ".pmrecon" / "commit").exists()


def test_a_failed_first_build_leaves_no_folder(workdir):
    bundle = workdir / "bundle"
    write_bundle(evidence(), bundle)
    (bundle / "series.csv").write_text("tampered\n")
    target = workdir / "new" / "out"
    try:
        main(["build", "--source", str(bundle), "-o", str(target), "--no-png"])
    except SystemExit as exc:
        assert exc.code == 4
    assert not (workdir / "new").exists()


def test_an_emptied_postmortem_is_merged_not_replaced_by_a_fresh_draft(workdir, fast_graphs):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md_path.write_text("")  # a person deleted everything: that is an edit too
    assert build(workdir) in (0, EXIT_CONFLICT)
    assert "[Description détaillée de l'incident et de son évolution]" not in md_path.read_text()


def test_an_edit_saved_during_the_build_is_merged(workdir, fast_graphs, monkeypatch):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    md_path.write_text(md_path.read_text() + "\nPremière note.\n")
    real = output.render_report_html
    calls = []

    def saving(*args, **kwargs):
        if not calls:  # a person saves postmortem.md while pmrecon renders
            md_path.write_text(md_path.read_text() + "\nNote enregistrée pendant le build.\n")
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(output, "render_report_html", saving)
    assert build(workdir, error_ratio=0.5) == 0
    merged = md_path.read_text()
    assert "Première note." in merged and "Note enregistrée pendant le build." in merged
    assert "Taux d'erreur max: 50,00 %" in merged
    assert len(calls) == 2  # merged again, and report.html shows it
    assert "Note enregistrée pendant le build." in (workdir / "out" / "report.html").read_text()


def test_an_edit_saved_as_the_report_is_replaced_is_kept(workdir, fast_graphs, monkeypatch, capsys):
    assert build(workdir) == 0
    md_path = workdir / "out" / "postmortem.md"
    real = output.commit_moves

    def saving(out, moves):
        md_path.write_text(md_path.read_text() + "\nNote du dernier instant.\n")
        return real(out, moves)

    monkeypatch.setattr(output, "commit_moves", saving)
    capsys.readouterr()
    assert build(workdir, error_ratio=0.5) == EXIT_CONFLICT
    line = one_error_line(capsys.readouterr().err)
    (backup,) = (workdir / "out" / ".pmrecon").glob("backup-*-postmortem.md")
    assert f"kept as {backup}" in line
    assert "Note du dernier instant." in backup.read_text()
    assert "Taux d'erreur max: 50,00 %" in md_path.read_text()


def test_a_human_file_that_keeps_changing_stops_the_build(
    workdir, fast_graphs, monkeypatch, capsys
):
    assert build(workdir) == 0
    out = workdir / "out"
    md_path = out / "postmortem.md"
    real = output.render_report_html

    def saving(*args, **kwargs):
        md_path.write_text(md_path.read_text() + "\nEncore une note.\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(output, "render_report_html", saving)
    before = snapshot(out)
    capsys.readouterr()
    assert build(workdir, error_ratio=0.5) == EXIT_CONFLICT
    assert "kept changing" in one_error_line(capsys.readouterr().err)
    after = snapshot(out)
    assert after.pop("postmortem.md").count(b"Encore une note.") == output.MERGE_ATTEMPTS
    before.pop("postmortem.md")
    assert after == before


@pytest.mark.parametrize(
    "rel",
    [
        "postmortem.md",
        ".pmrecon/state.json",
        ".pmrecon/last-generated.md",
        ".pmrecon/lock",
        "findings.json",
        "graphs/latency.html",
    ],
)
def test_a_fifo_where_pmrecon_reads_or_writes_is_refused_at_once(workdir, fast_graphs, capsys, rel):
    import os
    import signal

    assert build(workdir) == 0
    out = workdir / "out"
    (out / rel).unlink()
    os.mkfifo(out / rel)
    before = snapshot_names(out)
    capsys.readouterr()

    def hung(_signum, _frame):
        raise TimeoutError(f"the build blocked on the FIFO {rel}")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        code = build(workdir, error_ratio=0.5)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert code == EXIT_RENDER
    line = one_error_line(capsys.readouterr().err)
    assert f"{out / rel}: it is a named pipe (FIFO), not a plain file" in line
    assert snapshot_names(out) == before


def snapshot_names(folder: Path) -> dict[str, bytes | None]:
    """Like :func:`snapshot`, FIFOs included (by name, never opened)."""
    import stat

    return {
        str(p.relative_to(folder)): p.read_bytes() if stat.S_ISREG(p.lstat().st_mode) else None
        for p in sorted(folder.rglob("*"))
    }


def test_every_staged_file_is_on_disk_before_the_commit_publishes_it(
    workdir, fast_graphs, monkeypatch
):
    """Staged files are written without an fsync each and synced together: every one, and
    the folders naming them, before the journal (the commit point) and before its move."""
    import os

    assert build(workdir) == 0  # a rebuild: the old files are moved aside as well
    out = workdir / "out"
    area = out / ".pmrecon" / "commit"
    synced: set[tuple[int, int]] = set()
    checked = {"journal": 0, "published": 0}
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        st = os.fstat(fd)
        synced.add((st.st_dev, st.st_ino))

    def on_disk(path: Path) -> bool:
        st = os.lstat(path)
        return (st.st_dev, st.st_ino) in synced

    def watched(real):
        def operation(src, dst, *args, **kwargs):
            src, dst = Path(src), Path(dst)
            if dst == area / "journal.json":
                staged = [p for p in area.rglob("*") if "old" not in p.relative_to(area).parts]
                # every staged file and folder, and the journal itself
                assert src in staged and [p for p in staged if not on_disk(p)] == []
                checked["journal"] += 1
            elif out in dst.parents and ".pmrecon" not in dst.relative_to(out).parts:
                assert on_disk(src), f"{src} published as {dst} before it was synced"
                checked["published"] += 1
            return real(src, dst, *args, **kwargs)

        return operation

    monkeypatch.setattr(os, "fsync", fsync)
    for name in ("replace", "rename", "link"):
        monkeypatch.setattr(os, name, watched(getattr(os, name)))
    assert build(workdir, error_ratio=0.5) == 0
    assert checked["journal"] == 1 and checked["published"] >= 10, checked


def test_a_file_that_cannot_be_synced_fails_a_folder_is_passed_over(tmp_path):
    from pmrecon.fsutil import sync_all

    files = [tmp_path / f"f{i}" for i in range(5)]
    for f in files:
        f.write_bytes(b"x")
    # some file systems refuse to sync a folder: its names are then as durable as they get
    sync_all(files, [tmp_path, tmp_path / "no-such-folder"])
    with pytest.raises(FileNotFoundError):
        sync_all([*files, tmp_path / "gone"], [tmp_path])
