"""The Elasticsearch connector against real 8.19 and 9.x nodes, and the OpenSearch connector
(the same queries, another flavour) against a real OpenSearch 2.x node, checked against the
scenarios' truth.

The ECS logs of every scenario (tests/scenarios.py) are bulk-loaded once per node into monthly
indices ``pmrecon-estest-logs-YYYY.MM`` (keyword fields, message as text + keyword), and the
``flapping`` scenario again into indices with other mappings: dynamic (every string a text field
with a ``.keyword`` sub-field), a keyword sub-field too short for the messages
(``ignore_above: 64``), and a message without keyword form. Every figure the connector returns
is compared with the truth the scenario computed from its own declaration.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import connectors
from connectors.base import CollectRequest, SourceContext
from connectors.elasticsearch import ElasticsearchSource
from connectors.opensearch import OpenSearchSource
from connectors.signatures import normalise
from pmrecon.config import validate
from pmrecon.errors import ConnectorError
from pmrecon.model import Evidence, Window, to_jsonable
from pmrecon.redact import Redactor
from tests.infra.es import ElasticsearchNode, bulk_load
from tests.infra.es_fixtures import SEARCH_SERVERS
from tests.infra.opensearch import bulk_load_opensearch
from tests.scenarios import SCENARIOS, Scenario, all_scenarios, nested

pytestmark = [pytest.mark.elasticsearch, SEARCH_SERVERS]
#: The source type reading each product.
SOURCES: dict[str, type[ElasticsearchSource]] = {
    "elasticsearch": ElasticsearchSource,
    "opensearch": OpenSearchSource,
}

PREFIX = "pmrecon-estest"
LOGS = f"{PREFIX}-logs-*"
LOG_SCENARIOS = [
    "clean_single",
    "flapping",
    "two_services",
    "two_incidents",
    "in_progress",
    "midnight_paris",
    "no_incident",
    "latency_only",
]
KEYWORD = {"type": "keyword"}
#: Test indices are loaded once and never lost: no fsync per bulk request, no refresh while
#: loading (the loader refreshes at the end).
LOAD_SETTINGS = {"translog.durability": "async", "refresh_interval": "-1"}
ECS_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
        },
        "log": {"properties": {"level": KEYWORD}},
        "service": {"properties": {"name": KEYWORD, "version": KEYWORD}},
        "host": {"properties": {"name": KEYWORD}},
        "trace": {"properties": {"id": KEYWORD}},
        "user": {"properties": {"id": KEYWORD, "name": KEYWORD}},
        "event": {"properties": {"category": KEYWORD, "action": KEYWORD}},
        "error": {"properties": {"type": KEYWORD, "message": {"type": "text"}}},
        "tags": KEYWORD,
    }
}
VARIANTS: dict[str, dict[str, Any] | None] = {
    "dyn": None,  # dynamic mapping: text + .keyword everywhere
    "long": {
        "properties": {
            "message": {
                "type": "text",
                "fields": {"keyword": {"type": "keyword", "ignore_above": 64}},
            }
        }
    },
    "textonly": {"properties": {"message": {"type": "text"}}},
}
PII_DOCS = [
    (
        "2026-06-01T10:05:00.000Z",
        "error",
        "Login failed for alice@example.com with password=hunter2x",
    ),
    (
        "2026-06-01T10:06:00.000Z",
        "error",
        "Login failed for bob@example.org with password=s3cr3tpw",
    ),
    ("2026-06-01T10:07:00.000Z", "info", "heartbeat from 10.1.2.3"),
]


@dataclass
class Loaded:
    node: ElasticsearchNode
    counts: dict[str, int]


_LOADED: dict[str, Loaded] = {}


def _docs(node: ElasticsearchNode) -> Iterator[dict[str, Any]]:
    """Every document of every index, each carrying its ``_index``."""
    for i, sc in enumerate(all_scenarios()):
        index = f"{PREFIX}-logs-{'ab'[i % 2]}"
        yield from ({"_index": index, **nested(d)} for d in sc.log_docs())
    for i, (at, level, msg) in enumerate(PII_DOCS):
        yield {
            "_index": f"{PREFIX}-logs-b",
            "@timestamp": at,
            "log": {"level": level},
            "message": msg,
            "service": {"name": "login"},
            "user": {"id": f"u{i}"},
        }
    for name in VARIANTS:
        yield from (
            {"_index": f"{PREFIX}-{name}", **nested(d)} for d in SCENARIOS["flapping"]().log_docs()
        )
    for suffix, code in (("a", 7), ("b", "x7")):
        yield {
            "_index": f"{PREFIX}-mixed-{suffix}",
            "@timestamp": "2026-06-02T10:00:00.000Z",
            "log": {"level": "error"},
            "message": "boom",
            "service": {"name": "mixed"},
            "labels": {"code": code},
        }


def _load(node: ElasticsearchNode) -> Loaded:
    """All indices created at once (the master batches them), then one bulk load; once per node."""
    code = {"properties": {"labels": {"properties": {"code": {"type": "long"}}}}}
    indices: dict[str, tuple[dict[str, Any] | None, int]] = {
        f"{PREFIX}-logs-a": (ECS_MAPPING, 2),  # two shards: merging across shards is exercised
        f"{PREFIX}-logs-b": (ECS_MAPPING, 1),
        **{f"{PREFIX}-{name}": (m, 1) for name, m in VARIANTS.items()},
        f"{PREFIX}-mixed-a": (code, 1),
        f"{PREFIX}-mixed-b": ({"properties": {"labels": {"properties": {"code": KEYWORD}}}}, 1),
    }

    def create(item: tuple[str, tuple[dict[str, Any] | None, int]]) -> None:
        index, (mappings, shards) = item
        settings = {"number_of_shards": shards, "number_of_replicas": 0, **LOAD_SETTINGS}
        body: dict[str, Any] = {"settings": settings}
        if mappings:
            body["mappings"] = mappings
        node.request("PUT", f"/{index}", body)  # plain HTTP: the same for both products

    with concurrent.futures.ThreadPoolExecutor(len(indices)) as pool:
        list(pool.map(create, indices.items()))
    if node.product == "opensearch":
        n = bulk_load_opensearch(node.url, f"{PREFIX}-*", _docs(node))
    else:
        n = bulk_load(node.url, f"{PREFIX}-*", _docs(node), major=node.major)
    return Loaded(node, {"documents": n})


@pytest.fixture
def loaded(es_node: ElasticsearchNode) -> Loaded:
    if es_node.url not in _LOADED:
        _LOADED[es_node.url] = _load(es_node)
    return _LOADED[es_node.url]


def source(node: ElasticsearchNode, redactor: Any = None, **settings: Any) -> ElasticsearchSource:
    settings.setdefault("index", LOGS)
    return SOURCES[node.product](
        "logs", {"hosts": [node.url], **settings}, SourceContext(redactor=redactor)
    )


def request(sc: Scenario) -> CollectRequest:
    return CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))


def expected_signatures(sc: Scenario) -> dict[str, dict[str, Any]]:
    """Truth's signatures keyed as the connector keys them: error.type, else the folded message."""
    out: dict[str, dict[str, Any]] = {}
    for s in sc.truth["signatures"]:
        key = s["error_type"] or normalise(s["examples"][0])
        e = out.setdefault(
            key,
            {
                "count": 0,
                "first": s["first_seen"],
                "last": s["last_seen"],
                "services": set(),
                "base": 0,
            },
        )
        e["count"] += s["count"]
        e["first"] = min(e["first"], s["first_seen"])
        e["last"] = max(e["last"], s["last_seen"])
        e["services"].add(s["service"])
        e["base"] += s["baseline_count"]
    return out


