"""Which queries become Grafana links: the typed fields the connector sets, not its wording."""

from __future__ import annotations

import datetime as dt

from pmrecon.links import sli_queries
from pmrecon.model import QueryRecord, SourceInfo, from_jsonable, to_jsonable

T0 = dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc)


def findings(*queries: QueryRecord, kind: str = "prometheus") -> dict:
    return {"sources": [to_jsonable(SourceInfo("prom", kind, queries=list(queries)))]}


def query(qid: str, purpose: str, text: str, **typed: object) -> QueryRecord:
    return QueryRecord(id=qid, source="prom", purpose=purpose, query=text, **typed)


def test_window_sli_queries_are_linked_whatever_their_names() -> None:
    # a service called "version-api" and an extra series called "alerts_fired": words the
    # purpose-text rules took for "not an SLI"
    found = findings(
        query("q1", "server version", ""),
        query("q2", "SLI error_ratio for version-api", "ratio_a", sli="error_ratio", service="version-api"),
        query("q3", "baseline SLI error_ratio for version-api", "ratio_b", sli="error_ratio", service="version-api", baseline=True),
        query("q4", "SLI alerts_fired for checkout", "count(x)", sli="alerts_fired", service="checkout"),
        query("q5", "alerts (raw ALERTS samples)", "ALERTS[2h]"),
        query("q6", "SLI error_ratio for checkout", "ratio_a", sli="error_ratio", service="checkout"),
    )  # fmt: skip
    assert [q["id"] for q in sli_queries(found)] == ["q2", "q4"]  # q6: the same query as q2


def test_bundles_from_before_the_typed_fields_keep_their_links() -> None:
    found = findings(
        query("q1", "server version", ""),
        query("q2", "SLI error_ratio for checkout", "ratio"),
        query("q3", "baseline SLI error_ratio for checkout", "ratio_b"),
        query("q4", "alerts (raw ALERTS samples)", "ALERTS[2h]"),
    )
    assert "sli" not in found["sources"][0]["queries"][1]  # written as before
    assert [q["id"] for q in sli_queries(found)] == ["q2"]


def test_only_prometheus_sources_give_links() -> None:
    found = findings(query("e1", "levels", "x", sli="levels", service="a"), kind="elasticsearch")
    assert sli_queries(found) == []


def test_typed_fields_are_written_only_when_set_and_read_back() -> None:
    plain = query("q1", "server version", "", start=T0)
    typed = query("q2", "SLI latency_p99 for a", "x", sli="latency_p99", service="a", baseline=True)
    assert set(to_jsonable(plain)) == {
        "id",
        "source",
        "purpose",
        "query",
        "start",
        "end",
        "step_seconds",
        "index",
        "endpoint",
        "result_count",
        "warnings",
        "duration_seconds",
        "bytes_received",
    }
    assert from_jsonable(QueryRecord, to_jsonable(typed)) == typed
    assert from_jsonable(QueryRecord, to_jsonable(plain)) == plain
