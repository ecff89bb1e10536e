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
    """Turn the stored ``(header, body)`` of each requested entity (None: absent) into a result."""
    features = list(dict.fromkeys(request.features))
    missing = (None,) * len(features)
    wanted = tuple(features)
    # Rows of one batch share their layout and often their event time: work each out once.
    times_seen: dict[str, datetime] = {}
    times: list[datetime | None] = []
    picked: list[tuple[Any, ...]] = []
    for record in records:
        if record is None:
            times.append(None)
            picked.append(missing)
            continue
        header, body = record
        event = times_seen.get(header[:16])
        if event is None:
            event = times_seen[header[:16]] = header_event_time(header)
        times.append(event)
        end = _NAMES_LENGTH.size + _NAMES_LENGTH.unpack_from(body)[0]
        layout = body[_NAMES_LENGTH.size : end]
        picker = _PICKERS.get((layout, wanted))
        if picker is None:
            if len(_PICKERS) > 4096:
                _PICKERS.clear()
            picker = _PICKERS[layout, wanted] = _picker(tuple(unpack_value(layout)), features)
        row = unpack_value(body[end:])
        row.append(None)  # what a feature absent from the layout reads
        picked.append(picker(row))
    columns = zip(*picked, strict=True) if picked else ([] for _ in features)
    return ReadResult(
        found=[record is not None for record in records],
        event_timestamps=times,
        values={feature: list(column) for feature, column in zip(features, columns, strict=True)},
    )


#: (packed layout, requested features) -> picker; layouts change only with view versions, and
#: requests repeat, so serving rarely builds one
_PICKERS: dict[tuple[bytes, tuple[str, ...]], Callable[[list[Any]], tuple[Any, ...]]] = {}


def _picker(layout: tuple[str, ...], features: list[str]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """A function taking the requested features, in order, from a row of ``layout`` (+ None)."""
    position = {name: i for i, name in enumerate(layout)}
    indices = [position.get(feature, len(layout)) for feature in features]
    if len(indices) == 1:
        (index,) = indices
        return lambda row: (row[index],)
    if not indices:
        return lambda row: ()
    return operator.itemgetter(*indices)


def split_record(record: bytes) -> tuple[str, bytes]:
    """Split a stored ``header + body`` value (the Redis layout) into its two parts."""
    return record[:HEADER_LENGTH].decode("ascii"), record[HEADER_LENGTH:]
