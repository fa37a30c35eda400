"""Which service a change-showing series belongs to, and the queries that read them.

Pure parts of :mod:`connectors.prometheus.changes`; the whole collect runs against a real
Prometheus in tests/analysis/test_metric_changes_live_prometheus.py.
"""

from __future__ import annotations

from typing import Any

from connectors.prometheus.changes import (
    GENERATION,
    OBSERVED_GENERATION,
    REPLICASET_OWNER,
    START_TIME,
    _families,
    _kube_owners,
    _to_series,
)
from connectors.prometheus.identity import ServiceId
from pmrecon.model import Warning


class Window:
    start, end, step, baseline = 0.0, 120.0, 60.0, False


def svc(**labels: str) -> ServiceId:
    return ServiceId(tuple(labels.items()))


def result(**labels: str) -> dict[str, Any]:
    return {"metric": labels, "values": [[0, "1"], [60, "1"], [120, "NaN"]], "_ref": "q9"}


def test_a_deployment_in_two_namespaces_the_identity_cannot_tell_apart_is_nobodys() -> None:
    warnings: list[Warning] = []
    rows = [
        result(namespace="shop", deployment="api"),
        result(namespace="staging", deployment="api"),
        result(namespace="shop", deployment="web"),
    ]
    owners = _kube_owners("prom", rows, [svc(job="api"), svc(job="web")], warnings)
    assert owners == {2: "web"}
    (warning,) = warnings
    assert warning.code == "deployment_ambiguous"
    assert warning.params == {"service": "api", "namespaces": "shop, staging"}
    # said once, however many queries find it
    _kube_owners("prom", rows, [svc(job="api")], warnings)
    assert len(warnings) == 1


def test_the_namespace_of_the_identity_picks_the_deployment() -> None:
    warnings: list[Warning] = []
    rows = [
        result(namespace="shop", deployment="api"),
        result(namespace="staging", deployment="api"),
    ]
    services = [svc(namespace="staging", service="api"), svc(namespace="prod", service="api")]
    assert _kube_owners("prom", rows, services, warnings) == {1: "staging/api"}
    assert warnings == []


def test_a_series_is_a_service_s_only_when_every_identity_label_matches() -> None:
    # the query's regex matchers select a superset: prod/web is not a service
    services = [svc(namespace="prod", service="api"), svc(namespace="staging", service="web")]
    family = _families(["myapp_build_info"], services, ("namespace", "service"))[0]
    rows = [
        result(__name__="myapp_build_info", namespace="prod", service="api", version="1.0"),
        result(__name__="myapp_build_info", namespace="prod", service="web", version="1.0"),
        result(__name__="myapp_build_info", service="api", version="1.0"),
    ]
    series = _to_series("prom", family, rows, services, ("namespace", "service"), Window(), [])
    (one,) = series
    assert one.service == "prod/api" and one.kind == "change_metric"
    assert one.name == 'myapp_build_info{version="1.0"}' and one.query_ref == "q9"
    assert list(one.timestamps) == [0.0, 60.0] and list(one.values) == [1.0, 1.0]  # NaN left out


def test_the_queries_follow_what_the_server_has() -> None:
    services = [svc(job="api.v2"), svc(job="web")]
    assert _families([], services, ("job",)) == []
    names = ["go_build_info", "myapp_build_info", START_TIME, OBSERVED_GENERATION]
    queries = [f.query for f in _families(names, services, ("job",))]
    assert queries == [
        "max by (__name__, job, version, revision, git_commit, commit, git_sha, build, "
        'build_id, image_tag) ({__name__=~"go_build_info|myapp_build_info",'
        'job=~"api\\\\.v2|web"})',
        f'max by (job) ({START_TIME}{{job=~"api\\\\.v2|web"}})',
        f"max by (cluster, namespace, deployment) ({OBSERVED_GENERATION}"
        '{deployment=~"api\\\\.v2|web"})',
    ]
    # the Deployment's own generation when there is one; the ReplicaSets of Deployments
    kube = _families([GENERATION, OBSERVED_GENERATION, REPLICASET_OWNER], services, ("job",))
    assert [f.metric for f in kube] == [REPLICASET_OWNER, GENERATION]
    assert 'owner_kind="Deployment"' in kube[0].query
