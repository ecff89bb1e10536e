"""The serving log: a hash-sampled record of what was served, for the skew check.

A fraction (``skew_sample_rate``) of entity keys is sampled by a hash of the key, so a sampled
entity is followed across requests and time. Logging never slows or fails a request: entries go
to an in-process bounded queue; a background thread appends them to the online store's bounded
buffer (a Redis stream, a SQLite table) in batches. A full queue or buffer, or a failing store,
drops samples and counts them. ``flush`` moves the buffer into Parquet files of the offline store.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import operator
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from featurestore.online.encoding import make_packer, unpack_value

if TYPE_CHECKING:
    from featurestore.online import OnlineStore
    from featurestore.response import OnlineResponse

__all__ = ["LOG_SCHEMA", "ServingLogger", "decode_entries", "sampled"]

_SCALE = float(1 << 32)
#: queued samples that wake the shipping thread at once (otherwise it ships twice a second)
_WAKE_AT = 500
STATUS_CODES = ("PRESENT", "NOT_FOUND", "NULL_VALUE", "OUTSIDE_MAX_AGE")
_STATUS_CODE = {status: code for code, status in enumerate(STATUS_CODES)}

#: one row per served value of a sampled entity (long format: values are msgpack-encoded,
#: because one column holds every feature's type)
LOG_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "requested_at": pl.Datetime("us", "UTC"),
    "sample": pl.Int64(),
    "keys": pl.Binary(),
    "request_data": pl.Binary(),
    "view": pl.String(),
    "feature": pl.String(),
    "value": pl.Binary(),
    "status": pl.String(),
    "event_timestamp": pl.Datetime("us", "UTC"),
    "view_version": pl.Int64(),
    "requested": pl.Boolean(),
}


def sampled(keys: Sequence[Any], rate: float) -> bool:
    """Whether the entity with these join-key values is in the sample (stable across processes).

    CRC-32 of the keys' repr: not a cryptographic hash, but uniform enough to sample by, and it
    costs well under a microsecond on the serving path.
    """
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return _crc(tuple(keys)) < rate * _SCALE


def _crc(keys: tuple[Any, ...]) -> int:
    return zlib.crc32(repr(keys).encode())


#: entity keys -> sampled at the rate in use; serving asks about the same entities again and again
_SAMPLED: dict[tuple[Any, ...], bool] = {}
_SAMPLED_RATE: list[float] = [-1.0]


def _sampled_rows(rows: list[tuple[Any, ...]], rate: float) -> list[int]:
    """The positions of the rows whose entity keys are sampled at ``rate``.

    Looked up with ``map`` over a cache: a 100-entity request costs a few microseconds.
    """
    if rate != _SAMPLED_RATE[0] or len(_SAMPLED) > 1_000_000:
        _SAMPLED.clear()
        _SAMPLED_RATE[0] = rate
    hits = list(map(_SAMPLED.get, rows))
    if None in hits:
        for i, keys in enumerate(rows):
            if hits[i] is None:
                hits[i] = _SAMPLED[keys] = _crc(keys) < rate * _SCALE
    return [i for i, hit in enumerate(hits) if hit] if True in hits else []


def _micros(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _entries(response: OnlineResponse, versions: Mapping[str, int], rate: float) -> list[bytes]:
    """One msgpack entry per sampled entity row, packed in one call (values stay raw here: the
    per-value encoding happens when the buffer is flushed, off the serving path)."""
    keys_of = [response.values[k] for k in response.join_keys]
    rows = list(zip(*keys_of, strict=True))
    chosen = list(range(len(rows))) if rate >= 1.0 else _sampled_rows(rows, rate)
    if not chosen:
        return []
    requested = _micros(response.requested_at)
    shape = _shape(response, versions)
    inputs = response.inputs.values()
    value_lists = [*map(response.values.__getitem__, shape.names), *(c[0] for c in inputs)]
    status_lists = [*map(response.statuses.__getitem__, shape.names), *(c[1] for c in inputs)]
    stamp_lists: list[list[dt.datetime | None]] = [
        *map(response.event_timestamps.__getitem__, shape.names),
        *(c[2] for c in inputs),
    ]
    # the view version of each stored row that answered (None: not found, or not stored)
    nothing: list[int | None] = [None] * len(rows)
    version_lists = [response.view_versions.get(ref, nothing) for ref in shape.logged]
    # Columns are cut down to the chosen rows first (one C call each), then turned into rows;
    # statuses and event times are converted once per distinct list (the features of one view
    # share their event times, and all-present features one status list).
    pick = _picker(chosen)
    converted: dict[int, tuple[Any, ...]] = {}
    for key, column in dict(zip(map(id, status_lists), status_lists, strict=True)).items():
        converted[key] = tuple(map(_STATUS_CODE.__getitem__, pick(column)))
    for key, stamps in dict(zip(map(id, stamp_lists), stamp_lists, strict=True)).items():
        converted[key] = tuple(map(_micros, pick(stamps)))
    for key, versions_of in dict(zip(map(id, version_lists), version_lists, strict=True)).items():
        converted[key] = tuple(pick(versions_of))
    value_rows = status_rows = stamp_rows = version_rows = [()] * len(chosen)
    if value_lists:
        value_rows = list(zip(*map(pick, value_lists), strict=True))
        status_rows = list(zip(*map(converted.__getitem__, map(id, status_lists)), strict=True))
        stamp_rows = list(zip(*map(converted.__getitem__, map(id, stamp_lists)), strict=True))
        version_rows = list(zip(*map(converted.__getitem__, map(id, version_lists)), strict=True))
    packer = make_packer()
    out: list[bytes] = []
    for n, i in enumerate(chosen):
        entry = {
            "r": response.request_id,
            "t": requested,
            "k": dict(zip(response.join_keys, rows[i], strict=True)),
            "q": {f: v[i] for f, v in response.request_data.items()},
            "m": shape.meta,
            "v": value_rows[n],
            "s": status_rows[n],
            "e": stamp_rows[n],
            "w": version_rows[n],
        }
        out.append(packer.pack(entry))
    return out


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every sampled row of one request shape shares."""

    refs: list[tuple[str, str]]  # the response's refs (identity checked)
    versions: Mapping[str, int]  # the view versions served (identity checked)
    names: list[str]  # the requested features' output names
    logged: list[tuple[str, str]]  # (view, feature) of every logged column: refs, then inputs
    meta: bytes  # the packed [view, feature, version in force, requested] of every logged column


