"""Hostile input is data: service names, label values, titles and templates cannot change a
query, leave the output folder, follow a symlink out of it, or run code.

- PromQL: a real Prometheus holds a service whose *label value* is PromQL (quotes, braces,
  ``or vector(1)``, a regex, a placeholder, markup); ``--service`` gets more of the same.
  Every query pmrecon recorded must have exactly the structure of the same query for a
  plain service (string literals aside), and its literal must decode to the service name.
- Paths: titles with ``../`` and ``/`` become a slug inside ``output_dir``.
- Symlinks: any part of an existing report replaced by a symlink to a folder outside is
  refused, and the outside is never written.
- Templates: a user template cannot reach Python internals or files outside the template
  folders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.bundle import write_bundle
from connectors.prometheus import load_preset
from pmrecon.api import output_dir_for
from pmrecon.cli import main
from pmrecon.errors import EXIT_RENDER, RenderError
from pmrecon.fsutil import slugify
from pmrecon.report import make_environment, render
from tests.clihelp import Run, run_cli
from tests.faultproxy import leftovers, snapshot, write_config
from tests.infra.prometheus import PrometheusServer, backfill
from tests.report_data import evidence
from tests.scenarios import AlertSpec, Phase, Scenario, ServiceProfile, t

#: A label value that is PromQL, a regex, a placeholder and markup all at once.
EVIL = 'pay "eu"} or vector(1) # |<b>x</b> `y` \\ .* $window'
#: More of the same, given on the command line.
CLI_EVIL = [
    'checkout"} or vector(1) or up{job="',
    ".*",
    "check.*",
    "${window}",
    'x\\"}) or vector(1) #',
    "ünïcødé ☃",
]

HOSTILE = Scenario(
    "hostile",
    t("2026-02-03 10:00"),
    t("2026-02-03 12:00"),
    services=[
        ServiceProfile(
            EVIL, rps=20, phases=(Phase(t("2026-02-03 10:40"), t("2026-02-03 11:10"), 0.3),)
        ),
        ServiceProfile("checkout", rps=10),
    ],
    alerts=[AlertSpec("HighErrorRate", EVIL, ((t("2026-02-03 10:42"), t("2026-02-03 11:12")),))],
)
FROM, TO = (x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in HOSTILE.window)
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def hostile_prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:  # noqa: ANN001
    root = Path(tmp_path_factory.mktemp("hostile-prometheus"))
    backfill([HOSTILE], root / "data", root / "openmetrics")
    server = PrometheusServer(root, root / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def build(folder: Path, url: str, *args: str) -> tuple[Run, Path]:
    cfg = write_config(
        folder / "pmrecon.yaml",
        {"timezone": "UTC", "sources": {"prom": {"type": "prometheus", "url": url}}},
    )
    out = folder / "out"
    run = run_cli(
        "build", "-c", str(cfg), "--from", FROM, "--to", TO, "-o", str(out), "--no-png", *args,
        timeout=120,
    )  # fmt: skip
    return run, out


def sli_queries(out: Path) -> dict[str, str]:
    """Recorded SLI queries by purpose (``SLI error_ratio for <service>``)."""
    sources = json.loads((out / "evidence" / "sources.json").read_text(encoding="utf-8"))
    return {
        q["purpose"]: q["query"]
        for src in sources
        for q in src.get("queries") or []
        if q["purpose"].startswith(("SLI ", "baseline SLI "))
    }


def skeleton(query: str) -> str:
    return _LITERAL.sub('""', query)


def literals(query: str) -> list[str]:
    return [json.loads(m.group(0)) for m in _LITERAL.finditer(query)]


def regex_quoted(value: str) -> str:
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", value)


def assert_same_structure(
    queries: dict[str, str],
    service: str,
    plain: str = "checkout",
    twins: dict[str, str] | None = None,
) -> int:
    """Each query for ``service`` is the query for ``plain`` with only its literals changed.

    A grouped query (one for every service, ``… grouped by service``) is compared with the
    same purpose's query in ``twins``, a build whose services have plain names: the same
    skeleton, and ``service`` only as one alternative of a literal's regex.
    """
    compared = 0
    for purpose, query in queries.items():
        if " grouped by " in purpose and twins is not None:
            twin = twins[purpose]
            assert skeleton(query) == skeleton(twin), (query, twin)
            alternatives = [alt for lit in literals(query) for alt in re.split(r"(?<!\\)\|", lit)]
            if regex_quoted(service) in alternatives:
                compared += 1
            continue
        if not purpose.endswith(f" for {service}"):
            continue
        twin = queries[purpose[: -len(service)] + plain]
        assert skeleton(query) == skeleton(twin), (query, twin)
        mine, theirs = literals(query), literals(twin)
        for a, b in zip(mine, theirs):
            assert a == b or (b == plain and a in (service, regex_quoted(service))), (a, b)
        assert service in mine or regex_quoted(service) in mine, query
        compared += 1
    return compared


def plain_twins(folder: Path, url: str) -> dict[str, str]:
    """The SLI queries of a build of the same server for services with plain names."""
    folder.mkdir()
    run, out = build(folder, url, "--service", "checkout", "--service", "plain")
    assert run.code == 0, run.err
    return sli_queries(out)


def test_hostile_label_values_are_data(hostile_prometheus, tmp_path) -> None:  # noqa: ANN001
    """The service is discovered from the server, queried, and its own data comes back."""
    run, out = build(tmp_path, hostile_prometheus.url)
    assert run.code == 0, run.err
    queries = sli_queries(out)
    twins = plain_twins(tmp_path / "twin", hostile_prometheus.url)
    preset = load_preset("http_requests_total")["slis"]
    # every SLI of the preset, in the window and in the baseline, one query each
    assert assert_same_structure(queries, EVIL, twins=twins) >= 2 * len(preset)
    found = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert not [w for w in found["warnings"] if "bad_query" in w["code"]]
    # the escaped literal matches the real label value: the incident is found on that service
    assert [s["name"] for s in found["incident"]["services"]] == [EVIL]
    assert [a["name"] for a in found["alerts"]] == ["HighErrorRate"]
    # and it stays text in the report: no markup, no broken table
    md = (out / "postmortem.md").read_text(encoding="utf-8")
    assert "pay" in md and raw_html(md) == [], raw_html(md)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>x</b>" not in html
    rows = [(n, row) for n, row in table_rows(md) if "pay" in row]
    assert rows, "the service is in no table"
    for n, row in rows:
        assert pipes(row) == n, row


def raw_html(md: str) -> list[str]:
    """HTML a Markdown viewer would pass through (outside code spans and fences)."""
    from markdown_it import MarkdownIt

    found = []
    for token in MarkdownIt("commonmark").enable("table").parse(md):
        for tok in [token, *(token.children or [])]:
            if tok.type in ("html_inline", "html_block") and "<!--" not in tok.content:
                found.append(tok.content)
    return found


def pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def table_rows(md: str) -> list[tuple[int, str]]:
    """Every Markdown table row with its table's column separator count."""
    lines = md.splitlines()
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|\s*:?-", lines[i + 1]):
            n, j = pipes(lines[i]), i + 2
            while j < len(lines) and lines[j].startswith("|"):
                out.append((n, lines[j]))
                j += 1
            i = j
        else:
            i += 1
    return out


