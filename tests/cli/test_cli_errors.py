"""Bad input: one line on stderr naming the problem and the fix, a documented exit code,
no traceback, and nothing half-written on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.bundle import write_bundle
from tests.clihelp import run_cli
from tests.connectors.test_bundle import sample_evidence

FUTURE = "2099-01-01T00:00:00Z"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle" / "evidence"
    write_bundle(sample_evidence(), target)
    return target


def tampered(bundle: Path) -> Path:
    p = bundle / "alerts.json"
    p.write_text(p.read_text().replace("critical", "warning"))
    return bundle


def not_a_bundle(bundle: Path) -> Path:
    (bundle / "manifest.json").unlink()
    return bundle


CASES = [
    # (id, args, files to create {name: text}, expected exit code, text the message must contain)
    ("from-garbage", ["build", "--from", "yesterday", "--to", "now"], {}, 2, "'yesterday'"),
    (
        "to-garbage",
        ["build", "--from", "now-1h", "--to", "2026-02-30T10:00:00Z"],
        {},
        2,
        "accepted forms",
    ),
    ("reversed", ["build", "--from", "now-1h", "--to", "now-2h"], {}, 2, "must be before"),
    ("too-long", ["build", "--from", "now-8d", "--to", "now"], {}, 2, "longer than the maximum"),
    ("future", ["build", "--from", "now-1h", "--to", FUTURE], {}, 2, "in the future"),
    ("missing-to", ["build", "--from", "now-1h"], {}, 2, "--from and --to are required"),
    (
        "dst-gap",
        ["build", "--from", "2026-03-29 02:30", "--to", "2026-03-29 04:00", "--tz", "Europe/Paris"],
        {},
        2,
        "does not exist",
    ),
    ("unknown-option", ["build", "--frm", "now-1h"], {}, 2, "--frm"),
    ("bad-lang", ["build", "--from", "now-1h", "--to", "now", "--lang", "de"], {}, 2, "'de'"),
    (
        "bad-tz",
        ["build", "--from", "now-1h", "--to", "now", "--tz", "Mars/Olympus"],
        {},
        2,
        "unknown time zone",
    ),
    ("bad-ack", ["build", "--from", "now-1h", "--to", "now", "--ack", "soon"], {}, 2, "--ack"),
    (
        "config-missing",
        ["build", "--from", "now-1h", "--to", "now", "--config", "nope.yaml"],
        {},
        2,
        "does not exist",
    ),
    (
        "config-not-yaml",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "a: [b\n"},
        2,
        "not valid YAML",
    ),
    (
        "config-unknown-key",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "langage: fr\n"},
        2,
        "did you mean 'language'",
    ),
    (
        "config-bad-type",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "max_window: forever\n"},
        2,
        "not a duration",
    ),
    (
        "config-env-missing",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "title: ${PMRECON_TEST_UNSET_VAR}\n"},
        2,
        "PMRECON_TEST_UNSET_VAR not set",
    ),
    (
        "config-is-dir",
        ["build", "--from", "now-1h", "--to", "now", "--config", "cdir"],
        {"cdir/x": ""},
        2,
        "cannot read config",
    ),
    (
        "config-not-mapping",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "- a\n"},
        2,
        "mapping",
    ),
    (
        "config-unknown-source",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "sources:\n  p:\n    type: graphite\n"},
        2,
        "unknown source type",
    ),
    (
        "config-binary",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": b"\xff\xfe\x00bad"},
        2,
        "cannot read config",
    ),
    (
        "no-sources",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "language: fr\n"},
        2,
        "no source configured",
    ),
    ("source-missing", ["build", "--source", "nowhere"], {}, 4, "does not exist"),
    (
        "source-with-window",
        ["build", "--source", "BUNDLE", "--from", "now-1h"],
        {},
        2,
        "drop --from/--to",
    ),
    ("source-tampered", ["build", "--source", "TAMPERED"], {}, 4, "does not match its SHA-256"),
    ("source-not-bundle", ["build", "--source", "NOTBUNDLE"], {}, 4, "not an evidence bundle"),
    (
        "out-is-file",
        ["build", "--source", "BUNDLE", "--no-png", "--out", "afile"],
        {"afile": "x"},
        5,
        "not a folder",
    ),
    (
        "out-unwritable",
        ["build", "--source", "BUNDLE", "--no-png", "--out", "/proc/pmrecon-test-out"],
        {},
        5,
        "cannot write to output folder",
    ),
    (
        "template-dir-missing",
        ["build", "--source", "BUNDLE", "--no-png", "--template-dir", "nodir"],
        {},
        2,
        "report.template_dir: folder nodir does not exist",
    ),
    (
        "template-dir-is-file",
        ["build", "--source", "BUNDLE", "--no-png", "--template-dir", "afile"],
        {"afile": "x"},
        2,
        "report.template_dir: afile is a regular file, not a folder",
    ),
    # issue 14: times out of range, fractions of a minute, instants in the future
    (
        "ack-year-9999-east",
        [
            "build",
            "--source",
            "BUNDLE",
            "--no-png",
            "--tz",
            "Asia/Tokyo",
            "--ack",
            "9999-12-31T23:59:59Z",
        ],
        {},
        2,
        "--ack: '9999-12-31T23:59:59Z' is out of range",
    ),
    (
        "declared-year-one-west",
        [
            "build",
            "--source",
            "BUNDLE",
            "--no-png",
            "--tz",
            "America/New_York",
            "--declared",
            "0001-01-01T00:00:00Z",
        ],
        {},
        2,
        "--declared: '0001-01-01T00:00:00Z' is out of range",
    ),
    (
        "from-year-one-local",
        ["build", "--from", "0001-01-01 00:00", "--to", "now", "--tz", "Asia/Tokyo"],
        {},
        2,
        "--from: '0001-01-01 00:00' is out of range",
    ),
    (
        "ack-fraction-of-minute",
        ["build", "--source", "BUNDLE", "--no-png", "--ack", "2026-02-17 15:10,5"],
        {},
        2,
        "write the seconds, e.g. 2026-02-17 15:10:30",
    ),
    (
        "cause-in-the-future",
        ["build", "--source", "BUNDLE", "--no-png", "--cause-identified", "now+1d"],
        {},
        2,
        "--cause-identified 'now+1d' is in the future",
    ),
    (
        "config-duplicate-key",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "language: fr\ntitle: x\nlanguage: en\n"},
        2,
        "duplicate key 'language' (first at line 1)",
    ),
    (
        "config-out-of-range",
        ["build", "--from", "now-1h", "--to", "now", "--config", "c.yaml"],
        {"c.yaml": "analysis:\n  slo_period: 0\n"},
        2,
        "analysis.slo_period: 0 is out of range; expected a duration ≥ 1h",
    ),
    (
        "config-bad-pattern",
        ["build", "--source", "BUNDLE", "--no-png", "--config", "c.yaml"],
        {"c.yaml": "redaction:\n  patterns: {ticket: 'T-(['}\n"},
        2,
        "redaction.patterns.ticket: invalid regular expression",
    ),
    (
        "scan-out-is-file",
        ["scan", "--config", "c.yaml", "--out", "afile", "--from", "now-1h", "--to", "now"],
        {
            "c.yaml": "sources:\n  p:\n    type: prometheus\n    url: http://127.0.0.1:9\n",
            "afile": "x",
        },
        5,
        "output afile exists and is not a folder",
    ),
    (
        "template-syntax",
        ["build", "--source", "BUNDLE", "--no-png", "--template-dir", "tpl"],
        {"tpl/postmortem.fr.md.j2": "{% if %}\n"},
        5,
        "postmortem.fr.md.j2 line 1",
    ),
    (
        "template-undefined",
        ["build", "--source", "BUNDLE", "--no-png", "--template-dir", "tpl"],
        {"tpl/postmortem.fr.md.j2": "ok\n{{ no_such_thing.x }}\n"},
        5,
        "no_such_thing",
    ),
    (
        "template-unsafe",
        ["build", "--source", "BUNDLE", "--no-png", "--template-dir", "tpl"],
        {"tpl/postmortem.fr.md.j2": "{{ ''.__class__.__mro__ }}\n"},
        5,
        "template",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, tmp_path, bundle):
    _, args, files, code, needle = case
    work = tmp_path / "work"
    work.mkdir()
    for name, content in files.items():
        p = work / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    subst = {"BUNDLE": str(bundle), "TAMPERED": str(bundle), "NOTBUNDLE": str(bundle)}
    if "TAMPERED" in args:
        tampered(bundle)
    if "NOTBUNDLE" in args:
        not_a_bundle(bundle)
    args = [subst.get(a, a) for a in args]
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    r = run_cli(*args, cwd=work)
    assert r.code == code, (r.code, r.err)
    assert len(r.error_lines) == 1, r.err
    line = r.error_lines[0]
    assert line.startswith("pmrecon: error: "), line
    assert needle in line, line
    assert "Traceback" not in r.err and not r.out.strip()
    after = sorted(p.relative_to(work) for p in work.rglob("*"))
    assert after == before, "bad input left files behind"


def test_at_least_25_bad_inputs_are_covered():
    assert len(CASES) >= 25


def test_debug_shows_the_traceback(tmp_path):
    r = run_cli("--debug", "build", "--source", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert r.code == 4 and "Traceback" in r.err


def test_help_for_every_command_has_examples():
    from pmrecon.cli import cli

    for name, cmd in cli.commands.items():
        r = run_cli(name, "--help")
        assert r.code == 0, name
        assert "Example" in r.out, f"{name} --help has no example"
        assert cmd.help


def test_version():
    from pmrecon import __version__

    r = run_cli("--version")
    assert r.code == 0 and __version__ in r.out


def test_build_from_bundle_writes_the_report(tmp_path, bundle):
    out = tmp_path / "out"
    r = run_cli("build", "--source", str(bundle), "--out", str(out), "--no-png", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (out / "postmortem.md").is_file()
    data = json.loads((out / "findings.json").read_text())
    assert data["schema_version"] >= 1
    assert (out / "evidence" / "manifest.json").is_file()


def test_client_retry_chatter_only_with_verbose(tmp_path: Path) -> None:
    """An unreachable Elasticsearch: pmrecon says so once; the client's own retry warnings
    ("node has failed … putting on timeout") appear with -v only."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    (tmp_path / "pmrecon.yaml").write_text(
        "sources:\n  logs:\n    type: elasticsearch\n"
        f"    hosts: [http://127.0.0.1:{port}]\n    retries: 1\n    timeout: 5s\n",
        encoding="utf-8",
    )
    args = ["check", "-c", str(tmp_path / "pmrecon.yaml")]
    quiet, verbose = run_cli(*args, cwd=tmp_path), run_cli(*args, "-v", cwd=tmp_path)
    assert quiet.code == verbose.code == 3, quiet.err
    assert "elastic_transport" not in quiet.err, quiet.err
    assert "Traceback" not in quiet.err + verbose.err
    assert "elastic_transport" in verbose.err, verbose.err


