"""Expressions round-trip through JSON unchanged, and stored JSON is checked like typed code."""

from __future__ import annotations

import json
import math

import pytest
from expr_strategies import ANY_EXPR, expr_settings
from hypothesis import given, settings

from featurestore.errors import ExpressionError
from featurestore.expr import Expr, col, from_dict, from_json, lit, when


@settings(expr_settings(), max_examples=min(expr_settings().max_examples, 500))
@given(expr=ANY_EXPR)
def test_random_expressions_round_trip(expr: Expr) -> None:
    text = expr.to_json()
    back = from_json(text)
    assert back.meta_eq(expr)
    assert hash(back) == hash(expr)
    assert back.to_json() == text
    assert repr(back) == repr(expr)
    assert from_dict(expr.to_dict()).meta_eq(expr)
    assert back.columns() == expr.columns()


def test_json_is_deterministic_and_compact() -> None:
    a = (col("fare") + 1).log1p()
    b = (col("fare") + 1).log1p()
    assert a.to_json() == b.to_json()
    assert a.to_json() == (
        '{"args":[{"args":[{"col":"fare"},{"dtype":"int64","lit":1}],"op":"add"}],"op":"log1p"}'
    )


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, -0.0, 1e-310, 2**63 - 1, "ü", True, None]
)
def test_literals_round_trip_exactly(value: object) -> None:
    expr = lit(value)
    assert from_json(expr.to_json()).meta_eq(expr)
    json.loads(expr.to_json())  # plain JSON: no NaN tokens


def test_case_without_otherwise_round_trips() -> None:
    expr = when(col("a") > 1).then("x").when(col("a") < 0).then("y")
    back = from_json(expr.to_json())
    assert back.meta_eq(expr)
    assert not back.meta_eq(expr.otherwise(None))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"foo": 1}, "unknown node"),
        ({"op": "frobnicate", "args": []}, "unknown operation 'frobnicate'"),
        ({"op": "add", "args": [{"col": "a"}]}, "takes 2 arguments"),
        ({"op": "round", "args": [{"col": "a"}]}, "takes parameters ['decimals']"),
        ({"op": "round", "args": [{"col": "a"}], "params": {"decimals": -1}}, "decimals"),
        ({"op": "cast", "args": [{"col": "a"}], "params": {"dtype": "int32"}}, "unknown dtype"),
        ({"op": "pow", "args": [{"col": "a"}], "params": {"exponent": True}}, "must be a number"),
        ({"op": "coalesce", "args": []}, "at least one"),
        ({"col": "a", "extra": 1}, "expected ['col']"),
        ({"col": 3}, "must be a string"),
        ({"lit": 1, "dtype": "decimal"}, "unknown literal dtype"),
        ({"lit": "x", "dtype": "int64"}, "not of dtype int64"),
        ({"lit": 2**64, "dtype": "int64"}, "does not fit in int64"),
        ({"lit": "yesterday", "dtype": "datetime"}, "not a datetime literal"),
        ({"lit": "2020-01-01T00:00:00", "dtype": "datetime"}, "naive"),
        ({"when": [], "otherwise": None}, "non-empty list"),
        (
            {
                "when": [{"if": {"lit": 1, "dtype": "int64"}, "then": {"col": "a"}}],
                "otherwise": None,
            },
            "needs bool",
        ),
        (
            {"op": "add", "args": [{"col": "s"}, {"lit": "x", "dtype": "str"}]},
            "needs float64 or int64",
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_documents_are_refused_with_a_clear_message(data: object, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("[", r"\[").replace("(", r"\(")):
        from_dict(data)  # type: ignore[arg-type]


def test_unparsable_and_too_deep_json() -> None:
    with pytest.raises(ExpressionError, match="cannot be parsed"):
        from_json("{not json")
    deep = '{"op":"neg","args":[' * 5000 + '{"col":"a"}' + "]}" * 5000
    with pytest.raises(ExpressionError, match=r"nested too deeply|cannot be parsed"):
        from_json(deep)
