"""docs/templates.md is true, and its custom template renders against the demo incident."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2.defaults import DEFAULT_FILTERS

from pmrecon.api import BuildRequest, build
from pmrecon.config import Config, validate
from pmrecon.demo import demo_bundle_dir
from pmrecon.report.formatting import Formatter
from pmrecon.report.markdown import builtin_template_dir, make_environment, report_context
from pmrecon.wording import catalogue

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "templates.md"
EXAMPLE_DIR = ROOT / "examples" / "templates"


def documented(section: str) -> set[str]:
    """The backquoted names of the first column of the table under ``## section``."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)", part, re.M))


def test_every_context_name_is_documented() -> None:
    context = report_context(
        {"incident": {}},
        lang="en",
        tz="UTC",
        title="t",
        notices=[],
        log_lines=[],
        graphs=[],
        links={},
        created="",
        generated="",
    )
    assert set(context) == documented("The context every template receives")


def test_every_filter_and_block_is_documented() -> None:
    env = make_environment(None, "en", "UTC")
    ours = set(env.filters) - set(DEFAULT_FILTERS)
    assert ours <= documented("Filters"), ours - documented("Filters")
    blocks: set[str] = set()
    for name in ("postmortem.en.md.j2", "postmortem.fr.md.j2"):
        text = (builtin_template_dir() / name).read_text(encoding="utf-8")
        blocks |= set(re.findall(r"{%-? block (\w+)", text))
    assert blocks == documented("Extending a built-in template")


def test_the_example_template_renders_the_demo_incident(tmp_path: Path) -> None:
    config = Config(
        validate(
            {"language": "en", "timezone": "UTC", "report": {"template_dir": str(EXAMPLE_DIR)}}
        )
    )
    # the demo bundle records its zone and language: these are said to win over them
    given = frozenset({"language", "timezone"})
    request = BuildRequest(source_dir=demo_bundle_dir(), out=tmp_path, png=False, given=given)
    result = build(config, request)
    md = (tmp_path / "postmortem.md").read_text(encoding="utf-8")
    inc = result.findings["incident"]
    fmt = Formatter("en", "UTC")
    # the team's additions, filled from the findings
    assert "#### Key figures (pmrecon, times in UTC)" in md
    assert f"| Time to resolve | {fmt.minutes(inc['mttr_seconds'])} |" in md
    label = catalogue("en")["report.instant.impact_start"]
    assert f"| {label} | {fmt.dt(inc['impact_start'])}[^impact_start] |" in md
    peak = inc["max_error_rate"]
    assert f"| Peak error rate | {fmt.pct(peak['value'], 1)} on {peak['service']} |" in md
    for service in inc["services"]:
        assert f"{service['name']} → [team of {service['name']}]" in md
    assert "- Runbook: [link to the team's runbook for " in md
    # and the built-in template around them, unchanged
    assert md.startswith("# Post-Mortem: ") and "## Lessons learned" in md
    assert "*Observed facts (pmrecon)*" in md  # super() kept the built-in block
