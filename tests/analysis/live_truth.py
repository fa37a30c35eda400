"""Helpers of the ground-truth tests that collect from real Prometheus and Elasticsearch:
load scenarios' logs into an index of their own, collect both sources, analyse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from connectors.base import CollectRequest, SourceContext
from connectors.elasticsearch import ElasticsearchSource
from connectors.prometheus import PrometheusSource
from pmrecon.analysis import analyse
from pmrecon.findings import findings_to_json
from pmrecon.model import Window
from tests.connectors.elasticsearch.test_elasticsearch_live import ECS_MAPPING
from tests.infra.es import ElasticsearchNode, bulk_load, make_client
from tests.scenarios import Scenario, nested


def load_logs(node: ElasticsearchNode, index: str, scenarios: Iterable[Scenario]) -> str:
    """The node's URL, ``index`` holding the scenarios' logs (loaded once per node)."""
    client = make_client(node.url, node.major)
    try:
        if client.indices.exists(index=index):
            return node.url
        client.indices.create(
            index=index,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings=ECS_MAPPING,
        )
    finally:
        client.close()
    docs = (nested(d) for sc in scenarios for d in sc.log_docs())
    bulk_load(node.url, index, docs, major=node.major)
    return node.url


def collect_findings(
    prometheus_url: str, logs_url: str, index: str, sc: Scenario, **analyse_kw: Any
) -> dict[str, Any]:
    """findings.json of ``sc``'s window from both sources; every lead's evidence resolves."""
    request = CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline))
    metrics = PrometheusSource(
        "prom", {"url": prometheus_url, "preset": sc.convention}, SourceContext()
    )
    logs = ElasticsearchSource("logs", {"hosts": [logs_url], "index": index}, SourceContext())
    evidence = metrics.collect(request)
    evidence.merge(logs.collect(request))
    data = findings_to_json(analyse(evidence, {}, **analyse_kw))
    ids = {q["id"] for s in data["sources"] for q in s["queries"]}
    for suspect in data["suspects"]:
        assert suspect["evidence"] and set(suspect["evidence"]) <= ids, suspect
    return data


def at(text: str | None) -> dt.datetime:
    """A findings time as a datetime (it must be known)."""
    assert text is not None
    return dt.datetime.fromisoformat(text)
