"""``pmrecon init`` against real servers: the config it writes, unedited, passes ``check`` and
builds the scenario's true figures (issue 15 item 3; issue 20: names in two namespaces).

Each case backfills one ground-truth scenario of ``tests/scenarios.py`` into its own
Prometheus, moved in time (:func:`recent`) so that its data ends minutes ago: ``check``
looks for data in the last hour, as it does on a real incident. The figures are compared
with the scenario's truth (from its declaration), never with pmrecon's own output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmrecon.errors import EXIT_OK, EXIT_RENDER, EXIT_SOURCE, EXIT_USAGE
from tests.clihelp import Run, run_cli
from tests.convention_scenarios import CONVENTION_SCENARIOS, preset_of
from tests.infra.es import bulk_load, free_port, pinned_version
from tests.infra.prometheus import FakeHTTPServer, FakeRequest, PrometheusServer, promtool_backfill
from tests.scenarios import SCENARIOS, Scenario, ServiceProfile

UTC = dt.timezone.utc


def recent(sc: Scenario, now: dt.datetime | None = None) -> Scenario:
    """``sc`` moved by whole half-hours so that its data ends 5 to 35 minutes before ``now``
    (the scrape, evaluation and step grids stay aligned)."""
    now = now or dt.datetime.now(UTC)
    half_hour = dt.timedelta(minutes=30)
    delta = ((now - dt.timedelta(minutes=5) - sc.data_end) // half_hour) * half_hour

    def move(x: Any) -> Any:
        if isinstance(x, dt.datetime):
            return x + delta
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            changes = {f.name: move(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init}
            return dataclasses.replace(x, **changes)
        if isinstance(x, (list, tuple)):
            return type(x)(move(v) for v in x)
        return x

    return move(sc)  # type: ignore[no-any-return]


@dataclasses.dataclass
class Held:
    """A running Prometheus holding some OpenMetrics text."""

    server: PrometheusServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(text, ...)``: a Prometheus holding each OpenMetrics text (none: empty)."""
    servers: list[PrometheusServer] = []

    def start(*texts: str) -> Held:
        root = tmp_path / f"prom{len(servers)}"
        data = root / "data"
        data.mkdir(parents=True)
        for i, text in enumerate(texts):
            path = root / f"{i}.om"
            path.write_text(text, encoding="utf-8")
            promtool_backfill(path, data)
        server = PrometheusServer(root, data)
        servers.append(server)
        server.start()
        return Held(server)

    yield start
    for s in servers:
        s.stop()


def init(
    tmp_path: Path, *args: str, out: str = "pmrecon.yaml", env: dict[str, str] | None = None
) -> tuple[Run, Path]:
    path = tmp_path / out
    return run_cli("init", "--out", str(path), *args, env=env, timeout=120), path


def check_and_build(path: Path, sc: Scenario, tmp_path: Path) -> dict[str, Any]:
    """``check`` then ``build`` with the written config; the findings."""
    checked = run_cli("check", "-c", str(path), env={"NO_COLOR": "1"}, timeout=120)
    assert checked.code == EXIT_OK, checked.out + checked.err
    out = tmp_path / "report"
    start, end = (x.isoformat() for x in sc.window)
    built = run_cli(
        "build", "-c", str(path), "--from", start, "--to", end, "--tz", "UTC",
        "--out", str(out), "--no-png", "--json", timeout=300,
    )  # fmt: skip
    assert built.code == EXIT_OK, built.err
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def assert_true_figures(data: dict[str, Any], sc: Scenario, service: str | None = None) -> None:
    """Instants within one step, ratios within 0.01, availability within 0.001 (issue 15)."""
    truth = sc.truth
    (t,) = truth["incidents"]
    inc = data["incident"]
    step = sc.scrape_interval
    for key in ("impact_start", "first_alert", "resolution"):
        got = dt.datetime.fromisoformat(inc[key])
        assert abs((got - t[key]).total_seconds()) <= step, (key, inc[key], t[key])
    assert inc["availability"]["value"] == pytest.approx(truth["availability"], abs=0.001)
    top = data["figures"]["max_error_rate"]
    assert top["value"] == pytest.approx(truth["max_error_ratio"]["value"], abs=0.01)
    if service:
        names = [s if isinstance(s, str) else s["name"] for s in inc["services"]]
        assert names == [service], names


