"""Checking and normalising the Python values an expression may hold (literals and parameters)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl

from featurestore.errors import ExpressionError
from featurestore.expr._kinds import BOOL, CAST_TARGETS, DATETIME, FLOAT, INT, NULL, STR, Kind
from featurestore.limits import EPOCH, quote

I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1
# Polars hands UTC datetimes back with ZoneInfo("UTC"); the Python side uses the same object so
# both sides give values of the very same type.
UTC: Final = ZoneInfo("UTC")
ONE_US: Final = dt.timedelta(microseconds=1)


def to_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as a UTC datetime with ``ZoneInfo("UTC")``; a naive value is taken as UTC."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def normalize_literal(value: Any) -> tuple[Any, Kind]:
    """Check a literal value and return it with its kind.

    Raises:
        ExpressionError: a value of an unsupported type, an int outside int64, a naive datetime
            or a string Polars cannot hold.
    """
    if value is None:
        return None, NULL
    if isinstance(value, bool):
        return bool(value), BOOL
    if isinstance(value, int):
        if not I64_MIN <= value <= I64_MAX:
            raise ExpressionError(f"integer literal {value} does not fit in int64")
        return int(value), INT
    if isinstance(value, float):
        return float(value), FLOAT
    if isinstance(value, str):
        check_text(value, "string literal")
        return str(value), STR
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ExpressionError(
                f"datetime literal {value.isoformat()} is naive; give it a timezone "
                "(e.g. tzinfo=datetime.timezone.utc)"
            )
        return to_utc(value), DATETIME
    if callable(getattr(value, "item", None)) and type(value).__module__ == "numpy":
        return normalize_literal(value.item())
    raise ExpressionError(
        f"unsupported literal {value!r} of type {type(value).__name__}; "
        "use None, bool, int, float, str or a timezone-aware datetime"
    )


def check_text(value: Any, what: str) -> str:
    """``value`` if it is a string Polars can hold (valid Unicode), else ExpressionError."""
    if not isinstance(value, str):
        raise ExpressionError(f"{what} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ExpressionError(f"{what} {quote(value)} is not valid Unicode") from None
    return value


def check_number(value: Any, what: str, *, allow_none: bool = False) -> int | float | None:
    """``value`` if it is a finite int64 or float (bool excluded), else ExpressionError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{what} must be a number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"{what} must be finite, got {value!r}")
        return float(value)
    if not I64_MIN <= value <= I64_MAX:
        raise ExpressionError(f"{what} {value} does not fit in int64")
    return int(value)


_DTYPE_NAMES: Final[dict[Any, str]] = {
    pl.Int64: INT,
    pl.Float64: FLOAT,
    pl.Boolean: BOOL,
    pl.String: STR,
    pl.Datetime: DATETIME,
    int: INT,
    float: FLOAT,
    bool: BOOL,
    str: STR,
}


def cast_target(dtype: Any) -> str:
    """The kind name of a ``cast`` target given as a name or a Polars dtype.

    Raises:
        ExpressionError: anything but int64, float64, bool, str or UTC microsecond datetime.
    """
    if isinstance(dtype, str):
        if dtype in CAST_TARGETS:
            return dtype
        raise ExpressionError(
            f"unknown dtype name {dtype!r} in cast(); use one of {', '.join(CAST_TARGETS)}"
        )
    if isinstance(dtype, pl.Datetime):
        if dtype.time_unit == "us" and dtype.time_zone == "UTC":
            return DATETIME
        raise ExpressionError(
            f"cast() supports only Datetime('us', 'UTC'), got {dtype}; use 'datetime'"
        )
    key = type(dtype) if isinstance(dtype, pl.DataType) else dtype
    try:
        name = _DTYPE_NAMES.get(key)
    except TypeError:
        name = None
    if name is None:
        raise ExpressionError(
            f"cast() does not support dtype {dtype!r}; integers are int64 and floats float64 "
            f"everywhere (use one of {', '.join(CAST_TARGETS)})"
        )
    return name


def literal_key(value: Any) -> Any:
    """A hashable key telling literals apart exactly (NaN equals NaN, -0.0 differs from 0.0)."""
    if isinstance(value, float):
        return ("f", "nan" if math.isnan(value) else value.hex())
    if isinstance(value, dt.datetime):
        return ("t", (value - EPOCH) // ONE_US)
    return (type(value).__name__, value)


def literal_repr(value: Any) -> str:
    """How a literal value is written inside an expression's repr."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, dt.datetime):
        return f'datetime.fromisoformat("{value.isoformat()}")'
    return repr(value)
