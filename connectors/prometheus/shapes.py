"""The shape of the Prometheus API's answers, checked before any code reads them.

An answer in the API's envelope can still hold anything: a proxy, a mock or another
server may put a number where a list of series is due. Each endpoint the connector calls
has its ``data`` checked here, so that such an answer fails the source with "not a
Prometheus response (what is wrong)" (exit 3 when no other source answers) instead of an
error deep in the connector that reads as a pmrecon bug.

The points of a series are checked column by column (C-level ``map``), which costs a
small fraction of decoding them.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from connectors.prometheus.matrix import Columns
from connectors.toolkit.failures import json_kind

#: What a point's timestamp may be in the JSON, and its value (a string: "1.5", "NaN").
_TIME_TYPES = frozenset({int, float})
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_RESULT_TYPES = ("matrix", "vector", "scalar", "string")


def answer_problem(path: str, data: Any) -> str | None:
    """What is wrong with the ``data`` of an answer to ``path``, or None if it has the API's shape."""
    if path.endswith(("/query", "/query_range")):
        return _query_problem(data)
    if path.endswith("/rules"):
        return _rules_problem(data)
    # buildinfo and config are read only if they are objects: VictoriaMetrics answers
    # them with empty data, and other servers not at all.
    return None


def _query_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"data is {json_kind(data)}, not an object"
    kind, result = data.get("resultType"), data.get("result")
    if kind not in _RESULT_TYPES:
        return f"resultType {kind!r} is none of {', '.join(_RESULT_TYPES)}"
    if not isinstance(result, list):
        return f"result is {json_kind(result)}, not a list"
    if kind in ("scalar", "string"):
        return None if _is_point(result) else f"the {kind} result is not a [time, value] pair"
    for i, item in enumerate(result):
        if not isinstance(item, dict):
            return f"result[{i}] is {json_kind(item)}, not a series"
        metric = item.get("metric", {})
        if not isinstance(metric, dict) or not all(isinstance(v, str) for v in metric.values()):
            return f"result[{i}].metric is not a set of labels"
        if kind == "vector" and not _is_point(item.get("value")):
            return f"result[{i}].value is not a [time, value] pair"
        if kind == "matrix" and not _are_points(item.get("values", [])):
            return f"result[{i}].values is not a list of [time, value] pairs"
    return None


def _is_point(value: Any) -> bool:
    return isinstance(value, list) and _are_points([value])


def _are_points(values: Any) -> bool:
    if isinstance(values, Columns):
        return True  # read from the API's own shape (see .matrix)
    if not isinstance(values, list):
        return False
    if not values:
        return True
    if set(map(type, values)) != {list} or set(map(len, values)) != {2}:
        return False
    # columns through itemgetter: zip(*values) builds a tuple per point, a third of the cost
    return set(map(type, map(_FIRST, values))) <= _TIME_TYPES and set(
        map(type, map(_SECOND, values))
    ) == {str}


def _rules_problem(data: Any) -> str | None:
    if data is None:
        return None  # read as no rule
    if not isinstance(data, dict):
        return f"data is {json_kind(data)}, not an object"
    groups = data.get("groups", [])
    if not isinstance(groups, list):
        return f"groups is {json_kind(groups)}, not a list"
    for i, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("rules", []), list):
            return f"groups[{i}] is not a rule group"
        if not all(isinstance(rule, dict) for rule in group.get("rules", [])):
            return f"groups[{i}].rules holds something that is not a rule"
    return None