def window_args(sc: Scenario) -> list[str]:
    return ["--from", sc.window[0].isoformat(), "--to", sc.data_end.isoformat()]


def prose(path: Path) -> str:
    """The written file with its comments' wrapping undone: one line of words."""
    return " ".join(path.read_text(encoding="utf-8").replace("#", " ").split())


def written(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def init_from(serve: Any, tmp_path: Path, sc: Scenario, *texts: str) -> tuple[Path, dict[str, Any]]:
    """Run init on a Prometheus holding ``texts`` (default: the scenario's metrics); the file
    and its one source."""
    prom = serve(*(texts or (sc.openmetrics(),)))
    run, path = init(tmp_path, "--prometheus", prom.url, *window_args(sc))
    assert run.code == EXIT_OK, run.err
    (source,) = written(path)["sources"].values()
    return path, source


def init_with_logs(
    tmp_path: Path, sc: Scenario, prom_url: str, es_url: str, pattern: str
) -> tuple[Path, dict[str, Any]]:
    """Run init on both servers; the file and its sources."""
    run, path = init(
        tmp_path, "--prometheus", prom_url, "--elasticsearch", es_url, "--index", pattern,
        *window_args(sc),
    )  # fmt: skip
    assert run.code == EXIT_OK, run.err
    return path, written(path)["sources"]


# --------------------------------------------------------------------------- conventions


@pytest.mark.prometheus
def test_micrometer_config_checks_and_builds_true_figures(serve: Any, tmp_path: Path) -> None:
    sc = recent(SCENARIOS["micrometer"]())
    path, source = init_from(serve, tmp_path, sc)
    text = path.read_text(encoding="utf-8")
    assert source["preset"] == "micrometer" and source["service_label"] == "application"
    assert source["quantiles"] == [0.5, 0.95, 0.99]
    # every choice says why, above it
    assert re.search(r"# http_server_requests_seconds_count has \d+ series", text)
    assert "# application is the preset's service label" in text
    assert "Services seen: spring-orders." in text
    assert_true_figures(check_and_build(path, sc, tmp_path), sc)


@pytest.mark.prometheus
def test_client_library_default_takes_job_as_the_service(serve: Any, tmp_path: Path) -> None:
    """``http_requests_total{job,code}``: no ``service`` label, the scrape job names it."""
    sc = recent(SCENARIOS["clean_single"]())
    path, source = init_from(serve, tmp_path, sc, sc.openmetrics().replace('{service="', '{job="'))
    assert source["preset"] == "http_requests_total" and source["service_label"] == "job"
    assert "has no label 'service' (the preset's); it has code, job: job names" in prose(path)
    data = check_and_build(path, sc, tmp_path)
    assert_true_figures(data, sc, service="checkout")


@pytest.mark.prometheus
def test_ingress_nginx_config_checks_and_builds_true_figures(serve: Any, tmp_path: Path) -> None:
    sc = recent(SCENARIOS["ingress_nginx"]())
    path, source = init_from(serve, tmp_path, sc)
    # the preset's own identity: an Ingress is named within its namespace
    assert source["preset"] == "ingress_nginx"
    assert source["service_label"] == ["namespace", "ingress"]
    assert_true_figures(check_and_build(path, sc, tmp_path), sc)


@pytest.mark.prometheus
@pytest.mark.parametrize("shape", ["opentelemetry", "opentelemetry_job", "opentelemetry_legacy"])
def test_opentelemetry_config_checks_and_builds_true_figures(
    serve: Any, tmp_path: Path, shape: str
) -> None:
    """The Collector's Prometheus exporter (seconds, or the legacy milliseconds): init picks
    the OpenTelemetry preset and its service label, and the unedited config is right."""
    sc = recent(CONVENTION_SCENARIOS[shape]())
    path, source = init_from(serve, tmp_path, sc)
    assert source["preset"] == preset_of(sc)
    data = check_and_build(path, sc, tmp_path)
    assert_true_figures(data, sc)
    latency = data["figures"]["max_latency"]
    assert latency["value"] is not None and latency["value"] < 60, latency  # seconds, not ms


def two_namespaces() -> tuple[Scenario, str, str]:
    """The ingress ``web-frontend`` broken in ``prod`` and, three times busier, fine in
    ``staging``: the scenario generator's ingress-nginx case written twice."""
    broken = recent(SCENARIOS["ingress_nginx"]())
    healthy = dataclasses.replace(
        broken,
        name="ingress_nginx_staging",
        services=[ServiceProfile("web-frontend", rps=90)],
        alerts=[],
        log_signatures=[],
    )
    # the alert names its service by the same labels as the ingress's series
    named = 'namespace="prod",ingress="web-frontend",'
    prod = (
        broken.openmetrics()
        .replace('namespace="web"', 'namespace="prod"')
        .replace("ALERTS{", "ALERTS{" + named)
        .replace("ALERTS_FOR_STATE{", "ALERTS_FOR_STATE{" + named)
    )
    # the healthy copy's scrape health would be the same series as the broken one's
    staging = "".join(
        line + "\n"
        for line in healthy.openmetrics()
        .replace('namespace="web"', 'namespace="staging"')
        .split("\n")
        if line and not line.startswith("up{")
    )
    return broken, prod, staging


@pytest.mark.prometheus
def test_same_ingress_in_two_namespaces_is_kept_apart(serve: Any, tmp_path: Path) -> None:
    """Issue 20: the config names a service by namespace and ingress, and says why."""
    sc, prod, staging = two_namespaces()
    path, source = init_from(serve, tmp_path, sc, prod, staging)
    assert source["service_label"] == ["namespace", "ingress"]
    text = prose(path)
    assert "the same name is seen under several namespace values" in text
    assert "web-frontend in prod, staging" in text
    assert "Services seen: prod/web-frontend, staging/web-frontend." in text


@pytest.mark.prometheus
def test_same_ingress_in_two_namespaces_builds_the_broken_ones_figures(
    serve: Any, tmp_path: Path
) -> None:
    """The written config (service identity ``[namespace, ingress]``) blames prod only."""
    sc, prod, staging = two_namespaces()
    path, _ = init_from(serve, tmp_path, sc, prod, staging)
    data = check_and_build(path, sc, tmp_path)
    inc = data["incident"]
    (service,) = inc["services"]
    name = service if isinstance(service, str) else service["name"]
    assert "prod" in name and "staging" not in name
    assert inc["availability"]["value"] == pytest.approx(sc.truth["availability"], abs=0.001)
    top = data["figures"]["max_error_rate"]["value"]
    assert top == pytest.approx(sc.truth["max_error_ratio"]["value"], abs=0.01)


@pytest.mark.prometheus
@pytest.mark.elasticsearch
def test_ecs_logs_config_checks_and_builds_true_figures(
    serve: Any, es_node: Any, tmp_path: Path
) -> None:
    sc = recent(SCENARIOS["micrometer"]())
    prom = serve(sc.openmetrics())
    index = f"logs-init-{es_node.major}"
    bulk_load(es_node.url, index, sc.log_docs(), major=es_node.major)
    path, sources = init_with_logs(tmp_path, sc, prom.url, es_node.url, "logs-init-*")
    assert sorted(sources) == ["elasticsearch", "prometheus"]
    logs = sources["elasticsearch"]
    assert logs["hosts"] == [es_node.url] and logs["index"] == ["logs-init-*"]
    # ECS names are the defaults: nothing to override, said in a comment
    assert "fields" not in logs or not set(logs["fields"]) & {"level", "message", "service"}
    assert re.search(
        r"log\.level values in the range \(documents\): error \(\d+\), info \(\d+\)", prose(path)
    )
    data = check_and_build(path, sc, tmp_path)
    assert_true_figures(data, sc)


@pytest.mark.prometheus
@pytest.mark.elasticsearch
def test_same_name_in_two_namespaces_gives_the_broken_ones_logs_to_it_alone(
    serve: Any, es_node: Any, tmp_path: Path
) -> None:
    """Issue 20: ``web-frontend`` logs errors in prod only, staging logs as much but no
    error. init names the logs by namespace and service as the metrics are named, and the
    build gives prod/web-frontend its error logs and signatures, staging none."""
    sc, prod, staging = two_namespaces()
    healthy = dataclasses.replace(sc, name="ingress_nginx_staging", log_signatures=[])
    index = f"logs-twons-{es_node.major}"
    docs = [{**d, "kubernetes.namespace": "prod"} for d in sc.log_docs()]
    docs += [{**d, "kubernetes.namespace": "staging"} for d in healthy.log_docs()]
    bulk_load(es_node.url, index, docs, major=es_node.major)
    prom = serve(prod, staging)
    path, sources = init_with_logs(tmp_path, sc, prom.url, es_node.url, "logs-twons-*")
    assert sources["prometheus"]["service_label"] == ["namespace", "ingress"]
    logs = sources["elasticsearch"]
    # ECS's namespace field is the preset's: nothing more to write than the identity
    assert logs["identity"] == ["namespace", "service"] and "namespace" not in logs.get(
        "fields", {}
    )
    assert "the metrics name a service by namespace, ingress" in prose(path)
    data = check_and_build(path, sc, tmp_path)
    inc = data["incident"]
    (service,) = inc["services"]
    assert service["name"] == "prod/web-frontend"
    # every error log of the incident is prod's (staging logged none)
    assert inc["error_logs"] > 0 and service["error_logs"] == inc["error_logs"]
    truth = {s["key"]: s for s in sc.truth["signatures"]}
    (sig,) = truth.values()
    (top,) = [e for e in data["top_errors"] if e["count"] == sig["count"]]
    assert top["services"] == ["prod/web-frontend"]
    for error in data["top_errors"]:
        assert not any("staging" in s for s in error["services"]), error
    assert not any(w.get("code") == "log_identity_unmapped" for w in data["warnings"])


# --------------------------------------------------------------------------- bad input


def test_unreachable_prometheus_is_one_line_exit_3_and_no_file(tmp_path: Path) -> None:
    run, path = init(tmp_path, "--prometheus", f"http://127.0.0.1:{free_port()}")
    assert run.code == EXIT_SOURCE
    assert len(run.error_lines) == 1 and "cannot connect" in run.err and "check the URL" in run.err
    assert "Traceback" not in run.err
    assert not path.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.prometheus
def test_empty_prometheus_says_so_and_writes_nothing(serve: Any, tmp_path: Path) -> None:
    prom = serve()
    run, path = init(tmp_path, "--prometheus", prom.url)
    assert run.code == EXIT_USAGE
    assert len(run.error_lines) == 1 and "holds no metric" in run.err and "--from/--to" in run.err
    assert not path.exists()


def test_existing_file_is_kept_unless_force(tmp_path: Path) -> None:
    path = tmp_path / "pmrecon.yaml"
    path.write_text("mine: true\n", encoding="utf-8")
    run, _ = init(tmp_path, "--prometheus", f"http://127.0.0.1:{free_port()}")
    assert run.code == EXIT_RENDER
    assert "already exists; pass --force" in run.err and len(run.error_lines) == 1
    assert path.read_text(encoding="utf-8") == "mine: true\n"
    # --force goes on to the servers (unreachable here: the file is still untouched)
    run, _ = init(tmp_path, "--prometheus", f"http://127.0.0.1:{free_port()}", "--force")
    assert run.code == EXIT_SOURCE
    assert path.read_text(encoding="utf-8") == "mine: true\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pmrecon.yaml"]


