"""An independent, brute-force oracle for point-in-time joins and windowed aggregates.

Written from the rule text (DESIGN §3.2, §7, §12 and the module docs of ``featurestore.offline.pit``
and ``featurestore.offline.windows``), not from the implementation: every spine row scans every
feature row in plain Python. Slow on purpose; only for the small frames the tests generate.

Rules it encodes:

- a row is visible at ``t`` when its keys equal the spine's (no key null), ``event <= t`` and, in
  ``"known"`` mode, ``(created if created is not None else event) <= t``;
- the winner is the visible row greatest by
  ``(event, created-or-event, seq (None lowest), position)``;
- the join takes the winner when ``event >= t - ttl``;
- a window holds the visible rows with ``event > t - window``; ``last`` is the winner among them;
- ``count`` counts non-null inputs; ``sum``/``mean``/``std`` propagate NaN; ``min``/``max`` ignore
  NaN unless every non-null input is NaN; empty: count and sum 0, others None; std needs two inputs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

Row = dict[str, Any]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rows(rows: pl.DataFrame) -> list[Row]:
    out = []
    for position, row in enumerate(rows.to_dicts()):
        row["__position"] = position
        row["__event"] = _utc(row["event_timestamp"])
        created = _utc(row.get("created_timestamp"))
        row["__created"] = created if created is not None else row["__event"]
        out.append(row)
    return out


def _visible(row: Row, keys: Sequence[str], key: tuple[Any, ...], t: datetime, mode: str) -> bool:
    if any(k is None for k in key) or tuple(row[k] for k in keys) != key:
        return False
    if row["__event"] is None or row["__event"] > t:
        return False
    return mode == "event" or row["__created"] <= t


def _rank(row: Row) -> tuple[Any, ...]:
    seq = row.get("seq")
    return (row["__event"], row["__created"], (seq is not None, seq or 0), row["__position"])


def _winner(candidates: list[Row]) -> Row | None:
    return max(candidates, key=_rank) if candidates else None


def _spine_points(spine: pl.DataFrame, keys: Sequence[str]) -> list[tuple[tuple[Any, ...], Any]]:
    return [(tuple(r[k] for k in keys), _utc(r["event_timestamp"])) for r in spine.to_dicts()]


def oracle_join(
    spine: pl.DataFrame,
    rows: pl.DataFrame,
    *,
    join_keys: Sequence[str],
    features: Sequence[str],
    ttl: timedelta | None,
    point_in_time: str = "known",
    rename: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The point-in-time join, one spine row at a time."""
    table = _rows(rows)
    values: dict[str, list[Any]] = {f: [] for f in features}
    for key, t in _spine_points(spine, join_keys):
        best = None
        if t is not None:
            seen = [r for r in table if _visible(r, join_keys, key, t, point_in_time)]
            best = _winner(seen)
            if best is not None and ttl is not None and best["__event"] < t - ttl:
                best = None
        for f in features:
            values[f].append(None if best is None else best[f])
    rename = dict(rename or {})
    columns = [pl.Series(rename.get(f, f), values[f], dtype=rows.schema[f]) for f in features]
    return spine.hstack(columns)


def _finite(values: list[Any]) -> list[Any]:
    return [v for v in values if not (isinstance(v, float) and math.isnan(v))]


def _has_nan(values: list[Any]) -> bool:
    return len(_finite(values)) != len(values)


def _sum(values: list[Any]) -> Any:
    if _has_nan(values):
        return math.nan
    if all(isinstance(v, int) for v in values):  # bools are ints too
        return sum(int(v) for v in values)
    return math.fsum(values)


def _mean(values: list[Any]) -> Any:
    if not values:
        return None
    return math.nan if _has_nan(values) else math.fsum(float(v) for v in values) / len(values)


def _std(values: list[Any]) -> Any:
    if len(values) < 2:
        return None
    return math.nan if _has_nan(values) else statistics.stdev(float(v) for v in values)


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    def aggregate(values: list[Any]) -> Any:
        if not values:
            return None
        finite = _finite(values)
        return pick(finite) if finite else math.nan

    return aggregate


_AGGREGATES: dict[str, Callable[[list[Any]], Any]] = {
    "count": len,
    "sum": _sum,
    "mean": _mean,
    "std": _std,
    "min": _extreme(min),
    "max": _extreme(max),
}


def _agg_dtype(fn: str, dtype: pl.DataType) -> pl.DataType:
    if fn == "count":
        return pl.Int64()
    if fn == "sum":
        return dtype if dtype.is_float() else pl.Int64()
    if fn in ("mean", "std"):
        return pl.Float32() if dtype == pl.Float32 else pl.Float64()
    return dtype


def _window_value(spec: Any, seen: list[Row], t: datetime) -> Any:
    inside = [r for r in seen if r["__event"] > t - spec.window]
    if spec.fn == "last":
        best = _winner(inside)
        return None if best is None else best[spec.input]
    present = [r[spec.input] for r in inside if r[spec.input] is not None]
    return _AGGREGATES[spec.fn](present)


def oracle_windows(
    spine: pl.DataFrame,
    rows: pl.DataFrame,
    *,
    join_keys: Sequence[str],
    aggs: Sequence[Any],
    point_in_time: str = "known",
) -> pl.DataFrame:
    """Windowed aggregates, one spine row and one window at a time (``aggs``: WindowSpec-like)."""
    table = _rows(rows)
    values: dict[str, list[Any]] = {a.name: [] for a in aggs}
    for key, t in _spine_points(spine, join_keys):
        seen = (
            [] if t is None else [r for r in table if _visible(r, join_keys, key, t, point_in_time)]
        )
        for spec in aggs:
            if t is None:
                value = {"count": 0, "sum": 0}.get(spec.fn)
            else:
                value = _window_value(spec, seen, t)
            values[spec.name].append(value)
    columns = []
    for spec in aggs:
        dtype = _agg_dtype(spec.fn, rows.schema[spec.input])
        data = values[spec.name]
        if spec.fn == "sum" and dtype.is_float():
            data = [float(v) for v in data]
        columns.append(pl.Series(spec.name, data, dtype=dtype))
    return spine.hstack(columns)


def oracle_latest(
    rows: pl.DataFrame,
    *,
    join_keys: Sequence[str],
    as_of: datetime,
    since: datetime | None = None,
    point_in_time: str = "known",
) -> pl.DataFrame:
    """The winning row per entity as of ``as_of`` (entities sorted by key, nulls skipped)."""
    table = _rows(rows)
    as_of_utc = _utc(as_of)
    assert as_of_utc is not None
    entities = {tuple(r[k] for k in join_keys) for r in table}
    picked = []
    for key in sorted(e for e in entities if None not in e):
        seen = [r for r in table if _visible(r, join_keys, key, as_of_utc, point_in_time)]
        best = _winner(seen)
        if best is None:
            continue
        known_at = (
            best["__event"] if point_in_time == "event" else max(best["__event"], best["__created"])
        )
        if since is not None and known_at <= _utc(since):
            continue
        picked.append(best["__position"])
    return rows[picked] if picked else rows.clear()
