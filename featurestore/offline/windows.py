"""Windowed aggregates over a view's offline rows, exact at every requested time (DESIGN §3.2, §12).

The value of ``WindowSpec(name, input, fn, window)`` for an entity at time ``t`` aggregates the
entity's rows with ``t - window < event_timestamp <= t`` that are known at ``t``
(``created_timestamp <= t``, a null created time meaning known at the event time; ``"event"`` mode
drops that condition). Null join keys never match; a spine row without a match has an empty window.

Semantics, matching Polars' own aggregations:

- ``count``: non-null inputs (NaN counts), Int64; 0 for an empty window.
- ``sum``: null inputs skipped, any NaN gives NaN; Int64 for integer and boolean inputs, the input
  float dtype otherwise; 0 for an empty window.
- ``mean``, ``std`` (sample, ddof=1): null inputs skipped, any NaN gives NaN; Float64 (Float32 for
  Float32 inputs); null for an empty window, and ``std`` is null under two non-null inputs.
- ``min``, ``max``: null inputs skipped and NaN ignored unless every non-null input is NaN (then
  NaN); input dtype; null for an empty window.
- ``last``: the input of the row that wins the training-frame tie rule inside the window (greatest
  event time, then created time, then ``seq``, then position), null included; input dtype.

How. ``count`` is a sweep: a row counts on ``[known_at, event + window)``, so +1/-1 events sorted
by time and one cumulative sum, read with a backward ``join_asof``, give it for any time. ``last``
reuses the point-in-time winner: the best row known at ``t`` is the last in the window when its
event time is inside it. ``sum``, ``mean``, ``std``, ``min`` and ``max`` are computed by Polars
over the exact window contents: two ``join_asof`` lookups give each spine row the range of its
entity's rows by event time, the ranges are expanded, rows not yet known are dropped, and a
``group_by`` aggregates. Cumulative sums would be faster but lose precision (``std`` of equal values
must be exactly 0), so these cost time in proportion to the total window contents; the expansion
runs in chunks of at most ``PAIR_BUDGET`` rows so memory stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

import polars as pl

from featurestore.errors import DefinitionError, RequestError
from featurestore.offline.pit import (
    EV,
    EVENT,
    KA,
    RIDX,
    SIDX,
    PointInTime,
    RowTable,
    T,
    check_keys,
    check_mode,
    check_spine,
    key_dtypes,
    prepare_rows,
    prepare_spine,
    to_spine_order,
    utc_literal,
    winners,
)

__all__ = ["AggFn", "WindowSpec", "window_aggregates", "window_values_at"]

AggFn = Literal["count", "sum", "mean", "min", "max", "std", "last"]

PAIR_BUDGET = 4_000_000  # (spine row, feature row) pairs expanded at once
_MAX_WINDOW_US = 2**62  # longer windows behave as unbounded; keeps event + window inside Int64
_NUMERIC_FNS = ("sum", "mean", "std")
_RANGE_FNS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "sum": pl.Expr.sum,
    "mean": pl.Expr.mean,
    "std": lambda e: e.std(ddof=1),
    "min": pl.Expr.min,
    "max": pl.Expr.max,
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T_US, _TIME, _DELTA, _POS, _LO, _HI, _SIZE = (
    "__fs_t_us",
    "__fs_time",
    "__fs_delta",
    "__fs_pos",
    "__fs_lo",
    "__fs_hi",
    "__fs_size",
)


@dataclass(frozen=True)
class WindowSpec:
    """One windowed aggregate: ``fn`` of column ``input`` over ``(t - window, t]``.

    Attributes:
        name: the output column (an identifier).
        input: the row column aggregated.
        fn: ``count``, ``sum``, ``mean``, ``min``, ``max``, ``std`` or ``last``.
        window: the window length, at least one microsecond.
    """

    name: str
    input: str
    fn: AggFn
    window: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _IDENTIFIER.fullmatch(self.name):
            raise DefinitionError(f"aggregate name {self.name!r} is not an identifier.")
        if not isinstance(self.input, str) or not self.input:
            raise DefinitionError(f"aggregate {self.name!r} needs an input column name.")
        if self.fn not in get_args(AggFn):
            raise DefinitionError(
                f"aggregate {self.name!r} has fn {self.fn!r}; use one of {get_args(AggFn)}."
            )
        if not isinstance(self.window, timedelta) or self.window < timedelta(microseconds=1):
            raise DefinitionError(
                f"aggregate {self.name!r} needs a window of at least one microsecond, "
                f"got {self.window!r}."
            )

    @property
    def window_us(self) -> int:
        """The window in microseconds, capped where it is as good as unbounded."""
        return min(self.window // timedelta(microseconds=1), _MAX_WINDOW_US)


def _output_dtype(spec: WindowSpec, dtype: pl.DataType) -> pl.DataType:
    if spec.fn == "count":
        return pl.Int64()
    if spec.fn == "sum":
        return dtype if dtype.is_float() or dtype.is_decimal() else pl.Int64()
    if spec.fn in ("mean", "std"):
        return pl.Float32() if isinstance(dtype, pl.Float32) else pl.Float64()
    return dtype


def _check_specs(
    aggs: Sequence[WindowSpec], schema: pl.Schema, taken: Sequence[str]
) -> list[WindowSpec]:
    specs = list(aggs)
    names = [s.name for s in specs]
    for spec in specs:
        if not isinstance(spec, WindowSpec):
            raise RequestError(f"aggs must hold WindowSpec values, not {type(spec).__name__}.")
        if names.count(spec.name) > 1 or spec.name in taken:
            raise RequestError(f"aggregate column {spec.name!r} is not unique; rename it.")
        dtype = schema[spec.input]
        numeric = dtype.is_numeric() or isinstance(dtype, pl.Boolean)
        if spec.fn in _NUMERIC_FNS and not numeric:
            raise DefinitionError(
                f"aggregate {spec.name!r} applies {spec.fn} to column {spec.input!r} of type "
                f"{dtype}; {', '.join(_NUMERIC_FNS)} need a numeric column."
            )
    return specs


def _micros(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("us")


def _count(probe: pl.DataFrame, table: RowTable, spec: WindowSpec) -> pl.DataFrame:
    keys = list(table.keys)
    leave = _micros(EV) + spec.window_us
    counted = table.valid().filter(pl.col(spec.input).is_not_null() & (_micros(KA) < leave))
    # Every counted row has its +1 and its -1, so each entity's block sums to zero and one
    # global running sum never carries over from one entity into the next.
    steps = pl.concat(
        [
            counted.select(*keys, _micros(KA).alias(_TIME), pl.lit(1).alias(_DELTA)),
            counted.select(*keys, leave.alias(_TIME), pl.lit(-1).alias(_DELTA)),
        ]
    )
    steps = steps.sort([*keys, _TIME]).with_columns(pl.col(_DELTA).cum_sum())
    joined = probe.join_asof(steps, left_on=_T_US, right_on=_TIME, by=keys, check_sortedness=False)
    return joined.select(SIDX, pl.col(_DELTA).alias(spec.name))


def _last(found: pl.DataFrame, table: RowTable, spec: WindowSpec) -> pl.DataFrame:
    inside = _micros(EV) > pl.col(_T_US) - spec.window_us
    index = found.select(pl.when(inside).then(pl.col(RIDX))).to_series()
    values = table.frame.get_column(spec.input).gather(index).alias(spec.name)
    return found.select(SIDX).with_columns(values)


def _range_bounds(probe: pl.DataFrame, base: pl.DataFrame, keys: list[str], w: int) -> pl.DataFrame:
    """Each probe row's rows by position in ``base``: first event after ``t - w``, last ``<= t``."""
    lookup = base.select(*keys, _micros(EV).alias(_TIME), _POS)
    last = probe.join_asof(
        lookup, left_on=_T_US, right_on=_TIME, by=keys, check_sortedness=False
    ).get_column(_POS)
    first = (
        probe.with_columns((pl.col(_T_US) - w).alias(_TIME))
        .join_asof(
            lookup,
            on=_TIME,
            by=keys,
            strategy="forward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .get_column(_POS)
    )
    bounds = probe.select(SIDX, _T_US).with_columns(first.alias(_LO), last.alias(_HI))
    size = (pl.col(_HI) - pl.col(_LO) + 1).fill_null(0).clip(lower_bound=0)
    return bounds.with_columns(size.alias(_SIZE)).filter(pl.col(_SIZE) > 0)


def _chunks(bounds: pl.DataFrame) -> Iterator[pl.DataFrame]:
    chunk = (pl.col(_SIZE).cum_sum() - pl.col(_SIZE)) // PAIR_BUDGET
    yield from bounds.with_columns(chunk.alias("__fs_chunk")).partition_by(
        "__fs_chunk", include_key=False, maintain_order=True
    )


def _ranged(
    probe: pl.DataFrame, table: RowTable, specs: list[WindowSpec], known: bool
) -> pl.DataFrame:
    keys = list(table.keys)
    inputs = list(dict.fromkeys(s.input for s in specs))
    base = (
        table.valid()
        .select(*keys, EV, KA, *(c for c in inputs if c not in keys))
        .sort([*keys, EV])
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS))
    )
    exprs = [_RANGE_FNS[s.fn](pl.col(s.input)).alias(s.name) for s in specs]
    parts = [pl.DataFrame(schema={SIDX: pl.Int64})]
    for chunk in _chunks(_range_bounds(probe, base, keys, specs[0].window_us)):
        pairs = chunk.select(SIDX, _T_US, pl.int_ranges(_LO, pl.col(_HI) + 1).alias(_POS))
        pairs = pairs.explode(_POS)
        rows = base.select(_micros(KA).alias(_TIME), *inputs).select(
            pl.all().gather(pairs.get_column(_POS))
        )
        pairs = pairs.hstack(rows.get_columns())
        if known:
            pairs = pairs.filter(pl.col(_TIME) <= pl.col(_T_US))
        parts.append(pairs.group_by(SIDX).agg(exprs))
    return pl.concat(parts, how="diagonal_relaxed")