def test_out_in_a_missing_folder_stops_before_asking_anything(tmp_path: Path) -> None:
    run, _ = init(tmp_path, "--prometheus", f"http://127.0.0.1:{free_port()}", out="no/such.yaml")
    assert run.code == EXIT_RENDER and "folder" in run.err and "does not exist" in run.err
    assert list(tmp_path.iterdir()) == []


def test_missing_secret_variable_is_a_usage_error(tmp_path: Path) -> None:
    run, path = init(
        tmp_path, "--prometheus", "http://127.0.0.1:9", "--prometheus-token-env", "NO_SUCH_VAR_X"
    )
    assert run.code == EXIT_USAGE
    assert "environment variable NO_SUCH_VAR_X is not set" in run.err
    assert not path.exists()


def otel_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """An ECS log document of the generator as the Collector's Elasticsearch exporter writes
    it in its OTel-native mode (upper-case severity, the line under ``body.text``)."""
    out: dict[str, Any] = {
        "@timestamp": doc["@timestamp"],
        "severity_text": str(doc["log.level"]).upper(),
        "body": {"text": doc["message"]},
        "resource": {"attributes": {"service.name": doc["service.name"]}},
    }
    if "error.type" in doc:
        out["attributes"] = {"exception.type": doc["error.type"]}
    return out


