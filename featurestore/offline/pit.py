"""Point-in-time joins: which feature row a training example (or a materialization) may see.

The rule (DESIGN §7, §12). For a spine row with entity keys ``k`` and time ``t`` a feature row
of ``k`` is *eligible* when ``event_timestamp <= t`` and, in ``"known"`` mode,
``created_timestamp <= t`` (a null ``created_timestamp`` counts as known at its event time).
Among the eligible rows the *winner* is the greatest by ``(event_timestamp, created_timestamp,
seq)``, a null created time standing for the event time; rows tied on all three go to the one
that comes later in ``rows`` (a null ``seq`` sorts first, as if ingested earliest). The ttl bound
``t - ttl <= event_timestamp`` is then applied to the winner: it has the greatest event time
among the eligible rows, so when it is outside the ttl every eligible row is.

How it is computed without a row-by-row scan. Each row becomes visible at its *known-at* time
``ka = max(event, coalesce(created, event))`` (``ka = event`` in ``"event"`` mode). Rank the rows by
the tie rule, sort them by ``(keys, ka)``, and a running maximum of the rank is the winner among the
rows visible so far; one backward ``join_asof`` of the spine on ``ka`` then reads it off. Both sorts
order entities the same way, so ranks of a later entity exceed every rank of an earlier one and a
plain cumulative maximum never leaks across entities. When no row is known later than its event
time the rank order is already sorted by ``ka`` and the second sort is skipped. With one integer
key the three sorts and the join run on packed int64 keys (:func:`packed_winners`).

Timestamps are compared as UTC microseconds: naive datetimes are taken as UTC, other zones are
converted, other units are cast to microseconds, a ``Date`` spine means midnight UTC. Feature rows
with a null key or event time never match; neither do spine rows with a null key or time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl

from featurestore.errors import RequestError

__all__ = ["PointInTime", "latest_rows", "point_in_time_join"]

PointInTime = Literal["known", "event"]

EVENT = "event_timestamp"
CREATED = "created_timestamp"
SEQ = "seq"
TS_DTYPE = pl.Datetime("us", "UTC")

# Internal column names; the prefix keeps them clear of user feature names.
SIDX, T = "__fs_sidx", "__fs_t"
RIDX, EV, EC, KA, SQ = "__fs_ridx", "__fs_ev", "__fs_ec", "__fs_ka", "__fs_seq"
RANK, BEST = "__fs_rank", "__fs_best"

_MAX_MICROS = 2**62  # durations past this are "unbounded"; keeps t - d and t + d inside Int64


@dataclass(frozen=True)
class RowTable:
    """Feature rows prepared for point-in-time lookups.

    Attributes:
        frame: the collected rows: cast join keys, ``EV``/``EC``/``KA``/``SQ``/``RIDX`` and the
            value columns, in input order (``RIDX`` is the position in this frame).
        keys: the join key column names.
        late: whether some row becomes known after its event time (forces the running-max pass).
    """

    frame: pl.DataFrame
    keys: tuple[str, ...]
    late: bool

    def valid(self) -> pl.DataFrame:
        """The rows that can ever match: non-null keys and event time."""
        return self.frame.filter(pl.all_horizontal(pl.col(*self.keys, EV).is_not_null()))


def check_mode(point_in_time: str) -> None:
    """Refuse anything but the two point-in-time modes."""
    if point_in_time not in ("known", "event"):
        raise RequestError(f"point_in_time must be 'known' or 'event', not {point_in_time!r}.")


def check_keys(join_keys: Sequence[str]) -> tuple[str, ...]:
    """The join keys as a tuple; at least one, no duplicates."""
    if isinstance(join_keys, str):
        join_keys = [join_keys]
    keys = tuple(join_keys)
    if not keys or len(set(keys)) != len(keys):
        raise RequestError(f"join_keys must name at least one column, each once; got {keys!r}.")
    return keys


def duration_micros(value: timedelta | None, what: str) -> int | None:
    """A non-negative duration in microseconds, None (or huge) meaning unbounded."""
    if value is None:
        return None
    if value < timedelta(0):
        raise RequestError(f"{what} must not be negative, got {value}.")
    micros = value // timedelta(microseconds=1)
    return None if micros >= _MAX_MICROS else micros


def utc_literal(value: datetime, what: str) -> pl.Expr:
    """A Python datetime as a UTC microsecond literal (naive means UTC)."""
    if not isinstance(value, datetime):
        raise RequestError(f"{what} must be a datetime, not {type(value).__name__}.")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return pl.lit(value, dtype=TS_DTYPE)


def _as_utc_us(name: str, dtype: pl.DataType, where: str) -> pl.Expr:
    expr = pl.col(name)
    if isinstance(dtype, pl.Date):
        return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Null):
        return expr.cast(TS_DTYPE)
    if not isinstance(dtype, pl.Datetime):
        raise RequestError(f"column {name!r} of the {where} must be a datetime, not {dtype}.")
    if dtype.time_unit != "us":
        expr = expr.dt.cast_time_unit("us")
    if dtype.time_zone is None:
        return expr.dt.replace_time_zone("UTC")
    return expr if dtype.time_zone == "UTC" else expr.dt.convert_time_zone("UTC")


def _common_key_dtype(name: str, left: pl.DataType, right: pl.DataType) -> pl.DataType:
    text = (pl.String, pl.Categorical, pl.Enum)
    if isinstance(left, pl.Null):
        return right
    if isinstance(right, pl.Null):
        return left
    if left == right and not isinstance(left, text):
        return left
    if left.is_integer() and right.is_integer():
        return pl.Int64()
    if isinstance(left, text) and isinstance(right, text):
        return pl.String()
    raise RequestError(
        f"join key {name!r} is {left} in the spine but {right} in the feature rows; "
        "cast one side so that both are integers or both are strings."
    )


def _require(schema: Mapping[str, pl.DataType], columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in schema]
    if missing:
        raise RequestError(
            f"column {missing[0]!r} is missing from the {where}, which has {list(schema)}."
        )


def key_dtypes(
    spine_schema: Mapping[str, pl.DataType] | None,
    rows_schema: Mapping[str, pl.DataType],
    keys: Sequence[str],
) -> dict[str, pl.DataType]:
    """The dtype each join key is compared in (a common type of both sides)."""
    _require(rows_schema, keys, "feature rows")
    if spine_schema is None:
        return {k: rows_schema[k] for k in keys}
    _require(spine_schema, [*keys, EVENT], "spine")
    return {k: _common_key_dtype(k, spine_schema[k], rows_schema[k]) for k in keys}


def prepare_rows(
    rows: pl.LazyFrame | pl.DataFrame,
    keys: Sequence[str],
    values: Sequence[str],
    point_in_time: PointInTime,
    spine_schema: Mapping[str, pl.DataType] | None = None,
) -> RowTable:
    """Collect the columns a lookup needs from one view's rows and derive its times.

    Args:
        rows: the view's offline rows (join keys, ``event_timestamp``, optional
            ``created_timestamp`` and ``seq``, value columns).
        keys: the join key columns.
        values: the value columns to carry (unchanged dtypes).
        point_in_time: ``"known"`` or ``"event"``.
        spine_schema: the spine's schema, to compare keys in a common dtype.

    Returns:
        The prepared table.
    """
    lazy = rows.lazy()
    schema = lazy.collect_schema()
    _require(schema, [*keys, EVENT, *values], "feature rows")
    dtypes = key_dtypes(spine_schema, schema, keys)
    event = _as_utc_us(EVENT, schema[EVENT], "feature rows")
    if CREATED in schema:
        created = _as_utc_us(CREATED, schema[CREATED], "feature rows")
    else:
        created = pl.lit(None, dtype=TS_DTYPE)
    seq = pl.col(SEQ).cast(pl.Int64) if SEQ in schema else pl.lit(None, dtype=pl.Int64)
    frame = lazy.select(
        *(pl.col(k).cast(dtypes[k]) for k in keys),
        event.alias(EV),
        pl.coalesce(created, event).alias(EC),
        seq.alias(SQ),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(RIDX),
        *(pl.col(v) for v in dict.fromkeys(values) if v not in keys),
    ).collect(engine="in-memory")
    # The winners are gathered at random positions, several times slower across chunks than
    # from one. The in-memory engine reads a file into one chunk per column; the streaming
    # engine's morsels would need a copy into one (a third more fresh pages per bucket, which
    # showed as system time in the 10x benchmark). Several batches still read as several.
    frame = frame.rechunk()
    known = pl.max_horizontal(EV, EC) if point_in_time == "known" else pl.col(EV)
    frame = frame.with_columns(known.alias(KA))
    late = bool(frame.select((pl.col(KA) > pl.col(EV)).any()).item())
    return RowTable(frame=frame, keys=tuple(keys), late=late)


def probe_rows(spine: pl.DataFrame, dtypes: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The spine rows that can match: ``SIDX`` (input position), cast keys and ``T``."""
    keys = list(dtypes)
    _require(spine.schema, [*keys, EVENT], "spine")
    probe = spine.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(SIDX),
        *(pl.col(k).cast(dtypes[k]) for k in keys),
        _as_utc_us(EVENT, spine.schema[EVENT], "spine").alias(T),
    )
    return probe.filter(pl.all_horizontal(pl.col(*keys, T).is_not_null()))


