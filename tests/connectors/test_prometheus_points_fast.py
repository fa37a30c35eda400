"""The fast column paths of a Prometheus answer's points agree with the point-by-point ones.

``slis._points`` converts whole columns when every value is finite, and
``shapes._are_points`` checks columns at once; both must say exactly what a walk over the
points says, whatever a server sends.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.prometheus import shapes, slis

_times = st.one_of(
    st.integers(min_value=0, max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1717718400", "x", None, True]),
)
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["NaN", "+Inf", "-Inf", "1e400", "-0", "0.5", "", "abc", "1_000"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from([None, 1.5, 7, [], {}]),
)
_pair = st.one_of(
    st.lists(st.one_of(_times, _values), min_size=2, max_size=2),
    st.tuples(_times, _values).map(list),
    st.lists(_values, min_size=0, max_size=3),
    st.dictionaries(st.integers(0, 2), _values, max_size=2),
)


def _walk(values: list[Any]) -> tuple[list[float], list[float], int]:
    """What the points are, one at a time: the definition the fast path must keep."""
    xs: list[float] = []
    ys: list[float] = []
    dropped = 0
    for pair in values:
        try:
            y, t = float(pair[1]), float(pair[0])
        except (TypeError, ValueError, IndexError, KeyError):
            dropped += 1
            continue
        if not math.isfinite(y):
            dropped += 1
            continue
        xs.append(t)
        ys.append(y)
    return xs, ys, dropped


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.tuples(_times, _values).map(list), _pair), max_size=8))
def test_points_fast_path_is_the_walk(values: list[Any]) -> None:
    xs, ys, dropped = slis._points(values)
    want = _walk(values)
    assert _same(list(xs), want[0]) and _same(list(ys), want[1]) and dropped == want[2]


@settings(max_examples=400, deadline=None)
@given(st.lists(_pair, max_size=6))
def test_points_shape_check_is_the_walk(values: list[Any]) -> None:
    want = all(
        type(p) is list and len(p) == 2 and type(p[0]) in (int, float) and type(p[1]) is str
        for p in values
    )
    assert shapes._are_points(values) is want


def test_points_keep_every_finite_value_exactly() -> None:
    values = [[1717718400 + 15 * i, repr(0.1 * i - 3)] for i in range(500)]
    xs, ys, dropped = slis._points(values)
    assert dropped == 0
    assert list(ys) == [0.1 * i - 3 for i in range(500)]
    assert list(xs) == [float(1717718400 + 15 * i) for i in range(500)]