#: id(refs), id(versions), input refs -> shape; a resolved request hands out the same refs list
_SHAPES: dict[tuple[int, int, tuple[tuple[str, str], ...]], _Shape] = {}


def _shape(response: OnlineResponse, versions: Mapping[str, int]) -> _Shape:
    inputs = tuple(response.inputs)
    key = (id(response.refs), id(versions), inputs)
    shape = _SHAPES.get(key)
    if shape is not None and shape.refs is response.refs and shape.versions is versions:
        return shape
    columns = [(view, feature, 1) for view, feature in response.refs]
    columns += [(view, feature, 0) for view, feature in inputs]
    meta = make_packer().pack(
        [[view, feature, versions.get(view, 0), flag] for view, feature, flag in columns]
    )
    names = response.names[len(response.join_keys) :]
    shape = _Shape(response.refs, versions, names, [*response.refs, *inputs], meta)
    if len(_SHAPES) > 1024:
        _SHAPES.clear()
    _SHAPES[key] = shape
    return shape


def _picker(chosen: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function taking the ``chosen`` positions of a column, as a tuple."""
    if len(chosen) == 1:
        (index,) = chosen
        return lambda column: (column[index],)
    return operator.itemgetter(*chosen)


def decode_entries(entries: Sequence[bytes]) -> pl.DataFrame:
    """Buffered entries as rows of :data:`LOG_SCHEMA` (one row per served value)."""
    columns: dict[str, list[Any]] = {name: [] for name in LOG_SCHEMA}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    packer = make_packer()
    metas: dict[bytes, list[list[Any]]] = {}
    for raw in entries:
        entry = unpack_value(raw)
        sample = uuid.uuid4().int >> 65  # identifies one entity row of one request
        requested_at = epoch + dt.timedelta(microseconds=entry["t"])
        keys, request = packer.pack(entry["k"]), packer.pack(entry["q"])
        meta = metas.get(entry["m"])
        if meta is None:
            meta = metas[entry["m"]] = unpack_value(entry["m"])
        # the version of each stored row that answered; None (not found, computed on demand,
        # or an entry from before rows carried versions): the version in force
        served = entry.get("w") or [None] * len(meta)
        rows = zip(meta, entry["v"], entry["s"], entry["e"], served, strict=True)
        for (view, feature, in_force, flag), value, status, event, version in rows:
            columns["request_id"].append(entry["r"])
            columns["requested_at"].append(requested_at)
            columns["sample"].append(sample)
            columns["keys"].append(keys)
            columns["request_data"].append(request)
            columns["view"].append(view)
            columns["feature"].append(feature)
            columns["value"].append(packer.pack(value))
            columns["status"].append(STATUS_CODES[status])
            columns["event_timestamp"].append(
                None if event is None else epoch + dt.timedelta(microseconds=event)
            )
            columns["view_version"].append(in_force if version is None else version)
            columns["requested"].append(bool(flag))
    return pl.DataFrame(columns, schema=LOG_SCHEMA)


@dataclass
class LogCounters:
    """Samples logged into the buffer and samples dropped (queue full, buffer full, store down)."""

    logged: int = 0
    dropped: int = 0


class ServingLogger:
    """Samples served rows into a bounded queue; a daemon thread ships them to the online buffer.

    Args:
        online: returns the online store to append to (called on the shipping thread).
        rate: the fraction of entity keys to sample.
        maxlen: the online buffer's capacity.
        queue_size: the in-process queue's capacity.
        on_change: called with (logged, dropped) increments, e.g. to update Prometheus counters.
    """

    def __init__(
        self,
        online: Callable[[], OnlineStore],
        *,
        rate: float,
        maxlen: int,
        queue_size: int = 10_000,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        self.rate = rate
        self.maxlen = maxlen
        self.counters = LogCounters()
        self.on_change = on_change
        self._online = online
        # A deque: appending and popping are atomic and cost a C call, where queue.Queue takes
        # a Python-level lock each time (and the shipping thread pops up to a thousand at once).
        # Callers in several threads at once may overfill it by a request's worth of samples.
        self._queue: collections.deque[bytes] = collections.deque()
        self._queue_size = queue_size
        self._lock = threading.Lock()
        # held while entries are out of the queue and not yet in the buffer, so a flush that
        # ships first never misses samples the background thread is carrying
        self._shipping = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def _count(self, logged: int, dropped: int) -> None:
        with self._lock:
            self.counters.logged += logged
            self.counters.dropped += dropped
        if self.on_change is not None and (logged or dropped):
            with contextlib.suppress(Exception):  # a metrics hook must never break logging
                self.on_change(logged, dropped)

    def log(self, response: OnlineResponse, versions: Mapping[str, int]) -> None:
        """Sample ``response`` (never raises, never blocks)."""
        if self.rate <= 0.0 or self._stopped:
            return
        try:
            entries = _entries(response, versions, self.rate)
        except Exception:
            self._count(0, 1)
            return
        room = max(0, self._queue_size - len(self._queue))
        self._queue.extend(entries[:room])
        if len(entries) > room:
            self._count(0, len(entries) - room)
        if entries:
            self._ensure_thread()
            if len(self._queue) >= _WAKE_AT:
                self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="featurestore-serving-log", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            self.ship()

    def ship(self, batch: int = 1000) -> None:
        """Move queued samples to the online buffer now (what the thread does in the background)."""
        with self._shipping:
            self._ship(batch)

    def _ship(self, batch: int) -> None:
        while True:
            entries: list[bytes] = []
            pop = self._queue.popleft
            with contextlib.suppress(IndexError):
                while len(entries) < batch:
                    entries.append(pop())
            if not entries:
                return
            try:
                dropped = self._online().log_append(entries, maxlen=self.maxlen)
            except Exception:
                dropped = len(entries)
            self._count(len(entries) - dropped, dropped)

    def close(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
