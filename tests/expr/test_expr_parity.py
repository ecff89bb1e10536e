"""The promise of the language: to_polars and to_python agree exactly, Polars being the reference.

Each example evaluates one random well-typed expression with Polars over ONE frame holding all
the example's rows (several rows, so Polars' reciprocal shortcut for scalar divisors would
show), and with the Python row function row by row. An expression holding ``**`` by an
expression is also evaluated on one-row frames, where Polars takes its scalar-exponent path.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from expr_strategies import ANY_EXPR, ROWS, SCHEMA, expr_settings, same_value
from hypothesis import given, note

from featurestore.expr import Expr, output_dtype, to_polars, to_python

_MERGES = {"coalesce", "fill_null", "fill_nan", "min_horizontal", "max_horizontal"}
# Operations Polars computes differently on a frame of one row.
_LENGTH_SENSITIVE = {"pow_expr"}


def _has_op(expr: Expr, ops: set[str]) -> bool:
    """Whether ``expr`` or one of its sub-expressions is a call of one of ``ops``."""
    if getattr(expr, "op", None) in ops:
        return True
    return any(_has_op(child, ops) for child in expr.children())


def _merges_values(expr: Expr) -> bool:
    """Whether a value of one column may pass through a merge (coalesce, when...)."""
    op = getattr(expr, "op", None)
    if op in _MERGES or hasattr(expr, "branches"):
        return True
    return any(_merges_values(child) for child in expr.children())


def _polars_values(expr: Expr, rows: list[dict[str, Any]]) -> tuple[pl.Series, pl.Series]:
    frame = pl.DataFrame(rows, schema=SCHEMA)
    # A constant expression gives one value, broadcast next to a column (as in with_columns).
    out = frame.select(pl.col("i"), typed=to_polars(expr, schema=SCHEMA), untyped=to_polars(expr))
    return out["typed"], out["untyped"]


@expr_settings()
@given(expr=ANY_EXPR, rows=ROWS)
def test_python_rows_equal_polars_frame(expr: Expr, rows: list[dict[str, Any]]) -> None:
    note(f"expr = {expr!r}")
    typed, untyped = _polars_values(expr, rows)
    assert typed.dtype == output_dtype(expr, SCHEMA)
    expected = typed.to_list()
    assert all(same_value(a, b) for a, b in zip(untyped.to_list(), expected, strict=True))
    fn = to_python(expr, schema=SCHEMA)
    # Without a schema, a value merged with a null of a float64 column may stay an int (the
    # documented limit of schema-less compiling); everything else must agree as well.
    loose = None if _merges_values(expr) else to_python(expr)
    one_row = _has_op(expr, _LENGTH_SENSITIVE)
    for i, (row, want) in enumerate(zip(rows, expected, strict=True)):
        got = fn(row)
        assert same_value(got, want), f"row {i}: python {got!r} != polars {want!r} for {row}"
        if loose is not None:
            plain = loose(row)
            assert same_value(plain, want), f"row {i} without schema: {plain!r} != {want!r}"
        if one_row:  # the schema-less compile differs only in casts, checked above
            alone = pl.DataFrame([row], schema=SCHEMA).select(to_polars(expr, schema=SCHEMA))
            got = alone.to_series().to_list()
            assert same_value(got[0], want), f"row {i} alone: polars {got!r} != {want!r}"