def baseline_sightings(
    sc: Scenario, signatures: set[str]
) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """(first, last) time of each signature's error and warning lines in the scenario's
    baseline (the signature: the error type, else the folded message)."""
    b0, b1 = sc.baseline
    times: dict[str, list[dt.datetime]] = {s: [] for s in signatures}
    for doc in sc.log_docs():
        at = dt.datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00"))
        kind = doc.get("error.type") or normalise(doc["message"])
        if kind in times and b0 <= at < b1 and doc["log.level"] in ("error", "warn"):
            times[kind].append(at.replace(microsecond=at.microsecond // 1000 * 1000))
    return {k: (min(v), max(v)) if v else (None, None) for k, v in times.items()}


def sums(counts: dict[str, list[int]]) -> dict[str, int]:
    return {k: sum(v) for k, v in counts.items() if sum(v)}


# --------------------------------------------------------------------------- truth


@pytest.mark.parametrize("name", LOG_SCENARIOS)
def test_counts_signatures_users_and_changes_match_truth(loaded: Loaded, name: str) -> None:
    sc = SCENARIOS[name]()
    truth = sc.truth
    # the scenario's tag as the user filter: every query must carry it
    ev = source(loaded.node, filter={"term": {"tags": name}}).collect(request(sc))
    logs = ev.logs
    assert logs is not None
    t = truth["logs"]

    assert logs.total_documents == t["total"]
    assert sums(logs.volume_by_level.counts) == t["by_level"]
    assert logs.error_documents == t["errors"]
    assert sums(logs.errors_by_service.counts) == t["errors_by_service"]
    assert logs.baseline_error_documents == truth["baseline_logs"]["errors"]
    assert logs.baseline_seconds == (sc.baseline[1] - sc.baseline[0]).total_seconds()
    # cardinality is exact below its precision threshold; allow 1 % anyway
    assert abs((logs.impacted_users or 0) - t["distinct_users"]) <= max(
        1, t["distinct_users"] // 100
    )

    # histogram grid: aligned on the window start, covering it, at most max_buckets buckets
    h = logs.volume_by_level
    w0, w1 = sc.window[0].timestamp(), sc.window[1].timestamp()
    assert h.timestamps[0] == w0 and h.timestamps[-1] < w1 <= h.timestamps[-1] + h.interval_seconds
    assert len(h.timestamps) <= 200
    assert all(len(v) == len(h.timestamps) for v in h.counts.values())
    assert logs.errors_by_service.timestamps == h.timestamps

    want = expected_signatures(sc)
    got = {s.signature: s for s in logs.signatures}
    assert set(got) == set(want)
    for key, e in want.items():
        s = got[key]
        assert (s.count, s.first_seen, s.last_seen) == (e["count"], e["first"], e["last"]), key
        assert set(s.services) == e["services"]
        assert s.baseline_count == e["base"], key
        assert s.new_since_baseline == (e["base"] == 0), key
        assert s.query_ref and s.example
    for key in truth["new_signatures"]:
        sig = next(x for x in sc.log_signatures if x.key == key)
        assert got[sig.error_type or ""].new_since_baseline
    # a signature also seen in the baseline is never new
    assert all(not s.new_since_baseline for s in logs.signatures if s.baseline_count)
    # the ones present before the incident are there, and not new
    old = [s for s in truth["signatures"] if not s["new"]]
    for s in old:
        key = s["error_type"] or normalise(s["examples"][0])
        assert not got[key].new_since_baseline and got[key].baseline_count > 0

    events = [(e.at, e.kind, e.labels.get("service"), e.labels.get("version")) for e in ev.events]
    assert events == [
        (c["at"], c["kind"], c["service"], c["version"]) for c in truth["change_events"]
    ]
    for e, c in zip(ev.events, truth["change_events"]):
        assert e.text == c["text"] and e.source == "logs" and e.ref

    if t["errors"]:
        first = min(
            dt.datetime.fromisoformat(d["@timestamp"].replace("Z", "+00:00"))
            for d in sc.log_docs()
            if d["log.level"] == "error"
            and sc.window[0]
            <= dt.datetime.fromisoformat(d["@timestamp"].replace("Z", "+00:00"))
            < sc.window[1]
        )
        reasons = {s.reason for s in logs.samples}
        assert "first_error" in reasons
        errors = [sum(c) for c in zip(*logs.errors_by_service.counts.values())]
        peak_at = logs.errors_by_service.timestamps[errors.index(max(errors))]
        peak_lines = [s for s in logs.samples if s.reason == "peak"]
        # the peak's lines are kept unless the first errors' lines already hold them
        if (
            peak_at
            > max(s.timestamp for s in logs.samples if s.reason == "first_error").timestamp()
        ):
            assert peak_lines
        assert all(
            peak_at <= s.timestamp.timestamp() < peak_at + logs.errors_by_service.interval_seconds
            for s in peak_lines
        )
        assert min(s.timestamp for s in logs.samples if s.reason == "first_error") == first
        for s in logs.samples:
            assert sc.window[0] <= s.timestamp < sc.window[1]
            assert s.level == "error" or s.reason == "new_signature"
            assert s.query_ref
        if truth["new_signatures"]:
            new_first = {s.signature: s.first_seen for s in logs.signatures if s.new_since_baseline}
            firsts = sorted(s.timestamp for s in logs.samples if s.reason == "new_signature")
            assert firsts and set(firsts) <= set(new_first.values())
    else:
        assert logs.samples == [] and logs.signatures == []


def test_query_records_and_server_version(loaded: Loaded) -> None:
    sc = SCENARIOS["clean_single"]()
    ev = source(loaded.node).collect(request(sc))
    info = ev.sources[0]
    assert info.kind == loaded.node.product and info.ok
    assert info.version == loaded.node.version
    assert info.settings["compatible_with"] == loaded.node.major
    assert info.url == loaded.node.url
    ids = [q.id for q in info.queries]
    assert ids == [f"logs:q{i}" for i in range(1, len(ids) + 1)]
    searches = [q for q in info.queries if q.endpoint and q.endpoint.endswith("/_search")]
    assert len(searches) >= 8
    for q in searches:
        assert q.index == LOGS
        assert q.start is not None and q.end is not None and q.start < q.end
        assert isinstance(q.query, dict) and "query" in q.query
        assert q.duration_seconds is not None and q.warnings == []
        json.dumps(q.query)
        # every query carries the window's time range, never from/size paging
        assert "@timestamp" in json.dumps(q.query["query"])
        assert "from" not in q.query
    refs = {q.id for q in info.queries}
    logs = ev.logs
    assert logs is not None
    assert {
        logs.volume_by_level.query_ref,
        logs.errors_by_service.query_ref,
        logs.impacted_users_ref,
    } <= refs
    assert all(s.query_ref in refs for s in logs.signatures)
    assert all(e.ref in refs for e in ev.events)
    # the evidence round-trips as JSON
    json.dumps(to_jsonable(ev))


def _comparable(ev: Evidence) -> Any:
    """The evidence as JSON, without what differs from run to run: durations and sizes (an
    answer's ``took`` varies)."""
    out = to_jsonable(ev)
    for info in out["sources"]:
        for q in info["queries"]:
            q.pop("duration_seconds")
            q.pop("bytes_received")
    return out


class InFlight:
    """Stands in for the ``send`` of a source's connection (every request goes through it):
    counts the requests in flight, and the most at once."""

    def __init__(self, src: ElasticsearchSource) -> None:
        self.send = src.connection.send
        self.lock = threading.Lock()
        self.now = self.most = 0
        src.connection.send = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.02)  # local answers are quick: make overlapping requests certain
            return self.send(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_concurrent_collect_gives_the_sequential_evidence(loaded: Loaded) -> None:
    sc = SCENARIOS["clean_single"]()
    # bounds that make several parts warn (signatures, changes) and page (composite)
    settings: dict[str, Any] = {
        "signatures": {"page_size": 2, "max_distinct_messages": 4, "top": 2},
        "changes": {"max_events": 1},
    }
    runs: dict[int, tuple[Evidence, Redactor, InFlight]] = {}
    for workers in (1, 4):
        # the scenario's messages hold no personal data: mask the order ids, so that the parts
        # which redact (signatures, samples) count masks at the same time
        uuid = re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b")
        redactor = Redactor(patterns={"order_id": uuid})
        src = source(loaded.node, redactor, max_concurrency=workers, **settings)
        flight = InFlight(src)
        runs[workers] = (src.collect(request(sc)), redactor, flight)
    (one, red1, flight1), (four, red4, flight4) = runs[1], runs[4]
    assert flight1.most == 1 and 2 <= flight4.most <= 4
    assert _comparable(four) == _comparable(one)
    codes = [w.code for w in one.warnings]
    assert "signatures_truncated" in codes and "changes_truncated" in codes
    ids = [q.id for q in four.sources[0].queries]
    assert ids == [f"logs:q{i}" for i in range(1, len(ids) + 1)]
    assert red1.counts["order_id"] > 0 and dict(red4.counts) == dict(red1.counts)
    assert one.logs is not None and one.logs.redactions == dict(red1.counts)
    # every search records the size of its answer (chunked, without Content-Length)
    for ev in (one, four):
        searches = [q for q in ev.sources[0].queries if (q.endpoint or "").endswith("/_search")]
        assert searches and all(
            isinstance(q.bytes_received, int) and q.bytes_received > 0 for q in searches
        )


def test_registry_and_config_validation(loaded: Loaded) -> None:
    sc = SCENARIOS["two_services"]()
    cfg = validate(
        {
            "sources": {
                "es": {
                    "type": loaded.node.product,
                    "hosts": [loaded.node.url],
                    "index": LOGS,
                    "timeout": "20s",
                    "fields": {"user_id": "user.id"},
                }
            }
        }
    )
    src = connectors.create(loaded.node.product, "es", cfg["sources"]["es"], SourceContext())
    assert isinstance(src, connectors.LogsSource)
    ev = src.collect(
        CollectRequest(
            window=Window(*sc.window), baseline=Window(*sc.baseline), services=("inventory",)
        )
    )
    assert ev.logs is not None
    assert sums(ev.logs.errors_by_service.counts) == {
        "inventory": sc.truth["logs"]["errors_by_service"]["inventory"]
    }
    assert [s.signature for s in ev.logs.signatures] == ["UpstreamTimeoutError"]
    assert ev.events == []  # the deploy was of orders


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_other_mappings_give_the_same_answers(loaded: Loaded, variant: str) -> None:
    sc = SCENARIOS["flapping"]()
    ev = source(loaded.node, index=f"{PREFIX}-{variant}").collect(request(sc))
    logs = ev.logs
    assert logs is not None
    t = sc.truth["logs"]
    assert sums(logs.volume_by_level.counts) == t["by_level"]
    assert sums(logs.errors_by_service.counts) == t["errors_by_service"]
    assert logs.impacted_users == t["distinct_users"]
    want = expected_signatures(sc)
    got = {
        s.signature: (s.count, s.first_seen, s.last_seen, s.new_since_baseline)
        for s in logs.signatures
    }
    assert got == {k: (e["count"], e["first"], e["last"], e["base"] == 0) for k, e in want.items()}
    # read from the documents themselves when the message has no keyword form
    sightings = {
        s.signature: (s.baseline_first_seen, s.baseline_last_seen) for s in logs.signatures
    }
    assert sightings == baseline_sightings(sc, set(sightings))
    fields = ev.sources[0].settings["fields"]
    if variant == "dyn":
        assert fields["service"]["aggregated_on"] == "service.name.keyword"
        assert fields["level"]["aggregated_on"] == "log.level.keyword"
    if variant == "textonly":
        assert fields["message"]["aggregated_on"] is None
    if variant in ("long", "textonly"):
        purposes = " ".join(q.purpose for q in ev.sources[0].queries)
        assert "unaggregatable messages" in purposes
    assert not [w for w in ev.warnings if w.code == "signatures_truncated"]


def test_bounds_page_through_composite_and_point_in_time(loaded: Loaded) -> None:
    sc = SCENARIOS["clean_single"]()
    exact = source(
        loaded.node,
        signatures={"page_size": 1},
        samples={"first_errors": 750, "new_signatures": 0},
    ).collect(request(sc))
    logs = exact.logs
    assert logs is not None
    want = expected_signatures(sc)
    assert {s.signature: s.count for s in logs.signatures} == {
        k: e["count"] for k, e in want.items()
    }
    purposes = [q.purpose for q in exact.sources[0].queries]
    assert any("composite aggregation, 4 page(s) of up to 1 buckets" in p for p in purposes)
    firsts = [s for s in logs.samples if s.reason == "first_error"]
    assert len(firsts) == sc.truth["logs"]["errors"]  # 701 lines: two pages of a point in time
    assert len({(s.timestamp, s.message) for s in firsts}) == len(firsts)
    assert [s.timestamp for s in firsts] == sorted(s.timestamp for s in firsts)
    pit = [q for q in exact.sources[0].queries if "point in time" in q.purpose]
    assert (
        pit and "2 page(s)" in pit[0].purpose and pit[0].query["pit"]["id"] == "<point in time id>"
    )

    bounded = source(
        loaded.node,
        signatures={"page_size": 2, "max_distinct_messages": 4, "top": 2},
        changes={"max_events": 1},
    ).collect(request(sc))
    assert bounded.logs is not None
    codes = [w.code for w in bounded.warnings]
    assert "signatures_truncated" in codes and "changes_truncated" in codes
    msg = next(w.message for w in bounded.warnings if w.code == "signatures_truncated")
    assert (
        "stopped after 4 distinct values" in msg and "raise signatures.max_distinct_messages" in msg
    )
    # the two most frequent are kept, both new
    assert [s.signature for s in bounded.logs.signatures] == [
        "UpstreamTimeoutError",
        "PoolExhaustedError",
    ]
    assert len(bounded.events) == 1


def test_shard_failure_is_a_warning_with_partial_results(loaded: Loaded) -> None:
    window = Window(
        dt.datetime(2026, 6, 2, 9, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 6, 2, 11, tzinfo=dt.timezone.utc),
    )
    src = source(loaded.node, index=f"{PREFIX}-mixed-*", filter={"term": {"labels.code": "x7"}})
    ev = src.collect(CollectRequest(window=window))
    logs = ev.logs
    assert logs is not None
    assert logs.error_documents == 1  # the keyword index answered, the long one failed
    warns = [w for w in ev.warnings if w.code == "shard_failures"]
    assert warns
    assert "partial results: 1 of 2 shards failed" in warns[0].message
    assert "\n" not in warns[0].message
    failing = [q for q in ev.sources[0].queries if q.warnings and q.purpose != "server version"]
    assert failing and all("shards failed" in q.warnings[0] for q in failing)


def test_redaction_of_messages_signatures_and_samples(loaded: Loaded) -> None:
    window = Window(
        dt.datetime(2026, 6, 1, 10, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 6, 1, 11, tzinfo=dt.timezone.utc),
    )
    redactor = Redactor()
    ev = source(loaded.node, redactor).collect(
        CollectRequest(
            window=window, baseline=Window(window.start - dt.timedelta(hours=1), window.start)
        )
    )
    logs = ev.logs
    assert logs is not None
    text = json.dumps(to_jsonable(ev))
    for secret in ("alice@example.com", "bob@example.org", "hunter2x", "s3cr3tpw"):
        assert secret not in text
    assert logs.redactions and logs.redactions == dict(redactor.counts)
    assert logs.redactions.get("email", 0) >= 1 and logs.redactions.get("api_key", 0) >= 1
    (sig,) = logs.signatures
    assert sig.count == 2 and sig.new_since_baseline
    assert "[REDACTED:" in (sig.example or "")
    assert all("[REDACTED:" in s.message for s in logs.samples)


def test_coarse_scan_skips_signatures_and_samples(loaded: Loaded) -> None:
    sc = SCENARIOS["two_incidents"]()
    req = CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline), coarse=True)
    ev = source(loaded.node).collect(req)
    logs = ev.logs
    assert logs is not None
    assert sums(logs.errors_by_service.counts) == sc.truth["logs"]["errors_by_service"]
    assert logs.signatures == [] and logs.samples == []
    assert len(logs.volume_by_level.timestamps) <= 100


