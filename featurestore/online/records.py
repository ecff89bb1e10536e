"""The stored record of one entity in one view, shared by every online store.

A record is ``header + body``:

- the header is 65 lowercase hex characters that order records by the write rule: 16 for the
  view version that computed the row, 16 for the event time, 1 + 16 for the created time (flag
  ``0`` = null, so null sorts lowest), 16 for the ingestion seq, each int64 shifted by 2**63.
  Comparing two headers as strings (SQLite) or in 8-character numeric chunks (Redis Lua) is
  comparing ``(view_version, event, created, seq)`` tuples: a row computed by a newer view
  version replaces an older version's row whatever their times, and never the other way round;
- the body is the byte length of the packed feature-name list (4 bytes, big-endian), that
  msgpack list, then the msgpack list of values. A row written before a feature existed still
  decodes (that feature reads as None), and a reader decodes each distinct name list once.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from featurestore.errors import RequestError
from featurestore.online.base import META_COLUMNS, ReadRequest, ReadResult
from featurestore.online.encoding import make_packer, unpack_value

__all__ = [
    "HEADER_LENGTH",
    "EncodedRows",
    "decode_records",
    "encode_rows",
    "header_event_time",
]

HEADER_LENGTH = 65
_STAMP = 32  # the version and event-time part of a header, which the rows of a batch share
_SHIFT = 1 << 63
_NULL_CREATED = "0" * 17
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMES_LENGTH = struct.Struct(">I")
_BODY = HEADER_LENGTH + _NAMES_LENGTH.size  # where a record's packed name list starts


@dataclass(frozen=True, slots=True)
class EncodedRows:
    """A write frame turned into records, aligned by position.

    Attributes:
        keys: the entity keys.
        headers: the ordering headers (ASCII).
        bodies: the msgpack bodies.
    """

    keys: list[str]
    headers: list[str]
    bodies: list[bytes]


def encode_rows(view: str, rows: pl.DataFrame) -> EncodedRows:
    """Validate a write frame (see ``OnlineStore.write``) and encode its records.

    Raises:
        RequestError: a missing column, a wrong dtype, a null key/timestamp/seq, or a value that
            cannot be stored.
    """
    for name in ("entity_key", "event_timestamp", "seq"):
        if name not in rows.columns:
            raise RequestError(f"The rows written to view {view!r} lack the column {name!r}.")
    keys = _non_null(view, rows, "entity_key", rows.get_column("entity_key").cast(pl.String))
    events = _non_null(view, rows, "event_timestamp", _micros(view, rows, "event_timestamp"))
    seqs = _non_null(view, rows, "seq", rows.get_column("seq").cast(pl.Int64))
    if "view_version" in rows.columns:
        versions: Iterable[int] = _non_null(
            view, rows, "view_version", rows.get_column("view_version").cast(pl.Int64)
        )
    else:
        versions = [0] * rows.height
    if "created_timestamp" in rows.columns:
        created: Iterable[int | None] = _micros(view, rows, "created_timestamp").to_list()
    else:
        created = [None] * rows.height
    headers = [
        f"{version + _SHIFT:016x}{event + _SHIFT:016x}"
        f"{_NULL_CREATED if made is None else f'1{made + _SHIFT:016x}'}"
        f"{seq + _SHIFT:016x}"
        for version, event, made, seq in zip(versions, events, created, seqs, strict=True)
    ]
    return EncodedRows(keys, headers, _bodies(view, rows))


def _micros(view: str, rows: pl.DataFrame, name: str) -> pl.Series:
    column = rows.get_column(name)
    if column.dtype == pl.Null:
        return column.cast(pl.Int64)
    if not isinstance(column.dtype, pl.Datetime):
        raise RequestError(
            f"The column {name!r} written to view {view!r} must be a Datetime, not {column.dtype}."
        )
    return column.dt.epoch("us")


def _non_null(view: str, rows: pl.DataFrame, name: str, column: pl.Series) -> list[Any]:
    if column.null_count():
        raise RequestError(f"The column {name!r} written to view {view!r} holds nulls.")
    return column.to_list()


def _bodies(view: str, rows: pl.DataFrame) -> list[bytes]:
    features = [name for name in rows.columns if name not in META_COLUMNS]
    packer = make_packer()
    # Every body of a batch starts with the same packed name list: pack it once.
    names = packer.pack(features)
    prefix = _NAMES_LENGTH.pack(len(names)) + names
    if not features:
        return [prefix + b"\x90"] * rows.height
    try:
        return [prefix + packer.pack(row) for row in rows.select(features).iter_rows()]
    except (TypeError, OverflowError, ValueError) as error:
        packer.reset()
        raise RequestError(
            f"A feature value written to view {view!r} cannot be stored: {error}."
        ) from None


def header_event_time(header: str | bytes) -> datetime:
    """The event time encoded in a record header."""
    return _EPOCH + timedelta(microseconds=int(header[16:_STAMP], 16) - _SHIFT)


def header_view_version(header: str | bytes) -> int:
    """The view version encoded in a record header."""
    return int(header[:16], 16) - _SHIFT


def decode_records(request: ReadRequest, records: Sequence[bytes | None]) -> ReadResult:
    """Turn the stored ``header + body`` of each requested entity (None: absent) into a result.

    The rows of one read almost always share one layout (the view's feature list when they were
    written): each row's layout is compared with the first one's in place, the rows are
    transposed at once and the requested columns picked by a getter made once per layout and
    feature list. Picking from each row instead costs far more once a request holds many
    entities.
    """
    times: list[datetime | None] = []
    versions: list[int | None] = []
    rows: list[list[Any] | None] = []
    # The rows of a batch share their layout, and often their version and event time: a row
    # that starts like the first one takes the shortcut (no slicing, no struct, no hashing).
    prefix, prefix_end, mixed = b"", 0, False
    stamp_key, event, version = b"-", None, None
    unpack, names_length = unpack_value, _NAMES_LENGTH.unpack_from
    for record in records:
        if record is None:
            times.append(None)
            versions.append(None)
            rows.append(None)
            continue
        if not record.startswith(stamp_key):
            stamp_key = record[:_STAMP]
            version, event = _stamp(stamp_key)
        times.append(event)
        versions.append(version)
        if prefix and record.startswith(prefix, HEADER_LENGTH):
            rows.append(unpack(record[prefix_end:]))
            continue
        end = _BODY + names_length(record, HEADER_LENGTH)[0]
        if prefix:
            mixed = True
        else:
            prefix, prefix_end = record[HEADER_LENGTH:end], end
        rows.append(unpack(record[end:]))
    layout = prefix[_NAMES_LENGTH.size :] if prefix else None
    found = [row is not None for row in rows]
    if layout is None or mixed:  # nothing found, or rows written under several view versions
        features = list(dict.fromkeys(request.features))
        values = _pick_rows(features, records, rows)
        return ReadResult(found, times, values, nulls=True, view_versions=versions)
    pick = _pick(layout, request.features)
    if None in rows:
        empty = [None] * pick.width
        rows = [empty if row is None else row for row in rows]
    columns = pick.getter([*map(list, zip(*rows, strict=True)), [None] * len(rows)])
    values = dict(zip(pick.features, columns, strict=True))
    # Look for nulls along the shorter side: one call per row, or one per column.
    nulls = not pick.complete or (
        any(has_null(row) for row in rows if row is not None)
        if len(rows) <= len(pick.features)
        else any(map(has_null, columns))
    )
    return ReadResult(found, times, values, nulls=nulls, view_versions=versions)


def has_null(values: Sequence[Any]) -> bool:
    """Whether ``values`` holds a None.

    ``sum`` settles it for numbers about four times quicker than ``None in values``, because
    comparing a number with None goes through Python's comparison fallback; a None, a string or
    a datetime makes ``sum`` raise at once, and then ``in`` answers.
    """
    try:
        sum(values)
    except TypeError:
        return None in values
    return False


@dataclass(frozen=True, slots=True)
class _Pick:
    """How to take a request's features from the transposed rows of one layout."""

    features: list[str]  # the requested features, without repeats
    getter: Callable[[list[list[Any]]], Sequence[list[Any]]]  # columns (+ a null one) -> picked
    width: int  # the number of features in the layout
    complete: bool  # whether the layout holds every requested feature (else they read None)


