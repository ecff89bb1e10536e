"""Exact value encoding (msgpack) and typed, cluster-friendly entity keys.

Values round-trip exactly: an int stays an int (to the int64 extremes), a float stays a float
(NaN, ±inf and -0.0 included), booleans, strings, null, lists and maps keep their type.
Datetimes travel as msgpack ext types holding int64 microseconds, so no precision is lost.

Entity keys look like ``fs:{<project>:<entity>:<typed key>}``: the braces are a Redis Cluster
hash tag, so every view of one entity lives in one hash in one slot. Each join-key value carries
a type tag (``i1``, ``s1``, ``b1`` differ), and strings are percent-encoded so that no value can
forge a separator or a brace.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import msgpack
import polars as pl

from featurestore.errors import RequestError

__all__ = ["encode_entity_keys", "make_packer", "pack_value", "unpack_value"]

_EXT_DATETIME_UTC = 1
_EXT_DATETIME_NAIVE = 2
_EXT_DATE = 3
_EXT_DURATION = 4

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
_INT64 = struct.Struct(">q")

# The characters urllib's quote leaves alone with safe="": a string made only of them encodes
# to itself, which lets Polars build keys for a whole column without a Python loop.
_UNRESERVED = r"^[A-Za-z0-9_.~-]*$"


def _to_ext(obj: Any) -> msgpack.ExtType:
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            return msgpack.ExtType(
                _EXT_DATETIME_NAIVE, _INT64.pack((obj - _NAIVE_EPOCH) // _MICROSECOND)
            )
        return msgpack.ExtType(_EXT_DATETIME_UTC, _INT64.pack((obj - _EPOCH) // _MICROSECOND))
    if isinstance(obj, date):
        return msgpack.ExtType(_EXT_DATE, _INT64.pack(obj.toordinal() - _EPOCH_ORDINAL))
    if isinstance(obj, timedelta):
        return msgpack.ExtType(_EXT_DURATION, _INT64.pack(obj // _MICROSECOND))
    raise TypeError(f"a value of type {type(obj).__name__} cannot be stored online")


def _from_ext(code: int, data: bytes) -> Any:
    (number,) = _INT64.unpack(data)
    if code == _EXT_DATETIME_UTC:
        return _EPOCH + timedelta(microseconds=number)
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


def encode_entity_keys(
    project: str, entity: str, join_keys: Mapping[str, Sequence[Any]]
) -> list[str]:
    """Build the online key of each entity.

    Args:
        project: the project name (part of every key, so projects sharing a server never mix).
        entity: the entity name.
        join_keys: one column of values per join key, in the entity definition's order; lists,
            tuples or Polars Series, all the same length.

    Returns:
        One key per row, e.g. ``fs:{rides:driver:i7}`` or ``fs:{rides:trip:i7,sams}``.
        Deterministic and typed: ``1``, ``"1"`` and ``True`` give different keys.

    Raises:
        RequestError: no join keys, columns of different lengths, or a null or unsupported value.
    """
    if not join_keys:
        raise RequestError(f"Entity {entity!r} needs at least one join key column.")
    columns = [_encode_column(entity, name, values) for name, values in join_keys.items()]
    lengths = {name: len(column) for name, column in zip(join_keys, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        raise RequestError(
            f"The join keys of entity {entity!r} have different lengths: "
            + ", ".join(f"{name} has {n}" for name, n in lengths.items())
            + "."
        )
    prefix = f"fs:{{{project}:{entity}:"
    if len(columns) == 1:
        return [f"{prefix}{part}}}" for part in columns[0]]
    return [f"{prefix}{','.join(parts)}}}" for parts in zip(*columns, strict=True)]


def _encode_column(entity: str, name: str, values: Sequence[Any]) -> list[str]:
    if isinstance(values, pl.Series):
        fast = _encode_series(values)
        if fast is not None:
            return fast
        values = values.to_list()
    elif set(map(type, values)) == {int}:  # the usual online request: checked by C calls
        return list(map("i{}".format, values))
    try:
        return [_encode_key_value(value) for value in values]
    except (TypeError, ValueError) as error:
        raise RequestError(f"Join key {name!r} of entity {entity!r}: {error}.") from None


def _encode_series(series: pl.Series) -> list[str] | None:
    """Vectorised keys for the common integer and plain-string columns; None means 'use Python'."""
    if series.null_count() > 0:
        return None  # the Python path raises the precise error
    if series.dtype.is_integer():
        return ("i" + series.cast(pl.String)).to_list()  # type: ignore[no-any-return]
    if series.dtype == pl.String and bool(series.str.contains(_UNRESERVED).all()):
        return ("s" + series).to_list()  # type: ignore[no-any-return]
    return None


def _encode_key_value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return "s" + quote(value, safe="")
    if kind is int:
        return f"i{value}"
    if kind is bool:
        return "b1" if value else "b0"
    if value is None:
        raise ValueError("a join key is null; every entity needs a value for each join key")
    for typ, encode in _KEY_ENCODERS:
        if isinstance(value, typ):
            return encode(value)
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalars
        plain = item()
        if type(plain) is not kind:
            return _encode_key_value(plain)
    raise TypeError(f"a value of type {kind.__name__} cannot be a join key")


def _encode_datetime_key(value: datetime) -> str:
    # A naive datetime is read as UTC, like every timestamp in the store.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return f"t{(aware - _EPOCH) // _MICROSECOND}"


_KEY_ENCODERS: tuple[tuple[type, Callable[[Any], str]], ...] = (
    (bool, lambda v: "b1" if v else "b0"),
    (int, lambda v: f"i{int(v)}"),
    (str, lambda v: "s" + quote(str(v), safe="")),
    # -0.0 and 0.0 are the same key, as they are equal in a join.
    (float, lambda v: f"f{float(v) + 0.0!r}"),
    (datetime, _encode_datetime_key),
    (date, lambda v: f"d{v.isoformat()}"),
    (bytes, lambda v: f"x{bytes(v).hex()}"),
)
