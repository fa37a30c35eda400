"""A concentration lead in the report's words: one node, or spread over the nodes."""

from __future__ import annotations

from typing import Any

import pytest

from pmrecon.report.formatting import Formatter
from pmrecon.report.leads import LeadWriter, lead_footnotes, lead_graph


def lead(**figures: Any) -> dict[str, Any]:
    base = {
        "label": "instance",
        "value": "10.0.0.3:8080",
        "share": 1.0,
        "traffic_share": 0.2,
        "baseline_share": None,
        "node": True,
        "location_label": "instance",
        "locations": 5,
        "spread": None,
    }
    return {
        "rank": 1,
        "kind": "concentration",
        "service": "checkout",
        "at": "2026-03-02T10:30:00+00:00",
        "summary": 'instance="10.0.0.3:8080", code="500"',
        "score": 0.9,
        "evidence": ["prom:q9"],
        "lead_seconds": 0.0,
        "ratio": None,
        "related": None,
        "concentration": {**base, **figures},
    }


def words(suspect: dict[str, Any], lang: str = "en") -> str:
    return LeadWriter(lang, Formatter(lang, "UTC")).lead(suspect)


def test_one_node_says_which_of_how_many() -> None:
    text = words(lead())
    assert text.startswith("100% of the bad requests of checkout came from ")
    assert '`instance="10.0.0.3:8080", code="500"`, one instance of 5 (20% of its requests)' in text
    assert "the node rather than the code" in text and text.endswith("to be confirmed")


def test_a_route_spread_over_the_nodes_says_not_a_node() -> None:
    text = words(
        lead(
            label="route", value="/api/pay", node=False, spread=3, traffic_share=1 / 3, locations=3
        )
    )
    assert "(33% of its requests), spread over 3 values of instance like their traffic" in text
    assert "code or a dependency rather than a node" in text


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        ({}, 'venaient de `instance="10.0.0.3:8080", code="500"`, une valeur de instance sur 5'),
        ({"node": False, "spread": 3}, "réparties sur 3 valeurs de instance comme leur trafic"),
        ({"traffic_share": None, "baseline_share": 0.9}, "(une faible part de ses requêtes)"),
    ],
)
def test_french(figures: dict[str, Any], expected: str) -> None:
    text = words(lead(**figures), "fr")
    assert expected in text and text.endswith("à confirmer")


def test_a_known_weak_spot_says_so() -> None:
    assert "it already held 90% of them before the incident" in words(lead(baseline_share=0.9))


def test_its_graph_and_footnote() -> None:
    assert lead_graph(lead()) == "error_ratio"
    ((key, note),) = lead_footnotes({"suspects": [lead()]}, "en")
    assert key == "lead_1" and note["query_refs"] == ["prom:q9"]
    assert note["definition"].startswith("Lead: one value of a label")
