"""The expression AST: an immutable tree of columns, literals, calls and when/then cases."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from featurestore.errors import ExpressionError
from featurestore.expr import _kinds
from featurestore.expr._kinds import Kind
from featurestore.expr._literals import (
    check_number,
    check_text,
    literal_key,
    literal_repr,
    normalize_literal,
)
from featurestore.expr._ops import OPS

if TYPE_CHECKING:
    from featurestore.expr._namespaces import DtNamespace, StrNamespace

_POW_INT_MAX = 2**32 - 1  # Polars takes an integer exponent as UInt32
_MAX_DECIMALS = 100


class Expr:
    """An immutable expression node; build one with ``col``, ``lit``, ``when`` and operators.

    ``==`` and the other comparisons build expressions, so an expression has no truth value:
    compare trees with :meth:`meta_eq`. The hash agrees with ``meta_eq``.
    """

    __slots__ = ("_columns", "_hash", "_key", "kind")

    _key: tuple[Any, ...]
    _hash: int
    _columns: frozenset[str]
    kind: Kind | None

    def _init(self, key: tuple[Any, ...], columns: frozenset[str], kind: Kind | None) -> None:
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "kind", kind)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"expressions are immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"expressions are immutable; cannot delete {name!r}")

    # -- identity ---------------------------------------------------------------------------

    def meta_eq(self, other: object) -> bool:
        """Whether ``other`` is the very same expression tree (NaN literals included)."""
        return isinstance(other, Expr) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickled and deep-copied through JSON: the fields are read-only.
        from featurestore.expr._json import from_json

        return from_json, (self.to_json(),)

    def __copy__(self) -> Expr:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Expr:
        return self

    def __bool__(self) -> NoReturn:
        raise ExpressionError(
            f"the truth value of expression {self!r} is ambiguous: `==`, `&`, `|` build "
            "expressions; use .meta_eq() to compare expressions"
        )

    def columns(self) -> frozenset[str]:
        """Every column name the expression reads."""
        return self._columns

    def to_dict(self) -> dict[str, Any]:
        """The expression as plain JSON-able data (see :func:`featurestore.expr.from_dict`)."""
        from featurestore.expr._json import to_dict

        return to_dict(self)

    def to_json(self) -> str:
        """The expression as deterministic JSON text: equal trees give identical text."""
        from featurestore.expr._json import to_json

        return to_json(self)

    def children(self) -> Iterator[Expr]:
        """The direct sub-expressions."""
        return iter(())

    # -- operators --------------------------------------------------------------------------

    def __add__(self, other: Any) -> Expr:
        return Call.make("add", (self, lit(other)))

    def __radd__(self, other: Any) -> Expr:
        return Call.make("add", (lit(other), self))

    def __sub__(self, other: Any) -> Expr:
        return Call.make("sub", (self, lit(other)))

    def __rsub__(self, other: Any) -> Expr:
        return Call.make("sub", (lit(other), self))

    def __mul__(self, other: Any) -> Expr:
        return Call.make("mul", (self, lit(other)))

    def __rmul__(self, other: Any) -> Expr:
        return Call.make("mul", (lit(other), self))

    def __truediv__(self, other: Any) -> Expr:
        return Call.make("truediv", (self, lit(other)))

    def __rtruediv__(self, other: Any) -> Expr:
        return Call.make("truediv", (lit(other), self))

    def __floordiv__(self, other: Any) -> Expr:
        return Call.make("floordiv", (self, lit(other)))

    def __rfloordiv__(self, other: Any) -> Expr:
        return Call.make("floordiv", (lit(other), self))

    def __mod__(self, other: Any) -> Expr:
        return Call.make("mod", (self, lit(other)))

    def __rmod__(self, other: Any) -> Expr:
        return Call.make("mod", (lit(other), self))

    def __pow__(self, exponent: Any) -> Expr:
        """``self ** exponent``, by a number literal or by an expression.

        A number-literal exponent follows Polars: a non-negative int keeps an int64 base int64
        (wrapping like Polars), anything else computes in float64. An expression exponent
        (``col("x") ** col("y")``) always computes in float64, since Polars raises on negative
        integer powers of integers and a dtype cannot depend on the data; each value is
        ``fpow(x, y)`` (see the module docstring of ``featurestore.expr``).
        """
        if isinstance(exponent, bool) or not isinstance(exponent, int | float):
            exponent = lit(exponent)  # an expression, or any other literal (like `x + value`)
            if not (isinstance(exponent, Lit) and exponent.kind in _kinds.NUMERIC):
                return Call.make("pow_expr", (self, exponent))
            exponent = exponent.value
        value = check_number(exponent, "the exponent of **")
        if isinstance(value, int) and value > _POW_INT_MAX:
            raise ExpressionError(f"integer exponent {value} is too large (at most {_POW_INT_MAX})")
        return Call.make("pow", (self,), exponent=value)

    def __rpow__(self, base: Any) -> Expr:
        return lit(base) ** self

    def __abs__(self) -> Expr:
        return Call.make("abs", (self,))

    def __neg__(self) -> Expr:
        return Call.make("neg", (self,))

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return Call.make("eq", (self, lit(other)))

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return Call.make("ne", (self, lit(other)))

    def __lt__(self, other: Any) -> Expr:
        return Call.make("lt", (self, lit(other)))

    def __le__(self, other: Any) -> Expr:
        return Call.make("le", (self, lit(other)))

    def __gt__(self, other: Any) -> Expr:
        return Call.make("gt", (self, lit(other)))

    def __ge__(self, other: Any) -> Expr:
        return Call.make("ge", (self, lit(other)))

    def __and__(self, other: Any) -> Expr:
        return Call.make("and", (self, lit(other)))

    def __rand__(self, other: Any) -> Expr:
        return Call.make("and", (lit(other), self))

    def __or__(self, other: Any) -> Expr:
        return Call.make("or", (self, lit(other)))

    def __ror__(self, other: Any) -> Expr:
        return Call.make("or", (lit(other), self))

    def __invert__(self) -> Expr:
        return Call.make("not", (self,))

    # -- methods ----------------------------------------------------------------------------

    def abs(self) -> Expr:
        """Absolute value (int64 wraps at its minimum, like Polars)."""
        return Call.make("abs", (self,))

    def sqrt(self) -> Expr:
        """Square root as float64 (NaN below zero)."""
        return Call.make("sqrt", (self,))

    def log(self, base: float = math.e) -> Expr:
        """Logarithm to ``base`` as float64 (-inf at 0, NaN below)."""
        value = check_number(base, "log base")
        if value is None or value <= 0 or value == 1:
            raise ExpressionError(f"log base must be positive and not 1, got {base!r}")
        return Call.make("log", (self,), base=float(value))

    def log1p(self) -> Expr:
        """``log(1 + x)`` as float64."""
        return Call.make("log1p", (self,))

    def exp(self) -> Expr:
        """``e ** x`` as float64."""
        return Call.make("exp", (self,))

    def clip(self, lower: float | None = None, upper: float | None = None) -> Expr:
        """Limit values to ``[lower, upper]`` (number literals; a float bound gives float64)."""
        low = check_number(lower, "clip lower bound", allow_none=True)
        high = check_number(upper, "clip upper bound", allow_none=True)
        if low is None and high is None:
            raise ExpressionError(f"{self!r}.clip() needs a lower or an upper bound")
        return Call.make("clip", (self,), lower=low, upper=high)

    def round(self, decimals: int = 0) -> Expr:
        """Round half to even at ``decimals`` digits, as Polars does (ints are unchanged)."""
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise ExpressionError(f"round() decimals must be an int, got {decimals!r}")
        if not 0 <= decimals <= _MAX_DECIMALS:
            raise ExpressionError(f"round() decimals must be in 0..{_MAX_DECIMALS}, got {decimals}")
        return Call.make("round", (self,), decimals=int(decimals))

    def floor(self) -> Expr:
        """Round down (ints are unchanged)."""
        return Call.make("floor", (self,))

    def ceil(self) -> Expr:
        """Round up (ints are unchanged)."""
        return Call.make("ceil", (self,))

    def fill_null(self, value: Any) -> Expr:
        """Replace nulls with ``value`` (an expression or a literal)."""
        return Call.make("fill_null", (self, lit(value)))

    def fill_nan(self, value: Any) -> Expr:
        """Replace NaN with ``value`` (an expression or a literal)."""
        return Call.make("fill_nan", (self, lit(value)))

    def is_null(self) -> Expr:
        """Whether the value is null."""
        return Call.make("is_null", (self,))

    def is_nan(self) -> Expr:
        """Whether the value is NaN (never for int64; null stays null)."""
        return Call.make("is_nan", (self,))

    def cast(self, dtype: Any) -> Expr:
        """Convert to ``dtype``: a Polars dtype or "int64", "float64", "bool", "str", "datetime".

        Values that do not convert (a float out of int64 range, an unparsable string) become
        null. Casting str to bool or datetime, or datetime to bool, is refused: Polars raises.
        """
        from featurestore.expr._literals import cast_target

        return Call.make("cast", (self,), dtype=cast_target(dtype))

    @property
    def str(self) -> StrNamespace:
        """String operations."""
        from featurestore.expr._namespaces import StrNamespace

        return StrNamespace(self)

    @property
    def dt(self) -> DtNamespace:
        """Datetime operations (UTC)."""
        from featurestore.expr._namespaces import DtNamespace

        return DtNamespace(self)


class Col(Expr):
    """A column reference."""

    __slots__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        check_text(name, "column name")
        if not name:
            raise ExpressionError("column name must not be empty")
        object.__setattr__(self, "name", name)
        self._init(("col", name), frozenset({name}), None)

    def __repr__(self) -> str:
        return f"col({literal_repr(self.name)})"


class Lit(Expr):
    """A literal value: None, bool, int64, float64, str or a UTC datetime."""

    __slots__ = ("value",)
    value: Any

    def __init__(self, value: Any) -> None:
        normal, kind = normalize_literal(value)
        object.__setattr__(self, "value", normal)
        self._init(("lit", kind, literal_key(normal)), frozenset(), kind)

    def __repr__(self) -> str:
        return f"lit({literal_repr(self.value)})"


class Call(Expr):
    """An operation from the closed set ``OPS`` applied to arguments, with literal parameters."""

    __slots__ = ("args", "op", "params")
    op: str
    args: tuple[Expr, ...]
    params: tuple[tuple[str, Any], ...]

    def __init__(self, op: str, args: tuple[Expr, ...], params: dict[str, Any]) -> None:
        spec = OPS.get(op)
        if spec is None:
            raise ExpressionError(f"unknown operation {op!r}")
        if spec.arity is None and not args:
            raise ExpressionError(f"{spec.label()} needs at least one expression")
        if spec.arity is not None and len(args) != spec.arity:
            raise ExpressionError(f"{spec.label()} takes {spec.arity} arguments, got {len(args)}")
        if set(params) != set(spec.params):
            raise ExpressionError(f"{spec.label()} takes parameters {list(spec.params)}")
        ordered = tuple((name, params[name]) for name in spec.params)
        try:
            kind = _kinds.infer(op, [a.kind for a in args], params, spec.label())
        except ExpressionError as exc:
            from featurestore.expr._repr import call_text

            raise ExpressionError(f"{exc} in {call_text(op, args, ordered)}") from None
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "params", ordered)
        key = ("call", op, tuple(a._key for a in args), tuple(literal_key(v) for _, v in ordered))
        self._init(key, frozenset().union(*(a._columns for a in args)), kind)

    @classmethod
    def make(cls, op: str, args: tuple[Expr, ...], **params: Any) -> Call:
        """Build a call, checking arity, parameters and the argument kinds known so far."""
        return cls(op, args, params)

    def param(self, name: str) -> Any:
        """The value of parameter ``name``."""
        return dict(self.params)[name]

    def children(self) -> Iterator[Expr]:
        return iter(self.args)

    def __repr__(self) -> str:
        from featurestore.expr._repr import call_repr

        return call_repr(self)


def lit(value: Any) -> Expr:
    """A literal: None, bool, int (int64), float, str or a timezone-aware datetime.

    An expression is returned unchanged, so operators accept expressions and plain values alike.
    """
    if isinstance(value, Expr):
        return value
    from featurestore.expr._case import When

    if isinstance(value, When):
        raise ExpressionError(f"{value!r} is missing .then(...)")
    return Lit(value)


def col(name: str) -> Expr:
    """A reference to column ``name``."""
    return Col(name)
