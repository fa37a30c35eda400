"""The JSON Schemas (draft 2020-12) of what pmrecon writes for machines to read.

Each schema is strict: ``additionalProperties: false`` everywhere, the exact shape this
release writes, so pmrecon's own tests notice any key the code adds without saying so.
:func:`open_form` relaxes that for consumers that keep a copy: it accepts the keys later
releases add without raising ``schema_version`` (the rule is in docs/findings-in-ci.md).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any


def _shipped(filename: str) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        text = resources.files(__name__).joinpath(filename).read_text("utf-8")
        data: dict[str, Any] = json.loads(text)
        return data

    return load


#: Name (as in ``pmrecon schema NAME``) → what returns that schema. A schema built from
#: code rather than shipped as a file registers its own function here.
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "findings": _shipped("findings.schema.json"),
    "manifest": _shipped("manifest.schema.json"),
    "scan": _shipped("scan.schema.json"),
    "build": _shipped("build.schema.json"),
}


@cache
def _cached(name: str) -> dict[str, Any]:
    return SCHEMAS[name]()


def load(name: str) -> dict[str, Any]:
    """The strict schema called ``name`` (a copy: callers may change it)."""
    if name not in SCHEMAS:
        raise KeyError(f"no schema called {name!r}; known: {', '.join(sorted(SCHEMAS))}")
    return copy.deepcopy(_cached(name))


def open_form(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its ``additionalProperties: false``: unknown keys are allowed.

    Everything else stays: required keys, types, enums, ``schema_version``'s constant.
    """
    opened: dict[str, Any] = _without_closed_objects(schema)
    return opened


def _without_closed_objects(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_closed_objects(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_without_closed_objects(v) for v in node]
    return node


def _jsonschema() -> Any:
    """The jsonschema library: only validating needs it, so it is an extra, not a dependency."""
    try:
        import jsonschema
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "validating against pmrecon's schemas needs the jsonschema package: "
            "pip install 'pmrecon[schema]' (or jsonschema)",
            name="jsonschema",
        ) from exc
    return jsonschema


def errors(name: str, data: Any, *, open_: bool = False) -> list[str]:
    """Every violation of schema ``name`` in ``data``, one line each (``[]``: valid)."""
    jsonschema = _jsonschema()
    schema = load(name)
    validator = jsonschema.Draft202012Validator(open_form(schema) if open_ else schema)
    found = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message}" for e in found]


def validate(name: str, data: Any) -> None:
    """Raise ``jsonschema.ValidationError`` (the most relevant one) if ``data`` breaks schema ``name``."""
    jsonschema = _jsonschema()

    validator = jsonschema.Draft202012Validator(_cached(name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise error


__all__ = ["SCHEMAS", "errors", "load", "open_form", "validate"]
