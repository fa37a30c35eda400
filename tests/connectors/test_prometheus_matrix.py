"""A range query's points read as columns (connectors/prometheus/matrix.py) are the points
``json`` reads, or the answer is left to ``json`` whole.

The definition is the decoded answer's: ``json.loads`` then ``slis._points`` (the path
every answer took before). Answers are written the way the Prometheus API writes them
(compact JSON); anything else must come back as None, never as other numbers.
"""

from __future__ import annotations

import json
import struct
from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource, shapes, slis
from connectors.prometheus.matrix import Columns, decode_range
from connectors.prometheus.transport import fmt_step, fmt_ts


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _answer(series: list[tuple[dict[str, str], list[list[Any]]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": m, "values": v} for m, v in series],
        },
    }


def _bits(values: Any) -> bytes:
    """Floats as their bytes: -0.0 and 0.0 differ, NaN equals NaN."""
    return array("d", values).tobytes()


def _as_json_reads(body: bytes) -> list[tuple[Any, bytes, bytes, int]]:
    """Each series' labels and points as json plus the per-point conversion reads them."""
    out = []
    for item in json.loads(body)["data"]["result"]:
        xs, ys, dropped = slis._points(item["values"])
        out.append((item["metric"], _bits(xs), _bits(ys), dropped))
    return out


def _as_columns_read(payload: Any) -> list[tuple[Any, bytes, bytes, int]]:
    out = []
    for item in payload["data"]["result"]:
        assert isinstance(item["values"], Columns)
        xs, ys, dropped = slis._points(item["values"])
        out.append((item["metric"], _bits(xs), _bits(ys), dropped))
    return out


def _go_f(x: float) -> str:
    """A value as Prometheus writes it (Go's ``FormatFloat(v, 'f', -1, 64)``): no exponent."""
    text = repr(x)
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    point = len(mantissa.lstrip("-").split(".")[0]) + int(exp)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}".rstrip("0").rstrip(".")
    return f"{sign}{digits.ljust(point, '0')}" if point >= len(digits) else text


_finite = st.floats(allow_nan=False, allow_infinity=False)
_value = st.one_of(
    _finite.map(repr),  # VictoriaMetrics and others write exponents: 1e-05
    _finite.map(_go_f),
    st.sampled_from(["NaN", "+Inf", "-Inf", "0", "-0", "1", "0.5"]),
    st.integers(-(2**60), 2**60).map(str),
)
_time = st.one_of(
    st.integers(0, 2**35),
    st.integers(0, 2**35 * 1000).map(lambda ms: ms / 1000),
)
_labels = st.dictionaries(
    st.sampled_from(["__name__", "service", "le", "pod", "values", "x"]),
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(['"values":[[1,"2"]]', "]]", "[[", '\\"', "é ✓", '"values":']),
    ),
    max_size=3,
)
_series = st.tuples(_labels, st.lists(st.tuples(_time, _value).map(list), min_size=1, max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.lists(_series, min_size=1, max_size=5))
def test_columns_are_the_points_json_reads(
    series: list[tuple[dict[str, str], list[list[Any]]]],
) -> None:
    body = _compact(_answer(series))
    payload = decode_range(body)
    if any("values" in labels for labels, _ in series):
        # a label named "values" is a "values" key outside a list of points: left to json
        assert payload is None
        return
    assert payload is not None
    assert _as_columns_read(payload) == _as_json_reads(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_time, _value), min_size=1, max_size=30))
def test_non_finite_values_are_kept_in_the_columns_and_dropped_with_a_count(
    points: list[tuple[Any, str]],
) -> None:
    body = _compact(_answer([({}, [list(p) for p in points])]))
    payload = decode_range(body)
    assert payload is not None
    cols = payload["data"]["result"][0]["values"]
    assert len(cols) == len(points)
    assert _bits(cols.values) == _bits(float(v) for _, v in points)
    xs, ys, dropped = cols.finite()
    assert dropped == sum(v in ("NaN", "+Inf", "-Inf") for _, v in points)
    assert len(xs) == len(ys) == len(points) - dropped


@pytest.mark.parametrize(
    "body",
    [
        # spaces, as a proxy that re-indents would write them
        json.dumps(_answer([({}, [[1, "2"]])]), indent=1).encode(),
        # a value float() does not read (json reads it, the point is dropped)
        _compact(_answer([({}, [[1, "2"], [2, "abc"]])])),
        _compact(_answer([({}, [[1, "2"], [2, ""]])])),
        _compact(_answer([({}, [[1, "2"], [2, "1e"]])])),
        _compact(_answer([({}, [[1, "2"], [2, "infinity"]])])),
        # a value written with a JSON escape, a timestamp as a string, a value as a number
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"\\u0031"]]}]}}',
        _compact(_answer([({}, [["1", "2"]])])),
        _compact(_answer([({}, [[1, 2]])])),
        _compact(_answer([({}, [[1, "2", 3]])])),
        _compact(_answer([({}, [[1]])])),
        # one series without points, beside one with
        _compact(_answer([({"a": "1"}, [[1, "2"]]), ({"a": "2"}, [])])),
        # a list of points anywhere but in a series of the result
        _compact({**_answer([({}, [[1, "2"]])]), "extra": {"values": [[1, "2"]]}}),
        _compact(
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [], "stats": {"values": [[1, "2"]]}},
            }
        ),
        # two "values" keys in one series (json keeps the last one)
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]],"values":[[3,"4"]]}]}}',
        # cut short, not JSON
        _compact(_answer([({}, [[1, "2"]])]))[:-3],
        b'<html>"values":[[1,"2"]]</html>',
        # no series at all: nothing to gain
        _compact(_answer([])),
    ],
)
def test_any_other_answer_is_left_to_json(body: bytes) -> None:
    assert decode_range(body) is None


def test_an_answer_of_columns_has_the_shape_of_a_matrix() -> None:
    payload = decode_range(_compact(_answer([({"service": "a"}, [[1, "0.5"], [2, "NaN"]])])))
    assert payload is not None
    assert shapes.answer_problem("/api/v1/query_range", payload["data"]) is None
    xs, ys, dropped = slis._points(payload["data"]["result"][0]["values"])
    assert (list(xs), list(ys), dropped) == ([1.0], [0.5], 1)


def test_a_negative_zero_keeps_its_sign() -> None:
    payload = decode_range(_compact(_answer([({}, [[1, "-0"], [2, "0"]])])))
    assert payload is not None
    values = payload["data"]["result"][0]["values"].values
    assert [struct.pack("<d", v) for v in values] == [
        struct.pack("<d", -0.0),
        struct.pack("<d", 0.0),
    ]


@pytest.mark.prometheus
def test_a_real_servers_range_answer_is_read_as_columns_with_the_points_json_reads(
    prometheus,  # noqa: ANN001
) -> None:
    """Prometheus 2.42's own answers take the column path, and give the same points."""
    import requests

    name = sorted(prometheus.scenarios)[0]
    start, end = (w.timestamp() for w in prometheus.scenarios[name].window)
    params = {
        "query": 'sum by (__name__, service) ({__name__=~".+"})',
        "start": fmt_ts(start),
        "end": fmt_ts(end),
        "step": fmt_step(15),
    }
    src = PrometheusSource("prom", {"url": prometheus.url}, SourceContext())
    answer = src.api.call("/api/v1/query_range", params, purpose="test")
    assert len(answer.data["result"]) > 1, "the scenario has series in its window"
    raw = requests.get(f"{prometheus.url}/api/v1/query_range", params=params, timeout=30)
    assert _as_columns_read({"data": answer.data}) == _as_json_reads(raw.content)
