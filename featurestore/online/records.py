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
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any, cast

import polars as pl

from featurestore.errors import RequestError
from featurestore.limits import EPOCH
from featurestore.online.base import META_COLUMNS, Column, ReadRequest, ReadResult
from featurestore.online.encoding import make_packer, unpack_rows, unpack_value

__all__ = [
    "HEADER_LENGTH",
    "EncodedRows",
    "Selection",
    "decode_records",
    "encode_rows",
    "header_event_time",
]

HEADER_LENGTH = 65
_STAMP = 32  # the version and event-time part of a header, which the rows of a batch share
_SHIFT = 1 << 63
_NULL_CREATED = "0" * 17
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
    return EPOCH + timedelta(microseconds=int(header[16:_STAMP], 16) - _SHIFT)


def header_view_version(header: str | bytes) -> int:
    """The view version encoded in a record header."""
    return int(header[:16], 16) - _SHIFT


class Selection(tuple[str, ...]):
    """Requested feature names that remember how to pick them from each stored layout.

    A plain list of names works as ``ReadRequest.features`` too; serving hands the same
    selection to every read of one request shape, so each layout (and each record stamp) is
    decoded once for it. It is a tuple: what it selects never changes.
    """

    def __new__(cls, features: Iterable[str]) -> Selection:
        selection = super().__new__(cls, features)
        selection._picks = {}
        selection._stamps = {}
        return selection

    _picks: dict[bytes, _Pick]  # packed layout -> how to take these features from its rows
    _stamps: dict[bytes, tuple[int, datetime]]  # header stamp -> (view version, event time)

    def pick(self, layout: bytes) -> _Pick:
        """How to take these features from the transposed rows of one packed layout."""
        pick = self._picks.get(layout)
        if pick is None:
            if len(self._picks) > 64:  # layouts change only with view versions
                self._picks.clear()
            pick = self._picks[layout] = _make_pick(layout, self)
        return pick

    def stamp(self, key: bytes) -> tuple[int, datetime]:
        """The view version and event time of a record's stamp (its first 32 characters)."""
        stamp = self._stamps.get(key)
        if stamp is None:
            if len(self._stamps) > 10_000:
                self._stamps.clear()
            stamp = self._stamps[key] = (header_view_version(key), header_event_time(key))
        return stamp


def decode_records(request: ReadRequest, records: Sequence[bytes | None]) -> ReadResult:
    """Turn the stored ``header + body`` of each requested entity (None: absent) into a result.

    The rows of one read almost always share one layout (the view's feature list when they were
    written): each row's layout is compared with the first one's in place, the rows are
    transposed at once and the requested columns picked by a getter made once per layout and
    selection. Picking from each row instead costs far more once a request holds many
    entities.
    """
    selection = request.features
    if not isinstance(selection, Selection):
        selection = Selection(selection)
    uniform = _uniform(selection, records)
    if uniform is not None:
        return uniform
    times: list[datetime | None] = []
    versions: list[int | None] = []
    rows: list[list[Any] | None] = []
    # The rows of a batch share their layout, and often their version and event time: a row
    # that starts like the first one takes the shortcut (no slicing, no struct, no hashing).
    prefix, prefix_end, mixed = b"", 0, False
    stamp_key, event, version = b"-", None, None
    unpack, names_length, stamp_of = unpack_rows, _NAMES_LENGTH.unpack_from, selection.stamp
    for record in records:
        if record is None:
            times.append(None)
            versions.append(None)
            rows.append(None)
            continue
        if not record.startswith(stamp_key):
            stamp_key = record[:_STAMP]
            version, event = stamp_of(stamp_key)
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
    found = Column([row is not None for row in rows])
    stamps, row_versions = Column(times), Column(versions)
    if not prefix or mixed:  # nothing found, or rows written under several view versions
        values = _pick_rows(selection, records, rows)
        return ReadResult(found, stamps, values, nulls=True, view_versions=row_versions)
    pick = selection.pick(prefix[_NAMES_LENGTH.size :])
    if None in rows:
        empty = [None] * pick.width
        rows = [empty if row is None else row for row in rows]
    values, nulls = _columns(pick, cast(list[list[Any]], rows))  # no None left
    return ReadResult(found, stamps, values, nulls=nulls, view_versions=row_versions)


