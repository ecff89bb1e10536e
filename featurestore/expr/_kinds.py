"""Value kinds of the expression language and the typing rule of every operation.

A *kind* is the language's type: ``"null"`` (an untyped null literal), ``"bool"``, ``"int64"``,
``"float64"``, ``"str"`` or ``"datetime"`` (UTC, microseconds). ``None`` stands for a kind not
known yet (a column read without a schema). Typing is partial: a node whose inputs are known is
checked when it is built, so ``col("s").str.lower() + 1`` is refused at once, and
:func:`output_dtype` finishes the job once the column dtypes are known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import polars as pl

from featurestore.errors import ExpressionError

NULL: Final = "null"
BOOL: Final = "bool"
INT: Final = "int64"
FLOAT: Final = "float64"
STR: Final = "str"
DATETIME: Final = "datetime"

Kind = str
KINDS: Final = (NULL, BOOL, INT, FLOAT, STR, DATETIME)
CAST_TARGETS: Final = (INT, FLOAT, BOOL, STR, DATETIME)
NUMERIC: Final = frozenset({INT, FLOAT})
UTC_DATETIME: Final = pl.Datetime("us", "UTC")

# Casts Polars refuses outright (it raises even with strict=False); the language refuses them too.
REFUSED_CASTS: Final = frozenset({(STR, BOOL), (STR, DATETIME), (DATETIME, BOOL)})

_DTYPES: Final[dict[Kind, pl.DataType]] = {
    NULL: pl.Null(),
    BOOL: pl.Boolean(),
    INT: pl.Int64(),
    FLOAT: pl.Float64(),
    STR: pl.String(),
    DATETIME: UTC_DATETIME,
}

ARITHMETIC: Final = frozenset({"add", "sub", "mul", "floordiv", "mod"})
COMPARISONS: Final = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
FLOAT_FUNCS: Final = frozenset({"sqrt", "log", "log1p", "exp"})
SAME_KIND_FUNCS: Final = frozenset({"neg", "abs", "floor", "ceil", "round"})
MERGES: Final = frozenset({"coalesce", "min_horizontal", "max_horizontal", "fill_null"})
DT_PARTS: Final = frozenset({"dt.hour", "dt.weekday", "dt.day", "dt.month", "dt.year", "dt.epoch"})


def dtype_of(kind: Kind) -> pl.DataType:
    """The Polars dtype ``to_polars`` produces for values of ``kind``."""
    return _DTYPES[kind]


def kind_of_dtype(dtype: Any, *, column: str) -> Kind:
    """The kind of a column of Polars dtype ``dtype`` (every integer dtype is an int64 column).

    Raises:
        ExpressionError: the dtype has no kind in the language (lists, structs, dates...).
    """
    if isinstance(dtype, type):
        dtype = dtype()
    if not isinstance(dtype, pl.DataType):
        raise ExpressionError(f"column {column!r} has {dtype!r}, which is not a Polars dtype")
    if dtype.is_integer():
        return INT
    if dtype.is_float():
        return FLOAT
    if isinstance(dtype, pl.Boolean):
        return BOOL
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return STR
    if isinstance(dtype, pl.Datetime):
        return DATETIME
    if isinstance(dtype, pl.Null):
        return NULL
    raise ExpressionError(
        f"column {column!r} has dtype {dtype}, which expressions do not support "
        "(use int64, float64, bool, str or datetime columns)"
    )


def schema_kinds(schema: Mapping[str, Any] | None) -> dict[str, Kind]:
    """Map a ``{column: dtype}`` schema to ``{column: kind}`` (an empty dict for ``None``)."""
    if schema is None:
        return {}
    return {name: kind_of_dtype(dtype, column=name) for name, dtype in schema.items()}


def join(what: str, kinds: Sequence[Kind | None]) -> Kind | None:
    """The common kind of values merged into one column (int64 and float64 give float64)."""
    known = [k for k in kinds if k is not None and k != NULL]
    unknown = any(k is None for k in kinds)
    if not known:
        return None if unknown else NULL
    if all(k in NUMERIC for k in known):
        if FLOAT in known:
            return FLOAT
        return None if unknown else INT
    first = known[0]
    for other in known[1:]:
        if other != first:
            raise ExpressionError(f"{what} mixes {first} and {other} values; cast one side first")
    return first


def _need(what: str, kind: Kind | None, allowed: frozenset[str]) -> None:
    if kind is None or kind == NULL or kind in allowed:
        return
    wanted = " or ".join(sorted(allowed))
    raise ExpressionError(f"{what} needs {wanted} input, got {kind}")


def infer(
    op: str, args: Sequence[Kind | None], params: Mapping[str, Any], symbol: str
) -> Kind | None:
    """The kind ``op`` produces from arguments of kinds ``args``.

    Args:
        op: the operation name (see ``_ops.OPS``).
        args: the argument kinds, ``None`` where not known yet.
        params: the operation's literal parameters.
        symbol: how the operation is written, for messages (``"+"``, ``".sqrt()"``).

    Raises:
        ExpressionError: known argument kinds the operation does not accept.
    """
    what = f"{symbol!s}"
    if op in ARITHMETIC:
        for k in args:
            _need(what, k, NUMERIC)
        return join(what, args)
    if op in ("truediv", "pow_expr"):
        # Always float64: Polars raises on negative integer powers of integers, and a dtype
        # cannot depend on the values of the exponent.
        for k in args:
            _need(what, k, NUMERIC)
        return FLOAT
    if op in COMPARISONS:
        join(what, args)
        return BOOL
    if op in ("and", "or", "not"):
        for k in args:
            _need(what, k, frozenset({BOOL}))
        return BOOL
    return _infer_function(op, what, args, params)


def _infer_function(
    op: str, what: str, args: Sequence[Kind | None], params: Mapping[str, Any]
) -> Kind | None:
    x = args[0]
    if op == "pow":
        _need(what, x, NUMERIC)
        exponent = params["exponent"]
        if x == NULL:
            return NULL
        int_power = isinstance(exponent, int) and exponent >= 0
        if x == INT and int_power:
            return INT
        return None if x is None and int_power else FLOAT
    if op in SAME_KIND_FUNCS:
        _need(what, x, NUMERIC)
        return x
    if op in FLOAT_FUNCS:
        _need(what, x, NUMERIC)
        return FLOAT
    if op == "clip":
        _need(what, x, NUMERIC)
        if any(isinstance(params[b], float) for b in ("lower", "upper")):
            return FLOAT
        return x
    if op == "is_null":
        return BOOL
    if op == "is_nan":
        _need(what, x, NUMERIC)
        return BOOL
    if op == "fill_nan":
        for k in args:
            _need(what, k, NUMERIC)
        return join(what, args)
    if op in MERGES:
        return join(what, args)
    if op == "cast":
        target: str = params["dtype"]
        if (x, target) in REFUSED_CASTS:
            raise ExpressionError(f"{what} cannot cast {x} values to {target} (Polars refuses it)")
        return target
    if op.startswith("str."):
        _need(what, x, frozenset({STR}))
        return {"str.lower": STR, "str.upper": STR, "str.len_chars": INT}.get(op, BOOL)
    if op in DT_PARTS:
        _need(what, x, frozenset({DATETIME}))
        return INT
    raise ExpressionError(f"unknown operation {op!r}")  # pragma: no cover - closed set


def infer_case(conditions: Sequence[Kind | None], values: Sequence[Kind | None]) -> Kind | None:
    """The kind of ``when(...).then(...)...otherwise(...)`` (a missing otherwise is null)."""
    for k in conditions:
        _need("when(...)", k, frozenset({BOOL}))
    return join("when/then/otherwise", values)
