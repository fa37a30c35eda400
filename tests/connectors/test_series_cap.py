"""A range query that returns more series than ``max_series`` is cut, and the report says so.

Issue 14: 200 series × 10,081 points for one service took 69 s, 4.4 GB and a 1.2 GB bundle.
The fake server here answers every range query with ``SERIES`` series of a few points, and
any other call (version, reachability) with an empty success.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.model import Window
from tests.infra.httpserver import BackgroundServer, send_json

UTC = dt.timezone.utc
WINDOW = Window(dt.datetime(2026, 3, 1, 9, tzinfo=UTC), dt.datetime(2026, 3, 1, 10, tzinfo=UTC))
BASELINE = Window(dt.datetime(2026, 3, 1, 8, tzinfo=UTC), WINDOW.start)
SERIES = 120


def matrix(count: int) -> bytes:
    """A range-query answer of ``count`` series (pod="p000"…), four points each."""
    start = WINDOW.start.timestamp()
    result = [
        {
            "metric": {"service": "checkout", "pod": f"p{i:03d}"},
            "values": [[start + 60 * k, "0.01"] for k in range(1, 5)],
        }
        for i in reversed(range(count))  # not in label order: the cut must sort
    ]
    data = {"resultType": "matrix", "result": result}
    return json.dumps({"status": "success", "data": data}).encode()


class _Many(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the handler's protocol
        if self.path.startswith("/api/v1/query_range"):
            send_json(self, 200, matrix(SERIES))
        else:
            empty = {"resultType": "vector", "result": []} if "/query" in self.path else {}
            send_json(self, 200, {"status": "success", "data": empty})

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(_Many) as fake:
        yield fake


def collect(url: str, **settings: Any) -> Any:
    source = PrometheusSource(
        "prom",
        {
            "type": "prometheus",
            "url": url,
            "services": ["checkout"],
            "alerts": {"enabled": False},
            "slis": {"latency": "off", "throughput": "off", "requests_total": "off",
                     "requests_bad": "off", "uptime": "off"},
            **settings,
        },
        SourceContext(),
    )  # fmt: skip
    request = CollectRequest(window=WINDOW, baseline=BASELINE, deadline=time.monotonic() + 30)
    return source.collect(request)


@pytest.mark.parametrize("cap", [None, 7])
def test_a_query_with_too_many_series_is_cut_and_said(
    server: BackgroundServer, cap: int | None
) -> None:
    evidence = collect(server.url, **({"max_series": cap} if cap else {}))
    limit = cap or 50  # the default
    window = [s for s in evidence.series if not s.baseline]
    assert len(window) == limit
    # the first by labels, whatever order the server used
    assert [s.labels["pod"] for s in window] == [f"p{i:03d}" for i in range(limit)]
    capped = [w for w in evidence.warnings if w.code == "series_capped"]
    assert len(capped) == 2  # the window's query and the baseline's
    assert f"{SERIES} series, more than max_series ({limit})" in capped[0].message
    (source,) = evidence.sources
    records = [q for q in source.queries if q.endpoint == "/api/v1/query_range"]
    assert all(q.result_count == SERIES for q in records)  # what the server sent, recorded
    assert all(any("max_series" in w for w in q.warnings) for q in records)


def test_a_query_within_the_cap_is_whole(server: BackgroundServer) -> None:
    evidence = collect(server.url, max_series=SERIES)
    assert len([s for s in evidence.series if not s.baseline]) == SERIES
    assert not [w for w in evidence.warnings if w.code == "series_capped"]
