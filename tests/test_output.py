"""The output folder: every file written, rebuilds that keep human work, atomic on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from pmrecon import output
from pmrecon.cli import main
from pmrecon.errors import EXIT_CONFLICT
from pmrecon.merge import END_MARKER, START_MARKER
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
        + [f"{n}.html" for n in ("alerts", "error_ratio", "latency", "log_volume", "throughput")]
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

    def failing(path, data):
        if Path(path).name == "postmortem.md":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(output, "atomic_write", failing)
    assert build(workdir, error_ratio=0.5) != 0
    # postmortem.md is written before the merge base: both still the previous build's.
    assert (out / "postmortem.md").read_bytes() == md_before
    assert (out / ".pmrecon" / "last-generated.md").read_bytes() == base_before


def test_graphs_folder_is_replaced_whole_and_never_through_a_symlink(workdir, tmp_path):
    assert build(workdir) == 0
    graphs = workdir / "out" / "graphs"
    (graphs / "stale.png").write_bytes(b"old")
    assert build(workdir) == 0
    assert not (graphs / "stale.png").exists()
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
