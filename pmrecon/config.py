"""Configuration: read the YAML file, interpolate ``${ENV}``, validate it whole, fail once.

The schema below is the single list of valid keys; each connector type adds its own
section (:func:`connectors.settings_schema`). Schemas are written with
:mod:`pmrecon.settings_schema` (``Key``, ``parse_duration``, re-exported here).
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConnectorNotFound, ConnectorUnavailable
from .settings_schema import Key, Schema, parse_duration

ENV_CONFIG = "PMRECON_CONFIG"
DEFAULT_CONFIG_NAME = "pmrecon.yaml"


ANALYSIS_SCHEMA: Schema = {
    "consecutive_steps": Key("int", 3, "steps an SLI must stay in breach to count as impact"),
    "stability_period": Key("duration", 600, "how long SLIs must stay healthy to call it resolved"),
    "error_ratio_threshold": Key(
        "ratio",
        None,
        "error ratio above which a step is in breach (default: derived from the baseline, at least 0.01)",
    ),
    "latency_threshold": Key(
        "float",
        None,
        "latency (seconds, highest configured quantile) above which a step is in breach (default: derived from the baseline)",
    ),
    "thresholds": {
        "*": {
            "error_ratio": Key("ratio", None, "this service's error-ratio threshold"),
            "latency": Key("float", None, "this service's latency threshold, in seconds"),
        }
    },
    "baseline_factor": Key(
        "float",
        3.0,
        "with no threshold set: breach when the SLI is this many times its baseline level",
    ),
    "log_burst_factor": Key(
        "float", 5.0, "an error-log bucket is a burst when it is this many times the baseline rate"
    ),
    "log_burst_min_count": Key("int", 10, "and holds at least this many error logs"),
    "merge_gap": Key("duration", 900, "signals closer than this belong to the same incident"),
    "slo_target": Key("ratio", 0.999, "availability SLO target for the error-budget figure"),
    "slo_period": Key("duration", 30 * 86400, "the SLO's period"),
    "impact_rules": {
        "critique": {
            "min_error_ratio": Key(
                "ratio", 0.25, "max error ratio at or above which impact is Critique"
            ),
            "min_duration": Key("duration", 3600, "or a duration at or above this"),
        },
        "majeur": {
            "min_error_ratio": Key(
                "ratio", 0.05, "max error ratio at or above which impact is Majeur"
            ),
            "min_duration": Key("duration", 900, "or a duration at or above this"),
        },
    },
}

SCHEMA: Schema = {
    "timezone": Key("timezone", "UTC", "IANA zone used for every displayed time"),
    "language": Key("choice", "fr", "report language", choices=("fr", "en")),
    "title": Key("str", None, "report title (default: derived from the incident)"),
    "max_window": Key("duration", 7 * 86400, "longest window `build` accepts"),
    "baseline": Key(
        "duration", None, "baseline period before the window (default: as long as the window)"
    ),
    "services": Key("list", [], "restrict the analysis to these services (default: all found)"),
    "output_dir": Key("str", "postmortems", "parent folder of reports when --out is not given"),
    "timeout": Key("duration", 300, "limit for a whole build, in seconds or a duration"),
    "sources": {"*": "source"},
    "analysis": ANALYSIS_SCHEMA,
    "report": {
        "template_dir": Key("str", None, "folder searched for templates before the built-in ones"),
        "png": Key("bool", True, "export PNG graphs (needs Chromium)"),
        "grafana_url": Key("str", None, "Grafana base URL for Explore links"),
        "grafana_datasource": Key("str", None, "Grafana datasource uid for Explore links"),
        "kibana_url": Key("str", None, "Kibana base URL for Discover links"),
        "max_log_lines": Key("int", 20, "log samples quoted in the report"),
    },
    "redaction": {
        "enabled": Key("bool", True, "redact personal data and secrets in log content"),
        "ip_addresses": Key("bool", True, "redact IPv4/IPv6 addresses"),
        "keep_raw_evidence": Key("bool", False, "keep unredacted log lines in the evidence bundle"),
        "patterns": Key("dict", {}, "extra patterns: kind -> regular expression"),
    },
    "scan": {
        "severities": Key("list", ["critical", "page"], "alert severities that open an incident"),
        "margin": Key("duration", 1800, "padding around each incident's window"),
    },
}

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Config:
    """A validated configuration: ``data`` holds every key with defaults filled in."""

    data: dict[str, Any]
    path: Path | None = None

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> Config:
        """Validate a mapping shaped like the YAML file (``${VAR}`` is not expanded); ConfigError if bad."""
        # A deep copy: the caller's later changes to its dict must not reach the config.
        return cls(data=validate(copy.deepcopy(mapping)))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def secrets(self) -> list[str]:
        """Every value that can authenticate to a source, in every form sent, for scrubbing."""
        import connectors  # only a config with sources needs the connectors' schemas

        found: list[str] = []
        for src in self.data.get("sources", {}).values():
            for secret in connectors.source_secrets(str(src.get("type", "")), src):
                if secret not in found:
                    found.append(secret)
        return found


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The command line's lookup: ``--config``, then ``$PMRECON_CONFIG``, then ``./pmrecon.yaml`` if it exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read, interpolate and validate the config file at ``path`` (None: the defaults); ``overrides`` win over it.

    ``path`` is used as given: the ``$PMRECON_CONFIG`` and ``./pmrecon.yaml`` lookup is
    :func:`find_config_file`'s, which the command line calls.
    """
    found = Path(path) if path is not None else None
    raw: dict[str, Any] = {}
    if found is not None:
        raw = read_yaml(found)
    raw = interpolate(raw, os.environ if env is None else env, found)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, key, value)
    data = validate(raw, where=str(found) if found else "configuration")
    return Config(data=data, path=found)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (empty for an empty file), or a one-line ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; pass an existing file with --config "
            f"(pmrecon config example > pmrecon.yaml starts one)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path} is not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys (got a {type(data).__name__})"
        )
    return data


