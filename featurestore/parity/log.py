"""The serving log: a hash-sampled record of what was served, for the skew check.

A fraction (``skew_sample_rate``) of entity keys is sampled by a hash of the key, so a sampled
entity is followed across requests and time. Logging never slows or fails a request: entries go
to an in-process bounded queue; a background thread appends them to the online store's bounded
buffer (a Redis stream, a SQLite table) in batches. A full queue or buffer, or a failing store,
drops samples and counts them. A flush (``featurestore.parity.logstore``) moves the buffer into
Parquet files of the offline store, batch by claimed batch, losing and doubling nothing if killed.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import operator
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any, Protocol

import polars as pl

from featurestore.limits import EPOCH
from featurestore.online import LogBuffer
from featurestore.online.encoding import make_packer, unpack_value

__all__ = ["LOG_SCHEMA", "Served", "ServingLogger", "decode_entries", "sampled"]

_SCALE = float(1 << 32)
#: queued samples that wake the shipping thread at once (otherwise it ships twice a second)
_WAKE_AT = 500
STATUS_CODES = ("PRESENT", "NOT_FOUND", "NULL_VALUE", "OUTSIDE_MAX_AGE")
_STATUS_CODE = {status: code for code, status in enumerate(STATUS_CODES)}
_MICROSECOND = dt.timedelta(microseconds=1)

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
    # the rollout arm of the row's view: "current" | "candidate" (a canary), "shadow" (the
    # candidate computed beside the served answer, never served); null: no rollout
    "arm": pl.String(),
    # beside a "shadow" row: the value served to the same entity in the same request
    "served_value": pl.Binary(),
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


class Served(Protocol):
    """What the log reads of an online answer (``featurestore.serving.OnlineResponse``)."""

    @property
    def names(self) -> Sequence[str]: ...
    @property
    def join_keys(self) -> Sequence[str]: ...
    @property
    def values(self) -> Mapping[str, Sequence[Any]]: ...
    @property
    def statuses(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def event_timestamps(self) -> Mapping[str, Sequence[dt.datetime | None]]: ...
    @property
    def request_id(self) -> str: ...
    @property
    def requested_at(self) -> dt.datetime: ...
    @property
    def refs(self) -> Sequence[tuple[str, str]]: ...
    @property
    def inputs(
        self,
    ) -> Mapping[
        tuple[str, str], tuple[Sequence[Any], Sequence[str], Sequence[dt.datetime | None]]
    ]: ...
    @property
    def request_data(self) -> Mapping[str, Sequence[Any]]: ...
    @property
    def view_versions(self) -> Mapping[tuple[str, str], Sequence[int | None]]: ...
    @property
    def arms(self) -> Mapping[str, Sequence[str]]: ...


class _Samples:
    """Which entities are sampled at one rate: :func:`sampled` of each row, computed in C-level
    passes (about 30 µs for 100 entities in a warm loop; a third less with one integer key). A
    memo of every entity seen was quicker in a warm loop but not in the server, where 100
    lookups into a dict of 100,000 entities miss the cache (serving 100 entities at 32
    connections spent 6% of its CPU there, ``benchmarks/online_serving.py
    --compare-sample-rates``)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def rows(self, columns: Sequence[Sequence[Any]]) -> list[int]:
        """The positions of the rows whose entity keys (one column per join key) are sampled.

        A single integer key, the common case, is written ``b"(%d,)"`` (what ``repr`` of its
        one-tuple gives, as bytes) without building the tuples: a third less time for 100
        entities."""
        n = len(columns[0]) if columns else 0
        if self.rate >= 1.0:
            return list(range(n))
        if self.rate <= 0.0:
            return []
        if len(columns) == 1 and set(map(type, columns[0])) <= _INT:
            texts: Iterable[bytes] = map(_ONE_INT.__mod__, columns[0])
        else:
            texts = map(str.encode, map(repr, zip(*columns, strict=True)))
        crcs = map(zlib.crc32, texts)  # _crc of each row
        return list(compress(range(n), map((self.rate * _SCALE).__gt__, crcs)))


_INT = {int}  # exactly int: repr(True) is "True", where b"%d" % True gives b"1"
_ONE_INT = b"(%d,)"