def _uniform(selection: Selection, records: Sequence[bytes | None]) -> ReadResult | None:
    """:func:`decode_records` for the usual batch, in C-level passes: every entity found, all
    rows of one stamp (view version and event time) and one layout. None for any other batch
    (the row-by-row loop sorts it out)."""
    if not records or None in records:
        return None
    first = records[0]
    if type(first) is not bytes:
        return None
    end = _BODY + _NAMES_LENGTH.unpack_from(first, HEADER_LENGTH)[0]
    stamp_key, layout = first[:_STAMP], first[HEADER_LENGTH:end]
    found = cast(Sequence[bytes], records)
    n = len(found)
    if not (
        all(map(bytes.startswith, found, repeat(stamp_key)))
        and all(map(bytes.startswith, found, repeat(layout), repeat(HEADER_LENGTH)))
    ):
        return None
    version, event = selection.stamp(stamp_key)
    # The bodies joined under one msgpack array header decode in one call: msgpack sets up
    # its unpacker per call, which cost more than decoding a row of 50 floats.
    bodies = b"".join(map(operator.itemgetter(slice(end, None)), found))
    rows = unpack_rows(b"\xdd" + n.to_bytes(4, "big") + bodies)  # array32 of n rows
    values, nulls = _columns(selection.pick(layout[_NAMES_LENGTH.size :]), rows)
    return ReadResult(
        Column([True] * n),
        Column([event] * n),
        values,
        nulls=nulls,
        view_versions=Column([version] * n),
    )


def _columns(pick: _Pick, rows: list[list[Any]]) -> tuple[dict[str, Sequence[Any]], bool]:
    """The requested columns of rows of one layout (transposed at once), and whether any of
    them may hold a None."""
    columns = pick.getter([*map(Column, zip(*rows, strict=True)), Column([None] * len(rows))])
    values: dict[str, Sequence[Any]] = dict(zip(pick.features, columns, strict=True))
    # Look for nulls along the shorter side: one call per row, or one per column.
    nulls = not pick.complete or (
        any(map(has_null, rows)) if len(rows) <= len(pick.features) else any(map(has_null, columns))
    )
    return values, nulls


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
    getter: Callable[[list[Column[Any]]], Sequence[Column[Any]]]  # columns (+ null) -> picked
    width: int  # the number of features in the layout
    complete: bool  # whether the layout holds every requested feature (else they read None)
    positions: dict[str, int]  # feature name -> position in the layout


def _make_pick(layout: bytes, wanted: Sequence[str]) -> _Pick:
    names = tuple(unpack_value(layout))
    features = list(dict.fromkeys(wanted))
    position = {name: i for i, name in enumerate(names)}
    indices = [position.get(feature, len(names)) for feature in features]  # absent: the null one
    getter: Callable[[list[Column[Any]]], Sequence[Column[Any]]]
    if len(indices) == 1:
        index = indices[0]
        getter = lambda columns: (columns[index],)  # noqa: E731
    elif indices:
        getter = operator.itemgetter(*indices)
    else:
        getter = lambda columns: ()  # noqa: E731
    return _Pick(features, getter, len(names), all(f in position for f in features), position)


def _pick_rows(
    selection: Selection, records: Sequence[bytes | None], rows: list[list[Any] | None]
) -> dict[str, Sequence[Any]]:
    """Rows of several layouts (or none) -> the requested feature columns, row by row."""
    columns: dict[str, list[Any]] = {feature: [] for feature in dict.fromkeys(selection)}
    for record, row in zip(records, rows, strict=True):
        if record is None or row is None:
            for column in columns.values():
                column.append(None)
            continue
        end = _BODY + _NAMES_LENGTH.unpack_from(record, HEADER_LENGTH)[0]
        position = selection.pick(record[_BODY:end]).positions
        for feature, column in columns.items():
            index = position.get(feature)
            column.append(None if index is None else row[index])
    return {feature: Column(column) for feature, column in columns.items()}
