"""Tests of the scenario generator itself: its data is well-formed and agrees with its truth."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections import defaultdict

import pytest

from tests.infra.prometheus import promtool_backfill
from tests.scenarios import (
    BUCKETS,
    ERROR_LEVELS,
    SCENARIOS,
    Scenario,
    all_scenarios,
    nested,
    rules_yaml,
    ts,
)

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+) (\d+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_openmetrics(
    text: str,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]]:
    """A strict little parser for what the generator writes (no comments but ``# EOF``)."""
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]] = {}
    order: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    lines = text.split("\n")
    assert lines[-1] == "" and lines[-2] == "# EOF", "must end with '# EOF' and a newline"
    for line in lines[:-2]:
        m = _LINE.match(line)
        assert m, f"malformed line: {line!r}"
        key = (m.group(1), tuple(sorted(_LABEL.findall(m.group(2)))))
        if key not in series:
            series[key] = []
            order.append(key)
        else:
            assert order[-1] == key, f"series {key} is not contiguous"
        series[key].append((int(m.group(4)), float(m.group(3))))
    return series


@pytest.fixture(scope="module")
def scenarios() -> list[Scenario]:
    return all_scenarios()


@pytest.fixture(scope="module")
def parsed(scenarios: list[Scenario]) -> dict[str, dict]:
    return {sc.name: parse_openmetrics(sc.openmetrics()) for sc in scenarios}


def test_catalogue_covers_the_required_cases() -> None:
    required = {
        "clean_single", "flapping", "latency_only", "two_services", "two_incidents",
        "in_progress", "midnight_paris", "dst_paris", "scrape_gap", "counter_reset",
        "no_incident", "micrometer", "ingress_nginx",
    }  # fmt: skip
    assert required <= set(SCENARIOS)


def test_generation_is_deterministic() -> None:
    a, b = SCENARIOS["clean_single"](), SCENARIOS["clean_single"]()
    assert a.openmetrics() == b.openmetrics()
    assert list(a.log_docs()) == list(b.log_docs())
    assert a.truth == b.truth


def test_scenarios_do_not_overlap_in_time(scenarios: list[Scenario]) -> None:
    spans = sorted(
        (sc.data_start, sc.data_end + dt.timedelta(minutes=10), sc.name) for sc in scenarios
    )
    for (_, e0, n0), (s1, _, n1) in zip(spans, spans[1:]):
        assert e0 < s1, f"{n0} and {n1} overlap: they could not share one TSDB"


def test_timestamps_in_seconds_and_series_in_time_order(scenarios, parsed) -> None:
    for sc in scenarios:
        lo, hi = ts(sc.data_start), ts(sc.data_end)
        for key, samples in parsed[sc.name].items():
            times = [x for x, _ in samples]
            assert times == sorted(set(times)), f"{sc.name} {key}: not strictly increasing"
            assert lo <= times[0] and times[-1] <= hi, f"{sc.name} {key}: outside the data span"


def test_counters_only_drop_at_declared_resets(scenarios, parsed) -> None:
    for sc in scenarios:
        resets = {sc._tick_at_or_after(ts(r)) for r, _ in sc.counter_resets}
        for (name, _), samples in parsed[sc.name].items():
            if name.startswith(("ALERTS", "up")):
                continue
            for (_, v0), (x1, v1) in zip(samples, samples[1:]):
                assert v1 >= v0 or x1 in resets, f"{sc.name} {name}: drop at {x1}"


def _increments(samples: list[tuple[int, float]], a: int, b: int) -> float:
    """Counter increase between consecutive samples whose later one lies in (a, b], resets handled."""
    out = 0.0
    for (_, v0), (x1, v1) in zip(samples, samples[1:]):
        if a < x1 <= b:
            out += v1 - v0 if v1 >= v0 else v1
    return out


def _counter_series(sc: Scenario, parsed_sc: dict) -> tuple[list, list]:
    """(all request counters, failed request counters) for the scenario's convention."""
    if sc.convention == "http_requests_total":
        name, code = "http_requests_total", "code"
    elif sc.convention == "micrometer":
        name, code = "http_server_requests_seconds_count", "status"
    else:
        name, code = "nginx_ingress_controller_requests", "status"
    total, bad = [], []
    for (n, labels), samples in parsed_sc.items():
        if n != name:
            continue
        total.append(samples)
        if dict(labels)[code].startswith("5"):
            bad.append(samples)
    return total, bad