def prepare_spine(spine: pl.DataFrame, dtypes: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """:func:`probe_rows`, sorted by entity, then time: join_asof needs time order within each
    entity, and grouped entities make its per-group search markedly faster than a global time
    order."""
    return probe_rows(spine, dtypes).sort([*dtypes, T])


def tie_order(keys: Sequence[str]) -> list[str]:
    """Sort columns putting each entity's rows in tie-rule order (sort stably: position last)."""
    return [*keys, EV, EC, SQ]


def winners(probe: pl.DataFrame, table: RowTable) -> pl.DataFrame:
    """The winning row for every probe row, ignoring any ttl or window bound.

    Args:
        probe: a frame from :func:`prepare_spine` (time-sorted within each entity).
        table: the prepared rows.

    Returns:
        ``probe`` plus ``RIDX`` (the winner's position in ``table.frame``, null if none) and
        ``EV`` (its event time), in the probe's order.
    """
    keys = list(table.keys)
    ranked = (
        table.valid()
        .select(*keys, EV, EC, SQ, RIDX, KA)
        .sort(tie_order(keys), maintain_order=True)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(RANK))
    )
    if table.late:
        # Keys first in both sorts, so a global running max never crosses an entity boundary.
        lookup = ranked.select(*keys, KA, RANK).sort([*keys, KA], maintain_order=True)
        lookup = lookup.with_columns(pl.col(RANK).cum_max().alias(BEST))
    else:
        lookup = ranked.select(*keys, KA, pl.col(RANK).alias(BEST))
    joined = probe.join_asof(
        lookup.select(*keys, KA, BEST),
        left_on=T,
        right_on=KA,
        by=keys,
        strategy="backward",
        check_sortedness=False,
    )
    best = joined.get_column(BEST)
    return joined.drop(KA, BEST).with_columns(
        ranked.get_column(RIDX).gather(best).alias(RIDX),
        ranked.get_column(EV).gather(best).alias(EV),
    )