FAKE_SCAN = """
import sys
from tests import evidence_factory as ef
from tests.evidence_factory import T
import pmrecon.scanning as scanning

def evidence(*_args, **_kwargs):
    svc = ef.Svc("api", phases=[ef.Deg(T("2026-03-02 10:00"), T("2026-03-02 10:40"), 0.3)])
    alert = ef.AlertDecl("Storm", "api", [(T("2026-03-02 10:02"), T("2026-03-02 10:15"))])
    return ef.build(T("2026-03-02 08:00"), T("2026-03-02 13:00"), [svc], step=60, alerts=[alert])

# One incident, without servers: the coarse and detail passes read the same evidence.
scanning.collect_coarse = evidence
scanning.gather_evidence = evidence
from pmrecon.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(
    "out,code,needle",
    [
        ("afile", 5, "output afile exists and is not a folder"),
        ("afile/sub", 5, "output afile exists and is not a folder"),
        ("/proc/pmrecon-test-out", 5, "cannot write to output folder /proc/pmrecon-test-out/"),
    ],
    ids=["file", "under-a-file", "unwritable"],
)
def test_scan_reports_an_output_error_once(
    tmp_path: Path, out: str, code: int, needle: str
) -> None:
    """Issue 14: the error of an incident's draft came twice (a log warning, then the error)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "afile").write_text("x")
    (tmp_path / "c.yaml").write_text("sources:\n  p:\n    type: prometheus\n")
    (tmp_path / "fake_scan.py").write_text(FAKE_SCAN)
    proc = subprocess.run(
        [sys.executable, "fake_scan.py", "scan", "--config", "c.yaml", "--out", out, "--no-png"]
        + ["--from", "2026-03-02T08:00:00Z", "--to", "2026-03-02T13:00:00Z"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, proc.stderr
    mentions = [line for line in proc.stderr.splitlines() if needle in line]
    assert len(mentions) == 1, proc.stderr
    assert mentions[0].startswith("pmrecon: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and (tmp_path / "afile").read_text() == "x"
