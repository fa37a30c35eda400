"""The Elasticsearch test nodes are real: ECS-like mapping, 10k docs bulk-loaded, exact aggregations.

Runs once per pinned major (es8, es9) through the ``es_node`` fixture (tests/infra/es_fixtures.py).
Only core features: the integ-test distribution has no painless, analysis-common, reindex or
pipeline aggregations.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.infra.es import (
    ElasticsearchNode,
    bulk_load,
    make_client,
    pinned_versions,
    server_version,
)

pytestmark = pytest.mark.elasticsearch

N_DOCS = 10_000
BASE = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.timezone.utc)
SERVICES = ["checkout", "payments", "cart", "search", "auth"]
LEVELS = ["debug", "info", "warn", "error"]
ERROR_TYPES = ["TimeoutError", "ConnectionResetError", "OOMKilled"]
CATEGORIES = ["web", "authentication", "database"]
HOUR_MS = 3_600_000

ECS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "@timestamp": {"type": "date"},
        "log": {"properties": {"level": {"type": "keyword"}}},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 256}},
        },
        "service": {"properties": {"name": {"type": "keyword"}}},
        "error": {"properties": {"type": {"type": "keyword"}}},
        "user": {"properties": {"id": {"type": "keyword"}}},
        "event": {"properties": {"category": {"type": "keyword"}}},
    },
}


def make_docs(n: int = N_DOCS, seed: int = 20260314) -> list[dict[str, Any]]:
    """Deterministic ECS-like log docs: one every ~6 s from BASE, errors carry error.type."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        ts = BASE + dt.timedelta(seconds=i * 6 + rng.randrange(6), milliseconds=rng.randrange(1000))
        service = rng.choices(SERVICES, weights=[5, 4, 3, 2, 1])[0]
        level = rng.choices(LEVELS, weights=[2, 12, 4, 1])[0]
        doc: dict[str, Any] = {
            "@timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "log": {"level": level},
            "service": {"name": service},
            "user": {"id": f"user-{rng.randrange(1500):04d}"},
            "event": {"category": rng.choice(CATEGORIES)},
        }
        if level == "error":
            doc["error"] = {"type": rng.choice(ERROR_TYPES)}
            doc["message"] = f"{service}: request {i} failed with {doc['error']['type']}"
        else:
            doc["message"] = f"{service}: request {i} served"
        docs.append(doc)
    return docs


def _epoch_ms(ts: str) -> int:
    t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int(t.timestamp() * 1000)


@dataclass
class Loaded:
    node: ElasticsearchNode
    client: Any
    index: str
    docs: list[dict[str, Any]]
    loaded: int


@pytest.fixture(scope="module")
def loaded(es_node: ElasticsearchNode) -> Iterator[Loaded]:
    client = make_client(es_node.url, es_node.major)
    index = "pmrecon-logs-test"
    client.indices.create(
        index=index,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings=ECS_MAPPING,
    )
    docs = make_docs()
    n = bulk_load(es_node.url, index, iter(docs), chunk=5000, major=es_node.major)
    try:
        yield Loaded(es_node, client, index, docs, n)
    finally:
        client.indices.delete(index=index)
        client.close()


def test_node_is_the_pinned_version(es_node: ElasticsearchNode) -> None:
    assert es_node.version in pinned_versions()
    assert server_version(es_node.url) == es_node.version
    assert es_node.major == int(es_node.version.split(".")[0])
    assert es_node.url.startswith("http://127.0.0.1:")
    client = make_client(es_node.url, es_node.major)
    try:
        health = client.cluster.health(wait_for_status="yellow", timeout="10s")
        assert health["number_of_nodes"] == 1
        assert health["status"] in ("yellow", "green")
    finally:
        client.close()


