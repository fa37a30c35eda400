"""Configuration: read the YAML file, interpolate ``${ENV}``, validate it whole, fail once.

The schema below is the single list of valid keys; each connector type adds its own
section (:func:`connectors.settings_schema`). Schemas are written with
:mod:`pmrecon.settings_schema` (``Key``, ``parse_duration``, re-exported here).
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConnectorNotFound, ConnectorUnavailable
from .settings_schema import Key, Schema, parse_duration

ENV_CONFIG = "PMRECON_CONFIG"
DEFAULT_CONFIG_NAME = "pmrecon.yaml"


ANALYSIS_SCHEMA: Schema = {
    "consecutive_steps": Key(
        "int", 3, "steps an SLI must stay in breach to count as impact", minimum=1
    ),
    "stability_period": Key(
        "duration", 600, "how long SLIs must stay healthy to call it resolved", minimum=0
    ),
    "error_ratio_threshold": Key(
        "ratio",
        None,
        "error ratio above which a step is in breach (default: derived from the baseline, at least 0.01)",
    ),
    "latency_threshold": Key(
        "float",
        None,
        "latency (seconds, highest configured quantile) above which a step is in breach (default: derived from the baseline)",
        minimum=0,
    ),
    "thresholds": {
        "*": {
            "error_ratio": Key("ratio", None, "this service's error-ratio threshold"),
            "latency": Key(
                "float", None, "this service's latency threshold, in seconds", minimum=0
            ),
        }
    },
    "baseline_factor": Key(
        "float",
        3.0,
        "with no threshold set: breach when the SLI is this many times its baseline level",
        # at or below 1, the normal level itself would be a breach
        exclusive_minimum=1,
    ),
    "log_burst_factor": Key(
        "float",
        5.0,
        "an error-log bucket is a burst when it is this many times the baseline rate",
        exclusive_minimum=1,
    ),
    "log_burst_min_count": Key("int", 10, "and holds at least this many error logs", minimum=1),
    "merge_gap": Key(
        "duration", 900, "signals closer than this belong to the same incident", minimum=0
    ),
    "late_alert_after": Key(
        "duration",
        300,
        "a first alert later than this after impact start is a detection gap (late_alert)",
        minimum=0,
    ),
    "stale_alert_after": Key(
        "duration",
        900,
        "an alert still firing this long after resolution is a detection gap (stale_alert)",
        minimum=0,
    ),
    # A week at most: under a server's 11,000 points per series, a week's stretch keeps a
    # step of a minute, far below the join gap a breach run may not cross.
    "lookback_max": Key(
        "duration",
        6 * 3600,
        "how far before the window to look for the start of an incident already in progress "
        "there: past the baseline, a further stretch is fetched up to this far (0: the baseline only)",
        minimum=0,
        maximum=7 * 86400,
    ),
    "slo_target": Key("ratio", 0.999, "availability SLO target for the error-budget figure"),
    # An hour at least: "slo_period: 30" (seconds) is surely 30 days mistyped.
    "slo_period": Key("duration", 30 * 86400, "the SLO's period", minimum=3600),
    "impact_rules": {
        "critique": {
            "min_error_ratio": Key(
                "ratio", 0.25, "max error ratio at or above which impact is Critique"
            ),
            "min_duration": Key("duration", 3600, "or a duration at or above this", minimum=0),
        },
        "majeur": {
            "min_error_ratio": Key(
                "ratio", 0.05, "max error ratio at or above which impact is Majeur"
            ),
            "min_duration": Key("duration", 900, "or a duration at or above this", minimum=0),
        },
    },
}

SCHEMA: Schema = {
    "timezone": Key("timezone", "UTC", "IANA zone used for every displayed time"),
    "language": Key("choice", "fr", "report language", choices=("fr", "en")),
    "title": Key("str", None, "report title (default: derived from the incident)"),
    "max_window": Key("duration", 7 * 86400, "longest window `build` accepts", minimum=60),
    "baseline": Key(
        "duration",
        None,
        "baseline period before the window (default: as long as the window)",
        minimum=60,
    ),
    "services": Key(
        "list",
        [],
        "restrict the analysis to these services (default: all found)",
        items=Key("str"),
    ),
    "output_dir": Key("path", "postmortems", "parent folder of reports when --out is not given"),
    "timeout": Key(
        "duration", 300, "limit for a whole build, in seconds or a duration", exclusive_minimum=0
    ),
    "sources": {"*": "source"},
    "analysis": ANALYSIS_SCHEMA,
    "report": {
        "template_dir": Key(
            "folder", None, "folder searched for templates before the built-in ones"
        ),
        "png": Key("bool", True, "export PNG graphs (needs Chromium)"),
        "grafana_url": Key("str", None, "Grafana base URL for Explore links"),
        "grafana_datasource": Key("str", None, "Grafana datasource uid for Explore links"),
        "kibana_url": Key("str", None, "Kibana base URL for Discover links"),
        "max_log_lines": Key("int", 20, "log samples quoted in the report", minimum=0),
    },
    "redaction": {
        "enabled": Key("bool", True, "redact personal data and secrets in log content"),
        "ip_addresses": Key("bool", True, "redact IPv4/IPv6 addresses"),
        "patterns": Key("patterns", {}, "extra patterns: kind -> regular expression"),
    },
    "scan": {
        "severities": Key(
            "list",
            ["critical", "page"],
            "alert severities that open an incident",
            items=Key("str"),
        ),
        "margin": Key("duration", 1800, "padding around each incident's window", minimum=0),
    },
}

#: Keys that were once documented: setting one is an error that says why it went.
REMOVED = {
    "redaction.keep_raw_evidence": (
        "log lines are always redacted before anything is written, the evidence bundle "
        "included (it travels with the report); remove the key"
    ),
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
    # Anything there, not only a regular file: a FIFO or a folder is refused by read_yaml,
    # where ignoring it would silently build with the defaults.
    return local if os.path.lexists(local) else None


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
    positions: dict[str, tuple[int, int]] = {}
    if found is not None:
        raw, positions = read_yaml_located(found)
    raw = interpolate(raw, os.environ if env is None else env, found)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, key, value)
            # The value is the command line's now: the file's line would point at another one
            positions = {
                k: v
                for k, v in positions.items()
                if k != key and not k.startswith((f"{key}.", f"{key}["))
            }
    data = validate(raw, where=str(found) if found else "configuration", positions=positions)
    return Config(data=data, path=found)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (empty for an empty file), or a one-line ConfigError."""
    return read_yaml_located(path)[0]


