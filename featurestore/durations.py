"""Durations written as text: ``"30m"``, ``"6h"``, ``"1d"``, ``"2w"`` (config, windows, queries)."""

from __future__ import annotations

import datetime as dt
import re

from featurestore.errors import RequestError
from featurestore.limits import quote

__all__ = ["parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


def parse_duration(value: str | dt.timedelta, what: str = "window") -> dt.timedelta:
    """``"1d"``, ``"6h"``, ``"30m"``, ``"45s"``, ``"2w"`` or a timedelta.

    Raises:
        RequestError: anything else (the message names ``what``).
    """
    if isinstance(value, dt.timedelta):
        return value
    match = _PATTERN.fullmatch(str(value))
    if not match:
        raise RequestError(f"{what} {quote(value)} must look like 30m, 6h, 1d or 2w")
    try:
        return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:
        raise RequestError(f"{what} {quote(value)} is too long") from None
