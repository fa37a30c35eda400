"""The leads of findings.json in the report's words: the cascade, the suspects, the gaps.

Each function turns one entry of ``incident.cascade``, ``suspects`` or ``detection`` into
one line of Markdown in the report's language (texts ``report.cascade.*``,
``report.lead.*`` and ``report.gap.*`` of :mod:`pmrecon.wording`). Data (a change's
text, a signature, a service) is escaped; every lead ends with its score and "to be
confirmed": a suggestion, never a conclusion. :func:`lead_footnotes` gives each suspect
the footnote that names the queries showing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..wording import catalogue
from .formatting import Formatter, md_code, md_inline

#: Within this many seconds of impact start, a lead is "at" impact start.
AT_IMPACT = 30.0
#: The graphs that show each kind of lead, best first (the first one drawn is linked): a
#: change on the cascade, which marks it among the breaches and the key instants (else the
#: impact it preceded); the rise for load; the errors' volume for a new error.
GRAPHS_OF_KIND = {
    "change": ("cascade", "error_ratio"),
    "rollback_recovery": ("cascade", "error_ratio"),
    "load": ("throughput",),
    "new_error": ("log_volume",),
}
#: An upstream lead's graphs: the cascade it leads, else that of the SLI that broke first;
#: a concentration lead's: that of the SLI whose bad requests it counts.
GRAPH_OF_SLI = {"error_ratio": "error_ratio", "latency": "latency", "uptime": "throughput"}


def lead_graphs(suspect: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the graphs that show ``suspect`` (as in the report's ``graphs``), best first."""
    kind = suspect.get("kind")
    sli_graph = GRAPH_OF_SLI.get(str(suspect.get("related")))
    if kind == "upstream":
        return ("cascade", sli_graph) if sli_graph else ("cascade",)
    if kind == "concentration":
        return (sli_graph or "error_ratio",)
    return GRAPHS_OF_KIND.get(str(kind), ())


def lead_graph(
    suspect: Mapping[str, Any], graphs: Iterable[Mapping[str, Any]] | None = None
) -> str | None:
    """The graph that shows ``suspect``: the first of :func:`lead_graphs` among ``graphs`` drawn.

    Without ``graphs``, the first one that would show it.
    """
    names = lead_graphs(suspect)
    if graphs is None:
        return names[0] if names else None
    drawn = {str(g.get("name")) for g in graphs}
    return next((name for name in names if name in drawn), None)


