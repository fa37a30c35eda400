"""Ground truth for the changes seen in the metrics, through a real Prometheus.

The scenarios carry no logged change event: only the metrics say what changed. The
Prometheus source finds the change-showing series on its own (no ``extra`` configured):

- ``myapp_build_info{version="1.4.2"}`` becomes ``"1.5.0"`` 3 minutes before checkout
  fails (its process restarts and kube-state-metrics shows a new ReplicaSet and generation
  at the same time): rank 1 is that deploy, kind ``change``, once, citing the build info
  query; the restart and the rollout are the same change, not more leads;
- payments' Deployment gets a new ReplicaSet 4 minutes before it fails, seen only in
  kube-state-metrics: rank 1 is that rollout;
- a steady build info (and start time) around an incident gives no change event at all.

VictoriaMetrics, which answers the same API with its own query engine, must find the same
deploy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Window
from tests.analysis.test_leads_live_prometheus import findings_of, seconds_between, serving
from tests.infra.victoria import VictoriaMetricsServer, import_scenarios
from tests.scenarios import Phase, Scenario, ServiceProfile, t, ts

pytestmark = pytest.mark.prometheus

#: One day per scenario: no scenario's series in another's window or baseline.
DAY, DAY2, DAY3 = "2026-04-16", "2026-04-17", "2026-04-18"
Samples = list[tuple[int, float]]


@dataclass
class WithMetrics(Scenario):
    """A scenario plus series of its own: (metric, labels, a value from each time on)."""

    metrics: list[tuple[str, dict[str, str], list[tuple[dt.datetime, Any]]]] = field(
        default_factory=list
    )

    def _series(self) -> Iterator[tuple[str, dict[str, str], Samples]]:
        yield from super()._series()
        for metric, labels, steps in self.metrics:
            yield from self._stepwise(metric, labels, steps)

    def _stepwise(
        self, metric: str, labels: dict[str, str], steps: list[tuple[dt.datetime, Any]]
    ) -> Iterator[tuple[str, dict[str, str], Samples]]:
        """One series per (label, value) step: a value in a label (a version) starts a new
        series, a number is the value of the same series from that time on."""
        ticks = self.scrape_ticks()
        bounds = [ts(at) for at, _ in steps] + [ticks[-1] + 1]
        runs: dict[tuple[tuple[str, str], ...], Samples] = {}
        for (_, value), lo, hi in zip(steps, bounds, bounds[1:]):
            extra = value if isinstance(value, dict) else {}
            number = float(value) if not isinstance(value, dict) else 1.0
            key = tuple(sorted({**labels, **extra}.items()))
            runs.setdefault(key, []).extend((x, number) for x in ticks if lo <= x < hi)
        for key, samples in runs.items():
            yield metric, dict(key), samples


def _labels(service: str) -> dict[str, str]:
    return {"job": service, "service": service, "instance": f"{service}-0:8080"}


def _kube(**labels: str) -> dict[str, str]:
    return {"job": "kube-state-metrics", "namespace": "shop", **labels}


def _rollout(
    deployment: str, *revisions: tuple[dt.datetime, str, int]
) -> list[tuple[str, dict[str, str], list[tuple[dt.datetime, Any]]]]:
    """kube-state-metrics' series of a Deployment: from each time on, its ReplicaSet (each
    one stays) and its generation."""
    owner = _kube(owner_kind="Deployment", owner_name=deployment)
    return [
        *(("kube_replicaset_owner", owner, [(at, {"replicaset": rs})]) for at, rs, _ in revisions),
        (
            "kube_deployment_metadata_generation",
            _kube(deployment=deployment),
            [(at, generation) for at, _, generation in revisions],
        ),
    ]


def deploy_seen_in_build_info() -> WithMetrics:
    """checkout deploys 1.5.0 at 09:57 (restart, new ReplicaSet too) and fails at 10:00."""
    start, deploy = t(f"{DAY} 06:00"), t(f"{DAY} 09:57")
    return WithMetrics(
        "changes_build_info",
        t(f"{DAY} 09:00"),
        t(f"{DAY} 11:30"),
        services=[
            ServiceProfile(
                "checkout", rps=20, phases=(Phase(t(f"{DAY} 10:00"), t(f"{DAY} 10:30"), 0.3),)
            ),
            ServiceProfile("cart", rps=10),
        ],
        description="a deploy only the metrics show, 3 minutes before impact",
        metrics=[
            (
                "myapp_build_info",
                _labels("checkout"),
                [(start, {"version": "1.4.2"}), (deploy, {"version": "1.5.0"})],
            ),
            ("myapp_build_info", _labels("cart"), [(start, {"version": "2.0.0"})]),
            (
                "process_start_time_seconds",
                _labels("checkout"),
                [(start, ts(start) - 3600), (deploy, ts(deploy))],
            ),
            ("process_start_time_seconds", _labels("cart"), [(start, ts(start) - 3600)]),
            *_rollout("checkout", (start, "checkout-5d9c7", 7), (deploy, "checkout-7f8b9", 8)),
        ],
    )


def rollout_seen_in_kube() -> WithMetrics:
    """payments' Deployment rolls out a new ReplicaSet at 13:56; payments fails at 14:00."""
    start, rollout = t(f"{DAY2} 11:30"), t(f"{DAY2} 13:56")
    return WithMetrics(
        "changes_kube_rollout",
        t(f"{DAY2} 13:00"),
        t(f"{DAY2} 15:30"),
        services=[
            ServiceProfile(
                "payments", rps=12, phases=(Phase(t(f"{DAY2} 14:00"), t(f"{DAY2} 14:30"), 0.4),)
            )
        ],
        description="a rollout only kube-state-metrics shows, 4 minutes before impact",
        metrics=[
            *_rollout("payments", (start, "payments-6b7c8", 3), (rollout, "payments-9d4f2", 4)),
        ],
    )