def test_check_lists_every_field_and_recent_documents(loaded: Loaded) -> None:
    sc = SCENARIOS["clean_single"]()
    kind = SOURCES[loaded.node.product]
    src = kind(
        "logs",
        {"hosts": [loaded.node.url], "index": LOGS},
        SourceContext(now=sc.window[0] + dt.timedelta(minutes=90)),
    )
    results = {r.check: r for r in src.check()}
    assert all(r.ok for r in results.values()), [r for r in results.values() if not r.ok]
    assert loaded.node.version in results["version"].detail
    assert results[f"index {LOGS}"].detail.startswith("matches ")
    for key in ("timestamp", "level", "message", "service", "user_id", "error_type"):
        assert f"field {key}" in results
    assert "counted on message.keyword" in results["field message"].detail
    assert results["recent documents"].detail.endswith("documents in the last hour")

    stale = kind(
        "logs",
        {"hosts": [loaded.node.url], "index": LOGS},
        SourceContext(now=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)),
    )
    recent = {r.check: r for r in stale.check()}["recent documents"]
    assert not recent.ok and "0 documents in the last hour" in recent.detail

    nothing = kind("logs", {"hosts": [loaded.node.url], "index": "nope-*"}, SourceContext())
    res = {r.check: r for r in nothing.check()}
    assert res["reachable"].ok and not res["index nope-*"].ok
    assert "matches no index" in res["index nope-*"].detail


