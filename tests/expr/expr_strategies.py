"""Hypothesis strategies: well-typed random expressions and rows full of edge values."""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import random
import struct
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import settings
from hypothesis import strategies as st

from featurestore.expr import Expr, coalesce, col, lit, max_horizontal, min_horizontal, when

UTC = ZoneInfo("UTC")
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
INT, FLOAT, BOOL, STR, DATETIME = "int64", "float64", "bool", "str", "datetime"
KINDS = (INT, FLOAT, BOOL, STR, DATETIME)

SCHEMA: dict[str, pl.DataType] = {
    "i": pl.Int64(),
    "j": pl.Int64(),
    "f": pl.Float64(),
    "g": pl.Float64(),
    "b": pl.Boolean(),
    "s": pl.String(),
    "d": pl.Datetime("us", "UTC"),
    "p": pl.Float64(),
    "e": pl.Float64(),
    "k": pl.Int64(),
}
COLUMNS = {INT: ["i", "j"], FLOAT: ["f", "g"], BOOL: ["b"], STR: ["s"], DATETIME: ["d"]}
# "p", "e" and "k" are the bases and exponents of `**` by an expression (see `_expr_pow`).


def expr_settings() -> settings:
    """This suite's Hypothesis settings (see conftest.py for the profiles)."""
    name = os.environ.get("FEATURESTORE_EXPR_PROFILE") or (
        "expr-ci" if os.environ.get("CI", "").lower() == "true" else "expr-dev"
    )
    return settings.get_profile(name)


# -- values --------------------------------------------------------------------------------

SPECIAL_INTS = [0, 1, -1, 2, -2, 3, 7, -7, 10, 60, 63, 64, I64_MIN, I64_MAX, I64_MIN + 1]
SPECIAL_INTS += [I64_MAX - 1, 2**53 + 1, -(2**53) - 1, 2**31, 2**32, 10**18, 253402300799999999]
SPECIAL_FLOATS = [0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 0.5, -0.5, 1.5, 2.5, -2.5]
SPECIAL_FLOATS += [1.0, -1.0, 0.1, 0.3, 1e-5, 1e-7, 1e16, 1e308, -1e308, 5e-324, 1e-300, 9.5]
SPECIAL_FLOATS += [9.2e18, 2.0**63, -(2.0**63), 2.0**53, 1e20, 123.456, -0.0001, 9342.55, 2.675]
SPECIAL_STRINGS = ["", "0", "-1", "+5", "007", "1.5", "-0.0", ".5", "5.", "1e3", "1E-2", "nan"]
SPECIAL_STRINGS += ["NaN", "inf", "-Infinity", " 1", "1 ", "1_0", "0x1", "9223372036854775808"]
SPECIAL_STRINGS += ["ΣΑΣ", "ς", "İstanbul", "ß", "ﬁ", "ǅ", "ƛ", "\u1c89", "a\u0301", "🙂", "ab"]
SPECIAL_DATETIMES = [
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(2000, 2, 29, 22, 30, tzinfo=UTC),
    dt.datetime(2024, 12, 29, 5, 59, 59, tzinfo=UTC),
]


def _quiet(x: float) -> float:
    # Signalling NaNs never come out of Python or Polars arithmetic; keep NaNs quiet.
    return math.copysign(math.nan, x) if x != x else x


def _random_int(r: random.Random) -> int:
    if r.random() < 0.5:
        return r.randint(-1000, 1000)
    return r.randint(I64_MIN, I64_MAX)


def _random_float(r: random.Random) -> float:
    k = r.random()
    if k < 0.3:
        return _quiet(struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0])
    if k < 0.6:
        return r.uniform(-1e4, 1e4)
    if k < 0.8:
        return r.randint(-400, 400) / 8
    return r.uniform(-1, 1) * 10.0 ** r.randint(-320, 307)


_LETTERS = "aAzZ09 .+-eEinfINFnaNyY_ΣσςΑßẞİıiIǅǄﬁ🙂é\u0301中\u1c89ƛ\ua7dc\u0130"