def test_truth_availability_matches_the_written_counters(scenarios, parsed) -> None:
    """Recompute 1 - Σbad/Σtotal from the OpenMetrics text itself: it must equal the truth."""
    for sc in scenarios:
        tr = sc.truth
        a, b = (ts(x) for x in tr["availability_interval"])
        total_s, bad_s = _counter_series(sc, parsed[sc.name])
        total = sum(_increments(s, a, b) for s in total_s)
        bad = sum(_increments(s, a, b) for s in bad_s)
        assert total == tr["requests_total_all_services"], sc.name
        assert bad == tr["failed_requests_all_services"], sc.name
        assert tr["availability_all_services"] == pytest.approx(1 - bad / total), sc.name
        assert 0 <= tr["availability"] <= 1 and tr["failed_requests"] <= bad


def test_truth_alert_intervals_match_the_written_alerts(scenarios, parsed) -> None:
    """Rebuild firing/pending intervals from raw ALERTS samples, as a reader of the TSDB would."""
    for sc in scenarios:
        w0, w1 = ts(sc.start), ts(sc.end)
        e = sc.eval_interval
        found = defaultdict(lambda: {"pending": [], "firing": []})
        for (name, labels), samples in parsed[sc.name].items():
            if name != "ALERTS":
                continue
            ld = dict(labels)
            times = [x for x, _ in samples if w0 <= x < w1]
            runs: list[list[int]] = []
            for x in times:
                if runs and x - runs[-1][-1] <= 1.5 * e:
                    runs[-1].append(x)
                else:
                    runs.append([x])
            found[(ld["alertname"], ld["service"])][ld["alertstate"]] = [
                (r[0], min(r[-1] + e, w1)) for r in runs
            ]
        expected = {
            (a["name"], a["service"]): {
                s: [(ts(x), ts(y)) for x, y in a[s]] for s in ("pending", "firing")
            }
            for a in sc.truth["alerts"]
        }
        assert {k: dict(v) for k, v in found.items() if v["pending"] or v["firing"]} == expected, (
            sc.name
        )


def test_alerts_for_state_holds_active_at(scenarios, parsed) -> None:
    for sc in scenarios:
        for (name, labels), samples in parsed[sc.name].items():
            if name != "ALERTS_FOR_STATE":
                continue
            assert "alertstate" not in dict(labels)
            for x, v in samples:
                assert v <= x and x - v < 86400


def test_truth_timeline_is_consistent(scenarios) -> None:
    for sc in scenarios:
        tr = sc.truth
        assert tr["max_error_ratio"]["value"] >= max(
            v["max"] for v in tr["error_ratio_by_service"].values()
        )
        if tr["impact_start"] is None:
            assert tr["incidents"] == [] and tr["first_alert"] is None
            continue
        assert sc.start <= tr["impact_start"] < sc.end
        if tr["first_alert"] is not None:
            assert tr["first_alert"] > tr["impact_start"], sc.name
        if tr["resolution"] is not None:
            assert tr["impact_start"] < tr["resolution"] <= sc.end
        if tr["mitigation_start"] is not None:
            assert tr["impact_start"] <= tr["mitigation_start"] <= (tr["resolution"] or sc.end)
        for a in tr["alerts"]:
            for state in ("pending", "firing"):
                ivs = a[state]
                assert ivs == sorted(ivs)
                for (_s0, e0), (s1, _) in zip(ivs, ivs[1:]):
                    assert e0 < s1, f"{sc.name}: overlapping {state} intervals"


def test_special_scenarios_have_their_special_truth() -> None:
    assert len(SCENARIOS["flapping"]().truth["alerts"][0]["firing"]) == 4
    assert len(SCENARIOS["two_incidents"]().truth["incidents"]) == 2
    ip = SCENARIOS["in_progress"]().truth
    assert ip["resolution"] is None and ip["alerts"][0]["open_end"]
    assert ip["alerts"][0]["firing"][-1][1] == ip["window"][1]
    assert SCENARIOS["no_incident"]().truth["alerts"] == []
    two = SCENARIOS["two_services"]().truth
    assert {a["service"] for a in two["alerts"]} == {"orders", "inventory"}
    assert len(two["incidents"]) == 1 and set(two["incidents"][0]["services"]) == {
        "orders",
        "inventory",
    }
    lat = SCENARIOS["latency_only"]().truth
    assert lat["p99"]["catalog"]["lo"] == 2.5 and lat["p99"]["catalog"]["hi"] == 5.0
    assert lat["max_error_ratio"]["value"] == pytest.approx(0.001)
    midnight = SCENARIOS["midnight_paris"]().truth
    assert midnight["window"][0].date() != midnight["window"][1].date()


