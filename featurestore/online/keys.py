"""The online key layout: where a view's row of an entity lives, shared by every writer and
reader (materialization and push write, serving reads).

Entity keys look like ``fs:{<project>:<entity>:<typed key>}``: the braces are a Redis Cluster
hash tag, so every view of one entity lives in one hash in one slot. ``<entity>`` is the view's
entity namespace (its entities' names joined by ``+``), so views of one entity share a key. Each
join-key value carries a type tag (``i1``, ``s1``, ``b1`` differ), and strings are
percent-encoded so that no value can forge a separator or a brace.

Within an entity, a view's row is the record named after the view; its windowed aggregates are
the record ``<view>@windows`` (``@`` cannot occur in a view name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import polars as pl

from featurestore.errors import RequestError
from featurestore.limits import EPOCH

__all__ = ["WINDOW_SUFFIX", "encode_entity_keys", "entity_namespace", "window_record"]

#: online record name suffix of a view's windowed aggregates
WINDOW_SUFFIX = "@windows"

_MICROSECOND = timedelta(microseconds=1)

# The characters urllib's quote leaves alone with safe="": a string made only of them encodes
# to itself, which lets Polars build keys for a whole column without a Python loop.
_UNRESERVED = r"^[A-Za-z0-9_.~-]*$"


def entity_namespace(entities: Iterable[str]) -> str:
    """The key namespace of a view with these entity names: views of one entity share a key."""
    return "+".join(entities)


def window_record(view: str) -> str:
    """The online record holding a view's windowed aggregates."""
    return view + WINDOW_SUFFIX


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
    return f"t{(aware - EPOCH) // _MICROSECOND}"


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
