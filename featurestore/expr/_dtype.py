"""``output_dtype``: the Polars dtype an expression produces over a given input schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from featurestore.errors import ExpressionError
from featurestore.expr._case import Case
from featurestore.expr._kinds import Kind, dtype_of, infer, infer_case, schema_kinds
from featurestore.expr._nodes import Call, Col, Expr, Lit
from featurestore.expr._ops import OPS


def output_dtype(expr: Expr, schema: Mapping[str, Any]) -> pl.DataType:
    """The dtype ``to_polars(expr)`` gives over input columns of ``schema``.

    Args:
        expr: the expression.
        schema: ``{column: Polars dtype}``; it must hold every column ``expr`` reads.

    Returns:
        One of Int64, Float64, Boolean, String, Datetime("us", "UTC"), or Null when every
        value is a null literal.

    Raises:
        ExpressionError: a column is missing from ``schema`` or has an unsupported dtype, or
            the expression does not type-check over it.
    """
    if not isinstance(expr, Expr):
        raise ExpressionError(f"output_dtype() needs an expression, got {type(expr).__name__}")
    missing = sorted(expr.columns() - set(schema))
    if missing:
        raise ExpressionError(
            f"expression {expr!r} reads column(s) {missing} that the schema does not have"
        )
    kinds = schema_kinds({name: schema[name] for name in expr.columns()})
    kind = _kind(expr, kinds)
    assert kind is not None
    return dtype_of(kind)


def _kind(expr: Expr, kinds: Mapping[str, Kind]) -> Kind | None:
    if isinstance(expr, Col):
        return kinds[expr.name]
    if isinstance(expr, Lit):
        return expr.kind
    if isinstance(expr, Case):
        conditions = [_kind(c, kinds) for c, _ in expr.branches]
        values = [_kind(v, kinds) for _, v in expr.branches]
        values.append("null" if expr.default is None else _kind(expr.default, kinds))
        return infer_case(conditions, values)
    assert isinstance(expr, Call)
    return infer_call(expr, [_kind(a, kinds) for a in expr.args])


def infer_call(expr: Call, arg_kinds: list[Kind | None]) -> Kind | None:
    """The kind of ``expr`` given its arguments' kinds; errors name the expression."""
    try:
        return infer(expr.op, arg_kinds, dict(expr.params), OPS[expr.op].label())
    except ExpressionError as exc:
        raise ExpressionError(f"{exc} in {expr!r}") from None
