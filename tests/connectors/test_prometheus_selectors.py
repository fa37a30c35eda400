"""The selectors ``check`` reads from PromQL: what is a metric, what is a matcher, what is neither."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.prometheus.selectors import Matcher, SelectorSyntaxError, selectors
from connectors.promql import string_literal, substitute


def shape(query: str) -> list[tuple[str | None, list[tuple[str, str, str]]]]:
    return [(s.metric, [(m.label, m.op, m.value) for m in s.matchers]) for s in selectors(query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'histogram_quantile(0.99, sum by (le, service) (rate(x_bucket{job="a"}[5m])))',
            [("x_bucket", [("job", "=", "a")])],
        ),
        ("sum(rate(x[5m])) by (job) / on(job) group_left(team) y", [("x", []), ("y", [])]),
        ("x * on(job) group_left y", [("x", []), ("y", [])]),
        ("max_over_time(x[1h:5m] offset 1d) @ start()", [("x", [])]),
        ('label_replace(x, "dst", "$1", "src", "(.*)")', [("x", [])]),
        ("# a comment naming nothing\nz", [("z", [])]),
        ('{__name__="x", job!~"a|b"}', [("x", [("__name__", "=", "x"), ("job", "!~", "a|b")])]),
        (
            '{"otel.metric.name", "http.route"="/"}',
            [("otel.metric.name", [("http.route", "=", "/")])],
        ),
        ("1e3 * x + 0x1f - 2.5 > bool inf", [("x", [])]),
        ("topk(3, x) unless y and z or w", [("x", []), ("y", []), ("z", []), ("w", [])]),
        ("vector(0)", []),
    ],
)
def test_selectors(
    query: str, expected: list[tuple[str | None, list[tuple[str, str, str]]]]
) -> None:
    assert shape(query) == expected


def test_unbalanced_or_unreadable_queries_are_syntax_errors() -> None:
    for bad in ('x{job="a"', "sum(x", "x ? y"):
        with pytest.raises(SelectorSyntaxError):
            selectors(bad)


@pytest.mark.parametrize(
    ("matcher", "passes_without_label"),
    [
        (Matcher("env", "=", ""), True),
        (Matcher("env", "=", "prod"), False),
        (Matcher("uri", "!~", "/actuator.*"), True),
        (Matcher("code", "=~", "5.."), False),
        (Matcher("code", "=~", "5..|"), True),
        (Matcher("code", "!=", "200"), True),
        (Matcher("code", "!=", ""), False),
    ],
)
def test_matchers_that_a_series_without_the_label_passes(
    matcher: Matcher, passes_without_label: bool
) -> None:
    assert matcher.matches_empty() is passes_without_label


@settings(max_examples=200, deadline=None)
@given(
    metric=st.from_regex(r"[a-z_:][a-z0-9_:]{0,20}", fullmatch=True).filter(
        lambda m: (
            m not in {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"}
            and m not in {"sum", "min", "max", "avg", "group", "count", "topk", "bottomk"}
            and m not in {"stddev", "stdvar", "count_values", "quantile", "limitk", "limit_ratio"}
            and m not in {"start", "end", "by", "without", "on", "ignoring"}
            and m not in {"group_left", "group_right"}
        )
    ),
    label=st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True),
    value=st.text(max_size=30),
    op=st.sampled_from(["=", "!=", "=~", "!~"]),
)
def test_any_value_in_any_template_reads_back_unchanged(
    metric: str, label: str, value: str, op: str
) -> None:
    """A service name, however odd, rendered into a template the way a collect renders it,
    is read back as the matcher's value (regex matchers: its regex-quoted form)."""
    template = f"sum by (le) (rate({metric}{{{label}{op}$service}}[$window])) or vector(0)"
    from connectors.promql import Raw, regex_quote

    query = substitute(template, {"service": value, "window": Raw("5m")})
    (sel,) = selectors(query)
    assert sel.metric == metric
    want = regex_quote(value) if op in ("=~", "!~") else value
    assert sel.matchers == [Matcher(label, op, want)]
    assert string_literal(want) in query
