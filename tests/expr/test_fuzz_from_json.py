"""``featurestore.expr.from_json`` on hostile documents: expression-shaped JSON with numbers past
64 bits, odd unicode (lone surrogates, NUL, right-to-left marks), huge strings, deep nesting and
raw bytes. It answers an expression that round-trips, or an ExpressionError with a short
message; never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.errors import ExpressionError
from featurestore.expr import from_json
from featurestore.expr._ops import OPS

FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

odd_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\u202eevil",
            "\u200f\u05e9",
            "\ud800",
            "\udfff",
            "e\u0301",
            "fare\n",
            "",
        ]
    ),
    st.sampled_from([10_000, 1_000_000]).map(lambda n: "x" * n),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63, max_value=2**300),
    st.integers(max_value=-(2**63) - 1, min_value=-(2**300)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, odd_text, st.just([]), st.just({}))
dtypes = st.sampled_from(["int64", "float64", "bool", "str", "datetime"]) | odd_text
times = st.sampled_from(
    ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "2026-01-01T00:00:00", "nan", "inf"]
)


def nodes(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    params = st.dictionaries(
        st.sampled_from(
            ["exponent", "base", "decimals", "lower", "upper", "dtype", "pattern", "prefix"]
        )
        | odd_text,
        leaves | dtypes,
        max_size=3,
    )
    return st.one_of(
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(sorted(OPS)) | odd_text | leaves,
                "args": st.lists(inner, max_size=3) | leaves,
            }
        ),
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(sorted(OPS)),
                "args": st.lists(inner, max_size=3),
                "params": params,
            }
        ),
        st.fixed_dictionaries(
            {
                "when": st.lists(st.fixed_dictionaries({"if": inner, "then": inner}), max_size=2)
                | leaves,
                "otherwise": st.none() | inner,
            }
        ),
        st.dictionaries(odd_text, inner, max_size=2),
        inner,
    )


documents = st.recursive(
    st.one_of(
        st.fixed_dictionaries({"col": odd_text | leaves}),
        st.fixed_dictionaries({"lit": leaves | times, "dtype": dtypes}),
        leaves,
    ),
    nodes,
    max_leaves=12,
)


def nested(levels: int) -> str:
    return '{"op":"neg","args":[' * levels + '{"col":"a"}' + "]}" * levels


def check(text: str | bytes) -> None:
    try:
        expr = from_json(text)
    except ExpressionError as exc:
        assert len(str(exc)) < 2000, str(exc)[:300]
        return
    assert from_json(expr.to_json()).meta_eq(expr)


@FUZZ
@given(documents)
def test_hostile_documents_are_read_or_refused(document: Any) -> None:
    check(json.dumps(document))


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.integers(min_value=1, max_value=3000).map(nested),
        st.sampled_from(
            [
                "[" * 100_000,
                '{"lit": 1e999, "dtype": "float64"}',
                '{"lit": NaN, "dtype": "float64"}',
            ]
        ),
    )
)
def test_hostile_text_is_read_or_refused(text: str | bytes) -> None:
    check(text)
