"""``fields_preset: otel`` against real 8.x and 9.x nodes, and ``check`` explaining field mismatches.

The same scenarios are loaded twice per node: as ECS documents, and in the shape the
OpenTelemetry Collector's Elasticsearch exporter writes in its OTel-native mapping
(``severity_text`` in upper case as the OTel SDKs write it, ``body.text``, the record's
attributes under ``attributes``, the resource's under ``resource.attributes``, attribute keys
kept dotted), into indices with dynamic mapping as a plain exporter index gets. A collect of
the OTel indices with ``fields_preset: otel`` must give the figures of the ECS collect and of
the scenario's truth.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.elasticsearch import ElasticsearchSource
from connectors.signatures import normalise
from pmrecon.model import Evidence, Window
from tests.infra.es import ElasticsearchNode, bulk_load, make_client
from tests.scenarios import SCENARIOS, Scenario, nested

pytestmark = pytest.mark.elasticsearch

PREFIX = "pmrecon-preset"
NAMES = ["clean_single", "two_services", "flapping"]
#: ECS field -> where the Collector's exporter (OTel-native mapping) puts it.
OTEL_PATHS = {
    "log.level": ("severity_text",),
    "message": ("body", "text"),
    "service.name": ("resource", "attributes", "service.name"),
    "service.version": ("resource", "attributes", "service.version"),
    "host.name": ("resource", "attributes", "host.name"),
    "trace.id": ("trace_id",),
    "user.id": ("attributes", "user.id"),
    "user.name": ("attributes", "user.name"),
    "event.category": ("attributes", "event.category"),
    "event.action": ("attributes", "event.action"),
    "error.type": ("attributes", "exception.type"),
    "error.message": ("attributes", "exception.message"),
    "tags": ("attributes", "tags"),
}
_LOADED: set[str] = set()


def otel_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """A flat ECS document as the exporter's OTel-native mapping writes the same record."""
    out: dict[str, Any] = {"@timestamp": doc["@timestamp"]}
    for key, value in doc.items():
        if key == "@timestamp":
            continue
        *parents, last = OTEL_PATHS[key]
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value.upper() if key == "log.level" else value
    return out


def load(node: ElasticsearchNode) -> None:
    """Each scenario into ``PREFIX-ecs-<name>`` and ``PREFIX-otel-<name>``, and the indices
    of the check's cases; once per node."""
    if node.url in _LOADED:
        return
    mappings = {
        # as the exporter's own template maps it (match_only_text, absent from the test
        # distribution: text), the body has no keyword form
        f"{PREFIX}-oteltext-flapping": {
            "@timestamp": {"type": "date"},
            "severity_text": {"type": "keyword"},
            "body": {"properties": {"text": {"type": "text"}}},
        },
        f"{PREFIX}-badtime": {
            "@timestamp": {"type": "keyword"},
            "observed_timestamp": {"type": "date"},
        },
    }
    client = make_client(node.url, node.major)
    try:
        for index, properties in mappings.items():
            client.indices.create(index=index, mappings={"properties": properties})
    finally:
        client.close()
    docs: list[dict[str, Any]] = []
    for name in NAMES:
        for d in SCENARIOS[name]().log_docs():
            docs.append({"_index": f"{PREFIX}-ecs-{name}", **nested(d)})
            docs.append({"_index": f"{PREFIX}-otel-{name}", **otel_doc(d)})
            if name == "flapping":
                docs.append({"_index": f"{PREFIX}-oteltext-{name}", **otel_doc(d)})
    at = "2026-06-01T10:00:00.000Z"
    for i, level in enumerate(["INFO", "SEVERE", "INFO", "WARNING"]):
        docs.append(
            {
                "_index": f"{PREFIX}-jul",
                "@timestamp": at,
                "log": {"level": level},
                "message": f"line {i}",
                "service": {"name": "legacy"},
            }
        )
    docs.append(
        {
            "_index": f"{PREFIX}-badtime",
            "@timestamp": at,
            "observed_timestamp": at,
            "log": {"level": "error"},
            "message": "x",
            "service": {"name": "s"},
        }
    )
    bulk_load(node.url, f"{PREFIX}-*", docs, major=node.major)
    _LOADED.add(node.url)


def collect(node: ElasticsearchNode, sc: Scenario, shape: str, **settings: Any) -> Evidence:
    src = ElasticsearchSource(
        "logs", {"hosts": [node.url], "index": f"{PREFIX}-{shape}-{sc.name}", **settings}
    )
    try:
        return src.collect(CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline)))
    finally:
        src.close()


def figures(ev: Evidence) -> dict[str, Any]:
    """What the report is built from, level names folded to lower case."""
    logs = ev.logs
    assert logs is not None
    return {
        "total": logs.total_documents,
        "errors": logs.error_documents,
        "baseline_errors": logs.baseline_error_documents,
        "by_level": {k.lower(): sum(v) for k, v in logs.volume_by_level.counts.items() if sum(v)},
        "errors_by_service": {k: sum(v) for k, v in logs.errors_by_service.counts.items()},
        "users": logs.impacted_users,
        "signatures": sorted(
            (s.signature, s.count, s.baseline_count, s.first_seen, s.new_since_baseline)
            for s in logs.signatures
        ),
        "samples": sorted((s.timestamp, s.reason, s.message) for s in logs.samples),
        "events": [
            (e.at, e.kind, e.labels.get("service"), e.labels.get("version")) for e in ev.events
        ],
    }