def _random_text(r: random.Random) -> str:
    def char() -> str:
        if r.random() < 0.8:
            return r.choice(_LETTERS)
        code = r.randint(0, 0x10FFFF)
        return "?" if 0xD800 <= code <= 0xDFFF else chr(code)

    return "".join(char() for _ in range(r.randint(0, 6)))


def _random_datetime(r: random.Random) -> dt.datetime:
    span = (10**7) if r.random() < 0.3 else 253402300799999999
    low = -62135596800000000 if span > 10**7 else -span
    return EPOCH + dt.timedelta(microseconds=r.randint(low, span))


def _pool(special: list[Any], make: Callable[[random.Random], Any], n: int = 1000) -> list[Any]:
    """Special values plus ``n`` random ones made once: each later pick is one cheap draw."""
    rng = random.Random(20240501)
    return special + [make(rng) for _ in range(n)]


# `**` by an expression. Polars' scalar-exponent path (1 gives the base, 0.5 the square root,
# 2..9 multiply out) differs from C pow only now and then, so the exponent pools repeat those
# values and the base pool is mostly full-mantissa numbers, where rounding tells them apart;
# next to them, the edges of C pow (zero, negatives, odd and even integers, NaN, +-inf,
# overflow, underflow) and the integers beyond 2**53.
SPECIAL_EXPONENTS = [1.0, 0.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
MULTIPLIED_OUT = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # where C pow differs most often
EXPONENT_FLOATS = [0.0, -0.0, 10.0, 11.0, 1.5, 2.5, 9.5, 0.25, 1 / 3, -0.5, -1.0, -2.0, -3.0]
EXPONENT_FLOATS += [1.0000000000000002, 0.9999999999999999, 2.0000000000000004, 8.999999999999998]
EXPONENT_FLOATS += [0.5000000000000001, 1e308, -1e308, 5e-324, 2.0**53 + 2, 2.0**63, 1e20, 0.1]
EXPONENT_FLOATS += [math.inf, -math.inf, math.nan, -math.nan, 1075.0, -1075.0, -7.0, 63.0, 64.0]
EXPONENT_INTS = [-64, 63, 64, 1075, -1075, I64_MAX, I64_MIN, 2**53 + 1, -(2**53) - 1]
POWER_BASES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 10.0, 1.1, -1.1, 0.1, 1 / 3, 123.456]
POWER_BASES += [math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, -5e-324, 1e-300, 1e100]
POWER_BASES += [2.0**1023, 1.0000000000000002, 0.9999999999999999, -1e-7, 9342.55, 2.0**53 + 2]


def _power_base(r: random.Random) -> float:
    return r.choice([r.uniform(-20, 20), r.uniform(-1.5, 1.5), r.uniform(-1e6, 1e6)])


def _power_exponent(r: random.Random) -> float:
    return r.choice([r.uniform(-12, 12), r.randint(-30, 30) / 2])


def _small_int(r: random.Random) -> int:
    return r.randint(-9, 12)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
POOLS: dict[str, list[Any]] = {
    INT: _pool(SPECIAL_INTS, _random_int),
    FLOAT: _pool(SPECIAL_FLOATS, _random_float),
    BOOL: [True, False],
    STR: _pool(SPECIAL_STRINGS, _random_text),
    DATETIME: _pool(SPECIAL_DATETIMES, _random_datetime),
}
# Hypothesis' own full-range numbers next to the pools, for values no pool thought of.
_WIDE: dict[str, st.SearchStrategy[Any]] = {
    INT: st.integers(I64_MIN, I64_MAX),
    FLOAT: st.floats().map(_quiet),
    STR: st.text(max_size=6),
}
VALUES: dict[str, st.SearchStrategy[Any]] = {
    kind: st.sampled_from(pool)
    if kind not in _WIDE
    else st.one_of(st.sampled_from(pool), _WIDE[kind])
    for kind, pool in POOLS.items()
}


