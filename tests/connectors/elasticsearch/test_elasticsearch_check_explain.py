"""How ``check`` words a level field's values and the names near a missing field (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.elasticsearch import SETTINGS_SCHEMA
from connectors.elasticsearch.check import level_verdict, near_names
from connectors.toolkit.settings import settings_with_defaults


def settings(**over: Any) -> dict[str, Any]:
    return settings_with_defaults(SETTINGS_SCHEMA, over, "sources.logs")


@pytest.mark.parametrize(
    ("values", "ok", "detail", "fix"),
    [
        (["info", "error"], True, "log.level holds info, error (last day); errors: error", ""),
        (
            ["INFO", "ERROR", "WARN"],
            True,
            "log.level holds INFO, ERROR, WARN (last day); errors: ERROR; "
            "not lower case: matched case-insensitively",
            "",
        ),
        (
            ["info", "debug"],
            True,
            "log.level holds info, debug (last day); no error-level line",
            "",
        ),
        (
            ["9", "17"],
            False,
            "log.level holds 9, 17 (last day): numbers, not level names",
            "set fields.level to the field holding the level's name "
            "(OpenTelemetry: severity_text, not severity_number)",
        ),
        (
            ["I", "E", "W"],
            False,
            "log.level holds I, E, W (last day): none is among error_levels; I, E, W not known "
            "as a level",
            "add the values that mean an error to error_levels (e.g. error_levels: [e]), "
            "or set fields.level to the field holding the log level",
        ),
        ([], True, "log.level: no log in the last day", ""),
        (
            ["info", "bad"],
            False,
            "log.level holds info, bad (last day): none is among error_levels; bad not known "
            "as a level",
            "add the values that mean an error to error_levels "
            "(e.g. error_levels: [<the value meaning an error>]), "
            "or set fields.level to the field holding the log level",
        ),
    ],
)
def test_level_verdict(values: list[str], ok: bool, detail: str, fix: str) -> None:
    line = level_verdict("logs", "log.level", values, settings())
    assert (line.check, line.ok, line.detail, line.fix) == ("level values", ok, detail, fix)


def test_configured_error_levels_are_any_case() -> None:
    line = level_verdict("logs", "lvl", ["I", "E"], settings(error_levels=["e"]))
    assert line.ok and line.detail.endswith("errors: E; not lower case: matched case-insensitively")


def test_near_names_put_the_same_ending_first_then_the_alike() -> None:
    mapped = [
        "resource.attributes.host.name",
        "resource.attributes.service.name",
        "attributes.user.name",
        "service_name",
        "servce.name",
        "message",
    ]
    # the whole name at the end first, then the same last word, shortest first
    assert near_names("service.name", mapped) == [
        "resource.attributes.service.name",
        "servce.name",
        "service_name",
        "attributes.user.name",
        "resource.attributes.host.name",
    ]
    assert near_names("log.level", ["severity_text", "message"]) == []
