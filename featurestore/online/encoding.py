"""Exact value encoding (msgpack) of stored feature values.

Values round-trip exactly: an int stays an int (to the int64 extremes), a float stays a float
(NaN, ±inf and -0.0 included), booleans, strings, null, lists and maps keep their type.
Datetimes travel as msgpack ext types holding int64 microseconds, so no precision is lost.
"""

from __future__ import annotations

import functools
import struct
from datetime import date, datetime, timedelta
from typing import Any

import msgpack

from featurestore.limits import EPOCH

__all__ = ["make_packer", "pack_value", "unpack_rows", "unpack_value"]

_EXT_DATETIME_UTC = 1
_EXT_DATETIME_NAIVE = 2
_EXT_DATE = 3
_EXT_DURATION = 4

_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
_INT64 = struct.Struct(">q")


def _to_ext(obj: Any) -> msgpack.ExtType:
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            return msgpack.ExtType(
                _EXT_DATETIME_NAIVE, _INT64.pack((obj - _NAIVE_EPOCH) // _MICROSECOND)
            )
        return msgpack.ExtType(_EXT_DATETIME_UTC, _INT64.pack((obj - EPOCH) // _MICROSECOND))
    if isinstance(obj, date):
        return msgpack.ExtType(_EXT_DATE, _INT64.pack(obj.toordinal() - _EPOCH_ORDINAL))
    if isinstance(obj, timedelta):
        return msgpack.ExtType(_EXT_DURATION, _INT64.pack(obj // _MICROSECOND))
    raise TypeError(f"a value of type {type(obj).__name__} cannot be stored online")


def _from_ext(code: int, data: bytes) -> Any:
    (number,) = _INT64.unpack(data)
    if code == _EXT_DATETIME_UTC:
        return EPOCH + timedelta(microseconds=number)
    if code == _EXT_DATETIME_NAIVE:
        return _NAIVE_EPOCH + timedelta(microseconds=number)
    if code == _EXT_DATE:
        return date.fromordinal(number + _EPOCH_ORDINAL)
    if code == _EXT_DURATION:
        return timedelta(microseconds=number)
    return msgpack.ExtType(code, data)


def make_packer() -> msgpack.Packer:
    """A msgpack packer for stored values (not thread-safe: make one per batch)."""
    return msgpack.Packer(default=_to_ext, use_bin_type=True, use_single_float=False)


def pack_value(value: Any) -> bytes:
    """Encode one value (scalar, list or map) exactly.

    Raises:
        TypeError: the value has a type that cannot be stored.
        OverflowError: an integer outside the 64-bit range.
    """
    return make_packer().pack(value)  # type: ignore[no-any-return]


def unpack_value(data: bytes) -> Any:
    """Decode bytes made by :func:`pack_value` (or a packer from :func:`make_packer`)."""
    return msgpack.unpackb(data, ext_hook=_from_ext, raw=False, strict_map_key=False)


#: :func:`unpack_value` as one C-level callable (no Python frame per call), for per-row loops
unpack_rows = functools.partial(
    msgpack.unpackb, ext_hook=_from_ext, raw=False, strict_map_key=False
)