def test_cli_service_cannot_change_the_query(hostile_prometheus, tmp_path) -> None:  # noqa: ANN001
    args = [a for s in [*CLI_EVIL, "checkout"] for a in ("--service", s)]
    run, out = build(tmp_path, hostile_prometheus.url, *args)
    assert run.code == 0, run.err
    queries = sli_queries(out)
    twins = plain_twins(tmp_path / "twin", hostile_prometheus.url)
    for service in CLI_EVIL:
        assert assert_same_structure(queries, service, twins=twins) > 0, service
    found = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert not [w for w in found["warnings"] if "bad_query" in w["code"]]
    # none of them matched anything: no vector(1), no regex over every service
    bundle = json.loads((out / "evidence" / "series.json").read_text(encoding="utf-8"))
    with_data = {s["service"] for s in bundle if not s.get("baseline")}
    assert with_data <= {"checkout"}, with_data
    missing = {w["message"] for w in found["warnings"] if w["code"] == "metric_missing"}
    for service in CLI_EVIL:
        assert any(f"for service {service!r}" in m for m in missing), service


# --------------------------------------------------------------------------- paths


TITLES = [
    "../../../etc/cron.d/pmrecon",
    "/etc/passwd",
    "..\\..\\windows\\system32",
    "a/../../b",
    "....//....//x",
    "~root/.ssh/authorized_keys",
    "\x00nul\x00",
    "..",
    ".",
    "",
    "CON",
    "é" * 300,
]