@pytest.mark.prometheus
@pytest.mark.elasticsearch
@pytest.mark.parametrize("es_node", [pytest.param(pinned_version(9), id="es9")], indirect=True)
def test_ecs_and_otel_logs_in_one_pattern_become_two_sources(
    serve: Any, es_node: Any, tmp_path: Path
) -> None:
    """Two conventions in one index pattern: never guessed, each its own source, each
    keeping to its own documents; the written config passes check."""
    sc = recent(SCENARIOS["ingress_nginx"]())
    prom = serve(sc.openmetrics())
    docs = list(sc.log_docs())
    bulk_load(es_node.url, "logs-mixed-ecs", docs, major=es_node.major)
    bulk_load(es_node.url, "logs-mixed-otel", map(otel_doc, docs), major=es_node.major)
    path, sources = init_with_logs(tmp_path, sc, prom.url, es_node.url, "logs-mixed-*")
    assert sorted(sources) == ["elasticsearch_ecs", "elasticsearch_otel", "prometheus"]
    assert sources["elasticsearch_ecs"]["filter"] == {"exists": {"field": "log.level"}}
    otel = sources["elasticsearch_otel"]
    assert otel["filter"] == {"exists": {"field": "severity_text"}}
    if "fields_preset" in otel:
        assert otel["fields_preset"] == "otel"
    else:
        assert otel["fields"]["level"] == "severity_text"
        assert otel["fields"]["message"] == "body.text"
        assert otel["fields"]["service"] == "resource.attributes.service.name"
    assert re.search(r"severity_text values in the range \(documents\): ERROR \(\d+\)", prose(path))
    checked = run_cli("check", "-c", str(path), env={"NO_COLOR": "1"}, timeout=120)
    assert checked.code == EXIT_OK, checked.out + checked.err


