"""The Alertmanager connector against the real Debian ``prometheus-alertmanager``."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import urllib.request

import pytest

from connectors.alertmanager import AlertmanagerSource, matchers_text, silence_matches
from connectors.base import CollectRequest, SourceContext
from pmrecon.errors import EXIT_SOURCE, ConnectorError
from pmrecon.model import Window

UTC = dt.timezone.utc


def _post_silence(url: str, matchers: dict[str, str], by: str, comment: str) -> str:
    now = dt.datetime.now(UTC)
    body = {
        "matchers": [
            {"name": k, "value": v.lstrip("~"), "isRegex": v.startswith("~"), "isEqual": True}
            for k, v in matchers.items()
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
        "createdBy": by,
        "comment": comment,
    }
    req = urllib.request.Request(
        f"{url}/api/v2/silences",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(json.load(resp)["silenceID"])


@pytest.fixture(scope="module")
def silences(alertmanager):  # noqa: ANN001, ANN201
    """Three silences created a little apart; the second is then expired (deleted)."""
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    ids = []
    for matchers, by, comment in [
        ({"service": "cart"}, "bob", "maintenance of cart"),
        ({"alertname": "HighErrorRate", "service": "~check.*"}, "alice", "looking at it"),
        ({"alertname": "HighLatency"}, "carol", ""),
    ]:
        ids.append(_post_silence(alertmanager.url, matchers, by, comment))
        time.sleep(0.05)
    req = urllib.request.Request(f"{alertmanager.url}/api/v2/silence/{ids[1]}", method="DELETE")
    urllib.request.urlopen(req, timeout=5).close()
    after = dt.datetime.now(UTC) + dt.timedelta(seconds=1)
    return alertmanager, ids, Window(before, after)


def _collect(url: str, window: Window, **settings: object):  # noqa: ANN202
    return AlertmanagerSource("am", {"url": url, **settings}, SourceContext()).collect(
        CollectRequest(window=window)
    )


@pytest.mark.prometheus
def test_silences_become_events_and_the_first_alert_silence_is_the_ack(silences) -> None:
    am, ids, window = silences
    ev = _collect(am.url, window)
    assert [e.ref for e in ev.events] == ids
    assert [e.kind for e in ev.events] == ["silence"] * 3
    first, second, third = ev.events
    assert first.text == 'silence created by bob for alerts service="cart": maintenance of cart'
    assert second.text == "silence created by alice for alerts HighErrorRate: looking at it"
    assert third.text == "silence created by carol for alerts HighLatency"
    # bob's silence names no alert; alice's is the first aimed at an alert, even though expired since
    assert (
        "ack" not in first.labels and second.labels["ack"] == "true" and "ack" not in third.labels
    )
    assert second.labels["state"] == "expired" and second.labels["created_by"] == "alice"
    assert second.labels["matchers"] == 'alertname="HighErrorRate",service=~"check.*"'
    assert [e.labels.get("alertname") for e in ev.events] == [None, "HighErrorRate", "HighLatency"]
    assert all(window.start <= e.at < window.end for e in ev.events)
    (src,) = ev.sources
    assert src.kind == "alertmanager" and src.version and src.version.startswith("0.")
    assert [q.endpoint for q in src.queries] == ["/api/v2/status", "/api/v2/silences"]


@pytest.mark.prometheus
def test_ack_matchers_and_window_filter(silences) -> None:
    am, ids, window = silences
    ev = _collect(am.url, window, ack_matchers={"alertname": "HighLatency", "severity": "warning"})
    assert [e.labels.get("ack") for e in ev.events] == [None, None, "true"]
    off = _collect(am.url, window, acknowledge=False)
    assert not any("ack" in e.labels for e in off.events)
    later = Window(window.end, window.end + dt.timedelta(hours=1))
    assert _collect(am.url, later).events == []


@pytest.mark.prometheus
def test_alertmanager_check(alertmanager) -> None:
    results = {
        r.check: r
        for r in AlertmanagerSource("am", {"url": alertmanager.url}, SourceContext()).check()
    }
    assert results["reachable"].ok and results["version"].detail.startswith("Alertmanager 0.")
    assert results["silences"].ok


def test_unreachable_alertmanager() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = AlertmanagerSource(
        "am", {"url": f"http://127.0.0.1:{port}", "retries": 0}, SourceContext()
    )
    now = dt.datetime.now(UTC)
    with pytest.raises(ConnectorError) as info:
        src.collect(CollectRequest(window=Window(now - dt.timedelta(hours=1), now)))
    assert info.value.exit_code == EXIT_SOURCE
    assert info.value.format_message().startswith(
        f"source 'am' (http://127.0.0.1:{port}): unreachable: cannot connect"
    )


def test_matchers_helpers() -> None:
    matchers = [
        {"name": "alertname", "value": "A", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "c.*", "isRegex": True, "isEqual": True},
        {"name": "env", "value": "dev", "isRegex": False, "isEqual": False},
    ]
    assert matchers_text(matchers) == 'alertname="A",service=~"c.*",env!="dev"'
    assert silence_matches(matchers, {"alertname": "A", "service": "cart", "env": "prod"})
    assert not silence_matches(matchers, {"alertname": "A", "service": "cart", "env": "dev"})
    assert not silence_matches(matchers, {"alertname": "A", "service": "xcart"})