#: (packed layout, id of the request's feature list) -> (that list, its pick); a plan asks with
#: the same list object every time, so serving makes each pick once
_PICKS: dict[tuple[bytes, int], tuple[Sequence[str], _Pick]] = {}


def _pick(layout: bytes, wanted: Sequence[str]) -> _Pick:
    cached = _PICKS.get((layout, id(wanted)))
    if cached is not None and cached[0] is wanted:
        return cached[1]
    names = _layout(layout)
    features = list(dict.fromkeys(wanted))
    position = _positions(names)
    indices = [position.get(feature, len(names)) for feature in features]  # absent: the null one
    getter: Callable[[list[list[Any]]], Sequence[list[Any]]]
    if len(indices) == 1:
        index = indices[0]
        getter = lambda columns: (columns[index],)  # noqa: E731
    elif indices:
        getter = operator.itemgetter(*indices)
    else:
        getter = lambda columns: ()  # noqa: E731
    pick = _Pick(features, getter, len(names), all(f in position for f in features))
    if len(_PICKS) > 4096:
        _PICKS.clear()
    _PICKS[(layout, id(wanted))] = (wanted, pick)
    return pick


def _pick_rows(
    features: list[str], records: Sequence[bytes | None], rows: list[list[Any] | None]
) -> dict[str, list[Any]]:
    """Rows of several layouts (or none) -> the requested feature columns, row by row."""
    columns: dict[str, list[Any]] = {feature: [] for feature in features}
    for record, row in zip(records, rows, strict=True):
        if record is None or row is None:
            for column in columns.values():
                column.append(None)
            continue
        end = _BODY + _NAMES_LENGTH.unpack_from(record, HEADER_LENGTH)[0]
        position = _positions(_layout(record[_BODY:end]))
        for feature, column in columns.items():
            index = position.get(feature)
            column.append(None if index is None else row[index])
    return columns


#: packed layout -> feature names, and feature names -> positions; layouts change only with view
#: versions, so serving decodes each once
_LAYOUTS: dict[bytes, tuple[str, ...]] = {}
_POSITIONS: dict[tuple[str, ...], dict[str, int]] = {}
#: the version and event-time part of a header -> both decoded; rows of a batch share them
_STAMPS: dict[bytes, tuple[int, datetime]] = {}


def _layout(packed: bytes) -> tuple[str, ...]:
    layout = _LAYOUTS.get(packed)
    if layout is None:
        if len(_LAYOUTS) > 4096:
            _LAYOUTS.clear()
        layout = _LAYOUTS[packed] = tuple(unpack_value(packed))
    return layout


def _positions(layout: tuple[str, ...]) -> dict[str, int]:
    position = _POSITIONS.get(layout)
    if position is None:
        if len(_POSITIONS) > 4096:
            _POSITIONS.clear()
        position = _POSITIONS[layout] = {name: i for i, name in enumerate(layout)}
    return position


def _stamp(key: bytes) -> tuple[int, datetime]:
    stamp = _STAMPS.get(key)
    if stamp is None:
        if len(_STAMPS) > 100_000:
            _STAMPS.clear()
        stamp = _STAMPS[key] = (header_view_version(key), header_event_time(key))
    return stamp
