"""Ground truth through a real Prometheus: the analysis of what the connector reads back.

The scenarios are backfilled into a real server (``prometheus`` fixture); the connector
reads them with its own step, count step (two scrapes) and rate window, and the analysis
must still find every instant within one step and the availability within 0.001 — the
count step being coarser than the SLI step is where a breach's ends used to drift.
"""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Window
from tests.scenarios import SCENARIOS

pytestmark = pytest.mark.prometheus

PRESET = {"http_requests_total": "http_requests_total", "micrometer": "micrometer"}
SINGLE = sorted(
    name
    for name, make in SCENARIOS.items()
    if len(make().truth["incidents"]) == 1 and make().convention in PRESET
)


@pytest.mark.parametrize("name", SINGLE)
def test_instants_and_availability_from_a_real_server(prometheus, name: str) -> None:  # noqa: ANN001
    sc = prometheus.scenarios[name]
    source = PrometheusSource(
        "prom", {"url": prometheus.url, "preset": PRESET[sc.convention]}, SourceContext()
    )
    evidence = source.collect(
        CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    )
    inc = findings_to_json(analyse(evidence, {}))["incident"]
    (truth,) = sc.truth["incidents"]
    step = sc.scrape_interval

    def off(got: str | None, want: dt.datetime | None) -> float | None:
        if got is None or want is None:
            assert got is None and want is None
            return None
        return abs((dt.datetime.fromisoformat(got) - want).total_seconds())

    assert (off(inc["impact_start"], truth["impact_start"]) or 0) <= step
    assert (off(inc["resolution"], truth["resolution"]) or 0) <= step
    assert inc["availability"]["value"] == pytest.approx(sc.truth["availability"], abs=0.001)