@pytest.mark.parametrize("title", TITLES)
def test_titles_cannot_leave_the_output_folder(title: str, tmp_path: Path) -> None:
    from pmrecon.config import Config, validate

    config = Config(validate({"output_dir": str(tmp_path / "reports")}))
    findings = {"window": {"from": "2026-03-01T09:00:00Z"}, "incident": {}}
    path = output_dir_for(config, findings, title)
    assert path.parent == tmp_path / "reports"
    assert re.fullmatch(r"2026-03-01-[a-z0-9-]{1,60}", path.name), path.name
    assert slugify(title) not in ("", ".", "..")


def test_hostile_title_builds_inside_the_output_folder(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    write_bundle(evidence(), bundle)
    title = "../../escape/<script>alert(1)</script> | `x`"
    run = run_cli(
        "build", "--source", str(bundle), "--title", title, "--no-png", cwd=tmp_path, timeout=120
    )
    assert run.code == 0, run.err
    (made,) = list((tmp_path / "postmortems").iterdir())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-escape-script-alert-1-script-x", made.name), made.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "postmortems"]
    md = (made / "postmortem.md").read_text(encoding="utf-8")
    assert md.splitlines()[0].startswith("# ") and raw_html(md) == []
    assert "<script>alert(1)" not in (made / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- symlinks


@pytest.fixture(scope="module")
def report_bundles(tmp_path_factory) -> tuple[Path, Path]:  # noqa: ANN001
    root = Path(tmp_path_factory.mktemp("bundles"))
    write_bundle(evidence(), root / "first")
    write_bundle(evidence(0.5, "2026-03-01 10:30"), root / "second")
    return root / "first", root / "second"


@pytest.fixture
def fast_graphs(monkeypatch) -> None:  # noqa: ANN001
    """Figures are not what these tests are about: skip plotly (it takes seconds)."""
    import pmrecon.output

    def fake(*_a: Any, **_k: Any) -> tuple[list[Any], dict[str, bytes], list[Any]]:
        return [], {"error_ratio.html": b"<!doctype html><p>figure</p>"}, []

    monkeypatch.setattr(pmrecon.output, "render_graphs", fake)


def run_main(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


SYMLINKED = [
    ("postmortem.md", EXIT_RENDER),
    ("report.html", EXIT_RENDER),
    ("findings.json", EXIT_RENDER),
    ("graphs", EXIT_RENDER),
    ("evidence", EXIT_RENDER),
    (".pmrecon", EXIT_RENDER),
    (".pmrecon/last-generated.md", EXIT_RENDER),
    (".pmrecon/state.json", EXIT_RENDER),
]


def _symlink_out(out: Path, child: str, outside: Path) -> Path:
    """Move ``out/child`` outside and leave a symlink to it in its place."""
    target = out / child
    moved = outside / child.replace("/", "_")
    shutil.move(str(target), str(moved))
    os.symlink(moved, target)
    return moved


@pytest.mark.parametrize(("child", "code"), SYMLINKED, ids=[c for c, _ in SYMLINKED])
def test_output_never_follows_a_symlink_out(
    report_bundles,
    fast_graphs,
    tmp_path,
    capsys,
    child: str,
    code: int,  # noqa: ANN001
) -> None:
    first, second = report_bundles
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    assert run_main("build", "--source", str(first), "-o", str(out), "--no-png") == 0
    moved = _symlink_out(out, child, outside)
    before, before_out = snapshot(outside), snapshot(out)
    got = run_main("build", "--source", str(second), "-o", str(out), "--no-png", "--force")
    err = capsys.readouterr().err
    assert got == code, err
    (line,) = [x for x in err.splitlines() if x.startswith("pmrecon: error: ")]
    assert "symbolic link" in line or "not a plain folder" in line, line
    assert snapshot(outside) == before, "a file outside the output folder was written"
    assert snapshot(out) == before_out, "a refused rebuild changed the report"
    assert (out / child).is_symlink() and os.readlink(out / child) == str(moved)
    assert leftovers(out) == [] and leftovers(outside) == []


def test_a_refused_rebuild_changes_nothing(report_bundles, fast_graphs, tmp_path) -> None:  # noqa: ANN001
    first, second = report_bundles
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    assert run_main("build", "--source", str(first), "-o", str(out), "--no-png") == 0
    _symlink_out(out, ".pmrecon/state.json", outside)
    before = snapshot(out)
    assert run_main("build", "--source", str(second), "-o", str(out), "--no-png") == EXIT_RENDER
    assert snapshot(out) == before


# --------------------------------------------------------------------------- templates

HOSTILE_TEMPLATES = {
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "cycler": "{{ cycler.__init__.__globals__.os.system('id') }}",
    "self": "{{ self.__init__.__globals__ }}",
    "format": "{{ '{0.__class__.__base__}'.format(inc) }}",
    "include-up": "{% include '../../../../../../etc/passwd' %}",
    "include-abs": "{% include '/etc/passwd' %}",
    "import-up": "{% import '../pmrecon.yaml' as cfg %}{{ cfg }}",
    "extends-default-up": "{% extends 'default:../../pmrecon/cli.py' %}",
}


@pytest.mark.parametrize("source", HOSTILE_TEMPLATES.values(), ids=list(HOSTILE_TEMPLATES))
def test_user_templates_render_sandboxed(source: str, tmp_path: Path) -> None:
    (tmp_path / "pmrecon.yaml").write_text("secret: nope\n")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "postmortem.fr.md.j2").write_text(source, encoding="utf-8")
    env = make_environment(folder, "fr", "UTC")
    with pytest.raises(RenderError) as info:
        render("postmortem.fr.md.j2", {"inc": {"a": 1}}, env)
    message = info.value.format_message()
    assert "unsafe operation refused" in message or "not found" in message, message
    assert "\n" not in message


def test_sandbox_range_limit_is_a_template_error(tmp_path: Path) -> None:
    (tmp_path / "t.md.j2").write_text("{{ range(10**6) | list | length }}", encoding="utf-8")
    with pytest.raises(RenderError):
        render("t.md.j2", {}, make_environment(tmp_path, "fr", "UTC"))


def test_hostile_template_through_the_cli(report_bundles, tmp_path) -> None:  # noqa: ANN001
    first, _ = report_bundles
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "postmortem.fr.md.j2").write_text(HOSTILE_TEMPLATES["globals"], encoding="utf-8")
    out = tmp_path / "out"
    run = run_cli(
        "build", "--source", str(first), "-o", str(out), "--no-png", "--template-dir", str(folder),
        timeout=120,
    )  # fmt: skip
    assert run.code == EXIT_RENDER, run.err
    assert "Traceback" not in run.err
    assert run.error_lines == [
        "pmrecon: error: template postmortem.fr.md.j2: unsafe operation refused "
        "(access to attribute '__globals__' of 'function' object is unsafe.)"
    ]
    assert not out.exists()
