"""Logs matched to a service named by several fields (``identity``), as Prometheus names it.

One scenario's logs are loaded as the service ``checkout`` of namespace ``prod`` (its errors
and signatures), and again, info lines only, as ``checkout`` of namespace ``staging``: with
``identity: [namespace, service]`` the errors are prod/checkout's alone; by name alone they
would be one service's; a namespace field absent from the mapping falls back to the name
with a warning, never silently. Real 8.x and 9.x nodes; the helpers' units without one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.base import CollectRequest
from connectors.elasticsearch import ElasticsearchSource
from connectors.elasticsearch.identity import (
    name_parts,
    readable_name,
    service_names,
    services_agg,
    services_filter,
)
from connectors.elasticsearch.mappings import FieldInfo
from connectors.elasticsearch.settings import target
from pmrecon.config import validate
from pmrecon.errors import ConfigError
from pmrecon.model import Evidence, Window
from tests.infra.es import ElasticsearchNode, bulk_load
from tests.scenarios import SCENARIOS, nested

PREFIX = "pmrecon-identity"
_LOADED: set[str] = set()


def scenario() -> Any:
    return SCENARIOS["clean_single"]()


def load(node: ElasticsearchNode) -> None:
    """The scenario as prod's (ECS and OTel shapes), and its info lines as staging's."""
    if node.url in _LOADED:
        return
    docs: list[dict[str, Any]] = []
    for d in scenario().log_docs():
        for ns in ("prod", "staging"):
            if ns == "staging" and d["log.level"] != "info":
                continue
            docs.append({"_index": f"{PREFIX}-ecs", **nested({**d, "kubernetes.namespace": ns})})
            docs.append(
                {
                    "_index": f"{PREFIX}-otel",
                    "@timestamp": d["@timestamp"],
                    "severity_text": d["log.level"],
                    "body": {"text": d["message"]},
                    "resource": {
                        "attributes": {"service.name": d["service.name"], "k8s.namespace.name": ns}
                    },
                }
            )
    # errors of one name in both namespaces, and of another in prod only
    at = scenario().window[0] + dt.timedelta(minutes=5)
    for i, (ns, svc, n) in enumerate(
        [("prod", "checkout", 3), ("staging", "checkout", 2), ("prod", "cart", 1)]
    ):
        for j in range(n):
            docs.append(
                {
                    "_index": f"{PREFIX}-mixed",
                    "@timestamp": (at + dt.timedelta(seconds=10 * i + j)).isoformat(),
                    "log": {"level": "error"},
                    "message": f"failure {j}",
                    "service": {"name": svc},
                    "kubernetes": {"namespace": ns},
                }
            )
    bulk_load(node.url, f"{PREFIX}-*", docs, major=node.major)
    _LOADED.add(node.url)


def collect(node: ElasticsearchNode, shape: str = "ecs", **settings: Any) -> Evidence:
    sc = scenario()
    services = settings.pop("services", ())
    src = ElasticsearchSource(
        "logs", {"hosts": [node.url], "index": f"{PREFIX}-{shape}", **settings}
    )
    try:
        return src.collect(
            CollectRequest(
                window=Window(*sc.window), baseline=Window(*sc.baseline), services=services
            )
        )
    finally:
        src.close()


def errors_by_service(ev: Evidence) -> dict[str, int]:
    assert ev.logs is not None
    return {k: sum(v) for k, v in ev.logs.errors_by_service.counts.items() if sum(v)}


def codes(ev: Evidence) -> list[str | None]:
    return [w.code for w in ev.warnings]


# --------------------------------------------------------------------------- real nodes


@pytest.mark.elasticsearch
@pytest.mark.parametrize("shape", ["ecs", "otel"])
def test_each_namespace_is_its_own_service(es_node: ElasticsearchNode, shape: str) -> None:
    load(es_node)
    truth = scenario().truth
    preset = {"fields_preset": "otel"} if shape == "otel" else {}
    ev = collect(es_node, shape, identity=["namespace", "service"], **preset)
    assert errors_by_service(ev) == {"prod/checkout": truth["logs"]["errors"]}
    assert ev.logs is not None and ev.logs.signatures
    for sig in ev.logs.signatures:
        assert sig.services == ["prod/checkout"], sig
    assert "log_identity_unmapped" not in codes(ev)
    queries = " | ".join(q.purpose for q in ev.sources[0].queries)
    assert "error logs per service (namespace, service): the busiest" in queries


@pytest.mark.elasticsearch
def test_by_name_alone_the_namespaces_are_one_service(es_node: ElasticsearchNode) -> None:
    """What the identity prevents: with the default identity the logs of both namespaces
    are the one name's (right when Prometheus also names the service by name alone)."""
    load(es_node)
    ev = collect(es_node)
    assert errors_by_service(ev) == {"checkout": scenario().truth["logs"]["errors"]}
    # staging's lines are in the volume too: one service, two namespaces' logs
    assert ev.logs is not None and ev.logs.total_documents > scenario().truth["logs"]["total"]


