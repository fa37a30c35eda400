"""The footnote text of a figure, an instant or a lead citing a grouped query (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from pmrecon.report.markdown import FOOTNOTE_SERVICES, footnotes

GROUPED = 'sum by (service) (rate(x{service=~"cart|checkout"}[1m]))'


def findings(**read: Any) -> dict[str, Any]:
    """One grouped query (q7), one per-service query (q8), cited by a figure, an instant, a lead."""
    return {
        "sources": [
            {
                "queries": [
                    {
                        "id": "p:q7",
                        "purpose": "SLI error_ratio grouped by service",
                        "query": GROUPED,
                    },
                    {
                        "id": "p:q8",
                        "purpose": "SLI latency_p99 for cart",
                        "query": 'x{service="cart"}',
                        "service": "cart",
                    },
                ]
            }
        ],
        "figures": {
            "max_error_rate": {
                "definition": "Highest per-step error ratio.",
                "source": "p",
                "query_refs": ["p:q7", "p:q8"],
                **read,
            }
        },
        "instants": {
            "impact_start": {
                "at": "2026-05-02T10:20:00Z",
                "source": "series",
                "ref": "p:q7",
                "definition": "First breach.",
                **read,
            }
        },
        "suspects": [{"rank": 1, "kind": "load", "evidence": ["p:q7"], **read}],
    }


def notes(data: dict[str, Any], lang: str) -> dict[str, str]:
    return {n["key"]: n["text"] for n in footnotes(data, lang)}


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("en", "(SLI error\\_ratio grouped by service, service checkout)"),
        ("fr", "(SLI error\\_ratio groupée par service, service checkout)"),
    ],
)
def test_a_grouped_query_names_the_service_read(lang: str, label: str) -> None:
    text = notes(findings(query_services={"p:q7": ["checkout"]}), lang)
    for key in ("max_error_rate", "impact_start", "lead_1"):
        assert f"`p:q7` {label} `{GROUPED}`" in text[key], text[key]
    # the per-service query of the same footnote is cited as before
    assert "(SLI latency\\_p99 " in text["max_error_rate"]
    assert "cart) `x{" in text["max_error_rate"]


def test_several_services_then_a_count_beyond_the_limit() -> None:
    two = notes(findings(query_services={"p:q7": ["cart", "checkout"]}), "en")
    assert "grouped by service, services cart, checkout)" in two["max_error_rate"]
    names = [f"s{i:02d}" for i in range(FOOTNOTE_SERVICES + 3)]
    many = notes(findings(query_services={"p:q7": names}), "fr")["max_error_rate"]
    shown = ", ".join(names[:FOOTNOTE_SERVICES])
    assert f"groupée par service, services {shown} et 3 autres)" in many
    assert names[FOOTNOTE_SERVICES] not in many


def test_without_services_the_footnote_is_unchanged() -> None:
    text = notes(findings(), "en")
    assert "`p:q7` (SLI error\\_ratio grouped by service) `" in text["max_error_rate"]
    assert "service checkout" not in text["impact_start"]


def test_a_service_name_is_escaped_and_shown_without_a_known_purpose() -> None:
    data = findings(query_services={"p:q7": ["shop_*eu*"]})
    data["sources"][0]["queries"][0]["purpose"] = "something the catalogue lacks"
    text = notes(data, "en")["max_error_rate"]
    assert "`p:q7` (service shop\\_\\*eu\\*) `" in text, text