def test_readme_starts_a_real_incident_with_init_and_names_real_options() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using it on a real incident", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("pmrecon ")]
    assert commands[0].startswith("pmrecon init --prometheus ")
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", section.split("A rebuild reuses", 1)[0]))
    init_help = run_cli("init", "--help").out
    init_options = {o for o in shown if o in init_help}
    assert {
        "--prometheus-token-env",
        "--elasticsearch-api-key-env",
        "--force",
        "--index",
    } <= init_options
    documented = re.findall(
        r"`(--[a-z-]+)", section.split("`pmrecon init` writes", 1)[1].split("A rebuild", 1)[0]
    )
    assert documented and all(o in init_help for o in documented), documented


TOKEN = "init-test-token-5f3a9c"


def scripted(series: dict[str, list[dict[str, str]]], *more: str) -> Any:
    """A Prometheus API behind a bearer token holding ``series`` (by metric) and the names
    ``more``; every histogram has buckets 0.1 and 0.5, a tenth of the requests above 0.5."""

    def answer(req: FakeRequest) -> tuple[int, Any]:
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"status": "error", "errorType": "unauthorized", "error": "bad token"}
        data: Any = None
        if req.path == "/api/v1/status/buildinfo":
            data = {"version": "2.53.0"}
        elif req.path == "/api/v1/label/__name__/values":
            data = [*series, *more]
        elif req.path == "/api/v1/metadata":
            known = {"http_requests_total": [{"type": "counter", "help": "", "unit": ""}]}
            data = {k: v for k, v in known.items() if k == req.params.get("metric")}
        elif req.path == "/api/v1/series":
            name = re.search(r'__name__="([^"]+)"', req.params["match[]"]).group(1)  # type: ignore[union-attr]
            data = [{"__name__": name, **labels} for labels in series[name]]
        elif req.path == "/api/v1/label/le/values":
            data = ["0.1", "0.5", "+Inf"]
        elif req.path == "/api/v1/query":
            count = 100 if 'le="+Inf"' in req.params["query"] else 90
            data = {"resultType": "vector", "result": [{"metric": {}, "value": [0, str(count)]}]}
        if data is None:
            return 404, {"status": "error", "error": "not found"}
        return 200, {"status": "success", "data": data}

    return answer