def test_scrape_gap_leaves_no_samples_and_up_zero(parsed) -> None:
    sc = SCENARIOS["scrape_gap"]()
    (g0, g1, svc) = sc.gaps[0]
    for (name, _labels), samples in parsed["scrape_gap"].items():
        inside = [v for x, v in samples if ts(g0) <= x < ts(g1)]
        if name == "up":
            assert inside and set(inside) == {0.0}
        elif not name.startswith("ALERTS"):
            assert inside == [], name


def test_p99_bucket_holds_the_declared_latency(scenarios) -> None:
    for sc in scenarios:
        for svc, p in sc.truth["p99"].items():
            assert p["lo"] < p["latency"] <= p["hi"], (sc.name, svc)
            assert p["hi"] in BUCKETS


def test_log_docs_are_ecs_and_ordered(scenarios) -> None:
    for sc in scenarios:
        docs = list(sc.log_docs())
        stamps = [d["@timestamp"] for d in docs]
        assert stamps == sorted(stamps)
        for d in docs[:50]:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["@timestamp"])
            for key in (
                "log.level",
                "message",
                "service.name",
                "host.name",
                "trace.id",
                "user.id",
                "event.category",
                "tags",
            ):
                assert key in d
        deploys = [d for d in docs if d["event.category"] == "deployment"]
        assert len(deploys) == len(sc.change_events)
        n = nested(docs[0])
        assert n["log"]["level"] == docs[0]["log.level"]


def test_log_truth_counts_and_signatures(scenarios) -> None:
    for sc in scenarios:
        tr = sc.truth
        w0, w1 = sc.window
        in_window = [
            d for d in sc.log_docs()
            if w0.isoformat().replace("+00:00", ".000Z") <= d["@timestamp"] < w1.isoformat().replace("+00:00", ".000Z")
        ]  # fmt: skip
        assert tr["logs"]["total"] == len(in_window)
        assert tr["logs"]["errors"] == sum(d["log.level"] in ERROR_LEVELS for d in in_window)
        assert sum(tr["logs"]["by_service"].values()) == tr["logs"]["total"]
        assert tr["logs"]["distinct_users"] <= tr["logs"]["errors"]
        for s in tr["signatures"]:
            assert s["first_seen"] <= s["last_seen"]
            if s["baseline_count"]:  # seen in the baseline: never new
                assert s["new"] is False
            if len(s["examples"]) > 1 and "{" in s["template"]:
                assert len(set(s["examples"])) > 1, "variable parts must vary"
    clean = SCENARIOS["clean_single"]().truth
    assert "checkout-upstream-timeout" in clean["new_signatures"]
    assert "checkout-legacy-deprecation" not in clean["new_signatures"]
    assert any(s["key"] == "checkout-legacy-deprecation" for s in clean["signatures"])
    # logs from the window start only: a steady error is not new, the incident's one is
    late = SCENARIOS["logs_from_window_start"]().truth
    assert late["baseline_logs"]["total"] == 0
    assert late["new_signatures"] == ["payments-upstream-timeout"]


def test_error_logs_follow_error_phases() -> None:
    sc = SCENARIOS["clean_single"]()
    sig = next(s for s in sc.truth["signatures"] if s["key"] == "checkout-upstream-timeout")
    phase = sc.service("checkout").phases[0]
    assert phase.t0 <= sig["first_seen"] and sig["last_seen"] <= phase.t1


def test_rules_yaml_is_valid_for_promtool(tmp_path) -> None:
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed")
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml(all_scenarios()))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout


@pytest.mark.parametrize("name", ["clean_single", "micrometer", "counter_reset"])
def test_promtool_accepts_the_openmetrics(tmp_path, name: str) -> None:
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed")
    sc = SCENARIOS[name]()
    path = tmp_path / "data.om"
    path.write_text(sc.openmetrics())
    promtool_backfill(path, tmp_path / "db")  # raises with promtool's words if it refuses
    dump = subprocess.run(
        ["promtool", "tsdb", "list", str(tmp_path / "db")], capture_output=True, text=True
    )
    assert dump.returncode == 0
    # the blocks cover the scenario's span exactly: seconds, not milliseconds (year 58870)
    rows = [line.split() for line in dump.stdout.splitlines()[1:] if line.strip()]
    assert min(int(r[1]) for r in rows) == ts(sc.data_start) * 1000
    assert max(int(r[2]) for r in rows) == ts(sc.data_end) * 1000 + 1