@pytest.mark.elasticsearch
def test_one_name_with_errors_in_two_namespaces_is_said_or_split(
    es_node: ElasticsearchNode,
) -> None:
    load(es_node)
    # by name alone: counted together, never silently
    ev = collect(es_node, "mixed")
    assert errors_by_service(ev) == {"checkout": 5, "cart": 1}
    (warning,) = [w for w in ev.warnings if w.code == "log_services_mixed"]
    assert warning.params == {"service": "checkout", "setting": "identity: [namespace, service]"}
    assert "kubernetes.namespace" in warning.message
    # by namespace and name: three services, no warning
    both = {"identity": ["namespace", "service"]}
    ev = collect(es_node, "mixed", **both)
    assert errors_by_service(ev) == {"prod/checkout": 3, "staging/checkout": 2, "prod/cart": 1}
    assert "log_services_mixed" not in codes(ev)
    # the busiest kept, the rest summed as (other), as for a name alone
    ev = collect(es_node, "mixed", max_services=1, **both)
    assert errors_by_service(ev) == {"prod/checkout": 3, "(other)": 3}
    assert "too_many_services" in codes(ev)


@pytest.mark.elasticsearch
def test_a_service_asked_for_is_selected_by_every_part(es_node: ElasticsearchNode) -> None:
    load(es_node)
    errors = scenario().truth["logs"]["errors"]
    both = {"identity": ["namespace", "service"]}
    prod = collect(es_node, services=("prod/checkout",), **both)
    assert prod.logs is not None and prod.logs.error_documents == errors
    staging = collect(es_node, services=("staging/checkout",), **both)
    assert staging.logs is not None and staging.logs.error_documents == 0
    assert staging.logs.total_documents > 0 and not staging.logs.signatures


@pytest.mark.elasticsearch
def test_an_unmapped_namespace_field_matches_by_name_and_says_so(
    es_node: ElasticsearchNode,
) -> None:
    load(es_node)
    ev = collect(
        es_node,
        identity=["namespace", "service"],
        fields={"namespace": "k8s.namespace"},
        services=("prod/checkout",),
    )
    # not fatal: the logs are the name's, every namespace's, and a warning says why
    assert errors_by_service(ev) == {"checkout": scenario().truth["logs"]["errors"]}
    (warning,) = [w for w in ev.warnings if w.code == "log_identity_unmapped"]
    assert warning.params == {"field": "k8s.namespace", "setting": "fields.namespace"}
    assert "matched to services without their namespace" in warning.message
    assert "set fields.namespace" in warning.message


@pytest.mark.elasticsearch
def test_check_says_where_the_identity_is_read_and_what_is_near_when_unmapped(
    es_node: ElasticsearchNode,
) -> None:
    load(es_node)

    def lines(**settings: Any) -> dict[str, Any]:
        src = ElasticsearchSource(
            "logs", {"hosts": [es_node.url], "index": f"{PREFIX}-ecs", **settings}
        )
        try:
            return {r.check: r for r in src.check()}
        finally:
            src.close()

    good = lines(identity=["namespace", "service"])["field namespace"]
    assert (
        good.ok and good.detail.startswith("kubernetes.namespace (") and "identity" in good.detail
    )
    bad = lines(identity=["namespace", "service"], fields={"namespace": "k8s.namespace"})
    line = bad["field namespace"]
    assert not line.ok
    assert "without their namespace" in line.detail
    assert "near names in the mapping: kubernetes.namespace" in line.detail
    assert "set fields.namespace" in line.fix and "drop namespace from identity" in line.fix
    # a part the identity leaves out is not read, so not checked either
    assert "field namespace" not in lines()


