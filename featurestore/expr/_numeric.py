"""Number kernels of the Python compiler, bit-for-bit what Polars computes.

Python raises where IEEE 754 (and Polars) give inf or NaN, rounds ints to floats differently in
division and comparison, and never overflows ints; each function here closes one such gap. The
float functions assume quiet NaNs (signalling NaNs never come out of Python or Polars).
"""

from __future__ import annotations

import functools
import math
from typing import Final

_INF: Final = math.inf
_NAN: Final = math.nan
_SPAN: Final = 2**64
_HALF: Final = 2**63
I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1


def wrap(value: int) -> int:
    """``value`` wrapped into int64 two's complement, as Polars' integer arithmetic does."""
    if I64_MIN <= value <= I64_MAX:
        return value
    return (value + _HALF) % _SPAN - _HALF


def fdiv(a: float, b: float) -> float:
    """IEEE division (Python raises on a zero divisor)."""
    if b:
        return a / b
    if a != a or not a:
        return _NAN
    return math.copysign(_INF, a) * math.copysign(1.0, b)


def ffloor(x: float) -> float:
    """Rust ``f64::floor``: keeps -0.0, inf and NaN."""
    if x != x or x in (_INF, -_INF):
        return x
    down = float(math.floor(x))
    return x if down == x else down


def fceil(x: float) -> float:
    """Rust ``f64::ceil``: keeps the sign of a zero result (-0.5 gives -0.0)."""
    if x != x or x in (_INF, -_INF):
        return x
    up = float(math.ceil(x))
    return math.copysign(up, x) if up == 0 else up


def _round_even(x: float) -> float:
    if x != x or x in (_INF, -_INF):
        return x
    r = float(round(x))
    return math.copysign(r, x) if r == 0 else r


@functools.cache
def _powi10(n: int) -> float:
    # Rust's powi (compiler-rt __powidf2): square-and-multiply, which is not what Python's
    # 10.0 ** n gives for n = 23, 37, 80...
    result, base = 1.0, 10.0
    while True:
        if n & 1:
            result *= base
        n >>= 1
        if not n:
            return result
        base *= base


def fround(x: float, decimals: int) -> float:
    """Polars' float ``round(decimals)``: half to even after scaling by ``10.powi(decimals)``."""
    if decimals == 0:
        return _round_even(x)
    scale = _powi10(decimals)
    scaled = x * scale
    if scaled != scaled or scaled in (_INF, -_INF):
        return x
    return _round_even(scaled) / scale


def ffloordiv(a: float, b: float) -> float:
    """Polars' float ``//``: ``floor(a / b)``."""
    return ffloor(fdiv(a, b))


def fmod(a: float, b: float) -> float:
    """Polars' float ``%``: ``a - b * floor(a / b)`` (NaN for a zero or infinite divisor)."""
    return a - b * ffloor(fdiv(a, b))


def ifloordiv(a: int, b: int) -> int | None:
    """Polars' int64 ``//``: floor division, null for a zero divisor, wrapping at the minimum."""
    if not b:
        return None
    return wrap(a // b)


def imod(a: int, b: int) -> int | None:
    """Polars' int64 ``%``: the sign follows the divisor, null for a zero divisor."""
    if not b:
        return None
    return a % b


def fsqrt(x: float) -> float:
    """IEEE square root: NaN below zero, -0.0 kept."""
    if x < 0:
        return _NAN
    return math.sqrt(x)


def fln(x: float) -> float:
    """Natural logarithm: -inf at zero, NaN below."""
    if x > 0:
        return math.log(x)
    if x == 0:
        return -_INF
    return _NAN if x == x else x


def flog(x: float, ln_base: float) -> float:
    """Polars' ``log(base)``: ``ln(x) / ln(base)``."""
    return fdiv(fln(x), ln_base)


def flog1p(x: float) -> float:
    """``ln(1 + x)``: -inf at -1, NaN below."""
    if x > -1:
        return math.log1p(x)
    if x == -1:
        return -_INF
    return _NAN if x == x else x


def fexp(x: float) -> float:
    """``e ** x``: inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0


def powf(x: float, y: float) -> float:
    """C ``pow``: what Rust's ``powf`` gives, without Python's exceptions."""
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0:  # zero to a negative power
            return math.copysign(_INF, x) if _odd_integer(y) else _INF
        return _NAN  # a negative base to a non-integer power
    except OverflowError:
        return -_INF if x < 0 and _odd_integer(y) else _INF


def fpow(x: float, exponent: float) -> float:
    """The language's float power: Polars' rule for a scalar exponent, with its special cases.

    An exponent of 1 returns the base, 0.5 takes the square root, an integral exponent in
    2..9 multiplies the base out (``((x * x) * x)...``), anything else (NaN and +-inf
    included) calls C ``pow``. Polars applies this rule to a literal exponent, and to an
    exponent column only on a one-row frame; ``to_polars`` applies it to every exponent.
    """
    if exponent == 1.0:
        return x
    if exponent == 0.5:
        return fsqrt(x)
    if 1.0 < exponent < 10.0 and exponent == math.floor(exponent):
        out = x
        for _ in range(int(exponent) - 1):
            out = out * x
        return out
    return powf(x, exponent)


def ipow(x: int, exponent: int) -> int:
    """Polars' int64 power by a non-negative literal exponent: wrapping."""
    return wrap(pow(x, exponent, _SPAN))


# Polars orders floats totally: NaN equals NaN and is greater than everything (inf included).


def feq(a: float, b: float) -> bool:
    """Polars' float ``==`` (NaN equals NaN, -0.0 equals 0.0)."""
    return a == b or (a != a and b != b)


def flt(a: float, b: float) -> bool:
    """Polars' float ``<`` (NaN is the largest value)."""
    return a < b or (b != b and a == a)


def fle(a: float, b: float) -> bool:
    """Polars' float ``<=`` (NaN is the largest value)."""
    return a <= b or b != b


def fmin2(acc: float, v: float) -> float:
    """One step of Polars' ``min_horizontal`` over floats: NaN loses, a tie takes ``v``."""
    if acc != acc:
        return v
    if v != v:
        return acc
    return acc if acc < v else v


def fmax2(acc: float, v: float) -> float:
    """One step of Polars' ``max_horizontal`` over floats: NaN loses, a tie takes ``v``."""
    if acc != acc:
        return v
    if v != v:
        return acc
    return acc if acc > v else v


def f2i(x: float) -> int | None:
    """A float cast to int64: truncated toward zero, null when NaN, infinite or out of range."""
    if -9.223372036854775808e18 <= x < 9.223372036854775808e18:
        return int(x)
    return None
