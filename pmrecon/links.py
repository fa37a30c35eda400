"""Links from the report to the team's own tools, each set to the incident window.

- Grafana Explore, one link per SLI query pmrecon sent to Prometheus (the exact PromQL),
  in the URL form of Grafana 10 and later (``/explore?schemaVersion=1&panes=…``).
- Kibana Discover, one link for the logs: the index pattern pmrecon searched and the
  window, in Kibana's rison URL state (``/app/discover#/?_g=…&_a=…``).

Only what the findings already hold goes into a URL: query texts, index names, times.
Every value is URL-encoded (JSON for Grafana, rison strings for Kibana), so a quote or
an ampersand in a query cannot break out of its parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .findings import ReportTimes

#: Padding added on both sides of the incident in every link.
PAD_SECONDS = 600

#: At most this many Grafana links: a report is not a dashboard.
MAX_GRAFANA_LINKS = 12


def make_links(config: Any, findings: Mapping[str, Any]) -> dict[str, Any]:
    """``{"grafana": [{"title", "url"}], "kibana": url | None}`` from the report settings."""
    report = config["report"]
    start, end = incident_window(findings)
    out: dict[str, Any] = {"grafana": [], "kibana": None}
    if report.get("grafana_url"):
        out["grafana"] = grafana_links(
            str(report["grafana_url"]), report.get("grafana_datasource"), findings, start, end
        )
    if report.get("kibana_url"):
        out["kibana"] = kibana_link(str(report["kibana_url"]), findings, start, end)
    return out


def incident_window(findings: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """The incident, padded, within reason; the report window when there is no incident."""
    return ReportTimes.of(findings).incident_span(dt.timedelta(seconds=PAD_SECONDS))


def public_base(url: str) -> str:
    """The base URL without its ``user:password@`` and trailing slash: a link is for readers."""
    url = url.strip()
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts).rstrip("/")


def _ms(t: dt.datetime) -> str:
    return str(int(t.timestamp() * 1000))


def sli_queries(findings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The PromQL queries behind the window's SLI series, each query once.

    The Prometheus connector marks them with ``sli`` (baseline ones with ``baseline``);
    a source whose queries carry no ``sli`` at all comes from a bundle written before
    those fields existed, when the connector's purpose said ``SLI <name> for <service>``.
    """
    seen: set[str] = set()
    out = []
    for src in findings.get("sources") or []:
        if src.get("kind") != "prometheus":
            continue
        queries = src.get("queries") or []
        typed = any("sli" in q for q in queries)
        for q in queries:
            text = q.get("query")
            if not isinstance(text, str) or not text.strip() or text in seen:
                continue
            if typed and (not q.get("sli") or q.get("baseline")):
                continue
            if not typed and not str(q.get("purpose") or "").startswith("SLI "):
                continue
            seen.add(text)
            out.append(q)
    return out


def grafana_links(
    base: str,
    datasource: str | None,
    findings: Mapping[str, Any],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, str]]:
    """One Grafana Explore link per SLI query, over [start, end]."""
    links = []
    for q in sli_queries(findings)[:MAX_GRAFANA_LINKS]:
        query: dict[str, Any] = {"refId": "A", "expr": q["query"], "range": True}
        pane: dict[str, Any] = {
            "queries": [query],
            "range": {"from": _ms(start), "to": _ms(end)},
        }
        if datasource:
            ds = {"type": "prometheus", "uid": str(datasource)}
            query["datasource"] = ds
            pane["datasource"] = str(datasource)
        panes = json.dumps({"pm": pane}, separators=(",", ":"), ensure_ascii=False)
        url = f"{public_base(base)}/explore?schemaVersion=1&panes={quote(panes, safe='')}&orgId=1"
        title = str(q.get("purpose") or q.get("id") or "PromQL")
        links.append({"title": title, "url": url})
    return links


def rison_string(value: str) -> str:
    """A rison string literal, URL-encoded inside its quotes (``!`` and ``'`` escaped by ``!``).

    Kibana URL-decodes the state before reading it as rison, so the content may (and here
    does) stay percent-encoded: no character of ``value`` can end the string or the link.
    """
    return "'" + quote(value.replace("!", "!!").replace("'", "!'"), safe=":") + "'"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{t.microsecond // 1000:03d}Z"
    )


def log_indices(findings: Mapping[str, Any]) -> list[str]:
    """Index patterns the Elasticsearch sources searched, in order of first use."""
    out: list[str] = []
    for src in findings.get("sources") or []:
        if src.get("kind") != "elasticsearch":
            continue
        for q in src.get("queries") or []:
            index = q.get("index")
            if index and index not in out:
                out.append(str(index))
    return out


def kibana_link(
    base: str, findings: Mapping[str, Any], start: dt.datetime, end: dt.datetime
) -> str | None:
    """A Kibana Discover link to the logs over [start, end], on the index pattern searched."""
    indices = log_indices(findings)
    g = f"(time:(from:{rison_string(_iso(start))},to:{rison_string(_iso(end))}))"
    a_parts = ["query:(language:kuery,query:'')"]
    if indices:
        a_parts.insert(0, f"index:{rison_string(','.join(indices))}")
    a = "(" + ",".join(a_parts) + ")"
    return f"{public_base(base)}/app/discover#/?_g={g}&_a={a}"


__all__ = ["grafana_links", "incident_window", "kibana_link", "make_links", "sli_queries"]
