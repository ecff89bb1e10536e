"""Evaluate one expression on both compilers and insist they agree with an expected answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from expr_strategies import same_value

from featurestore.expr import Expr, output_dtype, to_polars, to_python


def both(expr: Expr, columns: Mapping[str, Sequence[Any]], schema: Mapping[str, Any]) -> list[Any]:
    """The values of ``expr`` over ``columns``: Polars on one frame, Python row by row.

    Asserts the two agree exactly and that Polars' dtype is ``output_dtype``.
    """
    frame = pl.DataFrame(dict(columns), schema=dict(schema))
    out = frame.with_columns(__out=to_polars(expr, schema=schema))["__out"]
    assert out.dtype == output_dtype(expr, schema)
    polars_values = out.to_list()
    fn = to_python(expr, schema=schema)
    python_values = [fn(row) for row in frame.to_dicts()]
    for p, q in zip(polars_values, python_values, strict=True):
        assert same_value(p, q), f"polars {p!r} != python {q!r} for {expr!r}"
    return polars_values


def check(
    expr: Expr,
    columns: Mapping[str, Sequence[Any]],
    schema: Mapping[str, Any],
    expected: Sequence[Any],
) -> None:
    """Both compilers give exactly ``expected`` (same types, NaN and -0.0 included)."""
    got = both(expr, columns, schema)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert same_value(g, e), f"{expr!r}: got {got!r}, expected {list(expected)!r}"