def _aggregate(
    probe: pl.DataFrame, table: RowTable, specs: list[WindowSpec], n: int, known: bool
) -> list[pl.Series]:
    """The aggregate columns for ``n`` spine rows, given the probe of the valid ones."""
    probe = probe.with_columns(_micros(T).alias(_T_US))
    results: list[pl.DataFrame] = []
    if any(s.fn == "last" for s in specs):
        found = winners(probe, table)
        results += [_last(found, table, s) for s in specs if s.fn == "last"]
    results += [_count(probe, table, s) for s in specs if s.fn == "count"]
    by_window: dict[int, list[WindowSpec]] = {}
    for spec in specs:
        if spec.fn in _RANGE_FNS:
            by_window.setdefault(spec.window_us, []).append(spec)
    results += [_ranged(probe, table, group, known) for group in by_window.values()]
    columns: dict[str, pl.Series] = {}
    for frame in results:
        for name in frame.columns[1:]:
            columns[name] = to_spine_order(n, frame.get_column(SIDX), frame.get_column(name))
    out = []
    for spec in specs:
        dtype = _output_dtype(spec, table.frame.schema[spec.input])
        column = columns.get(spec.name)
        if column is None:  # no spine row had anything in its window
            column = pl.Series(spec.name, [], dtype=dtype).extend_constant(None, n)
        elif column.dtype != dtype:
            column = column.cast(dtype)
        out.append(column.fill_null(0) if spec.fn in ("count", "sum") else column)
    return out


