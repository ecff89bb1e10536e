"""Value kernels of the Python compiler: for each operation, the function of non-null values.

``kernel(op, kinds, params)`` picks the kernel once, at compile time, when the argument kinds
are known (the usual case with a schema); with unknown kinds it returns a kernel that looks at
the Python types of the values it receives.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from featurestore.errors import ExpressionError
from featurestore.expr import _numeric as n
from featurestore.expr import _text as t
from featurestore.expr._kinds import BOOL, DATETIME, FLOAT, INT, STR, Kind
from featurestore.expr._ops import OPS

Kernel = Callable[..., Any]

_NUMBERS: Final = (int, float)
_KIND_OF_TYPE: Final[dict[type, Kind]] = {
    bool: BOOL,
    int: INT,
    float: FLOAT,
    str: STR,
    dt.datetime: DATETIME,
}


def runtime_kind(value: Any) -> Kind | None:
    """The kind of a non-null Python value (``None`` for a type outside the language)."""
    return _KIND_OF_TYPE.get(type(value))


def _type_error(op: str, *values: Any) -> ExpressionError:
    names = " and ".join(type(v).__name__ for v in values)
    return ExpressionError(f"{OPS[op].label()} cannot take {names} values")


_INT_ARITH: Final[dict[str, Kernel]] = {
    "add": lambda a, b: n.wrap(a + b),
    "sub": lambda a, b: n.wrap(a - b),
    "mul": lambda a, b: n.wrap(a * b),
    "floordiv": n.ifloordiv,
    "mod": n.imod,
}
_FLOAT_ARITH: Final[dict[str, Kernel]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floordiv": n.ffloordiv,
    "mod": n.fmod,
    "truediv": n.fdiv,
    "pow_expr": n.fpow,
}
_FLOAT_CMP: Final[dict[str, Kernel]] = {
    "eq": n.feq,
    "ne": lambda a, b: not n.feq(a, b),
    "lt": n.flt,
    "le": n.fle,
    "gt": lambda a, b: n.flt(b, a),
    "ge": lambda a, b: n.fle(b, a),
}
_PLAIN_CMP: Final[dict[str, Kernel]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _as_floats(f: Kernel) -> Kernel:
    return lambda a, b: f(float(a), float(b))


def _numeric2(op: str, int_kernel: Kernel | None, float_kernel: Kernel) -> Kernel:
    """Dispatch a two-number kernel on the runtime types of its values."""

    def kernel(a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if int_kernel is not None and ta is int and tb is int:
            return int_kernel(a, b)
        if ta in _NUMBERS and tb in _NUMBERS:
            return float_kernel(float(a), float(b))
        raise _type_error(op, a, b)

    return kernel


def binary(op: str, ka: Kind | None, kb: Kind | None) -> Kernel:
    """The kernel of an arithmetic operator (``**`` by an expression included) or a comparison."""
    if op in _PLAIN_CMP:
        return _comparison(op, ka, kb)
    int_kernel = _INT_ARITH.get(op)  # none for `/` and `**`: they compute in float64
    if ka == INT and kb == INT and int_kernel is not None:
        return int_kernel
    float_kernel = _FLOAT_ARITH[op]
    if ka == FLOAT and kb == FLOAT:
        return float_kernel
    if ka in (INT, FLOAT) and kb in (INT, FLOAT):
        return _as_floats(float_kernel)
    return _numeric2(op, int_kernel, float_kernel)


def _comparison(op: str, ka: Kind | None, kb: Kind | None) -> Kernel:
    plain, floats = _PLAIN_CMP[op], _FLOAT_CMP[op]
    if ka is not None and ka == kb and ka != FLOAT:
        return plain
    if ka == FLOAT and kb == FLOAT:
        return floats
    if ka in (INT, FLOAT) and kb in (INT, FLOAT):
        return _as_floats(floats)

    def kernel(a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta in _NUMBERS and tb in _NUMBERS:
            if ta is int and tb is int:
                return plain(a, b)
            return floats(float(a), float(b))
        if ta is tb and ta in _KIND_OF_TYPE:
            return plain(a, b)
        raise _type_error(op, a, b)

    return kernel


def _int_or_float(op: str, ka: Kind | None, on_int: Kernel, on_float: Kernel) -> Kernel:
    if ka == INT:
        return on_int
    if ka == FLOAT:
        return on_float

    def kernel(a: Any) -> Any:
        ta = type(a)
        if ta is int:
            return on_int(a)
        if ta is float:
            return on_float(a)
        raise _type_error(op, a)

    return kernel


def _to_float(op: str, ka: Kind | None, f: Kernel) -> Kernel:
    return _int_or_float(op, ka, lambda a: f(float(a)), f)


def _identity(a: Any) -> Any:
    return a


def unary(op: str, ka: Kind | None, params: Mapping[str, Any], out: Kind | None) -> Kernel:
    """The kernel of a one-argument numeric function, ``pow`` and ``clip`` included."""
    if op == "neg":
        return _int_or_float(op, ka, lambda a: n.wrap(-a), operator.neg)
    if op == "abs":
        return _int_or_float(op, ka, lambda a: n.wrap(abs(a)), abs)
    if op in ("floor", "ceil", "round"):
        decimals = params.get("decimals", 0)
        rounder = {"floor": n.ffloor, "ceil": n.fceil}.get(op)
        on_float = rounder or (lambda a: n.fround(a, decimals))
        return _int_or_float(op, ka, _identity, on_float)
    if op == "sqrt":
        return _to_float(op, ka, n.fsqrt)
    if op == "log":
        ln_base = n.fln(params["base"])
        return _to_float(op, ka, lambda a: n.flog(a, ln_base))
    if op == "log1p":
        return _to_float(op, ka, n.flog1p)
    if op == "exp":
        return _to_float(op, ka, n.fexp)
    if op == "pow":
        return _pow(ka, params["exponent"], out)
    if op == "clip":
        return _clip(ka, params["lower"], params["upper"], out)
    if op == "is_nan":
        return _int_or_float(op, ka, lambda a: False, lambda a: a != a)
    raise ExpressionError(f"no Python kernel for {op!r}")  # pragma: no cover - closed set


def _pow(ka: Kind | None, exponent: int | float, out: Kind | None) -> Kernel:
    on_float: Kernel = lambda a: n.fpow(float(a), float(exponent))  # noqa: E731
    if out == FLOAT:
        return on_float
    return _int_or_float("pow", ka, lambda a: n.ipow(a, int(exponent)), on_float)


def _clamp(lower: Any, upper: Any) -> Kernel:
    def clamp(a: Any) -> Any:
        if lower is not None and a < lower:
            return lower
        if upper is not None and a > upper:
            return upper
        return a

    return clamp


def _clip(ka: Kind | None, lower: Any, upper: Any, out: Kind | None) -> Kernel:
    fl = None if lower is None else float(lower)
    fu = None if upper is None else float(upper)
    on_float = _clamp(fl, fu)
    if out == FLOAT:
        return _to_float("clip", ka, on_float)
    return _int_or_float("clip", ka, _clamp(lower, upper), on_float)


def _bool_to_datetime(a: bool) -> dt.datetime | None:
    return t.from_epoch_us(int(a))


_CASTS: Final[dict[tuple[Kind, Kind], Kernel]] = {
    (INT, INT): _identity,
    (FLOAT, INT): n.f2i,
    (BOOL, INT): int,
    (STR, INT): t.parse_int,
    (DATETIME, INT): t.epoch_us,
    (INT, FLOAT): float,
    (FLOAT, FLOAT): _identity,
    (BOOL, FLOAT): float,
    (STR, FLOAT): t.parse_float,
    (DATETIME, FLOAT): lambda a: float(t.epoch_us(a)),
    (INT, BOOL): bool,
    (FLOAT, BOOL): bool,
    (BOOL, BOOL): _identity,
    (INT, STR): str,
    (FLOAT, STR): t.format_float,
    (BOOL, STR): lambda a: "true" if a else "false",
    (STR, STR): _identity,
    (DATETIME, STR): t.format_datetime,
    (INT, DATETIME): t.from_epoch_us,
    (FLOAT, DATETIME): t.float_to_datetime,
    (BOOL, DATETIME): _bool_to_datetime,
    (DATETIME, DATETIME): _identity,
}


def cast(ka: Kind | None, target: Kind) -> Kernel:
    """The kernel of ``cast(target)`` from values of kind ``ka``."""
    if ka is not None:
        return _CASTS[(ka, target)]

    def kernel(a: Any) -> Any:
        found = _CASTS.get((runtime_kind(a) or "", target))
        if found is None:
            raise ExpressionError(f"cannot cast {type(a).__name__} value {a!r} to {target}")
        return found(a)

    return kernel


STR_KERNELS: Final[dict[str, Kernel]] = {
    "str.lower": t.lower,
    "str.upper": t.upper,
    "str.len_chars": len,
}
DT_KERNELS: Final[dict[str, Kernel]] = {
    "dt.hour": operator.attrgetter("hour"),
    "dt.weekday": dt.datetime.isoweekday,
    "dt.day": operator.attrgetter("day"),
    "dt.month": operator.attrgetter("month"),
    "dt.year": operator.attrgetter("year"),
    "dt.epoch": t.epoch_us,
}


def text(op: str, params: Mapping[str, Any]) -> Kernel:
    """The kernel of a ``str.*`` operation."""
    if op == "str.contains":
        pattern = params["pattern"]
        return lambda a: pattern in a
    if op == "str.starts_with":
        prefix = params["prefix"]
        return lambda a: a.startswith(prefix)
    return STR_KERNELS[op]


def fold(op: str, values: Sequence[Any]) -> Any:
    """``min_horizontal`` / ``max_horizontal`` of non-null values of one kind."""
    floats = type(values[0]) is float
    if floats:
        step = n.fmin2 if op == "min_horizontal" else n.fmax2
    else:
        step = _min2 if op == "min_horizontal" else _max2
    acc = values[0]
    try:
        for v in values[1:]:
            acc = step(acc, v)
    except TypeError:
        raise _type_error(op, *values) from None
    return acc


def _min2(acc: Any, v: Any) -> Any:
    return acc if acc < v else v


def _max2(acc: Any, v: Any) -> Any:
    return acc if acc > v else v
