"""String, datetime and cast kernels of the Python compiler, matching Polars' conversions."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Final

from featurestore.expr._literals import ONE_US, UTC, to_utc
from featurestore.expr._numeric import I64_MAX, I64_MIN, f2i
from featurestore.limits import EPOCH

_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)
# Python's datetime covers years 1..9999; casts to datetime outside that give null on both sides.
MIN_US: Final = (dt.datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
MAX_US: Final = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // ONE_US


def parse_int(text: str) -> int | None:
    """Polars' str -> int64 cast: ASCII digits with an optional sign, else null."""
    if _INT_TEXT.fullmatch(text) is None:
        return None
    value = int(text)
    return value if I64_MIN <= value <= I64_MAX else None


def parse_float(text: str) -> float | None:
    """Polars' str -> float64 cast: decimal or exponent notation, inf, infinity, nan."""
    if _FLOAT_TEXT.fullmatch(text) is None:
        return None
    return float(text)


def format_float(x: float) -> str:
    """Polars' float64 -> str cast: shortest round-trip digits.

    Like ``repr`` except NaN is ``NaN`` and small numbers: positional down to 1e-5, then
    ``1e-7`` style exponents without zero padding.
    """
    if x != x:
        return "NaN"
    text = repr(x)
    mantissa, sep, exponent = text.partition("e-")
    if not sep:
        return text
    power = int(exponent)
    if power > 5:
        return f"{mantissa}e-{power}"
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    return f"{sign}0.{'0' * (power - 1)}{digits}"


def format_datetime(value: dt.datetime) -> str:
    """Polars' UTC datetime -> str cast: ``2020-01-02 03:04:05.000006+00:00``."""
    v = to_utc(value)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}+00:00"
    )


def epoch_us(value: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC."""
    return (value - EPOCH) // ONE_US


def from_epoch_us(us: int) -> dt.datetime | None:
    """The UTC datetime ``us`` microseconds after the epoch, null outside years 1..9999."""
    if MIN_US <= us <= MAX_US:
        return EPOCH + dt.timedelta(microseconds=us)
    return None


def float_to_datetime(x: float) -> dt.datetime | None:
    """Polars' float64 -> datetime cast: truncated to whole microseconds."""
    us = f2i(x)
    return None if us is None else from_epoch_us(us)


@functools.cache
def _case_fixes() -> tuple[dict[int, str], dict[int, str]]:
    """Characters whose case mapping in Polars (Rust's newer Unicode) differs from Python's.

    Computed once from Polars itself, so it follows whatever versions are installed; returned
    as ``str.translate`` tables.
    """
    import polars as pl

    chars = [chr(c) for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF]
    series = pl.Series(chars, dtype=pl.String)
    lower = series.str.to_lowercase().to_list()
    upper = series.str.to_uppercase().to_list()
    low = {ord(c): v for c, v in zip(chars, lower, strict=True) if v != c.lower()}
    up = {ord(c): v for c, v in zip(chars, upper, strict=True) if v != c.upper()}
    return low, up


def _mapped(text: str, fixes: dict[int, str], lower: bool) -> str:
    if not text.isascii() and fixes and not fixes.keys().isdisjoint(map(ord, text)):
        text = text.translate(fixes)
    return text.lower() if lower else text.upper()


@functools.lru_cache(maxsize=4096)
def _polars_lower(text: str) -> str:
    import polars as pl

    out: str = pl.Series([text], dtype=pl.String).str.to_lowercase()[0]
    return out


def lower(text: str) -> str:
    """Polars' ``str.to_lowercase``.

    Capital sigma is the one context-dependent mapping (σ, or ς at the end of a word), and
    Polars decides it with its own Unicode tables and without looking back past a leading run
    of ASCII, so text holding one is lowered by Polars itself. Everything else maps character
    by character: Python's mapping with Polars' newer Unicode characters patched in.
    """
    if "Σ" in text:
        return _polars_lower(text)
    return _mapped(text, _case_fixes()[0], True)


def upper(text: str) -> str:
    """Polars' ``str.to_uppercase``."""
    return _mapped(text, _case_fixes()[1], False)


def warm_case_tables() -> None:
    """Build the case tables now rather than on the first string served."""
    _case_fixes()
