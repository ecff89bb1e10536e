"""``**`` by an expression: float64, Polars' literal-exponent rule on every frame length.

The reference is Polars itself raising each base to each exponent given as a literal, so the
compilers are checked against Polars' scalar path, whatever the length of the frame they run on.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from expr_check import check
from expr_strategies import same_value

from featurestore.errors import ExpressionError
from featurestore.expr import col, from_dict, from_json, lit, output_dtype, to_polars, to_python

NAN, INF = math.nan, math.inf
BASES = [1.1, -1.1, 0.1, 1 / 3, 123.456, -7.25, 2.0, -2.0, 0.0, -0.0, 1.0, -1.0, INF, -INF, NAN]
BASES += [1e308, 5e-324, 9342.55]
EXPONENTS = [1.0, 0.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 0.0, -0.0, -1.0, -2.0, -3.0]
EXPONENTS += [1.5, -0.5, 1 / 3, 9.5, 1.0000000000000002, 63.0, 1075.0, INF, -INF, NAN]
SCHEMA = {"x": pl.Float64, "y": pl.Float64}
F = {"x": pl.Float64}


def _by_literal(exponent: float) -> list[Any]:
    """Polars' own answers for ``BASES ** exponent``, the exponent given as a literal."""
    frame = pl.DataFrame({"x": BASES}, schema={"x": pl.Float64})
    return frame.select(pl.col("x").pow(pl.lit(exponent, dtype=pl.Float64))).to_series().to_list()


def test_every_frame_length_gives_polars_literal_exponent_rule() -> None:
    pairs = [(x, y) for y in EXPONENTS for x in BASES]
    wanted = [want for y in EXPONENTS for want in _by_literal(y)]
    frame = pl.DataFrame({"x": [x for x, _ in pairs], "y": [y for _, y in pairs]}, schema=SCHEMA)
    expr = col("x") ** col("y")
    long = frame.select(to_polars(expr, schema=SCHEMA)).to_series().to_list()
    plain = frame.select(pl.col("x").pow(pl.col("y"))).to_series().to_list()
    fn = to_python(expr, schema=SCHEMA)
    for i, ((x, y), want) in enumerate(zip(pairs, wanted, strict=True)):
        alone = frame.slice(i, 1).select(to_polars(expr, schema=SCHEMA)).item()
        row = {"x": x, "y": y}
        for where, got in (("long frame", long[i]), ("one row", alone), ("python", fn(row))):
            assert same_value(got, want), f"{x!r} ** {y!r} on {where}: {got!r} != {want!r}"
    # The grid does reach values where Polars' elementwise pow differs from its literal rule.
    assert sum(not same_value(p, w) for p, w in zip(plain, wanted, strict=True)) >= 10


def test_result_is_float64_with_nulls_propagating() -> None:
    ints = {"x": pl.Int64, "y": pl.Int64}
    columns = {"x": [2, 2, -2, 0, -0, None, 3, 2**53 + 1], "y": [-1, 3, 3, -1, -3, 1, None, 1]}
    check(col("x") ** col("y"), columns, ints, [0.5, 8.0, -8.0, INF, INF, None, None, 2.0**53])
    check(2 ** col("y"), {"y": [-1, 0, 10, None]}, {"y": pl.Int64}, [0.5, 1.0, 1024.0, None])
    check(col("x") ** lit(None), {"x": [1.0, None]}, F, [None, None])
    check(lit(None) ** col("x"), {"x": [1.0, None]}, F, [None, None])
    assert output_dtype(col("x") ** col("y"), ints) == pl.Float64
    assert output_dtype(col("x") ** 2, ints) == pl.Int64  # a literal exponent: unchanged


def test_a_constant_exponent_expression_is_float64_unlike_the_literal() -> None:
    three = col("x") ** (lit(2) + lit(1))
    check(three, {"x": [3, -5, None]}, {"x": pl.Int64}, [27.0, -125.0, None])
    check(col("x") ** 3, {"x": [3, -5, None]}, {"x": pl.Int64}, [27, -125, None])
    check(col("x") ** (lit(2) + 1.0), {"x": [1.1] * 3}, F, [1.1 * 1.1 * 1.1] * 3)
    check(col("x") ** -lit(0.5), {"x": [4.0, -0.0]}, F, [0.5, INF])


@pytest.mark.parametrize(
    ("expr", "op"),
    [
        (col("x") ** col("y"), "pow_expr"),
        (2 ** col("y"), "pow_expr"),
        (col("x") ** (lit(2) + lit(1)), "pow_expr"),
        (col("x") ** lit(None), "pow_expr"),
        (col("x") ** lit(2), "pow"),
        (lit(2) ** lit(3), "pow"),
        (2 ** lit(3), "pow"),
    ],
)
def test_which_power_is_built_and_json_round_trip(expr: Any, op: str) -> None:
    assert expr.op == op
    back = from_json(expr.to_json())
    assert back.meta_eq(expr)
    assert repr(back) == repr(expr)


def test_json_keeps_the_two_powers_apart() -> None:
    literal_exponent = {"op": "pow_expr", "args": [{"col": "x"}, {"lit": 2, "dtype": "int64"}]}
    with pytest.raises(ExpressionError, match="written as operation 'pow', not 'pow_expr'"):
        from_dict(literal_exponent)
    null_param = {"op": "pow", "args": [{"col": "x"}], "params": {"exponent": None}}
    with pytest.raises(ExpressionError, match="must be a number"):
        from_dict(null_param)