# --------------------------------------------------------------------------- units


def _fields(*keys: str) -> dict[str, FieldInfo]:
    names = {"namespace": "kubernetes.namespace", "cluster": "orchestrator.cluster.name"}
    out = {k: FieldInfo(k, names[k], ("keyword",), names[k], True) for k in keys}
    out["service"] = FieldInfo("service", "service.name", ("text",), "service.name.keyword", True)
    return out


def test_a_readable_name_is_cut_as_prometheus_cuts_it() -> None:
    three = {"identity": ["cluster", "namespace", "service"]}
    assert name_parts(three, "eu/prod/web") == {
        "cluster": "eu",
        "namespace": "prod",
        "service": "web",
    }
    # only the last part may hold a / ; too few parts are the innermost ones
    assert name_parts({"identity": ["namespace", "service"]}, "prod/shop/web") == {
        "namespace": "prod",
        "service": "shop/web",
    }
    assert name_parts(three, "web") == {"service": "web"}
    assert name_parts({"identity": ["service"]}, "shop/web") == {"service": "shop/web"}
    assert readable_name(["prod", None, "", "web"]) == "prod/web"


def test_the_services_filter_matches_every_usable_part() -> None:
    both = {"identity": ["namespace", "service"]}
    got = services_filter(both, _fields("namespace"), ["prod/web"])
    assert got == {
        "bool": {
            "should": [
                {
                    "bool": {
                        "filter": [
                            {"term": {"kubernetes.namespace": "prod"}},
                            {"term": {"service.name.keyword": "web"}},
                        ]
                    }
                }
            ],
            "minimum_should_match": 1,
        }
    }
    # the namespace unmapped: the name alone (the collect warns)
    alone = services_filter(both, _fields(), ["prod/web"])
    assert alone["bool"]["should"][0]["bool"]["filter"] == [
        {"term": {"service.name.keyword": "web"}}
    ]
    # one part: the terms query it always was
    single = services_filter({"identity": ["service"]}, _fields(), ["a/b", "c"])
    assert single == {"terms": {"service.name.keyword": ["a/b", "c"]}}


def test_the_services_aggregation_reads_back_as_readable_names() -> None:
    both = {"identity": ["namespace", "service"]}
    agg = services_agg(both, _fields("namespace"), 10)
    assert agg["terms"]["field"] == "kubernetes.namespace"
    assert agg["aggs"]["p"]["terms"]["field"] == "service.name.keyword"
    answer = {
        "buckets": [
            {"key": "prod", "doc_count": 5, "p": {"buckets": [{"key": "web", "doc_count": 5}]}},
            {
                "key": "",
                "doc_count": 9,
                "p": {"buckets": [{"key": "db", "doc_count": 7}, {"key": "web", "doc_count": 2}]},
            },
        ]
    }
    assert service_names(answer) == ["db", "prod/web", "web"]
    assert services_agg({"identity": ["service"]}, _fields(), 3) == {
        "terms": {"field": "service.name.keyword", "size": 3}
    }


@pytest.mark.parametrize(
    "identity",
    [["service", "namespace"], ["namespace"], ["namespace", "namespace", "service"]],
)
def test_an_identity_must_end_with_the_service_once(identity: list[str]) -> None:
    settings = {"hosts": ["http://127.0.0.1:9200"], "index": ["logs-*"], "filter": None}
    with pytest.raises(ConfigError, match=r"sources\.logs\.identity: .* must end with service"):
        target("logs", {**settings, "identity": identity})


def test_an_unknown_identity_part_is_a_config_error() -> None:
    raw = {"sources": {"logs": {"type": "elasticsearch", "identity": ["pod", "service"]}}}
    with pytest.raises(ConfigError, match=r"identity\[0\]: expected one of cluster"):
        validate(raw)