def interpolate(data: Any, env: Mapping[str, str], path: Path | None = None) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string; a missing VAR is an error."""
    missing: list[str] = []

    def sub(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        return _ENV.sub(repl, text)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return sub(v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    out = walk(data)
    if missing:
        names = ", ".join(sorted(set(missing)))
        where = f" (used in {path})" if path else ""
        raise ConfigError(
            f"environment variable(s) {names} not set{where}; export them or use ${{VAR:-default}}"
        )
    return out


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def validate(raw: Mapping[str, Any], where: str = "configuration") -> dict[str, Any]:
    """Check every key at once; raise one ConfigError listing all problems."""
    problems: list[str] = []
    data = _check(raw, SCHEMA, "", problems)
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ConfigError(f"{where}: {shown}{more}")
    return data


def _check(raw: Any, schema: Schema, prefix: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.append(f"{prefix.rstrip('.') or 'top level'} must be a mapping")
        raw = {}
    out: dict[str, Any] = {}
    if "*" in schema:
        for name, value in raw.items():
            if schema["*"] == "source":
                out[name] = _check_source(str(name), value, f"{prefix}{name}.", problems)
            else:
                out[name] = _check(value, schema["*"], f"{prefix}{name}.", problems)
        return out
    for key, value in raw.items():
        spec = schema.get(key)
        if spec is None:
            near = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5)
            hint = f" (did you mean {prefix}{near[0]!r}?)" if near else ""
            problems.append(f"unknown key {prefix}{key!r}{hint}")
            continue
        if isinstance(spec, Key):
            out[key] = _check_leaf(value, spec, f"{prefix}{key}", problems)
        else:
            out[key] = _check(value, spec, f"{prefix}{key}.", problems)
    for key, spec in schema.items():
        if key in out:
            continue
        if isinstance(spec, Key):
            out[key] = spec.default
        elif isinstance(spec, dict) and "*" not in spec:
            out[key] = _check({}, spec, f"{prefix}{key}.", problems)
        else:
            out[key] = {}
    return out


def _check_source(name: str, raw: Any, prefix: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.append(f"{prefix.rstrip('.')} must be a mapping with a 'type'")
        return {}
    import connectors  # loaded for a sources section only: analysis settings need none

    kind = raw.get("type", name)
    try:
        schema = connectors.settings_schema(str(kind))
    except ConnectorNotFound:
        near = difflib.get_close_matches(str(kind), connectors.available(), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(
            f"{prefix}type: unknown source type {kind!r}{hint}; known: {', '.join(connectors.available())}"
        )
        return dict(raw)
    except ConnectorUnavailable:
        problems.append(
            f"{prefix}type: source type {kind!r} is not installed with its dependencies; "
            f"reinstall pmrecon"
        )
        return dict(raw)
    full = {
        "type": Key("str", kind, "connector type"),
        "enabled": Key("bool", True, "use this source"),
        **schema,
    }
    out = _check({k: v for k, v in raw.items()}, full, prefix, problems)
    out["type"] = kind
    return out


def _check_leaf(value: Any, spec: Key, name: str, problems: list[str]) -> Any:
    t = spec.type
    if value is None:
        return spec.default
    try:
        if t == "str":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(f"expected text, got {type(value).__name__}")
            return str(value)
        if t == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"expected a whole number ≥ 0, got {value!r}")
            return value
        if t in ("float", "ratio"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected a number, got {value!r}")
            if t == "ratio" and not 0 <= value <= 1:
                raise ValueError(f"expected a ratio between 0 and 1, got {value!r}")
            return float(value)
        if t == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            return value
        if t == "duration":
            return parse_duration(value)
        if t == "timezone":
            return check_timezone(str(value))
        if t == "choice":
            if value not in spec.choices:
                raise ValueError(f"expected one of {', '.join(spec.choices)}, got {value!r}")
            return value
        if t == "list":
            if isinstance(value, str):
                return [value]
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {type(value).__name__}")
            return value
        if t == "dict":
            if not isinstance(value, dict):
                raise ValueError(f"expected a mapping, got {type(value).__name__}")
            return value
        return value
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return spec.default


def check_timezone(name: str) -> str:
    """The name itself if it is an IANA time zone, else a ValueError naming the expected form."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # A folder of the tz database ("America") or an over-long name raises OSError.
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as UTC or Europe/Paris)"
        ) from None
    return name


def document_keys(schema: Schema | None = None, prefix: str = "") -> list[tuple[str, Key]]:
    """Every documented key as (dotted name, Key), for docs and the docs test."""
    out: list[tuple[str, Key]] = []
    for key, spec in (schema or SCHEMA).items():
        if key == "*":
            continue
        if isinstance(spec, Key):
            out.append((f"{prefix}{key}", spec))
        elif isinstance(spec, dict):
            out.extend(document_keys(spec, f"{prefix}{key}."))
    return out
