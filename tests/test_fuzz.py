"""Property-based fuzzing: arbitrary input never ends in an unhandled exception.

- time parsing (``--from``/``--to``/``--ack`` forms): an aware UTC time or a one-line UsageError;
- config loading (any bytes, any YAML, any unicode, any structure): a Config or a ConfigError;
- error-signature normalisation: a bounded one-line signature for any message;
- redaction: any text, never an exception, never a longer secret-free text than asked;
- rendering: findings derived from evidence whose names, labels, log lines and event texts
  are arbitrary unicode render to Markdown and HTML (no raw HTML, no broken table row), or
  fail with a RenderError, never anything else;
- evidence bundles: any value in any field of any file (the manifest rewritten to match)
  builds, or is an evidence error (exit 4) in one line.

Examples are bounded (``max_examples``) so the whole file stays within seconds.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pmrecon.config import Config, check_timezone, load_config, parse_duration, validate
from pmrecon.errors import ConfigError, RenderError, UsageError
from pmrecon.model import ErrorSignature, Event, LogSample
from pmrecon.redact import Redactor
from pmrecon.report import md_cell, md_code, md_fence_line, md_inline
from pmrecon.timeparse import parse_time, parse_window
from tests.evidence_factory import AlertDecl, Deg, LogDecl, Svc, T
from tests.evidence_factory import build as build_evidence

ZONES = ["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati"]
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
#: No shrinking: a failure is reported as found, so a failing run stays as short as a passing one.
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
FAST = settings(max_examples=150, deadline=None, phases=NO_SHRINK)

#: Text that looks like what a user types, and anything at all.
time_like = st.one_of(
    st.text(),
    st.from_regex(r"now\s*[-+]?\s*\d{0,25}(\.\d{0,5})?\s*[smhdwy]?", fullmatch=True),
    st.from_regex(r"-?\d{1,14}(\.\d{0,12})?", fullmatch=True),
    st.from_regex(
        r"\d{1,5}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d{1,9})?)?(Z|[+-]\d{1,2}:?\d{2})?",
        fullmatch=True,
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)


# --------------------------------------------------------------------------- time parsing


@FAST
@given(value=time_like, tz=st.sampled_from(ZONES))
def test_parse_time_gives_an_aware_utc_time_or_a_usage_error(value: str, tz: str) -> None:
    try:
        got = parse_time(value, tz, now=NOW, option="--ack")
    except UsageError as exc:
        message = exc.format_message()
        assert message.startswith("--ack: ") and "\n" not in message
        return
    assert got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)


@FAST
@given(start=time_like, end=time_like, tz=st.sampled_from(ZONES))
def test_parse_window_gives_an_ordered_pair_or_a_usage_error(start: str, end: str, tz: str) -> None:
    try:
        window = parse_window(start, end, tz, now=NOW)
    except UsageError as exc:
        assert "\n" not in exc.format_message()
        return
    assert window.start < window.end <= NOW + dt.timedelta(seconds=60)
    assert window.seconds <= 7 * 86400


@FAST
@given(when=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_rfc3339_round_trips(when: dt.datetime) -> None:
    aware = when.replace(tzinfo=dt.timezone.utc, microsecond=0)
    text = aware.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_time(text, "Europe/Paris", now=NOW) == aware


@FAST
@given(
    value=st.one_of(
        st.text(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
    )
)
def test_parse_duration_gives_seconds_or_a_value_error(value: Any) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    assert 0 <= seconds < float("inf")


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), "50000d", 10**400], ids=["nan", "inf", "50000d", "huge"]
)
def test_parse_duration_refuses_non_finite_values(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


# --------------------------------------------------------------------------- config loading

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
keys = st.one_of(
    st.sampled_from(
        [
            "timezone", "language", "title", "max_window", "baseline", "services",
            "output_dir", "timeout", "sources", "analysis", "report", "redaction", "scan",
            "type", "url", "hosts", "bearer_token", "password", "patterns", "tls", "alerts",
            "slis", "headers", "index", "fields", "enabled", "preset", "retries",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
source_types = st.sampled_from(["prometheus", "alertmanager", "elasticsearch", "bundle", "nope"])


@st.composite
def configs(draw: st.DrawFn) -> dict[Any, Any]:
    """A config-shaped tree: real keys and sources, with arbitrary values anywhere."""
    data = draw(st.dictionaries(keys, trees, max_size=6))
    if draw(st.booleans()):
        data["sources"] = {
            draw(st.text(min_size=1, max_size=8)): {"type": draw(source_types), **draw(
                st.dictionaries(keys, trees, max_size=4)
            )}
            for _ in range(draw(st.integers(0, 3)))
        }  # fmt: skip
    return data


@pytest.mark.parametrize("name", ["America", "Etc", "x" * 300])
def test_timezone_folders_and_long_names_are_config_errors(name: str) -> None:
    with pytest.raises(ValueError):
        check_timezone(name)


def _load_text(text: str | bytes, env: dict[str, str] | None = None) -> Config:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pmrecon.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return load_config(path, env=env or {})


def _assert_config(cfg: Config) -> None:
    assert isinstance(cfg.data["sources"], dict)
    assert cfg.data["language"] in ("fr", "en")
    assert isinstance(cfg.secrets, list)


@FAST
@given(text=st.text())
def test_any_text_config_loads_or_fails_once(text: str) -> None:
    try:
        cfg = _load_text(text)
    except ConfigError as exc:
        assert "\n" not in exc.format_message()
        return
    _assert_config(cfg)


@settings(max_examples=100, deadline=None, phases=NO_SHRINK)
@given(data=st.binary(max_size=300))
def test_any_bytes_config_loads_or_fails_once(data: bytes) -> None:
    try:
        cfg = _load_text(data)
    except ConfigError as exc:
        assert "\n" not in exc.format_message()
        return
    _assert_config(cfg)


@settings(
    max_examples=100, deadline=None, phases=NO_SHRINK, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    data=configs(),
    env=st.dictionaries(
        st.from_regex(r"[A-Z_]{1,6}", fullmatch=True), st.text(max_size=10), max_size=3
    ),
)
def test_any_yaml_config_loads_or_fails_once(data: dict[Any, Any], env: dict[str, str]) -> None:
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    try:
        cfg = _load_text(text, env)
    except ConfigError as exc:
        assert "\n" not in exc.format_message()
        return
    _assert_config(cfg)


@settings(max_examples=150, deadline=None, phases=NO_SHRINK)
@given(data=configs())
def test_validate_any_structure(data: dict[Any, Any]) -> None:
    try:
        out = validate(data)
    except ConfigError:
        return
    assert set(out) >= {"timezone", "sources", "analysis", "report", "redaction"}


@FAST
@given(value=st.text(), var=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True))
def test_env_interpolation_of_any_value(value: str, var: str) -> None:
    text = yaml.safe_dump({"title": "${" + var + "}", "output_dir": "${" + var + ":-x}"})
    try:
        cfg = _load_text(text, {var: value})
    except ConfigError:
        return
    assert cfg["title"] == value


# --------------------------------------------------------------------------- signatures and redaction


@FAST
@given(
    message=st.one_of(st.text(), st.text(alphabet=string.printable + "éü☃\u2028\x85", min_size=500))
)
def test_signature_normalisation_is_total_and_bounded(message: str) -> None:
    signatures = pytest.importorskip("connectors.signatures")
    sig = signatures.normalise(message)
    assert isinstance(sig, str) and sig
    assert len(sig) <= signatures.MAX_LENGTH
    assert not any(c in sig for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    assert signatures.normalise(sig) == signatures.normalise(signatures.normalise(sig))


@FAST
@given(text=st.text(), ips=st.booleans(), extra=st.sampled_from([{}, {"ticket": r"TICK-\d+"}]))
def test_redaction_is_total(text: str, ips: bool, extra: dict[str, str]) -> None:
    secret = "s3cr3t-value"
    redactor = Redactor.from_config(
        {"enabled": True, "ip_addresses": ips, "patterns": extra}, secrets=[secret]
    )
    out = redactor.redact(text + " " + secret)
    assert isinstance(out, str) and secret not in out
    assert redactor.counts["secret"] >= 1


@FAST
@given(text=st.text())
def test_markdown_escapes_keep_text_on_one_line(text: str) -> None:
    for fn in (md_inline, md_cell, md_code, md_fence_line):
        out = fn(text)
        assert "\n" not in out and "\r" not in out
    assert not re.search(r"(?<!\\)\|", md_cell(text))
    assert "```" not in md_fence_line(text)


# --------------------------------------------------------------------------- rendering

hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
W0, W1 = T("2026-03-01 09:00"), T("2026-03-01 11:00")


def _render(
    service: str, alert: str, message: str, event: str, label: str, title: str, lang: str
) -> tuple[str, str]:
    """The post-mortem Markdown and HTML for evidence carrying these strings."""
    from pmrecon.api import analyse_evidence
    from pmrecon.output import log_lines, notices
    from pmrecon.report import make_environment, render, render_report_html, report_context

    ev = build_evidence(
        W0,
        W1,
        [Svc(service, rps=20, phases=[Deg(T("2026-03-01 09:40"), T("2026-03-01 10:10"), 0.3)])],
        alerts=[AlertDecl(alert, service, [(T("2026-03-01 09:44"), T("2026-03-01 10:10"))])],
        logs=LogDecl(
            bursts=[(T("2026-03-01 09:40"), T("2026-03-01 10:10"), service, 40)],
            signatures=[
                ErrorSignature(
                    message, 12, T("2026-03-01 09:40"), T("2026-03-01 10:09"), [service], True
                )
            ],
        ),
        events=[Event(T("2026-03-01 10:02"), "rollback", label, event)],
    )
    assert ev.logs is not None
    ev.logs.samples.append(LogSample(T("2026-03-01 09:41"), "error", service, message))
    ev.alerts[0].labels["team"] = label
    ev.alerts[0].annotations["summary"] = message
    config = Config(validate({"language": lang, "timezone": "Europe/Paris"}))
    findings = analyse_evidence(ev, config, {})
    env = make_environment(None, lang, "Europe/Paris")
    context = report_context(
        findings,
        lang=lang,
        tz="Europe/Paris",
        title=title,
        notices=notices(findings, lang, env.filters["dt"], dict(ev.logs.redactions)),
        log_lines=log_lines(ev, 20),
        graphs=[],
        links={},
        created="2026-03-01T12:00:00Z",
        generated="2026-03-01T12:00:00Z",
    )
    md = render(f"postmortem.{lang}.md.j2", context, env)
    html_env = make_environment(None, lang, "Europe/Paris", html=True)
    html = render_report_html(html_env, f"report.{lang}.html.j2", context, md, [])
    return md, html


@settings(
    max_examples=15, deadline=None, phases=NO_SHRINK, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    service=hostile_text,
    alert=hostile_text,
    message=hostile_text,
    event=hostile_text,
    label=hostile_text,
    title=hostile_text,
    lang=st.sampled_from(["fr", "en"]),
)
def test_findings_with_arbitrary_unicode_render(
    service: str, alert: str, message: str, event: str, label: str, title: str, lang: str
) -> None:
    try:
        md, html = _render(service, alert, message, event, label, title, lang)
    except RenderError as exc:  # allowed, as one line; never any other exception
        assert "\n" not in exc.format_message()
        return
    assert md.startswith("# ")
    _assert_markdown_safe(md)
    _assert_html_safe(html)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "| a | b |",
        "```\nfenced",
        "line\nbreak\r\u2028sep\x85",
        "`",
        "\\",
        "[x](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "{{ 7*7 }}{% raw %}",
        "\x00\x01\x1b[31m",
        "‮evil‬",
        "#" * 10,
    ],
)
def test_known_hostile_strings_render(text: str) -> None:
    md, html = _render(text, text, text, text, text, text, "fr")
    _assert_markdown_safe(md)
    _assert_html_safe(html)
    assert "49" not in md.split("\n", 1)[0]  # a title is text, never a template


def _assert_markdown_safe(md: str) -> None:
    from markdown_it import MarkdownIt

    for token in MarkdownIt("commonmark").enable("table").parse(md):
        for tok in [token, *(token.children or [])]:
            if tok.type in ("html_inline", "html_block"):
                assert tok.content.lstrip().startswith("<!--"), tok.content
            if tok.type == "link_open":
                href = str(tok.attrs.get("href", ""))
                assert not href.lower().startswith(("javascript:", "data:", "vbscript:")), href


def _assert_html_safe(html: str) -> None:
    """No event handler, no script URL, no script holding data: hostile text stayed text."""
    from html.parser import HTMLParser

    problems: list[str] = []

    class Checker(HTMLParser):
        in_script = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.in_script = tag == "script"
            for name, value in attrs:
                if name.startswith("on"):
                    problems.append(f"<{tag} {name}=…>")
                url = (value or "").strip().lower()
                if name in ("href", "src", "action") and url.startswith(
                    ("javascript:", "vbscript:", "data:text/html")
                ):
                    problems.append(f"<{tag} {name}={value}>")

        def handle_endtag(self, tag: str) -> None:
            self.in_script = False

        def handle_data(self, data: str) -> None:
            if self.in_script and "alert(1)" in data:
                problems.append("data inside a <script>")

    Checker().feed(html)
    assert problems == [], problems
    assert html.count("<html") == 1


# --------------------------------------------------------------------------- evidence bundles

#: Any JSON value, with the numbers and texts most likely to break a reader of times and figures.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 1e20, 0, -1, 5e-324, 2**63])
    | st.text(max_size=12)
    | st.sampled_from(
        ["2026-03-01T10:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "x"]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (the first items of long lists only)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            found += _nodes(item, (*path, i))
    return found


@pytest.fixture(scope="module")
def built_bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of a bundle as a build writes it (build.json included)."""
    from connectors.bundle import write_bundle
    from pmrecon.cli import main
    from tests.report_data import evidence

    root = tmp_path_factory.mktemp("bundle")
    write_bundle(evidence(0.3, "2026-03-01 10:10"), root / "raw")
    with pytest.raises(SystemExit) as done:
        main(["build", "--source", str(root / "raw"), "-o", str(root / "out"), "--no-png"])
    assert done.value.code in (0, None)
    folder = root / "out" / "evidence"
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@settings(max_examples=25, deadline=None, phases=NO_SHRINK, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_bundle_content_builds_or_is_an_evidence_error(
    built_bundle: dict[str, bytes], data: st.DataObject
) -> None:
    """One node of one file replaced by any JSON value, the manifest rewritten to match (as a
    forger would): the build succeeds (maybe with warnings) or exits 4 in one line."""
    import contextlib
    import hashlib
    import io
    import json

    from connectors.bundle import MANIFEST
    from pmrecon.cli import main
    from tests import schemacheck

    files = dict(built_bundle)
    name = data.draw(st.sampled_from(sorted(n for n in files if n.endswith(".json"))))
    document = json.loads(files[name])
    path = data.draw(st.sampled_from(_nodes(document)))
    value = data.draw(json_values)
    if path:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    else:
        document = value
    files[name] = json.dumps(document).encode()
    if name != MANIFEST:
        manifest = json.loads(files[MANIFEST])
        manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
        files[MANIFEST] = json.dumps(manifest).encode()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        for file, content in files.items():
            (folder / file).write_bytes(content)
        schemacheck.exempt(folder / MANIFEST)
        err = io.StringIO()
        args = ["build", "--source", str(folder), "-o", str(Path(tmp) / "out"), "--no-png"]
        with (
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
            pytest.raises(SystemExit) as done,
        ):
            main(args)
        code = done.value.code or 0
        errors = [line for line in err.getvalue().splitlines() if "error" in line]
        assert code in (0, 4, 7) and "Traceback" not in err.getvalue(), (
            name,
            path,
            value,
            err.getvalue(),
        )
        assert code == 0 or len(errors) == 1, err.getvalue()