#: Two conventions: the client-library counter without its histogram, and Micrometer.
scripted_prometheus = scripted(
    {
        "http_requests_total": [{"job": "api", "instance": "a:80", "code": "200"}],
        "http_server_requests_seconds_count": [
            {"application": "orders", "status": "500", "uri": "/x", "instance": "b:80"}
        ],
    },
    "http_server_requests_seconds_bucket",
    "up",
)


def init_scripted(tmp_path: Path, handler: Any) -> tuple[Run, Path]:
    with FakeHTTPServer(handler) as server:
        return init(
            tmp_path, "--prometheus", server.url, "--prometheus-token-env", "PROM_TOKEN",
            env={"PROM_TOKEN": TOKEN},
        )  # fmt: skip


def test_token_from_the_environment_two_conventions_and_what_the_buckets_tell(
    tmp_path: Path,
) -> None:
    with FakeHTTPServer(scripted_prometheus) as server:
        path = tmp_path / "pmrecon.yaml"
        run = run_cli(
            "init", "--prometheus", server.url, "--prometheus-token-env", "PROM_TOKEN",
            "--out", str(path), env={"PROM_TOKEN": TOKEN},
        )  # fmt: skip
        assert run.code == EXIT_OK, run.err
        bad = run_cli(
            "init", "--prometheus", server.url, "--prometheus-token-env", "PROM_TOKEN",
            "--out", str(tmp_path / "other.yaml"), env={"PROM_TOKEN": "wrong-token-123"},
        )  # fmt: skip
        asked = list(server.requests)
    # every question is bounded: one metric at a time, over the range
    for req in asked:
        if req.path in ("/api/v1/series", "/api/v1/label/le/values"):
            assert re.fullmatch(r'\{__name__="[a-z_]+"\}', req.params["match[]"]), req
        if req.path.startswith(("/api/v1/series", "/api/v1/label/")):
            assert {"start", "end"} <= set(req.params), req
        if req.path == "/api/v1/metadata":
            assert req.params.get("metric"), req
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text + run.out + run.err
    sources = written(path)["sources"]
    client, micrometer = sources["prometheus_http_requests_total"], sources["prometheus_micrometer"]
    for source in (client, micrometer):
        assert source["bearer_token"] == "${PROM_TOKEN}"
    # the counter's convention: job names the service, no histogram so no latency
    assert client["service_label"] == "job" and client["slis"] == {"latency": "off"}
    assert "alerts" not in client and micrometer["alerts"] == {"enabled": False}
    # 10 % beyond the largest bucket: p95 and p99 would only say 0.5 s
    assert micrometer["quantiles"] == [0.5]
    words = prose(path)
    assert "10.00% of the requests are slower than 0.5 s" in words
    assert "left out 0.95, 0.99" in words and "only 2 buckets" in words
    assert "(a counter, as the targets declare it)" in words
    assert "http_request_duration_seconds_bucket has no series here" in words
    # a wrong token: exit 3, the fix named, the token never printed, nothing written
    assert bad.code == EXIT_SOURCE and "authentication failed" in bad.err
    assert "wrong-token-123" not in bad.err and not (tmp_path / "other.yaml").exists()


