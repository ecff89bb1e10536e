"""The Python row compiler: an expression becomes nested closures over one row (a mapping).

The tree is walked once, at compile time; evaluating a row only calls closures. With a schema
every kernel is chosen at compile time and merged values (``coalesce``, ``when``...) get the
dtype Polars gives them; without one, kernels look at the Python types of the values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

from featurestore.errors import ExpressionError
from featurestore.expr import _pykernels as k
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
    Kind,
    infer_case,
    schema_kinds,
)
from featurestore.expr._literals import UTC, to_utc
from featurestore.expr._nodes import Call, Col, Expr, Lit
from featurestore.expr._ops import OPS
from featurestore.expr._text import warm_case_tables

Fn = Callable[[Mapping[str, Any]], Any]
Compiled = tuple[Fn, Kind | None]

# Operations whose result is null as soon as one argument is null.
_STRICT: Final = ARITHMETIC | COMPARISONS | {"truediv", "pow_expr", "pow", "cast", "is_nan"}
_UNARY: Final = frozenset(
    {"neg", "abs", "floor", "ceil", "round", "sqrt", "log", "log1p", "exp", "pow", "clip"}
)
_NULL_IN_NULL_OUT: Final = _STRICT | _UNARY
_PLAIN_TYPES: Final = frozenset({type(None), bool, int, float, str})


def to_python(expr: Expr, *, schema: Mapping[str, Any] | None = None) -> Fn:
    """Compile ``expr`` into a function of one row, giving what ``to_polars`` gives for it.

    Args:
        expr: the expression.
        schema: ``{column: Polars dtype}`` of the input columns. Optional, but without it a
            null in a float64 column merged with an int (``coalesce``, ``fill_null``, ``when``)
            comes back as an int where Polars gives a float, so pass it when you have it.

    Returns:
        ``f(row) -> value`` where ``row`` maps column names to Python values (None for null)
        and the value has the Python type Polars' ``to_list()`` gives (int, float, bool, str,
        UTC datetime, None).

    Raises:
        ExpressionError: ``expr`` is not an expression or does not type-check under
            ``schema``; calling ``f`` raises it for a missing column or a value of the wrong type.
    """
    if not isinstance(expr, Expr):
        raise ExpressionError(f"to_python() needs an expression, got {type(expr).__name__}")
    fn, _ = _compile(expr, schema_kinds(schema))

    def evaluate(row: Mapping[str, Any]) -> Any:
        try:
            return fn(row)
        except KeyError as exc:
            missing = exc.args[0] if exc.args else "?"
            raise ExpressionError(f"row has no column {missing!r} needed by {expr!r}") from None

    return evaluate


def _const(value: Any) -> Fn:
    return lambda row: value


def _compile(expr: Expr, kinds: Mapping[str, Kind]) -> Compiled:
    if isinstance(expr, Col):
        kind = kinds.get(expr.name)
        return _reader(expr.name, kind), kind
    if isinstance(expr, Lit):
        return _const(expr.value), expr.kind
    if isinstance(expr, Case):
        fn, kind = _case(expr, kinds)
    else:
        assert isinstance(expr, Call)
        fn, kind = _call(expr, kinds)
    if not expr.columns():
        return _const(fn({})), kind  # a constant subtree is computed once
    return fn, kind


def _call(expr: Call, kinds: Mapping[str, Kind]) -> Compiled:
    op, params = expr.op, dict(expr.params)
    parts = [_compile(a, kinds) for a in expr.args]
    arg_kinds = [kind for _, kind in parts]
    out = infer_call(expr, arg_kinds)
    if out == NULL or (op in _NULL_IN_NULL_OUT and NULL in arg_kinds):
        return _const(None), out
    fns = [fn for fn, _ in parts]
    if op in ARITHMETIC or op in COMPARISONS or op in ("truediv", "pow_expr"):
        return _binary(fns[0], fns[1], k.binary(op, arg_kinds[0], arg_kinds[1])), out
    if op in _UNARY or op == "is_nan":
        return _unary(fns[0], k.unary(op, arg_kinds[0], params, out)), out
    if op == "cast":
        return _unary(fns[0], k.cast(arg_kinds[0], params["dtype"])), out
    if op in ("and", "or", "not"):
        return _logic(op, [_checked(p, BOOL, OPS[op].label()) for p in parts]), out
    if op == "is_null":
        first = fns[0]
        return (lambda row: first(row) is None), out
    if op.startswith("str."):
        if op in ("str.lower", "str.upper"):
            warm_case_tables()
        return _unary(_checked(parts[0], STR, OPS[op].label()), k.text(op, params)), out
    if op in DT_PARTS:
        return _unary(_checked(parts[0], DATETIME, OPS[op].label()), k.DT_KERNELS[op]), out
    return _merge(op, fns, out), out


def _unary(fa: Fn, kernel: k.Kernel) -> Fn:
    def run(row: Mapping[str, Any]) -> Any:
        a = fa(row)
        return None if a is None else kernel(a)

    return run


def _binary(fa: Fn, fb: Fn, kernel: k.Kernel) -> Fn:
    def run(row: Mapping[str, Any]) -> Any:
        a = fa(row)
        if a is None:
            return None
        b = fb(row)
        return None if b is None else kernel(a, b)

    return run


def _checked(part: Compiled, kind: Kind, what: str) -> Fn:
    """``part``'s function, checking the runtime type when its kind is not known statically."""
    fn, known = part
    if known is not None:
        return fn
    wanted = {BOOL: bool, STR: str, DATETIME: dt.datetime}[kind]

    def run(row: Mapping[str, Any]) -> Any:
        value = fn(row)
        if value is None or type(value) is wanted:
            return value
        raise ExpressionError(f"{what} needs {kind} values, got {value!r}")

    return run