def _micros(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (value - EPOCH) // _MICROSECOND


def _entries(
    response: Served,
    versions: Mapping[str, int],
    rate: float,
    *,
    samples: _Samples | None = None,
    shapes: dict[tuple[Any, ...], _Shape] | None = None,
    shadow: bool = False,
    served: Served | None = None,
) -> list[bytes]:
    """One msgpack entry per sampled entity row, packed in one call (values stay raw here: the
    per-value encoding happens when the buffer is flushed, off the serving path).

    ``samples`` and ``shapes`` are the logger's memos (fresh ones when not given). A
    ``shadow`` answer (a rollout's candidate, sampled already) is logged whole, every view's
    rows with arm ``"shadow"``, each beside the value ``served`` (the answer it rode on) gave
    the same entity (``response.shadow_rows`` are the entities' rows there).
    """
    keys_of = [response.values[k] for k in response.join_keys]
    chosen = (samples or _Samples(1.0 if shadow else rate)).rows(keys_of)
    if not chosen:
        return []
    requested = _micros(response.requested_at)
    shape = _shape(response, versions, {} if shapes is None else shapes)
    inputs = response.inputs.values()
    value_lists = [*map(response.values.__getitem__, shape.names), *(c[0] for c in inputs)]
    status_lists = [*map(response.statuses.__getitem__, shape.names), *(c[1] for c in inputs)]
    stamp_lists: list[Sequence[dt.datetime | None]] = [
        *map(response.event_timestamps.__getitem__, shape.names),
        *(c[2] for c in inputs),
    ]
    # the view version of each stored row that answered (None: not stored, the one in force)
    nothing: list[int | None] = [None] * len(keys_of[0])
    version_lists = list(map(response.view_versions.get, shape.logged, repeat(nothing)))
    # A request samples few of its rows (1% of entities by default): each chosen row is taken
    # across the columns by C-level maps, its statuses coded and its event times converted once
    # per distinct value (a row's features nearly all share one event time).
    code = _STATUS_CODE.__getitem__
    shadow_arms = dict.fromkeys((view for view, _ in response.refs), "shadow") if shadow else None
    beside = _served_beside(response, served, shape) if shadow and served is not None else None
    packer = make_packer()
    out: list[bytes] = []
    for i in chosen:
        get = operator.itemgetter(i)
        stamps = list(map(get, stamp_lists))
        micros = {stamp: _micros(stamp) for stamp in set(stamps)}
        entry = {
            "r": response.request_id,
            "t": requested,
            "k": dict(zip(response.join_keys, map(get, keys_of), strict=True)),
            "q": {f: v[i] for f, v in response.request_data.items()},
            "m": shape.meta,
            "v": tuple(map(get, value_lists)),
            "s": tuple(map(code, map(get, status_lists))),
            "e": tuple(map(micros.__getitem__, stamps)),
            "w": tuple(map(get, version_lists)),
        }
        if shadow_arms is not None:
            entry["a"] = shadow_arms
        elif response.arms:  # a canary: each view's arm for this row
            entry["a"] = {view: arm[i] for view, arm in response.arms.items()}
        if beside is not None:
            entry["b"] = beside[i]
        out.append(packer.pack(entry))
    return out


def _served_beside(response: Served, served: Served, shape: _Shape) -> list[tuple[Any, ...]]:
    """Per row of a shadow answer, the values ``served`` gave the same entity, aligned with
    the shape's logged columns (None where the served answer has no such column)."""
    columns: list[Sequence[Any] | None] = [served.values.get(name) for name in shape.names]
    columns += [
        served.inputs[ref][0] if ref in served.inputs else None
        for ref in shape.logged[len(shape.names) :]
    ]
    rows = getattr(response, "shadow_rows", None) or range(
        len(response.values[response.join_keys[0]])
    )
    return [tuple(None if c is None else c[row] for c in columns) for row in rows]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every sampled row of one request shape shares."""

    names: list[str]  # the requested features' output names
    logged: list[tuple[str, str]]  # (view, feature) of every logged column: refs, then inputs
    meta: bytes  # the packed [view, feature, version in force, requested] of every logged column


def _shape(
    response: Served, versions: Mapping[str, int], shapes: dict[tuple[Any, ...], _Shape]
) -> _Shape:
    """The shape of ``response``, from the memo when a request of the same shape, under the
    same versions in force, was sampled before (keyed by content: no identity outlives its
    request).

    The key is built by C-level calls (tuples of the answer's columns, the versions of its
    views looked up by ``map``); the per-column tuples are made only for a new shape."""
    names = tuple(response.names[len(response.join_keys) :])
    refs, inputs = tuple(response.refs), tuple(response.inputs)
    views = tuple(dict.fromkeys(map(operator.itemgetter(0), (*refs, *inputs))))
    key = (names, refs, inputs, tuple(map(versions.get, views, repeat(0))))
    shape = shapes.get(key)
    if shape is None:
        if len(shapes) > 1024:
            shapes.clear()
        columns = (
            *((view, feature, versions.get(view, 0), 1) for view, feature in refs),
            *((view, feature, versions.get(view, 0), 0) for view, feature in inputs),
        )
        shape = shapes[key] = _Shape(
            list(names),
            [(view, feature) for view, feature, _, _ in columns],
            make_packer().pack([list(column) for column in columns]),
        )
    return shape


def decode_entries(entries: Sequence[bytes]) -> pl.DataFrame:
    """Buffered entries as rows of :data:`LOG_SCHEMA` (one row per served value)."""
    columns: dict[str, list[Any]] = {name: [] for name in LOG_SCHEMA}
    packer = make_packer()
    metas: dict[bytes, list[list[Any]]] = {}
    for raw in entries:
        entry = unpack_value(raw)
        sample = uuid.uuid4().int >> 65  # identifies one entity row of one request
        requested_at = EPOCH + dt.timedelta(microseconds=entry["t"])
        keys, request = packer.pack(entry["k"]), packer.pack(entry["q"])
        meta = metas.get(entry["m"])
        if meta is None:
            meta = metas[entry["m"]] = unpack_value(entry["m"])
        # the version of each stored row that answered; None (not found, computed on demand,
        # or an entry from before rows carried versions): the version in force
        served = entry.get("w") or [None] * len(meta)
        arms = entry.get("a") or {}
        beside = entry.get("b")
        rows = zip(meta, entry["v"], entry["s"], entry["e"], served, strict=True)
        for n, ((view, feature, in_force, flag), value, status, event, version) in enumerate(rows):
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
                None if event is None else EPOCH + dt.timedelta(microseconds=event)
            )
            columns["view_version"].append(in_force if version is None else version)
            columns["requested"].append(bool(flag))
            columns["arm"].append(arms.get(view))
            columns["served_value"].append(None if beside is None else packer.pack(beside[n]))
    return pl.DataFrame(columns, schema=LOG_SCHEMA)


@dataclass
class LogCounters:
    """Samples logged into the buffer and samples dropped (queue full, buffer full, store down)."""

    logged: int = 0
    dropped: int = 0


class ServingLogger:
    """Samples served rows into a bounded queue; a daemon thread ships them to the online buffer.

    Args:
        online: returns the serving-log buffer to append to (called on the shipping thread).
        rate: the fraction of entity keys to sample.
        maxlen: the online buffer's capacity.
        queue_size: the in-process queue's capacity.
        on_change: called with (logged, dropped) increments, e.g. to update Prometheus counters.
    """

    def __init__(
        self,
        online: Callable[[], LogBuffer],
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
        self._samples = _Samples(rate)  # the memos of what is sampled and of request shapes
        self._shapes: dict[tuple[Any, ...], _Shape] = {}
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

    def log(
        self,
        response: Served,
        versions: Mapping[str, int],
        *,
        shadow: bool = False,
        served: Served | None = None,
    ) -> None:
        """Sample ``response`` (never raises, never blocks); ``versions`` are the view versions
        in force, logged where no stored row answered. A ``shadow`` answer (a rollout's
        candidate for entities its shadow sampled) is logged whole, whatever the rate, beside
        the values the answer it rode on (``served``) gave."""
        if (self.rate <= 0.0 and not shadow) or self._stopped:
            return
        try:
            entries = _entries(
                response,
                versions,
                self.rate,
                samples=None if shadow else self._samples,
                shapes=self._shapes,
                shadow=shadow,
                served=served,
            )
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