def read_yaml_located(path: Path) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """:func:`read_yaml`, with the line and column of every dotted key in the file.

    Bounded: a regular file of at most 1 MiB, aliases expanding to at most 100,000 values,
    no key twice (see :mod:`pmrecon.safeyaml`), so a hostile file fails in well under a second.
    """
    from . import safeyaml

    try:
        raw = safeyaml.read_regular_file(path, safeyaml.MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; pass an existing file with --config "
            f"(pmrecon config example > pmrecon.yaml starts one)"
        ) from None
    except safeyaml.TooLarge as exc:
        raise ConfigError(
            f"config file {path} is refused: it holds {exc.size:,} bytes, more than the "
            f"{exc.limit // (1 << 20)} MiB a config may hold; check that it is the right file"
        ) from None
    except safeyaml.NotRegularFile as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc}; pass the YAML file itself"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text") from None
    try:
        data, positions = safeyaml.load_with_positions(text)
    except safeyaml.YamlRefused as exc:
        raise ConfigError(f"config file {path} {exc}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys (got a {type(data).__name__})"
        )
    return data, positions


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


def validate(
    raw: Mapping[str, Any],
    where: str = "configuration",
    positions: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """Check every key at once; raise one ConfigError listing all problems.

    With ``positions`` (dotted key → line and column in the file, from
    :func:`pmrecon.safeyaml.load_with_positions`), each problem starts ``file:line:column:``
    as compilers write it, so editors and terminals jump to it.
    """
    problems: list[str] = []
    data = _check(raw, SCHEMA, "", problems)
    _check_impact_rules(data["analysis"]["impact_rules"], problems)
    if problems:
        shown = "; ".join(_locate(p, where, positions or {}) for p in problems[:10])
        if not shown.startswith(where):
            shown = f"{where}: {shown}"
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ConfigError(f"{shown}{more}")
    return data


class _Problem(str):
    """A problem's text, with the dotted key it is about (for its line in the file)."""

    key: str


def _at(key: str, text: str) -> str:
    problem = _Problem(text)
    problem.key = key
    return problem


def _locate(problem: str, where: str, positions: Mapping[str, tuple[int, int]]) -> str:
    key = getattr(problem, "key", "")
    while key:
        if key in positions:
            line, column = positions[key]
            return f"{where}:{line}:{column}: {problem}"
        parent = _PARENT.sub("", key)  # drop the last ".name" or "[i]"
        key = "" if parent == key else parent
    return str(problem)


_PARENT = re.compile(r"(\.[^.\[]*|\[\d+\]|^[^.\[]*)$")


def _check(raw: Any, schema: Schema, prefix: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.append(
            _at(prefix.rstrip("."), f"{prefix.rstrip('.') or 'top level'} must be a mapping")
        )
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
        if spec is None and f"{prefix}{key}" in REMOVED:
            problems.append(
                _at(
                    f"{prefix}{key}",
                    f"{prefix}{key}: no longer supported: {REMOVED[f'{prefix}{key}']}",
                )
            )
            continue
        if spec is None:
            near = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5)
            hint = f" (did you mean {prefix}{near[0]!r}?)" if near else ""
            problems.append(_at(f"{prefix}{key}", f"unknown key {prefix}{key!r}{hint}"))
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
        problems.append(
            _at(prefix.rstrip("."), f"{prefix.rstrip('.')} must be a mapping with a 'type'")
        )
        return {}
    import connectors  # loaded for a sources section only: analysis settings need none

    kind = raw.get("type", name)
    try:
        schema = connectors.settings_schema(str(kind))
    except ConnectorNotFound:
        near = difflib.get_close_matches(str(kind), connectors.available(), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(
            _at(
                f"{prefix}type",
                f"{prefix}type: unknown source type {kind!r}{hint}; known: {', '.join(connectors.available())}",
            )
        )
        return dict(raw)
    except ConnectorUnavailable:
        problems.append(
            _at(
                f"{prefix}type",
                f"{prefix}type: source type {kind!r} is not installed with its dependencies; "
                "reinstall pmrecon",
            )
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
        if t in ("str", "path"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(f"expected text, got {type(value).__name__}")
            if t == "path" and not str(value).strip():
                raise ValueError("expected a path, got empty text; remove the key for the default")
            return str(value)
        if t in ("int", "float", "ratio", "duration"):
            return _check_number(value, spec)
        if t in ("folder", "file"):
            return _check_path(value, t)
        if t == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            return value
        if t == "timezone":
            return check_timezone(str(value))
        if t == "choice":
            if value not in spec.choices:
                raise ValueError(f"expected one of {', '.join(spec.choices)}, got {value!r}")
            return value
        if t == "list":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {type(value).__name__}")
            if spec.items is None:
                return value
            return [
                _check_leaf(v, spec.items, f"{name}[{i}]", problems) for i, v in enumerate(value)
            ]
        if t in ("dict", "patterns"):
            if not isinstance(value, dict):
                raise ValueError(f"expected a mapping, got {type(value).__name__}")
            return _check_patterns(value, name, problems) if t == "patterns" else value
        return value
    except ValueError as exc:
        problems.append(_at(name, f"{name}: {exc}"))
        return spec.default


def _check_number(value: Any, spec: Key) -> float | int:
    """A number or duration within the key's range, else a ValueError naming the range."""
    t = spec.type
    if t == "duration":
        number: float | int = parse_duration(value)
    else:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or (t == "int" and not isinstance(value, int)):
            raise ValueError(f"expected {describe_range(spec)}, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"expected {describe_range(spec)}, got {value!r}")
        number = value if t == "int" else float(value)
    low, high = _bounds(spec)
    if (
        number < low
        or (spec.exclusive_minimum is not None and number <= spec.exclusive_minimum)
        or (high is not None and number > high)
    ):
        raise ValueError(f"{value!r} is out of range; expected {describe_range(spec)}")
    return number


def _bounds(spec: Key) -> tuple[float, float | None]:
    """The inclusive bounds of a numeric key: an int or duration is ≥ 0, a ratio within [0, 1]."""
    low = 0.0 if spec.minimum is None else spec.minimum
    high = spec.maximum if spec.maximum is not None or spec.type != "ratio" else 1.0
    return low, high


def describe_range(spec: Key) -> str:
    """The values a numeric key accepts, in words: ``a whole number between 10 and 11000``."""
    kind = {"int": "a whole number", "ratio": "a ratio", "duration": "a duration"}.get(
        spec.type, "a number"
    )
    shown = format_duration if spec.type == "duration" else _format_number
    low, high = _bounds(spec)
    if spec.exclusive_minimum is not None:
        lower = f"> {shown(spec.exclusive_minimum)}"
        return f"{kind} {lower}" + (f" and ≤ {shown(high)}" if high is not None else "")
    if spec.minimum is None and spec.type == "float":
        return kind if high is None else f"{kind} ≤ {shown(high)}"
    if high is not None:
        return f"{kind} between {shown(low)} and {shown(high)}"
    return f"{kind} ≥ {shown(low)}"


def _format_number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_duration(seconds: float) -> str:
    """``3600`` → ``1h``, ``90`` → ``90s``: a duration as the config file writes it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _check_path(value: Any, kind: str) -> str:
    """An existing folder (``folder``) or regular file (``file``), checked now, not when used."""
    from .safeyaml import file_kind

    if isinstance(value, os.PathLike):  # a Path from Config.from_dict
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected the path of a {kind}, got {value!r}")
    try:
        mode = os.stat(value).st_mode
    except FileNotFoundError:
        raise ValueError(f"{kind} {value} does not exist; give an existing {kind}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {kind} {value}: {exc.strerror or exc}") from None
    found = file_kind(mode)
    wanted = "a folder" if kind == "folder" else "a regular file"
    if found != wanted:
        raise ValueError(f"{value} is {found}, not {wanted}; give the path of {wanted}")
    return value


def _check_patterns(value: dict[Any, Any], name: str, problems: list[str]) -> dict[str, str]:
    """Every pattern compiles, and none matches empty text (it would mark every position)."""
    out: dict[str, str] = {}
    for kind, pattern in value.items():
        where = f"{name}.{kind}"
        if not isinstance(pattern, str) or not pattern:
            problems.append(_at(where, f"{where}: expected a regular expression, got {pattern!r}"))
            continue
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            problems.append(
                _at(
                    where,
                    f"{where}: invalid regular expression {pattern!r}: {exc.msg} at position "
                    f"{exc.pos}; fix it (Python re syntax)",
                )
            )
            continue
        if compiled.match("") is not None:
            problems.append(
                _at(
                    where,
                    f"{where}: {pattern!r} matches empty text, so it would mark every position; "
                    "make it match at least one character",
                )
            )
            continue
        out[str(kind)] = pattern
    return out


def _check_impact_rules(rules: Mapping[str, Any], problems: list[str]) -> None:
    """Critique must be the higher level: with lower thresholds than Majeur, Majeur is unreachable."""
    critique, majeur = rules.get("critique") or {}, rules.get("majeur") or {}
    for key, shown in (("min_error_ratio", _format_number), ("min_duration", format_duration)):
        high, low = critique.get(key), majeur.get(key)
        if isinstance(high, (int, float)) and isinstance(low, (int, float)) and high < low:
            problems.append(
                _at(
                    f"analysis.impact_rules.critique.{key}",
                    f"analysis.impact_rules.critique.{key} ({shown(high)}) is below "
                    f"majeur.{key} ({shown(low)}); Critique needs the higher threshold",
                )
            )


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