def test_mapping_is_explicit(loaded: Loaded) -> None:
    mapping = loaded.client.indices.get_mapping(index=loaded.index)[loaded.index]["mappings"]
    props = mapping["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["log"]["properties"]["level"]["type"] == "keyword"
    assert props["message"]["type"] == "text"
    assert props["message"]["fields"]["keyword"]["type"] == "keyword"
    for path in ("service", "name"), ("error", "type"), ("user", "id"), ("event", "category"):
        assert props[path[0]]["properties"][path[1]]["type"] == "keyword"
    # dynamic: strict really rejects unmapped fields.
    from elasticsearch import BadRequestError

    with pytest.raises(BadRequestError):
        loaded.client.index(index=loaded.index, document={"unmapped": 1})


def test_bulk_load_counts(loaded: Loaded) -> None:
    assert loaded.loaded == N_DOCS
    assert loaded.client.count(index=loaded.index)["count"] == N_DOCS


def test_date_histogram_terms_cardinality_exact(loaded: Loaded) -> None:
    docs = loaded.docs
    per_hour: Counter[int] = Counter()
    per_hour_service: dict[int, Counter[str]] = defaultdict(Counter)
    users_hour_service: dict[tuple[int, str], set[str]] = defaultdict(set)
    for d in docs:
        hour = _epoch_ms(d["@timestamp"]) // HOUR_MS * HOUR_MS
        svc = d["service"]["name"]
        per_hour[hour] += 1
        per_hour_service[hour][svc] += 1
        users_hour_service[(hour, svc)].add(d["user"]["id"])
    all_users = {d["user"]["id"] for d in docs}
    levels = Counter(d["log"]["level"] for d in docs)

    resp = loaded.client.search(
        index=loaded.index,
        size=0,
        track_total_hits=True,
        aggs={
            "per_hour": {
                "date_histogram": {"field": "@timestamp", "fixed_interval": "1h"},
                "aggs": {
                    "services": {
                        "terms": {"field": "service.name", "size": 10},
                        "aggs": {
                            "users": {
                                "cardinality": {"field": "user.id", "precision_threshold": 10000}
                            }
                        },
                    }
                },
            },
            "levels": {"terms": {"field": "log.level", "size": 10}},
            "users": {"cardinality": {"field": "user.id", "precision_threshold": 10000}},
        },
    )
    assert resp["hits"]["total"] == {"value": N_DOCS, "relation": "eq"}
    aggs = resp["aggregations"]

    hours = aggs["per_hour"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in hours} == dict(per_hour)
    assert len(hours) == 17  # 10k docs x 6 s = 16.7 h
    assert sum(b["doc_count"] for b in hours) == N_DOCS
    for b in hours:
        services = b["services"]["buckets"]
        assert b["services"]["sum_other_doc_count"] == 0
        assert {s["key"]: s["doc_count"] for s in services} == dict(per_hour_service[b["key"]])
        for s in services:
            assert s["users"]["value"] == len(users_hour_service[(b["key"], s["key"])])

    assert {b["key"]: b["doc_count"] for b in aggs["levels"]["buckets"]} == dict(levels)
    assert aggs["users"]["value"] == len(all_users)


def test_filtered_query_and_error_types(loaded: Loaded) -> None:
    docs = loaded.docs
    start = BASE + dt.timedelta(hours=2)
    end = BASE + dt.timedelta(hours=5)
    in_window = [
        d
        for d in docs
        if start <= dt.datetime.fromisoformat(d["@timestamp"].replace("Z", "+00:00")) < end
    ]
    errors = [d for d in in_window if d["log"]["level"] == "error"]
    assert errors, "the generator must produce errors in the window"

    resp = loaded.client.search(
        index=loaded.index,
        size=0,
        track_total_hits=True,
        query={
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                    {"term": {"log.level": "error"}},
                ],
                "must": [{"match": {"message": "failed"}}],
            }
        },
        aggs={
            "error_types": {"terms": {"field": "error.type", "size": 10}},
            "by_category": {"terms": {"field": "event.category", "size": 10}},
        },
    )
    assert resp["hits"]["total"]["value"] == len(errors)
    got_types = {b["key"]: b["doc_count"] for b in resp["aggregations"]["error_types"]["buckets"]}
    assert got_types == dict(Counter(d["error"]["type"] for d in errors))
    got_cats = {b["key"]: b["doc_count"] for b in resp["aggregations"]["by_category"]["buckets"]}
    assert got_cats == dict(Counter(d["event"]["category"] for d in errors))

    # message.keyword: exact match on the whole message.
    one = errors[0]["message"]
    hits = loaded.client.search(
        index=loaded.index, query={"term": {"message.keyword": one}}, size=5
    )["hits"]["hits"]
    assert [h["_source"]["message"] for h in hits] == [one]
