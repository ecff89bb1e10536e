"""The stored record of one entity in one view, shared by every online store.

A record is ``header + body``:

- the header is 49 lowercase hex characters that order records by the write rule: 16 for the
  event time, 1 + 16 for the created time (flag ``0`` = null, so null sorts lowest), 16 for the
  ingestion seq, each int64 shifted by 2**63. Comparing two headers as strings (SQLite) or in
  8-character numeric chunks (Redis Lua) is comparing ``(event, created, seq)`` tuples;
- the body is the byte length of the packed feature-name list (4 bytes, big-endian), that
  msgpack list, then the msgpack list of values. A row written before a feature existed still
  decodes (that feature reads as None), and a reader decodes each distinct name list once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
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
    "split_record",
]

HEADER_LENGTH = 49
_SHIFT = 1 << 63
_NULL_CREATED = "0" * 17
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMES_LENGTH = struct.Struct(">I")


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
    if "created_timestamp" in rows.columns:
        created: Iterable[int | None] = _micros(view, rows, "created_timestamp").to_list()
    else:
        created = [None] * rows.height
    headers = [
        f"{event + _SHIFT:016x}"
        f"{_NULL_CREATED if made is None else f'1{made + _SHIFT:016x}'}"
        f"{seq + _SHIFT:016x}"
        for event, made, seq in zip(events, created, seqs, strict=True)
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


def header_event_time(header: str) -> datetime:
    """The event time encoded in a record header."""
    return _EPOCH + timedelta(microseconds=int(header[:16], 16) - _SHIFT)


def decode_records(request: ReadRequest, records: Sequence[tuple[str, bytes] | None]) -> ReadResult:
    """Turn the stored ``(header, body)`` of each requested entity (None: absent) into a result.

    The rows of one read almost always share one layout (the view's feature list when they were
    written), so the rows are transposed first and the requested columns picked after: picking
    from each row first costs far more once a request holds many entities.
    """
    features = list(dict.fromkeys(request.features))
    times: list[datetime | None] = []
    layouts: dict[bytes, None] = {}
    rows: list[list[Any] | None] = []
    event_time = _event_time
    for record in records:
        if record is None:
            times.append(None)
            rows.append(None)
            continue
        header, body = record
        times.append(event_time(header))
        end = _NAMES_LENGTH.size + _NAMES_LENGTH.unpack_from(body)[0]
        layouts[body[_NAMES_LENGTH.size : end]] = None
        rows.append(unpack_value(body[end:]))
    found = [row is not None for row in rows]
    if len(layouts) == 1:
        (layout,) = layouts
        values = _pick_columns(_layout(layout), features, rows)
    else:  # rows written under different view versions: map each row on its own
        values = _pick_rows(features, records, rows)
    return ReadResult(found=found, event_timestamps=times, values=values)


def _pick_columns(
    layout: tuple[str, ...], features: list[str], rows: list[list[Any] | None]
) -> dict[str, list[Any]]:
    """Rows of one layout (None: absent) -> the requested feature columns."""
    width = len(layout)
    if None in rows:
        empty = [None] * width
        rows = [empty if row is None else row for row in rows]
    columns = [list(column) for column in zip(*rows, strict=True)] if width else []
    position = _positions(layout)
    n = len(rows)
    return {
        feature: columns[position[feature]] if feature in position else [None] * n
        for feature in features
    }


def _pick_rows(
    features: list[str],
    records: Sequence[tuple[str, bytes] | None],
    rows: list[list[Any] | None],
) -> dict[str, list[Any]]:
    """Rows of several layouts (or none) -> the requested feature columns, row by row."""
    columns: dict[str, list[Any]] = {feature: [] for feature in features}
    for record, row in zip(records, rows, strict=True):
        if record is None or row is None:
            for column in columns.values():
                column.append(None)
            continue
        body = record[1]
        end = _NAMES_LENGTH.size + _NAMES_LENGTH.unpack_from(body)[0]
        position = _positions(_layout(body[_NAMES_LENGTH.size : end]))
        for feature, column in columns.items():
            index = position.get(feature)
            column.append(None if index is None else row[index])
    return columns


#: packed layout -> feature names, and feature names -> positions; layouts change only with view
#: versions, so serving decodes each once
_LAYOUTS: dict[bytes, tuple[str, ...]] = {}
_POSITIONS: dict[tuple[str, ...], dict[str, int]] = {}
#: the event-time part of a header -> the datetime; rows of a batch share their event times
_EVENT_TIMES: dict[str, datetime] = {}


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


def _event_time(header: str) -> datetime:
    event = _EVENT_TIMES.get(header[:16])
    if event is None:
        if len(_EVENT_TIMES) > 100_000:
            _EVENT_TIMES.clear()
        event = _EVENT_TIMES[header[:16]] = header_event_time(header)
    return event


def split_record(record: bytes) -> tuple[str, bytes]:
    """Split a stored ``header + body`` value (the Redis layout) into its two parts."""
    return record[:HEADER_LENGTH].decode("ascii"), record[HEADER_LENGTH:]
