"""Unit tests: PromQL helpers, alert interval building, and the connector's parsing of
recorded Prometheus answers (tests/recorded/prometheus) replayed by a local HTTP server."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import (
    PRESETS,
    SETTINGS_SCHEMA,
    PrometheusSource,
    build_alerts,
    find_preset,
    load_preset,
    redact_url,
)
from connectors.prometheus.alerts import render_annotations
from connectors.prometheus.identity import ServiceId, label_names
from connectors.prometheus.server import go_duration
from connectors.prometheus.slis import template_values
from connectors.promql import (
    Raw,
    TemplateError,
    choose_step,
    escape_string,
    format_duration,
    label_matcher,
    metric_names,
    regex_quote,
    string_literal,
    substitute,
)
from pmrecon.config import Config, validate
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.model import Window, to_jsonable
from tests.infra.prometheus import FakeHTTPServer

REC = Path(__file__).parents[1] / "recorded" / "prometheus"
UTC = dt.timezone.utc
FLAPPING = Window(
    dt.datetime(2026, 1, 19, 13, 30, tzinfo=UTC), dt.datetime(2026, 1, 19, 15, 30, tzinfo=UTC)
)


def rec(name: str) -> dict:
    return json.loads((REC / name).read_text())


def at(hhmm: str) -> dt.datetime:
    h, m = hhmm.split(":")
    return dt.datetime(2026, 1, 19, int(h), int(m), tzinfo=UTC)


# --------------------------------------------------------------------------- PromQL helpers


def unquote(literal: str) -> str:
    """Read a double-quoted PromQL (Go) string the way the PromQL lexer does."""
    assert literal[0] == literal[-1] == '"'
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        assert ch != '"', "unescaped quote inside the literal"
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                out.append(chr(int(body[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append({"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@given(st.text())
@settings(max_examples=300)
def test_string_literal_round_trips(value: str) -> None:
    assert unquote(string_literal(value)) == value


@given(st.text())
@settings(max_examples=300)
def test_substituted_service_stays_one_literal(value: str) -> None:
    query = substitute(
        "sum(rate(x{service=$service}[$window]))", {"service": value, "window": Raw("60s")}
    )
    m = re.fullmatch(r'sum\(rate\(x\{service=("(?:[^"\\]|\\.)*")\}\[60s\]\)\)', query, re.DOTALL)
    assert m, query
    assert unquote(m.group(1)) == value


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_regex_quote_matches_only_itself(value: str) -> None:
    # RE2 and Python agree on these escapes
    assert re.fullmatch(regex_quote(value), value, re.DOTALL)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("x{s=$service}", 'x{s="a\\"b"}'),
        ('x{s="$service"}', 'x{s="a\\"b"}'),
        ("x{s=${service}}", 'x{s="a\\"b"}'),
        ('x{s=~"$service-.*"}', 'x{s=~"a\\"b-.*"}'),
        ("x{s=~$service}", 'x{s=~"a\\"b"}'),
        ("rate(x[$window]) > $quantile", "rate(x[60s]) > 0.99"),
        ("increase(x[$step])", "increase(x[30s])"),
    ],
)
def test_substitute_contexts(template: str, expected: str) -> None:
    values = {"service": 'a"b', "window": Raw("60s"), "step": Raw("30s"), "quantile": 0.99}
    assert substitute(template, values) == expected


def test_substitute_regex_context_quotes_metacharacters() -> None:
    assert substitute("x{s=~$service}", {"service": "a.b(c)"}) == 'x{s=~"a\\\\.b\\\\(c\\\\)"}'
    assert substitute("x{s!~$service}", {"service": "a|b"}) == 'x{s!~"a\\\\|b"}'


def test_substitute_rejects_unknown_placeholders() -> None:
    with pytest.raises(TemplateError, match=r"unknown placeholder \$servce"):
        substitute("x{s=$servce}", {"service": "a"})


def test_escape_string_control_characters() -> None:
    assert escape_string("a\nb\x01") == "a\\nb\\x01"


@pytest.mark.parametrize(
    ("window", "min_step", "step"),
    [
        (9000, 15, 15),
        (3600, 1, 1),
        (7 * 86400, 15, 60),
        (30 * 86400, 15, 300),
        (3600, 45, 60),
        (60, 15, 15),
    ],
)
def test_choose_step(window: float, min_step: float, step: int) -> None:
    assert choose_step(window, min_step) == step


@given(st.floats(min_value=60, max_value=400 * 86400), st.sampled_from([1, 5, 10, 15, 30, 60]))
def test_choose_step_bounds(window: float, scrape: float) -> None:
    step = choose_step(window, scrape)
    assert step >= scrape
    assert window / step + 1 <= 11_000


def test_format_duration() -> None:
    assert format_duration(60) == "60s"
    assert format_duration(1.5) == "1500ms"
    with pytest.raises(TemplateError):
        format_duration(0)


def test_label_matcher() -> None:
    assert label_matcher("service", "a") == 'service="a"'
    assert label_matcher("service", "=~a|b") == 'service=~"a|b"'
    assert label_matcher("service", '!=x"y') == 'service!="x\\"y"'
    with pytest.raises(TemplateError):
        label_matcher('bad"} or {x', "a")


@pytest.mark.parametrize(
    ("query", "names"),
    [
        (
            '(sum(rate(a_total{s="x",c=~"5.."}[1m])) or vector(0)) / sum(rate(a_total{s="x"}[1m]))',
            ["a_total"],
        ),
        ('histogram_quantile(0.99, sum by (le) (rate(h_bucket{a="x"}[60s])))', ["h_bucket"]),
        ("sum(foo offset 5m) > bar", ["foo", "bar"]),
        ("rate(x[5m]) * on (pod) group_left(node) kube_pod_info", ["x", "kube_pod_info"]),
        ("sum(rate(x[5m])) by (a) > 1e3", ["x"]),
        ("ns:rule:rate5m > 0.5", ["ns:rule:rate5m"]),
    ],
)
def test_metric_names(query: str, names: list[str]) -> None:
    assert metric_names(query) == names


def test_redact_url() -> None:
    assert redact_url("https://u:p@h:9090/x?y=1") == "https://***@h:9090/x?y=1"
    assert redact_url("http://h:9090") == "http://h:9090"


def test_go_duration() -> None:
    assert float(go_duration("1m30s")) == 90
    assert float(go_duration("15s")) == 15
    assert float(go_duration("1h")) == 3600


def test_render_annotations() -> None:
    got = render_annotations(
        {"s": "{{ $labels.service }} on {{$labels.instance}} ({{ $value }})"}, {"service": "a"}
    )
    assert got == {"s": "a on {{$labels.instance}} ({{ $value }})"}


# --------------------------------------------------------------------------- presets and settings


@pytest.mark.parametrize("name", PRESETS)
def test_presets_define_every_request_sli(name: str) -> None:
    preset = load_preset(name)
    assert find_preset(name).name == f"{name}.yaml"
    assert preset["service_label"] and preset["status_label"] and preset["discover"]
    assert preset["description"]
    identity = label_names(preset["service_label"], "service_label")
    svc = ServiceId(tuple((k, f"v{i}") for i, k in enumerate(identity)))
    for kind in ("error_ratio", "latency", "throughput", "requests_total", "requests_bad"):
        tpl = preset["slis"][kind]
        query = substitute(
            tpl, {**template_values(svc, preset["status_label"], 60, 30), "quantile": 0.99}
        )
        assert "$" not in query and metric_names(query), (kind, query)
        # every selector of the query names the whole identity (no label hard-coded)
        for selector in re.findall(r"\{([^}]*)\}", query):
            assert svc.selector() in selector, (kind, query)
        if kind in ("error_ratio", "requests_bad"):
            assert f'{preset["status_label"]}=~"5.."' in query


def test_presets_are_found_in_the_installed_package_first(tmp_path, monkeypatch) -> None:
    """In a wheel the presets live in pmrecon/config/presets; the checkout copy is the fallback."""
    import importlib.resources

    pkg = tmp_path / "pmrecon"
    (pkg / "config" / "presets").mkdir(parents=True)
    (pkg / "config" / "presets" / "micrometer.yaml").write_text("service_label: app\nslis: {}\n")
    monkeypatch.setattr(
        importlib.resources, "files", lambda name: pkg if name == "pmrecon" else None
    )
    assert find_preset("micrometer") == pkg / "config" / "presets" / "micrometer.yaml"
    assert load_preset("micrometer")["service_label"] == "app"
    # not in the package: the checkout's config/presets
    assert find_preset("ingress_nginx").parent.parts[-2:] == ("config", "presets")
    assert find_preset("ingress_nginx") != pkg / "config" / "presets" / "ingress_nginx.yaml"


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="preset 'nope' not found"):
        find_preset("nope")


def test_settings_schema_validates_and_knows_its_secrets() -> None:
    raw = {
        "sources": {
            "prom": {
                "type": "prometheus",
                "url": "https://prom.example.com/prometheus",
                "bearer_token": "t0k",
                "password": "pw",
                "username": "u",
                "timeout": "10s",
                "preset": "micrometer",
                "alerts": {"severities": ["critical"]},
            }
        }
    }
    data = validate(raw)
    prom = data["sources"]["prom"]
    assert prom["timeout"] == 10 and prom["tls"]["verify"] is True and prom["max_concurrency"] == 4
    # the token, the password, and the Basic header built from them: base64("u:pw")
    basic = base64.b64encode(b"u:pw").decode()
    assert sorted(Config(data).secrets) == sorted(["pw", "t0k", basic])
    with pytest.raises(ConfigError, match="did you mean"):
        validate({"sources": {"prom": {"type": "prometheus", "presett": "micrometer"}}})
    with pytest.raises(ConfigError, match="preset"):
        validate({"sources": {"prom": {"type": "prometheus", "preset": "nginx"}}})
    assert SETTINGS_SCHEMA["bearer_token"].secret and SETTINGS_SCHEMA["password"].secret


def test_slis_can_be_turned_off() -> None:
    src = PrometheusSource("p", {"slis": {"uptime": "off", "throughput": ""}}, SourceContext())
    assert "uptime" not in src.templates and "throughput" not in src.templates
    assert "error_ratio" in src.templates


# --------------------------------------------------------------------------- build_alerts


def _matrix(name: str) -> dict:
    out = {}
    for item in rec(name)["data"]["result"]:
        labels = tuple(sorted((k, v) for k, v in item["metric"].items() if k != "__name__"))
        out[labels] = {float(x): float(v) for x, v in item["values"]}
    return out


def test_build_alerts_from_recorded_flapping_samples() -> None:
    (alert,) = build_alerts(
        _matrix("alerts_flapping.json"),
        _matrix("alerts_for_state_flapping.json"),
        FLAPPING,
        default_eval=15,
    )
    assert (
        alert.name == "HighErrorRate" and alert.severity == "critical" and alert.service == "search"
    )
    assert [(iv.start, iv.end) for iv in alert.firing] == [
        (at("14:13"), at("14:18")),
        (at("14:22"), at("14:26")),
        (at("14:30"), at("14:40")),
        (at("14:44"), at("14:51")),
    ]
    assert [(iv.start, iv.end) for iv in alert.pending][0] == (at("14:12"), at("14:13"))
    assert alert.active_at == at("14:12")
    assert not any(iv.open_end or iv.open_start for iv in alert.firing + alert.pending)


def test_build_alerts_cut_by_the_window_is_open() -> None:
    window = Window(at("14:35"), at("14:47"))
    (alert,) = build_alerts(
        _matrix("alerts_flapping.json"),
        _matrix("alerts_for_state_flapping.json"),
        window,
        default_eval=15,
    )
    first, last = alert.firing[0], alert.firing[-1]
    assert first.start == at("14:35") and first.open_start and first.end == at("14:40")
    assert last.start == at("14:44") and last.end == at("14:47") and last.open_end
    # activeAt of the activation seen first in the window (14:29), before the window
    assert alert.active_at == at("14:29")


def test_build_alerts_gap_threshold_and_rule_interval() -> None:
    t0 = at("10:00").timestamp()
    labels = (("alertname", "A"), ("alertstate", "firing"))
    # samples every 15 s with one 22.5-s gap (not a split) and one 30-s gap (a split)
    times = [t0, t0 + 15, t0 + 37.5, t0 + 52.5, t0 + 82.5, t0 + 97.5]
    raw = {labels: dict.fromkeys(times, 1.0)}
    window = Window(at("09:00"), at("11:00"))
    (alert,) = build_alerts(raw, {}, window, default_eval=15)
    assert [(iv.start.timestamp() - t0, iv.end.timestamp() - t0) for iv in alert.firing] == [
        (0, 67.5),
        (82.5, 112.5),
    ]
    # the rule group's interval (60 s) wins over the global one: no split at all
    rules = {"A": [{"labels": {}, "annotations": {"summary": "s"}, "interval": 60.0}]}
    (alert,) = build_alerts(raw, {}, window, default_eval=15, rules=rules)
    assert len(alert.firing) == 1 and alert.firing[0].end.timestamp() == t0 + 97.5 + 60
    assert alert.annotations == {"summary": "s"}


@given(
    st.lists(st.integers(min_value=0, max_value=479), min_size=1, max_size=60, unique=True),
    st.sampled_from([15.0, 30.0, 60.0]),
)
def test_build_alerts_invariants(ticks: list[int], eval_s: float) -> None:
    """Whatever the samples: intervals sorted, disjoint, inside the window, one per run."""
    window = Window(at("10:00"), at("12:00"))
    t0 = window.start.timestamp()
    times = sorted(t0 + k * 15.0 for k in ticks)
    raw = {(("alertname", "A"), ("alertstate", "firing")): dict.fromkeys(times, 1.0)}
    (alert,) = build_alerts(raw, {}, window, default_eval=eval_s)
    ivs = alert.firing
    gaps = sum(1 for a, b in zip(times, times[1:]) if b - a > 1.5 * eval_s)
    assert len(ivs) == gaps + 1
    for iv in ivs:
        assert window.start <= iv.start < iv.end <= window.end
    for a, b in zip(ivs, ivs[1:]):
        assert a.end < b.start
    assert ivs[0].start.timestamp() == times[0]
    assert ivs[-1].end.timestamp() == min(times[-1] + eval_s, window.end.timestamp())


# --------------------------------------------------------------------------- replayed server


def replay(
    prefix: str = "",
    delay: float = 0.0,
    fail_first: dict[str, list[int]] | None = None,
    missing: tuple[str, ...] = (),
):  # noqa: ANN201
    """A handler answering from the recordings; ``fail_first[path]`` statuses are answered first."""
    fails = {k: list(v) for k, v in (fail_first or {}).items()}
    lock = threading.Lock()
    by_metric = {
        "ratio_metric": (200, "error_ratio_search.json"),
        "nan_metric": (200, "nan_ratio_search.json"),
        "warned_metric": (200, "with_warnings.json"),
        "bad_metric": (400, "bad_query_400.json"),
    }

    def handler(req):  # noqa: ANN001, ANN202
        if not req.path.startswith(prefix):
            return 404, "404 page not found"
        path = req.path[len(prefix) :]
        with lock:
            if fails.get(path):
                status = fails[path].pop(0)
                return status, {
                    "status": "error",
                    "errorType": "unavailable",
                    "error": "overloaded",
                }
        if path in missing:
            return 404, "404 page not found"
        if path == "/api/v1/status/buildinfo":
            return 200, rec("buildinfo.json")
        if path == "/api/v1/status/config":
            return 200, rec("config.json")
        if path == "/api/v1/rules":
            return 200, rec("rules.json")
        if path.startswith("/api/v1/label/") or path == "/api/v1/labels":
            # lookups of metric and label names (changes seen in metrics, breakdowns): none
            return 200, {"status": "success", "data": []}
        q = req.params.get("query", "")
        if path == "/api/v1/query":
            if q.startswith("ALERTS_FOR_STATE"):
                return 200, rec("alerts_for_state_flapping.json")
            if q.startswith("ALERTS"):
                return 200, rec("alerts_flapping.json")
            if q.startswith("count by (service,"):
                return 200, rec("discover_search.json")
            return 200, {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]},
            }
        if path == "/api/v1/query_range":
            time.sleep(delay)
            for metric, (status, name) in by_metric.items():
                if q.startswith(metric):
                    return status, rec(name)
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}
        return 404, "404 page not found"

    return handler


REPLAY_SLIS = {
    "error_ratio": "ratio_metric{service=$service}",
    "latency": "off",
    "throughput": "warned_metric{service=$service}",
    "requests_total": "off",
    "requests_bad": "off",
    "uptime": "bad_metric{service=$service}",
}


def replay_source(url: str, **settings: object) -> PrometheusSource:
    base = {
        "url": url,
        "slis": REPLAY_SLIS,
        "extra": {"share": "nan_metric{service=$service}"},
        "retry_backoff": 0.01,
    }
    return PrometheusSource("rec", {**base, **settings}, SourceContext())


def test_replayed_collect_parses_alerts_series_and_warnings() -> None:
    with FakeHTTPServer(replay()) as fake:
        ev = replay_source(fake.url).collect(CollectRequest(window=FLAPPING))
    (alert,) = ev.alerts
    assert len(alert.firing) == 4 and alert.firing[0].start == at("14:13")
    assert alert.annotations["summary"] == "High error rate on search"
    series = {s.name: s for s in ev.series}
    assert set(series) == {"error_ratio", "throughput", "share"}
    ratio = series["error_ratio"]
    assert ratio.service == "search" and ratio.unit == "ratio" and ratio.step_seconds == 15
    assert len(ratio.values) == 361 and max(ratio.values) == pytest.approx(0.08, abs=0.001)
    assert len(series["share"].values) == 361 - 8
    codes = {w.code: w.message for w in ev.warnings}
    assert "rec" in codes["nan_samples"] and ": 8 NaN/Inf sample(s) ignored" in codes["nan_samples"]
    assert "PromQL info: metric might not be a counter" in codes["server_warning"]
    assert "1:52: parse error: unclosed left parenthesis" in codes["sli_bad_query"]
    assert "SLI uptime for service 'search'" in codes["sli_bad_query"]
    warned = next(q for q in ev.sources[0].queries if q.query.startswith("warned_metric"))
    assert warned.warnings and warned.result_count == 1 and warned.bytes_received > 1000
    assert ev.sources[0].version == "2.42.0+ds"


def test_sli_queries_carry_their_series_service_and_baseline() -> None:
    """The typed fields the report's links read, instead of the purpose's wording."""
    baseline = Window(FLAPPING.start - (FLAPPING.end - FLAPPING.start), FLAPPING.start)
    with FakeHTTPServer(replay()) as fake:
        ev = replay_source(fake.url).collect(CollectRequest(window=FLAPPING, baseline=baseline))
    queries = ev.sources[0].queries
    ranged = [q for q in queries if q.endpoint == "/api/v1/query_range"]
    assert {(q.sli, q.service, q.baseline) for q in ranged} == {
        (name, "search", base)
        for name in ("error_ratio", "throughput", "uptime", "share")
        for base in (False, True)
    }
    by_id = {q.id: q for q in queries}
    for series in ev.series:
        q = by_id[series.query_ref]
        assert (q.sli, q.service, q.baseline) == (series.name, series.service, series.baseline)
    # every other record is written as before: no sli, service or baseline key
    written = to_jsonable(ev.sources[0])["queries"]
    assert [("sli" in q) for q in written] == [q.endpoint == "/api/v1/query_range" for q in queries]
    assert all("service" not in q and "baseline" not in q for q in written if "sli" not in q)
    assert {q["baseline"] for q in written if "sli" in q and "baseline" in q} == {True}


def test_path_prefix_headers_and_bearer_token_are_sent() -> None:
    with FakeHTTPServer(replay(prefix="/prom")) as fake:
        replay_source(
            fake.url + "/prom/", bearer_token="tkn", headers={"X-Scope-OrgID": "team-a"}
        ).collect(CollectRequest(window=FLAPPING))
    assert fake.requests
    for req in fake.requests:
        assert req.path.startswith("/prom/api/v1/")
        assert req.headers["Authorization"] == "Bearer tkn"
        assert req.headers["X-Scope-OrgID"] == "team-a"


def test_basic_auth_is_sent() -> None:
    with FakeHTTPServer(replay()) as fake:
        replay_source(fake.url, username="bob", password="pw").collect(
            CollectRequest(window=FLAPPING)
        )
    expected = "Basic " + base64.b64encode(b"bob:pw").decode()
    assert all(r.headers.get("Authorization") == expected for r in fake.requests)


@pytest.mark.parametrize("bound", [1, 3])
def test_concurrency_is_bounded(bound: int) -> None:
    with FakeHTTPServer(replay(delay=0.15)) as fake:
        replay_source(fake.url, max_concurrency=bound).collect(
            CollectRequest(window=FLAPPING, baseline=FLAPPING)
        )
    assert fake.max_active == bound  # 8 range queries: the bound is reached, never passed


def test_5xx_and_429_are_retried_then_succeed() -> None:
    with FakeHTTPServer(replay(fail_first={"/api/v1/status/buildinfo": [429, 503]})) as fake:
        ev = replay_source(fake.url, retries=2).collect(CollectRequest(window=FLAPPING))
    assert ev.sources[0].version == "2.42.0+ds"
    assert sum(r.path == "/api/v1/status/buildinfo" for r in fake.requests) == 3


def test_bad_query_is_not_retried() -> None:
    with FakeHTTPServer(replay()) as fake:
        replay_source(fake.url, retries=3).collect(CollectRequest(window=FLAPPING))
    assert sum(r.params.get("query", "").startswith("bad_metric") for r in fake.requests) == 1


def test_retries_are_bounded() -> None:
    with FakeHTTPServer(replay(fail_first={"/api/v1/query_range": [503] * 99})) as fake:
        ev = replay_source(fake.url, retries=2, max_concurrency=1).collect(
            CollectRequest(window=FLAPPING)
        )
    ranges = [r for r in fake.requests if r.path == "/api/v1/query_range"]
    assert len(ranges) == 4 * 3  # three SLIs and one extra series, each tried once, retried twice
    failed = [w for w in ev.warnings if w.code == "sli_server"]
    assert len(failed) == 4 and not ev.series
    assert "server error (HTTP 503): unavailable: overloaded" in failed[0].message


def test_api_compatible_server_without_status_endpoints() -> None:
    """Thanos/Mimir/VictoriaMetrics: no buildinfo, config or rules; queries still work."""
    missing = ("/api/v1/status/buildinfo", "/api/v1/status/config", "/api/v1/rules")
    with FakeHTTPServer(replay(missing=missing)) as fake:
        ev = replay_source(fake.url).collect(CollectRequest(window=FLAPPING))
    src = ev.sources[0]
    assert (
        src.version is None and src.settings["scrape_interval"] == 60 and src.settings["step"] == 60
    )
    codes = {w.code for w in ev.warnings}
    assert {"no_server_config", "no_rules"} <= codes
    (alert,) = ev.alerts
    assert len(alert.firing) == 4 and alert.annotations == {}  # intervals from the samples' spacing


def test_configured_step_is_capped_at_the_point_limit() -> None:
    with FakeHTTPServer(replay()) as fake:
        ev = replay_source(fake.url, step="500ms").collect(CollectRequest(window=FLAPPING))
    assert ev.sources[0].settings["step"] == 1  # 2 h at 0.5 s would be 14,401 points
    ranges = [r for r in fake.requests if r.path == "/api/v1/query_range"]
    assert ranges and all(r.params["step"] in ("1", "2") for r in ranges)


def test_check_with_replayed_server() -> None:
    with FakeHTTPServer(replay()) as fake:
        results = replay_source(fake.url).check()
    by = {r.check: r for r in results}
    assert by["reachable"].ok and by["authenticated"].ok and by["version"].ok
    assert "scrape 15s, evaluation 15s" in by["intervals"].detail
    assert (
        by["metric ratio_metric"].ok
        and by["metric ratio_metric"].detail == "1 series in the last hour"
    )


def test_deadline_stops_the_collection() -> None:
    with (
        FakeHTTPServer(replay()) as fake,
        pytest.raises(ConnectorError, match="time limit reached"),
    ):
        replay_source(fake.url).collect(
            CollectRequest(window=FLAPPING, deadline=time.monotonic() - 1)
        )


# --------------------------------------------------------------------------- real server


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "value", ['a"b', "a\\b", "a\nb", 'x"} or vector(1) or {y="', "é🙂", "a`b'c", "\\x41"]
)
def test_literal_escaping_is_what_prometheus_reads(prometheus, value: str) -> None:
    query = substitute('label_replace(vector(1), "v", $service, "", "")', {"service": value})
    (sample,) = prometheus.server.query(query)
    assert sample["metric"]["v"] == value


def test_error_reason_stops_at_the_end_of_a_cause() -> None:
    """Causes joined with " | " (the Elasticsearch transport's chain) give one clean reason."""
    from connectors.toolkit.failures import error_reason

    text = (
        "ConnectionError: Connection error | NewConnectionError: Failed to establish a new "
        "connection: [Errno 111] Connection refused | ProtocolError: ('Connection aborted.',"
    )
    assert error_reason(Exception(text)) == "Connection refused"
    assert error_reason(
        Exception("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed | x")
    ) == ("certificate verify failed")