@pytest.mark.parametrize("name", NAMES)
def test_otel_preset_gives_the_figures_of_ecs_and_of_the_truth(
    es_node: ElasticsearchNode, name: str
) -> None:
    load(es_node)
    sc = SCENARIOS[name]()
    ecs = figures(collect(es_node, sc, "ecs"))
    otel_ev = collect(es_node, sc, "otel", fields_preset="otel")
    otel = figures(otel_ev)
    assert otel == ecs
    t = sc.truth["logs"]
    assert otel["total"] == t["total"] and otel["errors"] == t["errors"]
    assert otel["by_level"] == t["by_level"]
    assert {k: v for k, v in otel["errors_by_service"].items() if v} == t["errors_by_service"]
    want: dict[str, int] = {}
    for s in sc.truth["signatures"]:
        key = s["error_type"] or normalise(s["examples"][0])
        want[key] = want.get(key, 0) + s["count"]
    assert {s[0]: s[1] for s in otel["signatures"]} == want
    assert otel["events"] == [
        (c["at"], c["kind"], c["service"], c["version"]) for c in sc.truth["change_events"]
    ]
    used = otel_ev.sources[0].settings
    assert used["fields_preset"] == "otel"
    assert used["fields"]["service"]["field"] == "resource.attributes.service.name"
    assert used["fields"]["error_type"]["field"] == "attributes.exception.type"


def test_otel_body_without_keyword_form_gives_the_same_figures(es_node: ElasticsearchNode) -> None:
    load(es_node)
    sc = SCENARIOS["flapping"]()
    ev = collect(es_node, sc, "oteltext", fields_preset="otel")
    assert figures(ev) == figures(collect(es_node, sc, "ecs"))
    assert ev.sources[0].settings["fields"]["message"]["aggregated_on"] is None
    assert "unaggregatable messages" in " ".join(q.purpose for q in ev.sources[0].queries)


def test_a_field_of_the_preset_can_still_be_overridden(es_node: ElasticsearchNode) -> None:
    load(es_node)
    sc = SCENARIOS["two_services"]()
    # the service taken from the host's name instead: the preset's other fields stay
    ev = collect(
        es_node,
        sc,
        "otel",
        fields_preset="otel",
        fields={"service": "resource.attributes.host.name"},
    )
    used = ev.sources[0].settings["fields"]
    assert used["service"]["field"] == "resource.attributes.host.name"
    assert used["level"]["field"] == "severity_text"
    assert ev.logs is not None and ev.logs.error_documents == sc.truth["logs"]["errors"]


def run_check(
    node: ElasticsearchNode, index: str, at: str, **settings: Any
) -> dict[str, CheckResult]:
    now = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) + dt.timedelta(minutes=1)
    src = ElasticsearchSource(
        "logs", {"hosts": [node.url], "index": index, **settings}, SourceContext(now=now)
    )
    try:
        return {r.check: r for r in src.check()}
    finally:
        src.close()


def test_check_names_the_otel_fields_when_the_ecs_ones_are_missing(
    es_node: ElasticsearchNode,
) -> None:
    load(es_node)
    sc = SCENARIOS["clean_single"]()
    at = sc.window[0].isoformat()
    lines = run_check(es_node, f"{PREFIX}-otel-clean_single", at)
    level = lines["field level"]
    assert not level.ok
    assert (
        "'log.level'" in level.detail
        and "severity_text is mapped (fields_preset: otel)" in level.detail
    )
    assert "fields.level" in level.fix
    service = lines["field service"]
    assert (
        not service.ok
        and "near names in the mapping: resource.attributes.service.name" in service.detail
    )
    assert "recent documents" not in lines  # no count on fields that are not there
    # with the preset, every field is found and the upper-case levels are explained
    lines = run_check(
        es_node, f"{PREFIX}-otel-clean_single", sc.window[1].isoformat(), fields_preset="otel"
    )
    assert all(r.ok for r in lines.values()), [r for r in lines.values() if not r.ok]
    assert lines["field message"].detail.startswith(
        "body.text (text), counted on body.text.keyword"
    )
    levels = lines["level values"]
    assert "severity_text holds" in levels.detail and "ERROR" in levels.detail
    assert "not lower case: matched case-insensitively" in levels.detail


def test_check_explains_levels_that_are_not_among_error_levels(es_node: ElasticsearchNode) -> None:
    load(es_node)
    lines = run_check(es_node, f"{PREFIX}-jul", "2026-06-01T10:00:00Z")
    levels = lines["level values"]
    assert not levels.ok
    assert levels.detail.startswith("log.level holds INFO, SEVERE, WARNING (last day)")
    assert "SEVERE not known as a level" in levels.detail
    assert "error_levels: [severe]" in levels.fix
    fixed = run_check(es_node, f"{PREFIX}-jul", "2026-06-01T10:00:00Z", error_levels=["severe"])
    assert fixed["level values"].ok and "errors: SEVERE" in fixed["level values"].detail


def test_check_explains_a_timestamp_that_is_not_a_date(es_node: ElasticsearchNode) -> None:
    load(es_node)
    lines = run_check(es_node, f"{PREFIX}-badtime", "2026-06-01T10:00:00Z")
    ts = lines["field timestamp"]
    assert not ts.ok
    assert "'@timestamp'" in ts.detail and "is keyword, not a date" in ts.detail
    assert "date fields: observed_timestamp" in ts.detail
    assert "fields.timestamp to the event time field" in ts.fix