def window_aggregates(
    spine: pl.DataFrame,
    rows: pl.LazyFrame | pl.DataFrame,
    *,
    join_keys: Sequence[str],
    aggs: Sequence[WindowSpec],
    point_in_time: PointInTime = "known",
) -> pl.DataFrame:
    """Attach to every spine row the value of each windowed aggregate at its time.

    Args:
        spine: join keys, ``event_timestamp`` and any extra columns (labels).
        rows: one view's offline rows: join keys, ``event_timestamp``, ``created_timestamp``
            (may be null or absent), ``seq`` and the input columns.
        join_keys: the entity key columns.
        aggs: the aggregates; output columns are their names, in this order.
        point_in_time: ``"known"`` counts only rows created by ``t``; ``"event"`` does not.

    Returns:
        The spine, every row once in input order with its columns untouched, plus one column per
        aggregate (semantics in the module doc).

    Raises:
        RequestError: a missing column, incompatible key dtypes or a name clash.
        DefinitionError: ``sum``, ``mean`` or ``std`` of a non-numeric column.
    """
    check_mode(point_in_time)
    spine = check_spine(spine)
    keys = check_keys(join_keys)
    inputs = list(dict.fromkeys(s.input for s in aggs))
    table = prepare_rows(rows, keys, inputs, point_in_time, spine.schema)
    specs = _check_specs(aggs, table.frame.schema, spine.columns)
    probe = prepare_spine(spine, key_dtypes(spine.schema, table.frame.schema, keys))
    if not specs:
        return spine
    known = point_in_time == "known"
    return spine.hstack(_aggregate(probe, table, specs, spine.height, known))


def window_values_at(
    rows: pl.LazyFrame | pl.DataFrame,
    *,
    join_keys: Sequence[str],
    aggs: Sequence[WindowSpec],
    at: datetime,
    point_in_time: PointInTime = "known",
) -> pl.DataFrame:
    """The aggregate values per entity at one time, for materializing them online.

    Every entity with at least one row known at ``at`` gets a row, even when its windows are
    now empty (``count`` and ``sum`` 0, the others null), so an online value whose window has
    moved on is overwritten rather than left stale. Entities with no row known by then are left out.

    Args:
        rows: one view's offline rows (as for :func:`window_aggregates`).
        join_keys: the entity key columns.
        aggs: the aggregates.
        at: the window end (naive means UTC).
        point_in_time: ``"known"`` or ``"event"``, as for :func:`window_aggregates`.

    Returns:
        The join keys, ``event_timestamp`` (= ``at``, the window end) and one column per
        aggregate, one row per entity, sorted by the keys.
    """
    check_mode(point_in_time)
    keys = check_keys(join_keys)
    inputs = list(dict.fromkeys(s.input for s in aggs))
    table = prepare_rows(rows, keys, inputs, point_in_time)
    specs = _check_specs(aggs, table.frame.schema, [*keys, EVENT])
    end = utc_literal(at, "at")
    entities = table.valid().filter(pl.col(KA) <= end).select(keys).unique().sort(keys)
    spine = entities.with_columns(end.alias(EVENT))
    if not specs:
        return spine
    probe = prepare_spine(spine, key_dtypes(None, table.frame.schema, keys))
    known = point_in_time == "known"
    return spine.hstack(_aggregate(probe, table, specs, spine.height, known))