@pytest.mark.elasticsearch
@pytest.mark.parametrize("es_node", [pytest.param(pinned_version(9), id="es9")], indirect=True)
def test_log_indices_init_cannot_read_stop_with_the_fix(es_node: Any, tmp_path: Path) -> None:
    """No index behind the pattern (exit 3), no level field in it (exit 2): one line, no file."""
    bulk_load(
        es_node.url,
        "applogs-nolevel",
        [{"@timestamp": "2026-01-01T00:00:00Z", "text": "hello"}],
        major=es_node.major,
    )
    with FakeHTTPServer(scripted_prometheus) as server:
        runs = {
            pattern: run_cli(
                "init",
                "--prometheus",
                server.url,
                "--prometheus-token-env",
                "PROM_TOKEN",
                "--elasticsearch",
                es_node.url,
                "--index",
                pattern,
                "--out",
                str(tmp_path / "pmrecon.yaml"),
                env={"PROM_TOKEN": TOKEN},
            )  # fmt: skip
            for pattern in ("nothing-here-*", "applogs-*")
        }
    missing, no_level = runs["nothing-here-*"], runs["applogs-*"]
    assert missing.code == EXIT_SOURCE and len(missing.error_lines) == 1
    assert "'nothing-here-*' matches no index" in missing.err
    assert no_level.code == EXIT_USAGE and len(no_level.error_lines) == 1
    assert "maps none of the level fields log.level, severity_text" in no_level.err
    assert "pass --index for your log indices" in no_level.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value",
    [
        "off", "true", "no", "null", "@timestamp", "${PROM_TOKEN}", "logs-*", "a: b", "#x",
        "http://127.0.0.1:9090/prom", "severity_text", "1.5", "", "é", ["namespace", "ingress"],
        [0.5, 0.95], False, 3, {"exists": {"field": "log.level"}},
    ],
)  # fmt: skip
def test_every_written_value_reads_back_as_itself(value: Any) -> None:
    from pmrecon.initconfig.render import scalar

    assert yaml.safe_load(f"key: {scalar(value)}") == {"key": value}


def test_the_same_name_in_several_clusters_and_namespaces(tmp_path: Path) -> None:
    def app(cluster: str, namespace: str) -> dict[str, str]:
        return {
            "application": "orders",
            "cluster": cluster,
            "namespace": namespace,
            "status": "200",
        }

    handler = scripted(
        {
            "http_server_requests_seconds_count": [
                app("eu", "prod"),
                app("us", "prod"),
                app("eu", "qa"),
            ]
        }
    )
    run, path = init_scripted(tmp_path, handler)
    assert run.code == EXIT_OK, run.err
    (source,) = written(path)["sources"].values()
    assert source["service_label"] == ["cluster", "namespace", "application"]
    assert "Services seen: eu/prod/orders, eu/qa/orders, us/prod/orders." in prose(path)


def test_no_known_convention_names_what_looks_like_requests(tmp_path: Path) -> None:
    run, path = init_scripted(tmp_path, scripted({"myapp_requests_seconds_count": []}, "up"))
    assert run.code == EXIT_USAGE and len(run.error_lines) == 1
    assert (
        "holds none of the metrics pmrecon knows: http_requests_total (http_requests_total)"
        in run.err
    )
    assert "request-like metrics here: myapp_requests_seconds_count" in run.err
    assert not path.exists()


def test_no_label_naming_a_service_stops_with_the_labels_seen(tmp_path: Path) -> None:
    handler = scripted({"http_requests_total": [{"instance": "a:80", "code": "200"}]})
    run, path = init_scripted(tmp_path, handler)
    assert run.code == EXIT_USAGE and len(run.error_lines) == 1
    assert (
        "http_requests_total has no label naming a service on every series (labels: instance, code)"
        in run.err
    )
    assert not path.exists()


def test_bucket_bounds_in_milliseconds_are_said_in_ms() -> None:
    """OpenTelemetry's older conventions count milliseconds: the comment says so."""
    from pmrecon.initconfig.metrics import _quantiles
    from pmrecon.initconfig.plan import SourcePlan

    class Inventory:
        def label_values(self, label: str, metric: str) -> list[str]:
            return ["5", "10000", "+Inf"]

        def share_above(self, metric: str, le: str) -> float:
            return 0.0

    bucket = "http_server_duration_milliseconds_bucket"
    latency = f"histogram_quantile($quantile, sum by (le) (rate({bucket}[$window])))"
    plan = SourcePlan("prometheus")
    _quantiles(plan, Inventory(), {"slis": {"latency": latency}}, {bucket})  # type: ignore[arg-type]
    assert plan.settings["quantiles"] == [0.5, 0.95, 0.99]
    assert f"{bucket}: 2 finite buckets, 5 ms to 10000 ms" in plan.why["quantiles"][0]