_INT64_SPAN = 2**63  # packed values lie in [0, key span * width), which must stay inside int64
_PACKABLE = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _int64(series: pl.Series) -> np.ndarray:
    values: np.ndarray = series.to_physical().cast(pl.Int64).to_numpy()
    return values


def _argsort(values: np.ndarray) -> np.ndarray:
    """Positions that sort ``values`` (int64; any order among equal values).

    Rows read from storage are often ordered by entity already (a batch as its source wrote
    it) and random in time within one; NumPy's stable sort (timsort) then merges presorted runs
    four times faster than any other sort here. On data in any other order it is three times
    slower than Polars' ``arg_sort``. Every 64th value says which case this is.
    """
    sample = values[::64]
    if np.count_nonzero(sample[1:] < sample[:-1]) * 100 < len(sample):
        return np.argsort(values, kind="stable")
    order: np.ndarray = pl.Series(values).arg_sort().to_numpy()
    return order


def packed_winners(
    probe: pl.DataFrame, table: RowTable, dtypes: Mapping[str, pl.DataType]
) -> pl.DataFrame | None:
    """What ``winners(probe.sort([*dtypes, T]), table)`` gives, on packed sort keys; None when
    they do not apply (several keys, a key that is not an integer, ranges too wide for int64,
    no rows or no spine rows). ``probe`` is :func:`probe_rows` of the spine, which the caller
    sorts for :func:`winners` when this gives up.

    :func:`winners` sorts with Polars on several columns three times (rows in tie order, rows by
    known-at time, the spine) and joins with ``join_asof``, which hashes the keys. With one
    integer key and every ``(key, time)`` packed into one int64 as ``(key - lowest key) * width
    + (time - earliest time)``, each sort is a one-column sort (:func:`_argsort`) and the join a
    ``searchsorted`` in one sorted array: about three times less work. The packed tie sort
    orders by ``(key, event)`` only, so when two rows of an entity share an event time the tie
    order comes from Polars' sort as in :func:`winners`; the other steps do not depend on how
    ties are ordered (rows with equal ``(key, known-at)`` all count once the last is visible).

    Returns:
        ``SIDX``, the key, ``T``, ``RIDX`` and ``EV`` of every spine row with a key and a
        time, in the spine's order (the winner's columns are null where no row is visible).
    """
    if len(table.keys) != 1 or not isinstance(dtypes[table.keys[0]], _PACKABLE):
        return None
    key = table.keys[0]
    valid = table.valid()
    if probe.height == 0 or valid.height == 0:
        return None
    row_key, event, known = (_int64(valid.get_column(c)) for c in (key, EV, KA))
    spine_key, spine_t = _int64(probe.get_column(key)), _int64(probe.get_column(T))
    low_key = int(min(row_key.min(), spine_key.min()))
    key_span = int(max(row_key.max(), spine_key.max())) - low_key + 1
    low_t = int(min(event.min(), spine_t.min()))  # known-at times are never before events
    width = int(max(known.max(), spine_t.max())) - low_t + 1
    if key_span * width > _INT64_SPAN:
        return None
    base = (row_key - low_key) * width
    by_event = base + (event - low_t)
    order = _argsort(by_event)
    ordered = by_event[order]
    # No tie on (key, event): any sort is the tie order. A tie: Polars' sort on every column.
    if bool((ordered[1:] == ordered[:-1]).any()):
        tied = valid.select(pl.arg_sort_by(tie_order(list(table.keys)), maintain_order=True))
        order = tied.to_series().to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    by_known = base + (known - low_t)
    visible = _argsort(by_known)
    lookup = by_known[visible]
    best = np.maximum.accumulate(rank[visible])  # ranks grow with the key: no leak across keys
    spine_base = (spine_key - low_key) * width
    asked = spine_base + (spine_t - low_t)
    spine_order = _argsort(asked)
    at = np.searchsorted(lookup, asked[spine_order], side="right") - 1
    found = at >= 0
    at = np.where(found, at, 0)
    found &= lookup[at] >= spine_base[spine_order]  # the entry is of the spine row's entity
    # The winners' columns are read in key order (nearly sequential) and put back in the spine's
    # order by one scatter each, rather than reordering the probe's columns to key order.
    winner = order[best[at]]
    columns = {}
    for name in (RIDX, EV):
        values = np.empty(len(winner), dtype=np.int64)
        values[spine_order] = _int64(valid.get_column(name))[winner]
        columns[name] = pl.Series(name, values).cast(valid.schema[name])
    hit = np.empty(len(found), dtype=bool)
    hit[spine_order] = found
    return probe.with_columns(
        pl.when(pl.Series(hit)).then(column).alias(name) for name, column in columns.items()
    )