def test_logs_failure_keeps_the_other_sources(loaded: Loaded) -> None:
    from pmrecon.api import collect

    sc = SCENARIOS["flapping"]()
    good = source(loaded.node)
    bad = SOURCES[loaded.node.product](
        "broken", {"hosts": [loaded.node.url], "index": "nope-*"}, SourceContext()
    )
    ev: Evidence = collect([good, bad], request(sc))
    assert ev.logs is not None and ev.logs.error_documents == sc.truth["logs"]["errors"]
    (warn,) = [w for w in ev.warnings if w.source == "broken"]
    assert "index pattern 'nope-*' matches no index" in warn.message
    assert [s.ok for s in ev.sources] == [False, True]


def test_real_errors_index_and_field(loaded: Loaded) -> None:
    sc = SCENARIOS["flapping"]()
    with pytest.raises(ConnectorError) as info:
        source(loaded.node, index="pmrecon-nothing-*,other-nothing").collect(request(sc))
    msg = info.value.format_message()
    assert msg == (
        f"source 'logs' ({loaded.node.url}): index pattern 'pmrecon-nothing-*,other-nothing' "
        "matches no index; check 'index' (GET _cat/indices lists them)"
    )
    with pytest.raises(ConnectorError) as info:
        source(loaded.node, fields={"service": "svc.name"}).collect(request(sc))
    msg = info.value.format_message()
    assert (
        "field 'svc.name' (sources.logs.fields.service) is not in the mapping of 'pmrecon-estest-logs-*'"
        in msg
    )
    assert "set sources.logs.fields.service to the field holding the service name" in msg
    # an optional field named explicitly must exist too; left at its default it is simply unused
    with pytest.raises(
        ConnectorError, match=r"field 'usr' \(sources.logs.fields.user_id\).*or 'off'"
    ):
        source(loaded.node, fields={"user_id": "usr"}).collect(request(sc))
    ev = source(loaded.node, index=f"{PREFIX}-mixed-*").collect(request(sc))
    assert ev.logs is not None and ev.logs.impacted_users is None
    with pytest.raises(
        ConnectorError, match=r"field 'log' \(sources.logs.fields.timestamp\) is an object"
    ):
        source(loaded.node, fields={"timestamp": "log"}).collect(request(sc))
