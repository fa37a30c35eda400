from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmrecon.config import (
    SCHEMA,
    Config,
    Key,
    document_keys,
    find_config_file,
    load_config,
    parse_duration,
    validate,
)
from pmrecon.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    p = tmp_path / "pmrecon.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMRECON_CONFIG", raising=False)
    cfg = load_config(None)
    assert cfg["timezone"] == "UTC" and cfg["language"] == "fr"
    assert cfg["analysis"]["stability_period"] == 600
    assert cfg["max_window"] == 7 * 86400


def test_lookup_order(tmp_path, monkeypatch):
    local = write(tmp_path, "language: en\n")
    other = tmp_path / "other.yaml"
    other.write_text("timezone: Europe/Paris\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMRECON_CONFIG", raising=False)
    assert find_config_file(None) == local
    monkeypatch.setenv("PMRECON_CONFIG", str(other))
    assert find_config_file(None) == other
    assert load_config(find_config_file())["timezone"] == "Europe/Paris"
    assert find_config_file(local) == local
    assert load_config(local)["language"] == "en"
    local.unlink()
    monkeypatch.delenv("PMRECON_CONFIG")
    assert find_config_file(None) is None


def test_the_library_reads_no_file_it_was_not_given(tmp_path, monkeypatch):
    """Only the command line looks for ./pmrecon.yaml and $PMRECON_CONFIG."""
    write(tmp_path, "language: en\n")
    other = tmp_path / "other.yaml"
    other.write_text("timezone: Europe/Paris\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PMRECON_CONFIG", str(other))
    cfg = load_config(None)
    assert cfg.path is None
    assert cfg["language"] == "fr" and cfg["timezone"] == "UTC"


def test_from_dict_is_the_file_loader_without_the_file(tmp_path, monkeypatch):
    text = "timezone: Europe/Paris\nanalysis:\n  stability_period: 5m\n"
    from_file = load_config(write(tmp_path, text))
    monkeypatch.chdir(tmp_path)  # a ./pmrecon.yaml that from_dict must not read
    cfg = Config.from_dict({"timezone": "Europe/Paris", "analysis": {"stability_period": "5m"}})
    assert cfg.path is None and cfg.data == from_file.data
    assert cfg["language"] == "fr" and cfg["analysis"]["stability_period"] == 300
    assert cfg["analysis"]["consecutive_steps"] == 3


def test_from_dict_refuses_what_the_file_loader_refuses(tmp_path):
    bad = {"timezon": "UTC", "language": "de", "analysis": {"consecutive_steps": -1}}
    with pytest.raises(ConfigError) as from_file:
        load_config(
            write(tmp_path, "timezon: UTC\nlanguage: de\nanalysis:\n  consecutive_steps: -1\n")
        )
    with pytest.raises(ConfigError) as from_dict:
        Config.from_dict(bad)
    where = str(tmp_path / "pmrecon.yaml")
    # The same problems; the file's carry where they are written, as compilers print it
    assert from_file.value.format_message() == (
        f"{where}:1:1: unknown key 'timezon' (did you mean 'timezone'?); "
        f"{where}:2:1: language: expected one of fr, en, got 'de'; "
        f"{where}:4:3: analysis.consecutive_steps: -1 is out of range; expected a whole number ≥ 1"
    )
    assert from_dict.value.format_message() == (
        "configuration: unknown key 'timezon' (did you mean 'timezone'?); "
        "language: expected one of fr, en, got 'de'; "
        "analysis.consecutive_steps: -1 is out of range; expected a whole number ≥ 1"
    )
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        Config.from_dict(["language", "en"])  # type: ignore[arg-type]


def test_from_dict_keeps_its_own_copy():
    given = {"services": ["checkout"], "redaction": {"patterns": {"ticket": "T-[0-9]+"}}}
    cfg = Config.from_dict(given)
    given["services"].append("cart")
    given["redaction"]["patterns"]["card"] = "[0-9]{16}"
    assert cfg["services"] == ["checkout"]
    assert cfg["redaction"]["patterns"] == {"ticket": "T-[0-9]+"}


def test_every_bad_key_reported_once_with_nearest(tmp_path):
    p = write(
        tmp_path,
        "timezon: UTC\nlanguage: de\nanalysis:\n  stabilty_period: 5m\n  consecutive_steps: -1\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = exc.value.format_message()
    assert "'timezon'" in msg and "did you mean 'timezone'" in msg
    assert "analysis.'stabilty_period'" in msg or "stabilty_period" in msg
    assert "stability_period" in msg
    assert "language" in msg and "consecutive_steps" in msg
    assert "\n" not in msg


def test_env_interpolation_and_missing_variable(tmp_path):
    p = write(tmp_path, "title: ${PM_TITLE}\noutput_dir: ${PM_OUT:-reports}\n")
    cfg = load_config(p, env={"PM_TITLE": "Panne checkout"})
    assert cfg["title"] == "Panne checkout" and cfg["output_dir"] == "reports"
    with pytest.raises(ConfigError, match="PM_TITLE not set"):
        load_config(p, env={})


def test_overrides_win_over_file(tmp_path):
    p = write(tmp_path, "language: en\ntimezone: UTC\n")
    cfg = load_config(p, {"language": "fr", "timezone": None})
    assert cfg["language"] == "fr" and cfg["timezone"] == "UTC"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("timezone: Mars/Olympus\n", "unknown time zone"),
        ("- a\n- b\n", "must hold a mapping"),
        ("a: [\n", "not valid YAML at line"),
        ("max_window: forever\n", "not a duration"),
        ("sources:\n  p:\n    type: promethues\n", "did you mean 'prometheus'"),
        ("analysis:\n  slo_target: 99.9\n", "between 0 and 1"),
        ("report:\n  png: maybe\n", "true or false"),
    ],
)
def test_invalid_values(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(write(tmp_path, text))


def test_durations():
    assert (
        parse_duration("90s") == 90 and parse_duration("5m") == 300 and parse_duration("2h") == 7200
    )
    assert parse_duration(15) == 15 and parse_duration("1d") == 86400
    for bad in ("-5m", "5 minutes", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.parametrize(
    "section", ["core", "prometheus", "alertmanager", "elasticsearch", "opensearch"]
)
def test_every_key_is_documented_in_the_example_config(section):
    import importlib

    example = (ROOT / "config" / "pmrecon.example.yaml").read_text(encoding="utf-8")
    schema = (
        SCHEMA
        if section == "core"
        else importlib.import_module(f"connectors.{section}").SETTINGS_SCHEMA
    )
    for dotted, key in document_keys(schema):
        assert key.doc, f"{dotted} has no description"
        leaf = dotted.split(".")[-1]
        assert f"{leaf}:" in example, f"{dotted} is not in config/pmrecon.example.yaml"


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_TOKEN", "t")
    monkeypatch.setenv("ES_API_KEY", "k")
    cfg = load_config(ROOT / "config" / "pmrecon.example.yaml")
    assert cfg["sources"]


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_validation_never_crashes(data):
    try:
        validate(data if isinstance(data, dict) else {"x": data})
    except ConfigError as exc:
        assert "\n" not in exc.format_message()


def test_key_type_is_frozen():
    with pytest.raises(AttributeError):
        Key("str").type = "int"  # type: ignore[misc]
