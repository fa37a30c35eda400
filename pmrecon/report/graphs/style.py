"""How the figures look: sizes, colours, the instants marked, and text made safe for plotly."""

from __future__ import annotations

import html
from typing import Any

#: The plotly template every figure is written with (its colorway, grid and backgrounds).
TEMPLATE = "plotly_white"

#: Size of every PNG, in pixels (the swimlane's height grows with its lanes).
PNG_WIDTH = 1200
PNG_HEIGHT = 500

#: The instants drawn on every figure, in this order (each one the findings hold).
MARKED_INSTANTS = (
    "impact_start",
    "first_alert",
    "acknowledged",
    "declared",
    "investigation_start",
    "mitigation_start",
    "cause_identified",
    "resolution",
    "end",
)

INSTANT_COLORS = {
    "impact_start": "#C0392B",
    "first_alert": "#D35400",
    "acknowledged": "#7D3C98",
    "declared": "#884EA0",
    "investigation_start": "#5D6D7E",
    "mitigation_start": "#2471A3",
    "cause_identified": "#117A65",
    "resolution": "#1E8449",
    "end": "#145A32",
}

#: The incident span (impact start to end), shaded under every time figure.
SPAN_COLOR = "rgba(192, 57, 43, 0.08)"

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

LEVEL_COLORS = {
    "fatal": "#7B241C",
    "critical": "#922B21",
    "error": "#D62728",
    "warn": "#FF7F0E",
    "warning": "#FF7F0E",
    "notice": "#17BECF",
    "info": "#1F77B4",
    "debug": "#9E9E9E",
    "trace": "#C7C7C7",
}
LEVEL_ORDER = tuple(LEVEL_COLORS)

#: Most lanes in the alert swimlane; the others are counted under it.
MAX_LANES = 30


def esc(text: Any) -> str:
    """Data as plotly text: plotly reads a subset of HTML in strings; show it literally."""
    return html.escape(str(text), quote=False)
