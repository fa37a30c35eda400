"""docs/findings-in-ci.md: its commands run as written and print what the page says."""

from __future__ import annotations

from pathlib import Path

from pmrecon.schema import SCHEMAS
from tests.docblocks import ROOT, console_blocks, run_blocks

PAGE = ROOT / "docs" / "findings-in-ci.md"


def test_every_console_block_is_run_by_a_test() -> None:
    blocks = console_blocks(PAGE)
    assert len(blocks) >= 5
    # demo: run below; scan: run by tests/cli/test_scan.py on a real scan's output
    assert {b.tag for b in blocks} == {"demo", "scan"}, [b.commands[0].line for b in blocks]


def test_demo_commands_print_what_the_page_says(tmp_path: Path) -> None:
    assert run_blocks(PAGE, "demo", tmp_path) >= 20
    assert (tmp_path / "report" / "findings.json").is_file()  # also checked by tests/schemacheck


def test_the_page_lists_every_schema_and_the_readme_links_it() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in SCHEMAS:
        assert f"| `{name}` |" in text, name
        assert f"pmrecon schema {name}" in text, name
    assert "docs/findings-in-ci.md" in (ROOT / "README.md").read_text(encoding="utf-8")