def _logic(op: str, fns: list[Fn]) -> Fn:
    first = fns[0]
    if op == "not":
        return lambda row: None if (a := first(row)) is None else not a
    second = fns[1]
    # Kleene logic, as Polars: false & null is false, true | null is true.
    stop = op == "or"

    def run(row: Mapping[str, Any]) -> Any:
        a, b = first(row), second(row)
        if a is stop or b is stop:
            return stop
        if a is None or b is None:
            return None
        return not stop

    return run


def _coercer(out: Kind | None) -> Callable[[Any], Any] | None:
    """Int-to-float conversion of merged values when the merged column is float64."""
    if out != FLOAT:
        return None
    return lambda v: float(v) if type(v) is int else v


def _merge(op: str, fns: list[Fn], out: Kind | None) -> Fn:
    coerce = _coercer(out) or (lambda v: v)
    if op in ("coalesce", "fill_null"):

        def first_present(row: Mapping[str, Any]) -> Any:
            for fn in fns:
                value = fn(row)
                if value is not None:
                    return coerce(value)
            return None

        return first_present
    if op == "fill_nan":
        value_fn, fill_fn = fns

        def fill_nan(row: Mapping[str, Any]) -> Any:
            value = value_fn(row)
            if value is None:
                return None
            return coerce(fill_fn(row) if value != value else value)

        return fill_nan

    def horizontal(row: Mapping[str, Any]) -> Any:
        values = [v for v in (fn(row) for fn in fns) if v is not None]
        if not values:
            return None
        if out is None and any(type(v) is float for v in values):
            values = [float(v) if type(v) is int else v for v in values]
        return k.fold(op, [coerce(v) for v in values])

    return horizontal


def _case(expr: Case, kinds: Mapping[str, Kind]) -> Compiled:
    conditions = [_compile(c, kinds) for c, _ in expr.branches]
    values = [_compile(v, kinds) for _, v in expr.branches]
    default = None if expr.default is None else _compile(expr.default, kinds)
    value_kinds = [kind for _, kind in values] + [NULL if default is None else default[1]]
    out = infer_case([kind for _, kind in conditions], value_kinds)
    if out == NULL:
        return _const(None), out
    coerce = _coercer(out) or (lambda v: v)
    branches = [
        (_checked(c, BOOL, "when()"), fn) for c, (fn, _) in zip(conditions, values, strict=True)
    ]
    fallback = _const(None) if default is None else default[0]

    def run(row: Mapping[str, Any]) -> Any:
        for condition, value in branches:
            if condition(row) is True:
                return coerce(value(row))
        return coerce(fallback(row))

    return run, out


def _normalize(value: Any, column: str, kind: Kind | None) -> Any:
    """A column value in the language's Python types (numpy scalars, other timezones...)."""
    if isinstance(value, dt.datetime):
        if kind in (None, DATETIME):
            return to_utc(value)
    elif isinstance(value, bool):
        if kind in (None, BOOL):
            return bool(value)
    elif isinstance(value, int):
        if kind in (None, INT):
            return int(value)
        if kind == FLOAT:
            return float(value)  # JSON has no float type for whole numbers
    elif isinstance(value, float):
        if kind in (None, FLOAT):
            return float(value)
    elif isinstance(value, str):
        if kind in (None, STR):
            return str(value)
    elif callable(getattr(value, "item", None)):  # numpy scalars
        return _normalize(value.item(), column, kind)
    wanted = kind or "int64, float64, bool, str or datetime"
    raise ExpressionError(f"column {column!r} holds {value!r}; expected a {wanted} value")


_FAST_TYPES: Final[dict[Kind | None, type]] = {
    INT: int,
    FLOAT: float,
    BOOL: bool,
    STR: str,
}


def _reader(name: str, kind: Kind | None) -> Fn:
    fast = _FAST_TYPES.get(kind)
    if fast is not None:

        def read_typed(row: Mapping[str, Any]) -> Any:
            value = row[name]
            if value is None or type(value) is fast:
                return value
            return _normalize(value, name, kind)

        return read_typed
    if kind == DATETIME:

        def read_datetime(row: Mapping[str, Any]) -> Any:
            value = row[name]
            if value is None or (type(value) is dt.datetime and value.tzinfo is UTC):
                return value
            return _normalize(value, name, kind)

        return read_datetime
    if kind == NULL:
        return _const(None)

    def read_any(row: Mapping[str, Any]) -> Any:
        value = row[name]
        if type(value) in _PLAIN_TYPES:
            return value
        if type(value) is dt.datetime and value.tzinfo is UTC:
            return value
        return _normalize(value, name, None)

    return read_any
