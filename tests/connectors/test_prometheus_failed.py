"""A failed request of a Prometheus collect's part: fatal ends the source, else a warning.

connectors/prometheus/failed.py holds the one rule the parts share; here it is exercised
through the parts that use it (alerts, alerting rules) against the recorded server.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import CollectRequest
from pmrecon.errors import EXIT_SOURCE, ConnectorError
from tests.connectors.test_prometheus_unit import FLAPPING, replay, replay_source
from tests.infra.prometheus import FakeHTTPServer

FAILED = {"status": "error", "errorType": "execution", "error": "query processing failed"}
DENIED = {"status": "error", "errorType": "forbidden", "error": "denied"}


def failing(status: int, *, when: str, body: Any = FAILED):  # noqa: ANN201
    """The recorded server, answering ``status`` to the ``/api/v1/query`` calls whose query
    starts with ``when``, or to every call of the path ``when``."""
    recorded = replay()

    def handler(req):  # noqa: ANN001, ANN202
        if req.path == when or req.params.get("query", "").startswith(when):
            return status, body
        return recorded(req)

    return handler


def test_alerts_that_fail_short_of_fatally_are_a_warning() -> None:
    with FakeHTTPServer(failing(422, when="ALERTS")) as fake:
        ev = replay_source(fake.url, retries=0).collect(CollectRequest(window=FLAPPING))
    (warning,) = [w for w in ev.warnings if w.code == "alerts_failed"]
    assert warning.message.endswith("; alerts are missing from the evidence")
    assert warning.params == {"kind": "bad_query"}
    assert not ev.alerts and ev.series


def test_alerting_rules_that_fail_short_of_fatally_are_a_warning() -> None:
    with FakeHTTPServer(failing(422, when="/api/v1/rules")) as fake:
        ev = replay_source(fake.url, retries=0).collect(CollectRequest(window=FLAPPING))
    (warning,) = [w for w in ev.warnings if w.code == "no_rules"]
    assert "alerting rules not available (" in warning.message and warning.params == {}
    assert ev.alerts and all(a.annotations == {} for a in ev.alerts)


@pytest.mark.parametrize("when", ["ALERTS", "/api/v1/rules"])
def test_a_fatal_failure_ends_the_source(when: str) -> None:
    with (
        FakeHTTPServer(failing(403, when=when, body=DENIED)) as fake,
        pytest.raises(ConnectorError) as info,
    ):
        replay_source(fake.url, retries=0).collect(CollectRequest(window=FLAPPING))
    assert info.value.exit_code == EXIT_SOURCE
    assert "403" in info.value.format_message()
