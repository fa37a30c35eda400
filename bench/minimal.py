"""The minimal floor's query set: the fewest queries that return the data a report needs.

Derived from a build's own records (``sources.json``), never from hard-coded PromQL, so it
follows the presets and the config:

- **Prometheus**: one query per SLI series and period (window, baseline), grouped by the
  service label. Records that are already grouped are kept as they are; per-service records
  of the same SLI, period, range and step whose queries differ only in the service's value
  (``label="checkout"``) become one query, ``label=~"a|b|…"`` with ``label`` added to every
  aggregation's ``by`` (:func:`connectors.promql.group_by`, the connector's own rewrite).
  Queries that cannot be grouped without changing a figure stay one per service. Alert
  samples, alert activation times, alerting rules (their annotations are in the report)
  and metric change series are kept; what only finds out what to ask (server version,
  intervals, service discovery, which metrics exist, metric types, checks) is dropped: the
  minimal plan is assumed to know it.
- **Elasticsearch**: every search (aggregations, paged signature scans, sample lines,
  change events); the server version and the field mapping lookups are dropped.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.promql import TemplateError, alternatives, escape_string, group_by

#: Prometheus endpoints that only describe the server or its series, never the report's data.
PROMETHEUS_DISCOVERY_ENDPOINTS = (
    "/api/v1/status/buildinfo",
    "/api/v1/status/config",
    "/api/v1/status/flags",
    "/api/v1/metadata",
    "/api/v1/series",
    "/api/v1/labels",
)
#: Purposes of instant queries that find out what to ask (their answers are not reported).
PROMETHEUS_DISCOVERY_PURPOSES = ("discover", "server version", "reachability", "check:", "type of")
_PLACEHOLDER = "__pmrecon_bench_services__"


def minimal_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the bundle's sources holding only the minimal queries of each."""
    out = []
    for s in sources:
        qs = list(s.get("queries") or [])
        if s.get("kind") == "prometheus":
            qs = prometheus_minimal(qs)
        elif s.get("kind") == "elasticsearch":
            qs = [q for q in qs if not _es_discovery(q)]
        out.append({**s, "queries": qs})
    return out


def prometheus_minimal(queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that carry report data, with per-service SLI queries grouped."""
    kept = [q for q in queries if not _prometheus_discovery(q)]
    out: list[dict[str, Any]] = []
    slis: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for q in kept:
        if not q.get("sli"):
            out.append(q)
            continue
        key = (
            q["sli"],
            bool(q.get("baseline")),
            q.get("start"),
            q.get("end"),
            q.get("step_seconds"),
            q.get("endpoint"),
        )
        if key not in slis:
            slis[key] = []
            out.append({"_group": key})  # the group's place in the recorded order
        slis[key].append(q)
    merged: list[dict[str, Any]] = []
    for q in out:
        if "_group" in q:
            merged.extend(_group_sli(slis[q["_group"]]))
        else:
            merged.append(q)
    return merged


def _group_sli(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One SLI's records over one period and step: per-service ones merged where possible."""
    out = [r for r in records if not r.get("service")]
    shapes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        service = r.get("service")
        if not service:
            continue
        matcher = re.compile(
            r"(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*\"" + re.escape(escape_string(service)) + '"'
        )
        labels = {m.group("label") for m in matcher.finditer(str(r.get("query") or ""))}
        if len(labels) != 1:  # the service's value is not one label's matcher: kept as it is
            out.append(r)
            continue
        label = labels.pop()
        shape = matcher.sub(f"{label}=~{_PLACEHOLDER}", str(r["query"]))
        shapes.setdefault((label, shape), []).append(r)
    for (label, shape), rs in shapes.items():
        if len(rs) == 1:
            out.extend(rs)
            continue
        query = shape.replace(_PLACEHOLDER, alternatives([str(r["service"]) for r in rs]))
        try:
            query, _ = group_by(query, (label,))
        except TemplateError:
            out.extend(rs)  # grouping would change a figure: one query per service
            continue
        out.append(
            {
                **rs[0],
                "query": query,
                "service": None,
                "purpose": f"SLI {rs[0]['sli']} of {len(rs)} services grouped by {label}",
                "bytes_received": None,  # no recorded answer to compare with
                "warnings": [],
                "merged_records": len(rs),
            }
        )
    return out


def _prometheus_discovery(q: dict[str, Any]) -> bool:
    endpoint = str(q.get("endpoint") or "")
    purpose = str(q.get("purpose") or "").lower()
    if endpoint in PROMETHEUS_DISCOVERY_ENDPOINTS or endpoint.endswith("/values"):
        return True
    return purpose.startswith(PROMETHEUS_DISCOVERY_PURPOSES)


def _es_discovery(q: dict[str, Any]) -> bool:
    path = str(q.get("endpoint") or "").split(" ")[0]
    if not path.startswith("/"):
        path = "/" + path
    return path == "/" or path.startswith("/_nodes") or path.endswith("/_field_caps")