class LeadWriter:
    """Writes cascade, lead and gap lines in one language with one formatter."""

    def __init__(self, lang: str, fmt: Formatter) -> None:
        self.words = catalogue(lang)
        self.fmt = fmt

    def _text(self, key: str, **values: Any) -> str:
        return self.words[key].format(**values)

    def _sli(self, sli: Any) -> str:
        return self.words.get(f"report.sli.{sli}", str(sli))

    def _when(self, lead_seconds: Any) -> str:
        """Before, at or after impact start, in words."""
        if lead_seconds is None:
            return self._text("report.lead.when_unknown")
        lead = float(lead_seconds)
        if abs(lead) < AT_IMPACT:
            return self._text("report.lead.at_impact")
        key = "report.lead.before" if lead > 0 else "report.lead.after"
        return self._text(key, duration=self.fmt.dur(abs(lead)))

    def cascade(self, steps: list[Mapping[str, Any]]) -> str:
        """The cascade in one line: the first service, its SLI and time, then each follower's lag."""
        parts = []
        for i, step in enumerate(steps):
            service = md_inline(step["service"])
            if i == 0:
                at = self.fmt.hm(step.get("first_breach_at")) or self._text("report.cascade.before")
                parts.append(
                    self._text(
                        "report.cascade.first", service=service, sli=self._sli(step["sli"]), at=at
                    )
                )
            elif step.get("lag_seconds") is None:
                parts.append(service)
            elif step["lag_seconds"] < AT_IMPACT:
                parts.append(self._text("report.cascade.same", service=service))
            else:
                lag = self.fmt.dur(step["lag_seconds"])
                parts.append(self._text("report.cascade.next", service=service, lag=lag))
        return " → ".join(parts)

    def lead(self, suspect: Mapping[str, Any]) -> str:
        """One suspect in words, ending with its score and "to be confirmed"."""
        kind = suspect["kind"]
        service = suspect.get("service")
        where = self._text("report.lead.where", service=md_inline(service)) if service else ""
        values = {
            "subject": md_code(suspect["summary"]),
            "service": md_inline(service or suspect["summary"]),
            "where": where,
            "when": self._when(suspect.get("lead_seconds")),
            "related": md_code(suspect.get("related") or ""),
        }
        if kind == "rollback_recovery" and suspect.get("at") is None:
            kind = "rollback_unknown"
        elif kind == "load":
            ratio = float(suspect.get("ratio") or 0)
            values["ratio"] = f"{ratio:.1f}".removesuffix(".0").replace(
                ".", self.words["number.decimal_point"]
            )
            values["at"] = self.fmt.hm(suspect.get("at"))
        elif kind == "concentration":
            kind = self._concentration(suspect.get("concentration") or {}, values)
        elif kind == "upstream":
            values["related"] = self._sli(suspect.get("related"))
            values["lag"] = self.fmt.dur(suspect.get("lead_seconds") or 0)
        key = f"report.lead.{kind}"
        body = self._text(key if key in self.words else "report.lead.other", kind=kind, **values)
        score = f"{float(suspect['score']):.2f}".replace(".", self.words["number.decimal_point"])
        return body + self._text("report.lead.score", score=score)

    def _concentration(self, figures: Mapping[str, Any], values: dict[str, Any]) -> str:
        """Fill ``values`` for a concentration lead; its text's key: one node, or not."""
        traffic = figures.get("traffic_share")
        values["share"] = self.fmt.pct(figures.get("share"), 0)
        values["traffic"] = (
            self._text("report.lead.traffic_small") if traffic is None else self.fmt.pct(traffic, 0)
        )
        values["label"] = md_inline(figures.get("location_label") or figures.get("label") or "")
        values["count"] = figures.get("locations") or 0
        values["spread"] = ""
        values["known"] = ""
        if figures.get("spread"):
            values["spread"] = self._text(
                "report.lead.concentration_spread", count=figures["spread"], label=values["label"]
            )
        if (figures.get("baseline_share") or 0) >= 0.8:
            values["known"] = self._text(
                "report.lead.concentration_known",
                baseline=self.fmt.pct(figures["baseline_share"], 0),
            )
        return "concentration_node" if figures.get("node") else "concentration"

    def gap(self, gap: Mapping[str, Any]) -> str:
        """One detection gap in words, marked as a suggestion."""
        kind = gap["kind"]
        if kind == "stale_alert" and gap.get("at") is None:
            kind = "stale_alert_open"
        body = self._text(
            f"report.gap.{kind}",
            alert=md_code(gap.get("alert") or ""),
            service=md_inline(gap.get("service") or ""),
            delay=self.fmt.dur(gap.get("seconds") or 0),
            episodes=gap.get("episodes") or 0,
        )
        return body + self._text("report.gap.suggestion")


def lead_footnotes(findings: Mapping[str, Any], lang: str) -> list[tuple[str, dict[str, Any]]]:
    """One footnote item per suspect (``lead_<rank>``): how it is scored, and its queries."""
    words = catalogue(lang)
    return [
        (
            f"lead_{suspect['rank']}",
            {
                # already in the report's language: no English sentence to translate
                "definition": words.get(
                    f"definition.lead.{suspect['kind']}", words["definition.lead.other"]
                ),
                "source": None,
                "query_refs": list(suspect.get("evidence") or []),
                "query_services": suspect.get("query_services") or {},
            },
        )
        for suspect in findings.get("suspects", [])
    ]