def _nullable(pool: list[Any]) -> st.SearchStrategy[Any]:
    # One draw per cell (Hypothesis' draws are the slow part of this suite): about one value
    # in five is null, the rest come from the pool.
    return st.sampled_from([None] * max(1, len(pool) // 4) + pool)


# About 40% of the exponents take a special path where C pow differs, 3/4 of the bases are random.
POWER_POOLS = {
    "p": _pool(POWER_BASES, _power_base, n=90),
    "e": _pool(SPECIAL_EXPONENTS * 4 + MULTIPLIED_OUT * 4 + EXPONENT_FLOATS, _power_exponent, n=40),
    "k": _pool([*range(-3, 13), *range(2, 10), *range(3, 10)] * 2 + EXPONENT_INTS, _small_int, n=9),
}
ROW = st.fixed_dictionaries(
    {name: _nullable(POOLS[kind]) for kind, names in COLUMNS.items() for name in names}
    | {name: _nullable(pool) for name, pool in POWER_POOLS.items()}
)
ROWS = st.lists(ROW, min_size=3, max_size=6)


# -- expressions -----------------------------------------------------------------------------

Draw = Callable[[st.SearchStrategy[Any]], Any]
Builder = Callable[[Draw, int], Expr]


def expr_of(kind: str, depth: int) -> st.SearchStrategy[Expr]:
    """Random expressions producing values of ``kind``, at most ``depth`` levels deep."""
    return _expr(kind, depth, root=True)


BOOLEANS = st.booleans()


@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.cache
def _choices(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


def pick(draw: Draw, options: Any) -> Any:
    """One of ``options`` (strategies are cached: building them is Hypothesis' slow part)."""
    return draw(_choices(tuple(options)))


@functools.cache
def _E(kind: str, depth: int) -> st.SearchStrategy[Expr]:
    return _expr(kind, depth)


def _leaf(draw: Draw, kind: str) -> Expr:
    choice = draw(_ints(0, 9))
    if choice == 0:
        return lit(None)
    if choice <= 3:
        return lit(draw(VALUES[kind]))
    return col(pick(draw, COLUMNS[kind]))


@st.composite
def _expr(draw: Draw, kind: str, depth: int, root: bool = False) -> Expr:
    if depth <= 0 or (not root and draw(_ints(0, 4)) == 0):
        return _leaf(draw, kind)
    builder = pick(draw, BUILDERS[kind])
    return builder(draw, depth - 1)


def _num(draw: Draw, depth: int) -> Expr:
    return draw(_E(pick(draw, [INT, FLOAT]), depth))


def _binary_op(draw: Draw, a: Expr, b: Expr, ops: str) -> Expr:
    op = pick(draw, ops.split())
    return {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "//": lambda: a // b,
        "%": lambda: a % b,
        "==": lambda: a == b,
        "!=": lambda: a != b,
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
    }[op]()


def _int_arith(draw: Draw, d: int) -> Expr:
    return _binary_op(draw, draw(_E(INT, d)), draw(_E(INT, d)), "+ - * // %")


def _float_arith(draw: Draw, d: int) -> Expr:
    a, b = draw(_E(FLOAT, d)), _num(draw, d)
    if draw(BOOLEANS):
        a, b = b, a
    return _binary_op(draw, a, b, "+ - * / // %")


def _true_div(draw: Draw, d: int) -> Expr:
    return _num(draw, d) / _num(draw, d)


def _same_kind_unary(kind: str) -> Builder:
    def build(draw: Draw, d: int) -> Expr:
        x = draw(_E(kind, d))
        how = pick(draw, ["neg", "abs", "floor", "ceil", "round"])
        if how == "round":
            return x.round(pick(draw, [0, 0, 1, 2, 3, 6, 10, 20, 23, 37, 80, 100]))
        return -x if how == "neg" else getattr(x, how)()

    return build


def _float_func(draw: Draw, d: int) -> Expr:
    x = _num(draw, d)
    how = pick(draw, ["sqrt", "log", "log1p", "exp", "logb"])
    if how == "logb":
        return x.log(pick(draw, [10.0, 2.0, 0.5, 7.3, 100]))
    return getattr(x, how)()


INT_EXPONENTS = st.one_of(st.integers(0, 12), st.sampled_from([63, 64]))


def _int_pow(draw: Draw, d: int) -> Expr:
    return draw(_E(INT, d)) ** draw(INT_EXPONENTS)


FLOAT_EXPONENTS = [0.0, 0.5, 1.0, 2.0, 3.0, 9.0, 10.0, 1.5, 2.5, -0.5, -1.0, -2.0, 1 / 3, -1, -3]


def _float_pow(draw: Draw, d: int) -> Expr:
    if draw(BOOLEANS):
        return draw(_E(FLOAT, d)) ** draw(_ints(0, 12))
    return _num(draw, d) ** pick(draw, FLOAT_EXPONENTS)


POWER_BASE_VALUES = st.sampled_from(POWER_POOLS["p"])
EXPONENT_VALUES = st.sampled_from(POWER_POOLS["e"] + POWER_POOLS["k"])
_OFFSETS = [0, 1, -1, 0.0, -0.0, 0.5, -0.5, 1.5]


def _constant_exponent(draw: Draw) -> Expr:
    """A column-free exponent: Polars would fold it into a literal (so does ``to_polars``)."""
    value = lit(draw(EXPONENT_VALUES))
    how = pick(draw, ["add", "add", "neg", "float", "null", "null int"])
    if how == "add":  # lit(2) + lit(1), lit(8.5) + 0.5...
        return value + lit(pick(draw, _OFFSETS))
    if how == "neg":
        return -value
    if how == "float":
        return value.cast("float64")
    return lit(None) if how == "null" else lit(None) + lit(1)


def _not_a_number_literal(e: Expr) -> Expr:
    """``e``, or for a number literal the same value as a call (``x ** lit(3)`` is ``x ** 3``)."""
    data = e.to_dict()
    return e.cast(data["dtype"]) if data.get("dtype") in (INT, FLOAT) else e


def _power_column(draw: Draw, *names: str) -> Expr:
    return col(pick(draw, names))


def _expr_pow(draw: Draw, d: int) -> Expr:
    """``base ** exponent`` with an expression exponent (float64 whatever the operands)."""
    how = pick(draw, ["columns"] * 5 + ["expression", "constant", "literal base"])
    if how == "literal base":  # 1.1 ** col("e"), 2 ** col("k")...
        return draw(POWER_BASE_VALUES) ** _power_column(draw, "e", "k")
    if draw(_ints(0, 3)):
        base = _power_column(draw, "p", "p", "p", "p", "p", "e", "k", "f", "i")
    else:  # any numeric expression, ** by an expression included
        base = _num(draw, d)
    if how == "columns":
        exponent = _power_column(draw, "e", "k")
    elif how == "expression":  # columns i, j, f, g, nulls, constants...
        exponent = _not_a_number_literal(_num(draw, d))
    else:
        exponent = _constant_exponent(draw)
    return base**exponent


INT_LOW = st.one_of(st.none(), st.integers(-50, 50))
INT_HIGH = st.one_of(st.integers(-50, 50), st.sampled_from(SPECIAL_INTS))
FLOAT_BOUND = st.one_of(
    st.none(), st.floats(-100, 100), st.sampled_from([-0.0, 0.0, 1.5]), st.integers(-9, 9)
)


def _int_clip(draw: Draw, d: int) -> Expr:
    low, high = draw(INT_LOW), draw(INT_HIGH)
    return draw(_E(INT, d)).clip(*((low, high) if draw(BOOLEANS) else (high, None)))


def _float_clip(draw: Draw, d: int) -> Expr:
    # A float column with any bounds, or an int column with at least one float bound.
    low, high = draw(FLOAT_BOUND), draw(FLOAT_BOUND)
    if draw(BOOLEANS):
        return draw(_E(FLOAT, d)).clip(low, 0.0 if low is None and high is None else high)
    if not isinstance(low, float) and not isinstance(high, float):
        high = float(high or 0)
    return _num(draw, d).clip(low, high)


CASTABLE = {
    INT: KINDS,
    FLOAT: KINDS,
    BOOL: (INT, FLOAT, BOOL),
    STR: KINDS,
    DATETIME: (INT, FLOAT, BOOL, DATETIME),
}


def _cast_to(kind: str) -> Builder:
    def build(draw: Draw, d: int) -> Expr:
        source = pick(draw, CASTABLE[kind])
        return draw(_E(source, d)).cast(kind)

    return build


def _merge(kind: str, *, mixed: bool = False) -> Builder:
    def build(draw: Draw, d: int) -> Expr:
        def arg() -> Expr:
            return _num(draw, d) if mixed else draw(_E(kind, d))

        first = draw(_E(FLOAT, d)) if mixed else arg()
        args = [first] + [arg() for _ in range(draw(_ints(1, 2)))]
        args = draw(st.permutations(args))
        how = pick(draw, ["coalesce", "min", "max", "fill_null", "when"])
        if kind in (INT, FLOAT):
            how = pick(draw, [how, "fill_nan"])
        if how == "coalesce":
            return coalesce(*args)
        if how == "min":
            return min_horizontal(*args)
        if how == "max":
            return max_horizontal(*args)
        if how == "fill_null":
            return args[0].fill_null(args[1])
        if how == "fill_nan":
            return args[0].fill_nan(args[1])
        case = when(draw(_E(BOOL, d))).then(args[0])
        if len(args) > 2:
            case = case.when(draw(_E(BOOL, d))).then(args[2])
        return case.otherwise(args[1]) if draw(BOOLEANS) else case

    return build


def _comparison(draw: Draw, d: int) -> Expr:
    kind = pick(draw, ["num", STR, BOOL, DATETIME])
    if kind == "num":
        a, b = _num(draw, d), _num(draw, d)
    else:
        a, b = draw(_E(kind, d)), draw(_E(kind, d))
    return _binary_op(draw, a, b, "== != < <= > >=")


def _logic(draw: Draw, d: int) -> Expr:
    a, b = draw(_E(BOOL, d)), draw(_E(BOOL, d))
    how = pick(draw, ["&", "|", "~"])
    return a & b if how == "&" else a | b if how == "|" else ~a


def _predicate(draw: Draw, d: int) -> Expr:
    how = pick(draw, ["is_null", "is_nan", "contains", "starts_with"])
    if how == "is_null":
        return draw(_E(pick(draw, KINDS), d)).is_null()
    if how == "is_nan":
        return _num(draw, d).is_nan()
    s = draw(_E(STR, d))
    needle = draw(NEEDLES)
    return s.str.contains(needle) if how == "contains" else s.str.starts_with(needle)


NEEDLES = st.one_of(st.sampled_from(["", "a", "Σ", "1", "ß", "in", "."]), st.text(max_size=2))


def _text(draw: Draw, d: int) -> Expr:
    s = draw(_E(STR, d))
    return s.str.lower() if draw(BOOLEANS) else s.str.upper()


def _len_chars(draw: Draw, d: int) -> Expr:
    return draw(_E(STR, d)).str.len_chars()


def _dt_part(draw: Draw, d: int) -> Expr:
    part = pick(draw, ["hour", "weekday", "day", "month", "year", "epoch"])
    return getattr(draw(_E(DATETIME, d)).dt, part)()


BUILDERS: dict[str, list[Builder]] = {
    INT: [
        _int_arith,
        _int_arith,
        _same_kind_unary(INT),
        _int_pow,
        _int_clip,
        _cast_to(INT),
        _len_chars,
        _dt_part,
        _merge(INT),
    ],
    FLOAT: [
        _float_arith,
        _float_arith,
        _true_div,
        _same_kind_unary(FLOAT),
        _float_func,
        _float_pow,
        _expr_pow,
        _float_clip,
        _cast_to(FLOAT),
        _merge(FLOAT),
        _merge(FLOAT, mixed=True),
    ],
    BOOL: [_comparison, _comparison, _logic, _predicate, _cast_to(BOOL), _merge(BOOL)],
    STR: [_text, _cast_to(STR), _merge(STR)],
    DATETIME: [_cast_to(DATETIME), _merge(DATETIME)],
}

# `**` by an expression gets its own share of roots: its special paths need many draws to hit.
ANY_EXPR = st.one_of(*(expr_of(kind, 4) for kind in KINDS), st.composite(_expr_pow)(3))


def same_value(a: Any, b: Any) -> bool:
    """Exact equality: same type, NaN equals NaN, -0.0 differs from 0.0, same timezone."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, dt.datetime):
        return a == b and str(a.tzinfo) == str(b.tzinfo)
    return bool(a == b)
