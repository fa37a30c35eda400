"""Hostile or mistaken config files: bounded reading, duplicate keys, ranges, patterns, paths.

Each class of issue 14's input-validation review has its own tests here; the file-reading
ones run the real command in a subprocess with a time limit (and a memory limit for the
alias bombs), so that before the fix they failed instead of hanging the suite.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pmrecon.config import (
    SCHEMA,
    Config,
    Key,
    describe_range,
    document_keys,
    load_config,
    validate,
)
from pmrecon.errors import ConfigError
from pmrecon.safeyaml import MAX_BYTES, MAX_DEPTH, MAX_VALUES
from tests.clihelp import Run, run_cli

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ["core", "prometheus", "alertmanager", "elasticsearch"]


def write(tmp_path: Path, text: str, name: str = "pmrecon.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def run_bounded(*args: str, cwd: Path, timeout: float = 60, memory: int = 2 << 30) -> Run:
    """The real command, killed after ``timeout`` seconds and limited to ``memory`` bytes.

    Without the fix an alias bomb grew to gigabytes and a FIFO blocked forever: bounded
    here so the test fails rather than taking the machine down.
    """
    return run_cli(*args, cwd=cwd, timeout=timeout, memory=memory)


def assert_config_error(run: Run, needle: str) -> None:
    assert run.code == 2, (run.code, run.err[-2000:])
    assert len(run.error_lines) == 1, run.err[-2000:]
    assert run.error_lines[0].startswith("pmrecon: error: "), run.err
    assert needle in run.error_lines[0], run.err
    assert "Traceback" not in run.err


# --------------------------------------------------------------------------- alias bombs


def laughs_sequences(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\ntitle: *l{levels - 1}\n"


def laughs_mappings(levels: int = 9) -> str:
    keys = [f"k{j}" for j in range(9)]
    lines = ["redaction:", "  patterns: &m0 {" + ", ".join(f"{k}: lol" for k in keys) + "}"]
    lines.append("sources:")
    for i in range(1, levels):
        body = ", ".join(f"{k}: *m{i - 1}" for k in keys)
        lines.append(f"  s{i}: &m{i} {{{body}}}")
    return "\n".join(lines) + "\n"


def laughs_merge_keys(levels: int = 9) -> str:
    """Merge keys (``<<``) copying an ever larger mapping into each level."""
    lines = [
        "analysis:",
        "  thresholds:",
        "    a0: &a0 {" + ", ".join(f"k{j}: 1" for j in range(9)) + "}",
    ]
    for i in range(1, levels):
        body = ", ".join(f"x{j}: *a{i - 1}" for j in range(9))
        lines.append(f"    a{i}: &a{i} {{<<: *a{i - 1}, {body}}}")
    return "\n".join(lines) + "\n"


BOMBS = {
    "sequences": laughs_sequences(),
    "mappings": laughs_mappings(),
    "merge-keys": laughs_merge_keys(),
}


@pytest.mark.parametrize("text", list(BOMBS.values()), ids=list(BOMBS))
def test_alias_bomb_fails_at_once(tmp_path: Path, text: str) -> None:
    assert len(text.encode()) < 1500  # a few hundred bytes...
    path = write(tmp_path, text)
    run = run_bounded("check", "--config", str(path), cwd=tmp_path)
    assert_config_error(run, f"more than {MAX_VALUES:,} values once its aliases are expanded")
    started = time.process_time()
    with pytest.raises(ConfigError):
        load_config(path)
    assert time.process_time() - started < 1.0  # ...refused in well under a second of CPU


def test_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    text = (
        "sources:\n"
        "  prom-a: &prom {type: prometheus, url: 'http://a:9090', timeout: 5s, retries: 1}\n"
        "  prom-b: {<<: *prom, url: 'http://b:9090'}\n"
        "scan:\n  severities: &sev [critical, page]\n"
        "analysis:\n  thresholds:\n    api: &thr {error_ratio: 0.02}\n    web: *thr\n"
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg["sources"]["prom-b"]["url"] == "http://b:9090"
    assert cfg["sources"]["prom-b"]["timeout"] == 5 and cfg["sources"]["prom-b"]["retries"] == 1
    assert cfg["analysis"]["thresholds"]["web"] == {"error_ratio": 0.02, "latency": None}


@pytest.mark.parametrize(
    "text,needle",
    [
        ("title: &a [*a]\n", "refers to a collection that contains it"),
        ("redaction:\n  patterns: &p {x: *p}\n", "refers to a collection that contains it"),
        ("title: &a [[[*a]]]\n", "refers to a collection that contains it"),
        ("title: " + "[" * 200 + "]" * 200 + "\n", f"nested more than {MAX_DEPTH} levels"),
        # libyaml stops at 1000 levels itself; the pure-Python parser would overflow the stack
        ("title: " + "[" * 5000 + "]" * 5000 + "\n", "pmrecon.yaml is "),
    ],
    ids=["sequence", "mapping", "indirect", "deep", "very-deep"],
)
def test_recursive_and_deep_documents_are_config_errors(
    tmp_path: Path, text: str, needle: str
) -> None:
    run = run_bounded("check", "--config", str(write(tmp_path, text)), cwd=tmp_path)
    assert_config_error(run, needle)


# --------------------------------------------------------------------------- size and file type


def test_a_config_over_one_mebibyte_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:  # 50 MB, sparse: the old loader took minutes and gigabytes
        fh.truncate(50 * 1000 * 1000)
    run = run_bounded("check", "--config", str(big), cwd=tmp_path, timeout=30)
    assert_config_error(run, "more than the 1 MiB a config may hold")
    just_over = write(tmp_path, "#" + "x" * MAX_BYTES, "over.yaml")
    with pytest.raises(ConfigError, match=f"holds {MAX_BYTES + 1:,} bytes"):
        load_config(just_over)
    under = write(tmp_path, "# " + "x" * (MAX_BYTES - 100) + "\nlanguage: en\n", "under.yaml")
    assert load_config(under)["language"] == "en"


def test_a_fifo_as_config_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pmrecon.yaml"
    os.mkfifo(fifo)
    run = run_bounded("check", "--config", str(fifo), cwd=tmp_path, timeout=30)
    assert_config_error(run, "it is a FIFO (named pipe), not a regular file")


def test_a_fifo_found_as_the_local_config_is_refused_not_ignored(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pmrecon.yaml")
    run = run_bounded("check", cwd=tmp_path, timeout=30)
    assert_config_error(run, "pmrecon.yaml: it is a FIFO (named pipe), not a regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_config_is_refused(tmp_path: Path, device: str) -> None:
    # /dev/zero never ends: the old loader read it until memory ran out
    run = run_bounded("check", "--config", device, cwd=tmp_path, timeout=30, memory=1 << 30)
    assert_config_error(run, "it is a character device, not a regular file")


# --------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    "text,key,lines",
    [
        ("timezone: UTC\nlanguage: en\ntimezone: Europe/Paris\n", "timezone", (3, 1)),
        ("analysis:\n  merge_gap: 5m\n  slo_target: 0.9\n  merge_gap: 10m\n", "merge_gap", (4, 2)),
        ("report: {png: true, png: false}\n", "png", (1, 1)),
        ('language: en\n"language": fr\n', "language", (2, 1)),
        (
            "sources:\n  p:\n    type: prometheus\n    headers:\n      X-A: 1\n      X-A: 2\n",
            "X-A",
            (6, 5),
        ),
        ("redaction:\n  patterns:\n    1: a\n    0x1: b\n", "1", (4, 3)),
    ],
    ids=["top", "nested", "flow", "quoted", "free-form-mapping", "equal-once-read"],
)
def test_duplicate_keys_are_refused_with_both_lines(
    tmp_path: Path, text: str, key: str, lines: tuple[int, int]
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    msg = exc.value.format_message()
    second, first = lines
    assert f"duplicate key {key!r}" in msg or f"duplicate key {int(key)!r}" in msg, msg
    assert f"at line {second}," in msg and f"first at line {first})" in msg, msg


def test_a_merged_key_may_be_overridden(tmp_path: Path) -> None:
    text = (
        "analysis:\n  impact_rules:\n"
        "    critique: &c {min_error_ratio: 0.3, min_duration: 2h}\n"
        "    majeur: {<<: *c, min_error_ratio: 0.1, min_duration: 30m}\n"
    )
    rules = load_config(write(tmp_path, text))["analysis"]["impact_rules"]
    assert rules["majeur"] == {"min_error_ratio": 0.1, "min_duration": 1800}


def test_duplicate_key_through_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, "language: en\nlanguage: fr\n")
    run = run_bounded("check", "--config", str(path), cwd=tmp_path, timeout=60)
    assert_config_error(run, "duplicate key 'language' (first at line 1)")


# --------------------------------------------------------------------------- ranges


def all_numeric_keys() -> list[tuple[str, str, Key]]:
    out = []
    for section in SECTIONS:
        schema = (
            SCHEMA
            if section == "core"
            else importlib.import_module(f"connectors.{section}").SETTINGS_SCHEMA
        )
        for dotted, key in document_keys(schema):
            spec = key.items or key
            if spec.type in ("int", "float", "ratio", "duration"):
                out.append((section, dotted, key))
    return out


def placed(section: str, dotted: str, value: Any) -> dict[str, Any]:
    """A config dict with ``value`` at ``dotted`` (in a source of that type for a connector key)."""
    data: dict[str, Any] = {}
    node = data
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    if section == "core":
        return data
    return {"sources": {"s": {"type": section, **data}}}


NUMERIC = all_numeric_keys()


@pytest.mark.parametrize("section,dotted,key", NUMERIC, ids=[f"{s}:{d}" for s, d, _ in NUMERIC])
def test_every_numeric_key_declares_and_enforces_its_range(
    section: str, dotted: str, key: Key
) -> None:
    spec = key.items or key
    # A decision for every key: a ratio is [0, 1] unless narrowed, anything else says its floor.
    assert spec.type == "ratio" or spec.minimum is not None or spec.exclusive_minimum is not None, (
        f"{dotted} declares no lower bound"
    )
    name = dotted if section == "core" else f"sources.s.{dotted}"
    wrap = (lambda v: [v]) if key.items else (lambda v: v)
    outside: list[Any] = []
    if spec.exclusive_minimum is not None:
        outside.append(spec.exclusive_minimum)
    elif spec.minimum:
        outside.append(spec.minimum - 1)
    elif spec.type != "duration":  # a negative duration is refused as such by parse_duration
        outside.append(-1)
    high = spec.maximum if spec.maximum is not None else 1 if spec.type == "ratio" else None
    if high is not None:
        outside.append(high + 1)
    for value in outside:
        with pytest.raises(ConfigError) as exc:
            validate(placed(section, dotted, wrap(value)))
        msg = exc.value.format_message()
        assert name in msg and "is out of range; expected " in msg, msg
        assert describe_range(spec) in msg, msg
    if spec.type == "duration":
        with pytest.raises(ConfigError, match=f"{name}.*negative duration"):
            validate(placed(section, dotted, wrap(-1)))
    validate(placed(section, dotted, wrap(key.default if not key.items else key.default[0])))


@pytest.mark.parametrize(
    "text,needle",
    [
        (
            "sources:\n  p:\n    type: prometheus\n    max_points: 0\n",
            "sources.p.max_points: 0 is out of range; expected a whole number between 10 and 11000",
        ),
        (
            "sources:\n  p:\n    type: prometheus\n    max_points: 1\n",
            "sources.p.max_points: 1 is out of range",
        ),
        ("timeout: 0\n", "timeout: 0 is out of range; expected a duration > 0s"),
        (
            "sources:\n  p:\n    type: prometheus\n    timeout: 0s\n",
            "sources.p.timeout: '0s' is out of range",
        ),
        (
            "sources:\n  p:\n    type: prometheus\n    step: 0\n",
            "sources.p.step: 0 is out of range",
        ),
        (
            "analysis:\n  baseline_factor: -2\n",
            "analysis.baseline_factor: -2 is out of range; expected a number > 1",
        ),
        (
            "analysis:\n  baseline_factor: .inf\n",
            "analysis.baseline_factor: expected a number > 1, got inf",
        ),
        (
            "analysis:\n  slo_period: 0\n",
            "analysis.slo_period: 0 is out of range; expected a duration ≥ 1h",
        ),
        ("analysis:\n  consecutive_steps: 0\n", "analysis.consecutive_steps: 0 is out of range"),
        (
            "analysis:\n  thresholds:\n    api: {latency: -0.5}\n",
            "analysis.thresholds.api.latency: -0.5 is out of range; expected a number ≥ 0",
        ),
        ("baseline: 0\n", "baseline: 0 is out of range; expected a duration ≥ 1m"),
        (
            "sources:\n  p:\n    type: prometheus\n    quantiles: [0.5, 99]\n",
            "sources.p.quantiles[1]: 99 is out of range; expected a ratio > 0 and ≤ 1",
        ),
        (
            "sources:\n  p:\n    type: prometheus\n    quantiles: [p99]\n",
            "sources.p.quantiles[0]: expected a ratio > 0 and ≤ 1, got 'p99'",
        ),
        (
            "sources:\n  e:\n    type: elasticsearch\n    retries: 1000000\n",
            "sources.e.retries: 1000000 is out of range; expected a whole number between 0 and 10",
        ),
        (
            "sources:\n  e:\n    type: elasticsearch\n    server_major: 0\n",
            "sources.e.server_major: 0 is out of range",
        ),
        (
            "analysis:\n  impact_rules:\n    critique: {min_error_ratio: 0.01}\n",
            "analysis.impact_rules.critique.min_error_ratio (0.01) is below majeur.min_error_ratio (0.05)",
        ),
        ("output_dir: ''\n", "output_dir: expected a path, got empty text"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_range(
    tmp_path: Path, text: str, needle: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert needle in exc.value.format_message()


def test_every_problem_is_listed_in_one_error(tmp_path: Path) -> None:
    text = (
        "timeout: 0\nanalysis:\n  slo_period: 0\n  baseline_factor: -1\n"
        "redaction:\n  patterns: {ticket: 'T-(['}\n"
        "sources:\n  p:\n    type: prometheus\n    max_points: 1\n"
    )
    run = run_bounded("check", "--config", str(write(tmp_path, text)), cwd=tmp_path)
    assert_config_error(run, "timeout: 0 is out of range")
    for key in ("analysis.slo_period", "analysis.baseline_factor", "redaction.patterns.ticket"):
        assert key in run.err
    assert "sources.p.max_points" in run.err


# --------------------------------------------------------------------------- patterns and paths


@pytest.mark.parametrize(
    "pattern,needle",
    [
        ("(", "invalid regular expression '(': missing ), unterminated subpattern at position 0"),
        ("[a-", "invalid regular expression '[a-'"),
        ("a{2,1}", "invalid regular expression 'a{2,1}'"),
        ("x*", "'x*' matches empty text"),
        ("(ticket)?", "matches empty text"),
        ("", "expected a regular expression, got ''"),
    ],
)
def test_redaction_patterns_are_compiled_at_load(pattern: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Config.from_dict({"redaction": {"patterns": {"ticket": pattern}}})
    msg = exc.value.format_message()
    assert "redaction.patterns.ticket: " in msg and needle in msg, msg


def test_a_valid_pattern_reaches_the_redactor() -> None:
    from pmrecon.redact import Redactor

    cfg = Config.from_dict({"redaction": {"patterns": {"ticket": r"T-\d+"}}})
    assert Redactor.from_config(cfg["redaction"]).redact("see T-42") == "see [REDACTED:ticket]"


def test_template_dir_must_be_an_existing_folder(tmp_path: Path) -> None:
    a_file = tmp_path / "templates.txt"
    a_file.write_text("x")
    with pytest.raises(
        ConfigError, match=r"report.template_dir: .*templates.txt is a regular file, not a folder"
    ):
        Config.from_dict({"report": {"template_dir": str(a_file)}})
    with pytest.raises(ConfigError, match=r"report.template_dir: folder .*nowhere does not exist"):
        Config.from_dict({"report": {"template_dir": str(tmp_path / "nowhere")}})
    for given in (str(tmp_path), tmp_path):  # a Path from Python too
        got = Config.from_dict({"report": {"template_dir": given}})["report"]["template_dir"]
        assert got == str(tmp_path)


def test_tls_files_must_be_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)  # ssl would block reading it
    with pytest.raises(ConfigError, match="sources.p.tls.ca_file: .* is a FIFO"):
        Config.from_dict({"sources": {"p": {"type": "prometheus", "tls": {"ca_file": str(fifo)}}}})
    with pytest.raises(ConfigError, match="sources.e.tls.cert_file: file .* does not exist"):
        Config.from_dict(
            {"sources": {"e": {"type": "elasticsearch", "tls": {"cert_file": "/nonexistent.pem"}}}}
        )


def test_keep_raw_evidence_is_no_longer_supported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, "redaction:\n  keep_raw_evidence: false\n"))
    msg = exc.value.format_message()
    assert "redaction.keep_raw_evidence: no longer supported: log lines are always redacted" in msg
    assert "remove the key" in msg
    docs = (ROOT / "docs" / "security.md").read_text() + (ROOT / "README.md").read_text()
    assert "keep_raw_evidence" not in (ROOT / "config" / "pmrecon.example.yaml").read_text()
    assert "keep_raw_evidence" in docs  # the docs say it went, and why
