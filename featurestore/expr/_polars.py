"""The Polars compiler: an expression becomes a ``pl.Expr``.

Polars takes shortcuts that are not elementwise-exact; each one is compiled around so the Python
compiler can match Polars bit for bit:

* A scalar divisor (a literal, or a column holding one repeated value) is applied by
  multiplying with its reciprocal (``3.0 / 10`` gives 0.30000000000000004), and a scalar 0.0
  is skipped in ``x + 0.0`` and ``0.0 - x`` (wrong for ``x = -0.0``). Operands of ``/``, ``//``,
  ``%`` and of float ``+``/``-`` are therefore materialised: multiplied by a column of ones of
  their own dtype, which keeps every value (signed zeros and NaN included) and makes a scalar
  a full column that takes the exact elementwise path.
* Column-free subtrees are computed once into typed literals, and ``coalesce`` stops at its
  first non-null constant: Polars returns such a scalar early as a single value.
* A comparison whose left side compiled to a literal is written the other way round
  (``x > literal`` for ``literal < x``): Polars returns one value for the former when ``x``
  is a when/then it folded into a scalar at run time.
* Null literals take the dtype the operation expects (many kernels refuse the Null dtype) and
  a node known to be all null compiles to a typed null literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from featurestore.expr._case import Case
from featurestore.expr._dtype import infer_call
from featurestore.expr._kinds import (
    ARITHMETIC,
    BOOL,
    COMPARISONS,
    DATETIME,
    DT_PARTS,
    FLOAT,
    INT,
    NULL,
    STR,
    UTC_DATETIME,
    Kind,
    dtype_of,
    infer_case,
    schema_kinds,
)
from featurestore.expr._nodes import Call, Col, Expr, Lit
from featurestore.expr._text import MAX_US, MIN_US

Compiled = tuple[pl.Expr, Kind | None]

_NULL_IN_NULL_OUT: Final = ARITHMETIC | COMPARISONS | {
    "truediv", "pow", "pow_expr", "cast", "is_nan", "neg", "abs", "floor", "ceil", "round",
    "sqrt", "log", "log1p", "exp", "clip",
}  # fmt: skip
_FLOAT_FUNCS: Final = {
    "sqrt": pl.Expr.sqrt,
    "log1p": pl.Expr.log1p,
    "exp": pl.Expr.exp,
}
_DT: Final = {
    "dt.hour": lambda e: e.dt.hour(),
    "dt.weekday": lambda e: e.dt.weekday(),
    "dt.day": lambda e: e.dt.day(),
    "dt.month": lambda e: e.dt.month(),
    "dt.year": lambda e: e.dt.year(),
    "dt.epoch": lambda e: e.dt.epoch("us"),
}
# Exponents Polars' scalar path treats apart from C pow (see `_power` and `_numeric.fpow`).
_SPECIAL_EXPONENTS: Final = (1.0, 0.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
_MIRRORED: Final = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_BINARY: Final = {
    "add": pl.Expr.__add__,
    "sub": pl.Expr.__sub__,
    "mul": pl.Expr.__mul__,
    "floordiv": pl.Expr.__floordiv__,
    "mod": pl.Expr.__mod__,
    "truediv": pl.Expr.__truediv__,
    "eq": pl.Expr.__eq__,
    "ne": pl.Expr.__ne__,
    "lt": pl.Expr.__lt__,
    "le": pl.Expr.__le__,
    "gt": pl.Expr.__gt__,
    "ge": pl.Expr.__ge__,
}


def to_polars(expr: Expr, *, schema: Mapping[str, Any] | None = None) -> pl.Expr:
    """Compile ``expr`` into a Polars expression (name it with ``.alias``).

    Args:
        expr: the expression.
        schema: optional ``{column: dtype}`` of the frame it will run on. With it, columns of
            other integer, float, string or datetime dtypes are first brought to int64,
            float64, str and UTC microsecond datetimes, and merged values get their exact dtype.

    Raises:
        ExpressionError: ``expr`` is not an expression or does not type-check under ``schema``.
    """
    from featurestore.errors import ExpressionError

    if not isinstance(expr, Expr):
        raise ExpressionError(f"to_polars() needs an expression, got {type(expr).__name__}")
    kinds = schema_kinds(schema)
    dtypes = dict(schema) if schema is not None else {}
    return _compile(expr, kinds, dtypes)[0]


def _typed_null(kind: Kind | None) -> pl.Expr:
    if kind is None or kind == NULL:
        return pl.lit(None)
    return pl.lit(None, dtype=dtype_of(kind))


def _as(part: Compiled, kind: Kind | None, *, force: bool = False) -> pl.Expr:
    """``part`` brought to ``kind`` where its own kind is known and different (or ``force``)."""
    e, own = part
    if kind is None or own == kind or (own is None and not force):
        return e
    if own == NULL:
        return _typed_null(kind)
    return e.cast(dtype_of(kind))


def _materialize(operand: pl.Expr, kind: Kind | None) -> pl.Expr:
    dtype: Any = pl.dtype_of(operand) if kind is None or kind == NULL else dtype_of(kind)
    ones = (pl.int_range(pl.len()) >= 0).cast(dtype)
    return operand * ones


def _compile(expr: Expr, kinds: Mapping[str, Kind], dtypes: Mapping[str, Any]) -> Compiled:
    if isinstance(expr, Col):
        return _column(expr.name, kinds.get(expr.name), dtypes.get(expr.name)), kinds.get(expr.name)
    if isinstance(expr, Lit):
        kind = expr.kind
        if kind is None or kind == NULL:
            return pl.lit(None), NULL
        return pl.lit(expr.value, dtype=dtype_of(kind)), kind
    if not expr.columns():
        return _constant(expr)
    if isinstance(expr, Case):
        return _case(expr, kinds, dtypes)
    assert isinstance(expr, Call)
    return _call(expr, kinds, dtypes)


def _constant(expr: Expr) -> Compiled:
    """A column-free subtree, computed once (by the Python compiler) into a typed literal.

    Polars would compute it on length-1 series, where some kernels take shortcuts that are
    not elementwise-exact (``coalesce`` returning its first non-null scalar early, for one).
    """
    from featurestore.expr._python import to_python

    value, kind = to_python(expr)({}), expr.kind
    if kind is None or kind == NULL:
        return pl.lit(None), NULL
    return (
        pl.lit(None, dtype=dtype_of(kind)) if value is None else pl.lit(value, dtype=dtype_of(kind))
    ), kind


def _column(name: str, kind: Kind | None, dtype: Any) -> pl.Expr:
    e = pl.col(name)
    if kind is None or dtype is None:
        return e
    if isinstance(dtype, type):
        dtype = dtype()
    if kind == DATETIME and dtype != UTC_DATETIME:
        if dtype.time_zone is None:
            e = e.dt.replace_time_zone("UTC")
        elif dtype.time_zone != "UTC":
            e = e.dt.convert_time_zone("UTC")
        return e.cast(UTC_DATETIME)
    wanted = {INT: pl.Int64(), FLOAT: pl.Float64(), STR: pl.String()}.get(kind)
    if wanted is not None and dtype != wanted:
        return e.cast(wanted, strict=False)
    return e


def _call(expr: Call, kinds: Mapping[str, Kind], dtypes: Mapping[str, Any]) -> Compiled:
    op, params = expr.op, dict(expr.params)
    parts = [_compile(a, kinds, dtypes) for a in expr.args]
    arg_kinds = [kind for _, kind in parts]
    out = infer_call(expr, arg_kinds)
    if op == "coalesce":
        every, parts = parts, _reachable(expr.args, parts)
        if out is None and len(parts) < len(every):
            # Without a schema the dropped arguments' dtypes still decide the result's (an int
            # constant before a float column gives a float): cast to what all of them give.
            kept, _ = _call_parts(op, parts, params, out)
            supertype = pl.dtype_of(pl.coalesce([e for e, _ in every]))
            return kept.cast(supertype), out
    if out == NULL or (op in _NULL_IN_NULL_OUT and NULL in arg_kinds):
        if out is None:  # null with a value of unknown dtype: take that dtype
            other = next(e for e, kind in parts if kind != NULL)
            return pl.lit(None).cast(pl.dtype_of(other)), out
        return _typed_null(out), out
    return _call_parts(op, parts, params, out, expr)


def _call_parts(
    op: str,
    parts: list[Compiled],
    params: dict[str, Any],
    out: Kind | None,
    expr: Call | None = None,
) -> Compiled:
    """``op`` over compiled arguments (``expr``: the node, for ``pow_expr``)."""
    if op == "pow_expr":
        assert expr is not None
        base, exponent = (_as(p, FLOAT, force=True) for p in parts)
        return _power(base, exponent, constant=not expr.args[1].columns()), out
    if op in ARITHMETIC or op == "truediv":
        # Constants are folded already, so a column is involved: materialise (see above).
        lhs, rhs = (_as(p, out) for p in parts)
        if op in ("floordiv", "mod", "truediv"):
            rhs = _materialize(rhs, out)
        elif op in ("add", "sub") and out != INT:
            lhs, rhs = _materialize(lhs, out), _materialize(rhs, out)
        return _BINARY[op](lhs, rhs), out
    if op in COMPARISONS:
        lhs, rhs = parts[0][0], parts[1][0]
        if not lhs.meta.root_names() and rhs.meta.root_names():
            # See the module docstring: `literal < x` can come back as one value.
            return _BINARY[_MIRRORED[op]](rhs, lhs), out
        return _BINARY[op](lhs, rhs), out
    if op in ("and", "or", "not"):
        args = [_as(p, BOOL) for p in parts]
        if op == "not":
            return ~args[0], out
        return (args[0] & args[1] if op == "and" else args[0] | args[1]), out
    if op in DT_PARTS:
        return _DT[op](_as(parts[0], DATETIME)).cast(pl.Int64), out
    if op.startswith("str."):
        return _string(op, _as(parts[0], STR), params), out
    return _function(op, parts, params, out), out


def _power(base: pl.Expr, exponent: pl.Expr, *, constant: bool) -> pl.Expr:
    """``base ** exponent`` in float64, by the scalar-exponent rule (``fpow``) on every frame.

    Polars takes that rule (1 gives the base, 0.5 the square root, 2..9 multiply out, else C
    ``pow``) for an exponent of length one, a literal or a column of a one-row frame, and plain
    C ``pow`` elementwise otherwise: ``x ** 3.0`` would depend on the length of the frame. A
    constant exponent is a literal, so ``pow`` follows the rule; a varying one is matched
    against the special values, each branch a power by that literal, and only exponents where
    both paths agree are left to ``pow``. Every branch repeats the base expression, so a power
    by a literal (one copy) rather than a product chain (n copies) keeps a nested ``**`` small.
    """
    if constant:
        return base.pow(exponent)
    chain: Any = pl
    for special in _SPECIAL_EXPONENTS:
        literal = pl.lit(special, dtype=pl.Float64)
        chain = chain.when(exponent == literal).then(base.pow(literal))
    power: pl.Expr = chain.otherwise(base.pow(exponent))
    return power


def _reachable(args: tuple[Expr, ...], parts: list[Compiled]) -> list[Compiled]:
    """The ``coalesce`` arguments up to the first constant that is not null.

    Polars returns such a scalar early, as one value, even when later arguments are columns;
    the arguments after it are never used anyway.
    """
    from featurestore.expr._python import to_python

    for i, arg in enumerate(args):
        if not arg.columns() and to_python(arg)({}) is not None:
            return parts[: i + 1]
    return parts


def _string(op: str, e: pl.Expr, params: Mapping[str, Any]) -> pl.Expr:
    if op == "str.lower":
        return e.str.to_lowercase()
    if op == "str.upper":
        return e.str.to_uppercase()
    if op == "str.len_chars":
        return e.str.len_chars().cast(pl.Int64)
    if op == "str.contains":
        return e.str.contains(params["pattern"], literal=True)
    return e.str.starts_with(params["prefix"])


def _function(op: str, parts: list[Compiled], params: Mapping[str, Any], out: Kind | None) -> Any:
    x = parts[0][0]
    if op == "pow":
        exponent = params["exponent"]
        if out != FLOAT and isinstance(exponent, int):
            return x.pow(pl.lit(exponent, dtype=pl.Int64))
        return _as(parts[0], FLOAT).pow(pl.lit(float(exponent), dtype=pl.Float64))
    if op in _FLOAT_FUNCS:
        return _FLOAT_FUNCS[op](_as(parts[0], FLOAT))
    if op == "log":
        return _as(parts[0], FLOAT).log(params["base"])
    if op in ("neg", "abs", "floor", "ceil"):
        return {"neg": pl.Expr.__neg__, "abs": pl.Expr.abs}.get(op, getattr(pl.Expr, op))(x)
    if op == "round":
        return x.round(params["decimals"], mode="half_to_even")
    if op == "clip":
        return _clip(parts[0], params["lower"], params["upper"], out)
    if op == "is_null":
        return x.is_null()
    if op == "is_nan":
        return x.is_nan()
    if op == "cast":
        return _cast(parts[0], params["dtype"])
    args = [_as(p, out) for p in parts]
    if op == "fill_null":
        return args[0].fill_null(args[1])
    if op == "fill_nan":
        return args[0].fill_nan(args[1])
    if op == "coalesce":
        return pl.coalesce(args)
    if op == "min_horizontal":
        return pl.min_horizontal(args)
    return pl.max_horizontal(args)


def _clip(part: Compiled, lower: Any, upper: Any, out: Kind | None) -> pl.Expr:
    dtype = pl.Float64 if out == FLOAT else pl.Int64
    low = None if lower is None else pl.lit(lower, dtype=dtype)
    high = None if upper is None else pl.lit(upper, dtype=dtype)
    x = _as(part, FLOAT, force=True) if out == FLOAT else part[0]
    return x.clip(low, high)


def _cast(part: Compiled, target: Kind) -> pl.Expr:
    x, source = part
    if target != DATETIME:
        return x.cast(dtype_of(target), strict=False)
    if source == DATETIME:
        return x
    # Python's datetime stops at years 1..9999: a cast landing outside is null on both sides.
    cast = x.cast(UTC_DATETIME, strict=False)
    in_range = cast.dt.epoch("us").is_between(MIN_US, MAX_US)
    return pl.when(in_range).then(cast).otherwise(pl.lit(None, dtype=UTC_DATETIME))


def _case(expr: Case, kinds: Mapping[str, Kind], dtypes: Mapping[str, Any]) -> Compiled:
    conditions = [_compile(c, kinds, dtypes) for c, _ in expr.branches]
    values = [_compile(v, kinds, dtypes) for _, v in expr.branches]
    default = None if expr.default is None else _compile(expr.default, kinds, dtypes)
    value_kinds = [kind for _, kind in values] + [NULL if default is None else default[1]]
    out = infer_case([kind for _, kind in conditions], value_kinds)
    if out == NULL:
        return pl.lit(None), out
    chain: Any = pl
    for cond, value in zip(conditions, values, strict=True):
        chain = chain.when(_as(cond, BOOL)).then(_as(value, out))
    fallback = _typed_null(out) if default is None else _as(default, out)
    return chain.otherwise(fallback), out