def steady_build_info() -> WithMetrics:
    """api fails at 17:00 with the same build all along: nothing changed."""
    start = t(f"{DAY3} 15:30")
    return WithMetrics(
        "changes_steady",
        t(f"{DAY3} 16:30"),
        t(f"{DAY3} 18:30"),
        services=[
            ServiceProfile(
                "api", rps=15, phases=(Phase(t(f"{DAY3} 17:00"), t(f"{DAY3} 17:30"), 0.3),)
            )
        ],
        description="an incident with a steady build info",
        metrics=[
            ("myapp_build_info", _labels("api"), [(start, {"version": "3.1.0"})]),
            ("process_start_time_seconds", _labels("api"), [(start, ts(start) - 600)]),
        ],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Scenario]]]:
    scenarios: list[Scenario] = [
        deploy_seen_in_build_info(),
        rollout_seen_in_kube(),
        steady_build_info(),
    ]
    with serving(tmp_path_factory.mktemp("changes-prometheus"), scenarios) as url:
        yield url, {sc.name: sc for sc in scenarios}


def queries_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["id"]: q for s in data["sources"] for q in s["queries"]}


def test_a_new_build_info_version_before_impact_ranks_first(
    server: tuple[str, dict[str, Scenario]],
) -> None:
    data = findings_of(server, "changes_build_info")
    first = data["suspects"][0]
    assert first["kind"] == "change" and first["service"] == "checkout"
    assert first["summary"] == (
        "checkout déployé : version 1.4.2 → 1.5.0 (vu dans myapp_build_info)"
    )
    assert seconds_between(first["at"], t(f"{DAY} 09:57")) <= 15
    assert first["lead_seconds"] == pytest.approx(180, abs=30) and first["score"] > 0.8
    (ref,) = first["evidence"]
    assert "myapp_build_info" in queries_of(data)[ref]["query"]
    # the restart, the new ReplicaSet and the generation are the same change: one lead
    assert [s for s in data["suspects"] if s["kind"] == "change"] == [first]
    rows = [r for r in data["timeline"] if r["kind"] in ("deploy", "restart", "change")]
    assert [r["text"] for r in rows] == [first["summary"]]
    assert rows[0]["ref"] == ref
    # cart's build never changed
    assert all(s["service"] != "cart" for s in data["suspects"])


def test_a_new_replicaset_of_the_deployment_ranks_first(
    server: tuple[str, dict[str, Scenario]],
) -> None:
    data = findings_of(server, "changes_kube_rollout")
    first = data["suspects"][0]
    assert first["kind"] == "change" and first["service"] == "payments"
    assert first["summary"] == (
        "payments déployé : nouveau ReplicaSet payments-9d4f2 du Deployment payments "
        "(vu dans kube_replicaset_owner)"
    )
    assert seconds_between(first["at"], t(f"{DAY2} 13:56")) <= 15
    (ref,) = first["evidence"]
    assert "kube_replicaset_owner" in queries_of(data)[ref]["query"]
    assert [s["summary"] for s in data["suspects"] if s["kind"] == "change"] == [first["summary"]]


def test_a_steady_build_info_gives_no_change(server: tuple[str, dict[str, Scenario]]) -> None:
    data = findings_of(server, "changes_steady")
    assert data["incident"]["found"]
    assert [r for r in data["timeline"] if r["kind"] in ("deploy", "restart", "change")] == []
    assert [s for s in data["suspects"] if s["kind"] == "change"] == []
    # the series were looked for, and read
    assert any("myapp_build_info" in q["query"] for q in queries_of(data).values())


def test_the_change_queries_keep_to_max_series_and_say_so(
    server: tuple[str, dict[str, Scenario]],
) -> None:
    url, scenarios = server
    sc = scenarios["changes_build_info"]
    source = PrometheusSource(
        "prom", {"url": url, "preset": sc.convention, "max_series": 2}, SourceContext()
    )
    evidence = source.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    )
    # checkout's two versions and cart's one in the window: three series, two kept
    (capped,) = [w for w in evidence.warnings if w.code == "series_capped"]
    assert "myapp_build_info" in capped.message and capped.params == {"count": 3, "limit": 2}
    window = [
        s
        for s in evidence.series
        if s.kind == "change_metric" and "build_info" in s.name and not s.baseline
    ]
    assert len(window) == 2


def test_victoria_metrics_shows_the_same_deploy(tmp_path: Any) -> None:
    sc = deploy_seen_in_build_info()
    with VictoriaMetricsServer(tmp_path / "victoria-metrics") as server:
        import_scenarios(server, [sc])
        source = PrometheusSource(
            "vm",
            {"url": server.url, "preset": sc.convention, "scrape_interval": 15},
            SourceContext(),
        )
        evidence = source.collect(
            CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
        )
    first = findings_to_json(analyse(evidence, {}))["suspects"][0]
    assert first["kind"] == "change" and first["at"] == "2026-04-16T09:57:00+00:00"
    assert first["summary"] == "checkout déployé : version 1.4.2 → 1.5.0 (vu dans myapp_build_info)"