def to_spine_order(n: int, sidx: pl.Series, values: pl.Series) -> pl.Series:
    """Scatter per-probe ``values`` back to ``n`` spine positions (null where none); ``values``
    themselves when they already hold every spine row in order."""
    if len(sidx) == n and sidx.is_sorted():  # positions are distinct: 0..n-1 in order
        return values
    out = pl.Series(values.name, [], dtype=values.dtype).extend_constant(None, n)
    return out.scatter(sidx, values) if len(sidx) else out


def check_spine(spine: object) -> pl.DataFrame:
    """The spine as an eager frame (a LazyFrame is collected); anything else is refused."""
    if isinstance(spine, pl.LazyFrame):
        return spine.collect()
    if not isinstance(spine, pl.DataFrame):
        raise RequestError(
            f"the spine must be a polars DataFrame, not {type(spine).__name__}; "
            "convert it first (for pandas: polars.from_pandas)."
        )
    return spine


def _output_names(
    spine: pl.DataFrame, features: Sequence[str], rename: Mapping[str, str] | None
) -> list[str]:
    rename = dict(rename or {})
    unknown = [name for name in rename if name not in features]
    if unknown:
        raise RequestError(f"rename names {unknown[0]!r}, which is not one of the features.")
    names = [rename.get(f, f) for f in features]
    for name in names:
        if name in spine.columns:
            raise RequestError(f"feature column {name!r} already exists in the spine; rename it.")
    if len(set(names)) != len(names):
        raise RequestError(f"the feature columns {names} are not unique; rename them.")
    return names


def point_in_time_join(
    spine: pl.DataFrame,
    rows: pl.LazyFrame | pl.DataFrame,
    *,
    join_keys: Sequence[str],
    features: Sequence[str],
    ttl: timedelta | None,
    point_in_time: PointInTime = "known",
    rename: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Attach to every spine row the feature values of the row it may see (see module doc).

    Args:
        spine: join keys, ``event_timestamp`` and any extra columns (labels).
        rows: one view's offline rows: join keys, ``event_timestamp``, ``created_timestamp``
            (may be null or absent), ``seq`` (larger = ingested later) and the features.
        join_keys: the entity key columns (int or string; several for multi-key entities).
        features: the feature columns to bring over.
        ttl: the oldest a row may be, inclusive (``t - ttl <= event_timestamp``); None = no bound.
        point_in_time: ``"known"`` also requires ``created_timestamp <= t``; ``"event"`` does not.
        rename: output names for some features.

    Returns:
        The spine, every row once in input order with its columns untouched, plus one column per
        feature (null where no row matches; spine rows with a null key or time never match).

    Raises:
        RequestError: a missing column, incompatible key dtypes, a name clash or a bad argument.
    """
    check_mode(point_in_time)
    spine = check_spine(spine)
    keys = check_keys(join_keys)
    features = list(features)
    ttl_us = duration_micros(ttl, "ttl")
    names = _output_names(spine, features, rename)
    table = prepare_rows(rows, keys, features, point_in_time, spine.schema)
    dtypes = key_dtypes(spine.schema, table.frame.schema, keys)
    probe = probe_rows(spine, dtypes)
    found = packed_winners(probe, table, dtypes)
    if found is None:  # the probe is sorted only now: the packed join sorts its own way
        found = winners(probe.sort([*dtypes, T]), table)
    ridx = found.get_column(RIDX)
    if ttl_us is not None:
        age = pl.col(T).dt.epoch("us") - pl.col(EV).dt.epoch("us")
        ridx = found.select(pl.when(age <= ttl_us).then(pl.col(RIDX))).to_series()
    index = to_spine_order(spine.height, found.get_column(SIDX), ridx)
    values = table.frame.select(pl.col(features).gather(index))
    return spine.hstack(values.rename(dict(zip(features, names, strict=True))).get_columns())


def latest_rows(
    rows: pl.LazyFrame | pl.DataFrame,
    *,
    join_keys: Sequence[str],
    as_of: datetime,
    since: datetime | None = None,
    point_in_time: PointInTime = "known",
) -> pl.DataFrame:
    """The winning row per entity as of one time, by the training-frame rule without ttl.

    Args:
        rows: one view's offline rows (as for :func:`point_in_time_join`).
        join_keys: the entity key columns.
        as_of: the time to look from (naive means UTC).
        since: if given, only entities whose winner became known after ``since`` (in ``"event"``
            mode: whose winner's event time is after ``since``), i.e. whose value changed since
            that watermark.
        point_in_time: ``"known"`` or ``"event"``, as for training frames.

    Returns:
        The winning rows, all of ``rows``' columns unchanged, one per entity, sorted by keys.
    """
    check_mode(point_in_time)
    keys = check_keys(join_keys)
    frame = rows.lazy().collect()
    table = prepare_rows(frame, keys, [], point_in_time)
    visible = table.valid().filter(pl.col(KA) <= utc_literal(as_of, "as_of"))
    best = (
        visible.sort(tie_order(keys), maintain_order=True)
        .group_by(list(keys), maintain_order=True)
        .agg(pl.col(RIDX).last(), pl.col(KA).last())
    )
    if since is not None:
        best = best.filter(pl.col(KA) > utc_literal(since, "since"))
    return frame.select(pl.all().gather(best.get_column(RIDX)))
