"""Point-in-time-correct training frames (DESIGN.md §7 and §12)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView
from featurestore.errors import RequestError
from featurestore.expr import to_polars
from featurestore.limits import INT64_MAX, INT64_MIN, quote
from featurestore.offline.bucketed import POSITION, BucketFiles
from featurestore.offline.compute import normalise_keys
from featurestore.offline.inputs import to_frame, utc_column
from featurestore.offline.pit import point_in_time_join
from featurestore.offline.windows import WindowSpec, window_aggregates
from featurestore.resolve import Resolved

__all__ = [
    "TrainingJob",
    "ViewValues",
    "build_training_frame",
    "prepare_spine",
    "training_job",
    "view_values",
]

#: (view, feature names, spine keys and times) -> {name: values, one per spine row}
ViewValues = Callable[[FeatureView, list[str], pl.DataFrame], dict[str, pl.Series]]
TS = "event_timestamp"


def prepare_spine(spine: Any, join_keys: list[str], request_fields: dict[str, str]) -> pl.DataFrame:
    """Check a spine and make its timestamp UTC (microseconds) and its keys join-ready.

    Raises:
        RequestError: not a frame, empty, missing a join key, ``event_timestamp`` or a request
            field, or timestamps without a time zone.
    """
    frame = to_frame(spine, "spine")
    if frame.height == 0:
        raise RequestError(
            "the spine is empty: give at least one row of entity keys and event_timestamp"
        )
    missing = [k for k in [*join_keys, TS] if k not in frame.columns]
    if missing:
        raise RequestError(
            f"the spine lacks column {missing[0]!r} (it needs {', '.join([*join_keys, TS])})"
        )
    missing = [f for f in request_fields if f not in frame.columns]
    if missing:
        raise RequestError(
            f"the spine lacks request field {missing[0]!r}, which an on-demand feature needs"
        )
    for key in join_keys:
        _check_int64_keys(frame, key)
    ts, error = utc_column(frame, TS, "spine")
    if error is not None:
        raise RequestError(error)
    assert ts is not None
    return frame.with_columns(ts)


#: integer types whose every value fits the Int64 that keys are joined as
_FITS_INT64 = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _check_int64_keys(frame: pl.DataFrame, key: str) -> None:
    """A RequestError naming ``key`` when it holds an integer beyond int64 (a CSV spine's
    ``99999999999999999999999`` is read as Int128; the join would fail later, unexplained)."""
    dtype = frame.schema[key]
    if not dtype.is_integer() or dtype in _FITS_INT64:
        return
    bad = frame.filter((pl.col(key) < INT64_MIN) | (pl.col(key) > INT64_MAX)).get_column(key)
    if bad.len():
        raise RequestError(
            f"spine column {quote(key)} has {bad.len()} key(s) that do not fit a 64-bit "
            f"integer, e.g. {quote(bad[0])}"
        )


def _empty_rows(view: FeatureView, keys: pl.DataFrame) -> pl.DataFrame:
    """The rows of a view that has no data yet, typed as well as its definitions allow."""
    schema: dict[str, Any] = {k: keys.schema[k] for k in view.join_keys}
    schema |= {
        TS: pl.Datetime("us", "UTC"),
        "created_timestamp": pl.Datetime("us", "UTC"),
        "seq": pl.Int64,
    }
    for f in view.features:
        dtype = view.row_dtypes[f.name]  # None: an input's type is not declared anywhere
        schema[f.name] = dtype if dtype is not None else pl.Float64 if f.aggregate else pl.Null
    return pl.DataFrame(schema=schema)


def view_values(
    view: FeatureView,
    names: list[str],
    view_keys: pl.DataFrame,
    rows: pl.LazyFrame | None,
    point_in_time: Literal["known", "event"],
) -> dict[str, pl.Series]:
    """The values of some features of one view for spine rows (join keys and ``TS``), by the
    training-frame rule, computed from the view's rows (None: it has none)."""
    lazy = rows if rows is not None else _empty_rows(view, view_keys).lazy()
    lazy = lazy.with_columns(*normalise_keys(lazy, view.join_keys))
    by_name = {f.name: f for f in view.features}
    plain = [n for n in names if not by_name[n].aggregate]
    aggs = [by_name[n] for n in names if by_name[n].aggregate]
    values: dict[str, pl.Series] = {}
    if plain:
        joined = point_in_time_join(
            view_keys,
            lazy.select(*view.join_keys, TS, "created_timestamp", "seq", *plain),
            join_keys=view.join_keys,
            features=plain,
            ttl=view.ttl,
            point_in_time=point_in_time,
        )
        values |= {n: joined.get_column(n) for n in plain}
    if aggs:
        specs = [WindowSpec(a.name, a.name, a.fn, a.window) for a in aggs]  # type: ignore[union-attr, arg-type]
        windowed = window_aggregates(
            view_keys,
            lazy.select(*view.join_keys, TS, "created_timestamp", "seq", *(a.name for a in aggs)),
            join_keys=view.join_keys,
            aggs=specs,
            point_in_time=point_in_time,
        )
        values |= {a.name: windowed.get_column(a.name) for a in aggs}
    return {n: values[n] for n in names}


@dataclass(frozen=True)
class TrainingJob:
    """One bucket of one view for a training frame: its files and the spine rows hashed to it
    (join keys, ``TS`` and their position ``POSITION``)."""

    part: BucketFiles
    names: tuple[str, ...]
    spine: pl.DataFrame
    point_in_time: Literal["known", "event"]


def training_job(job: TrainingJob) -> pl.DataFrame:
    """The job's feature values beside the spine positions (run locally or as a Ray task)."""
    view = job.part.view()
    keys = job.spine.select(*view.join_keys, TS)
    values = view_values(view, list(job.names), keys, job.part.rows(view), job.point_in_time)
    return job.spine.select(POSITION).with_columns(s.alias(n) for n, s in values.items())


def build_training_frame(
    spine: pl.DataFrame,
    resolved: Resolved,
    values_of: ViewValues,
    point_in_time: Literal["known", "event"] = "known",
) -> pl.DataFrame:
    """Join every requested feature onto ``spine`` as of each row's ``event_timestamp``.

    Args:
        values_of: ``(view, names, keys) -> {name: values}`` for the spine's join keys and
            ``TS`` (see :func:`view_values`; the store runs it bucket by bucket).
    """
    if point_in_time not in ("known", "event"):
        raise RequestError(f"point_in_time must be 'known' or 'event', got {point_in_time!r}")
    clash = [n for n in resolved.names if n in spine.columns]
    if clash:
        raise RequestError(
            f"the spine already has a column named {clash[0]!r}, like a requested feature"
        )
    keys = spine.select(*normalise_keys(spine, resolved.join_keys), pl.col(TS))
    values: dict[tuple[str, str], pl.Series] = {}
    for view, names in resolved.views.values():
        found = values_of(view, names, keys.select(*view.join_keys, TS))
        values |= {(view.name, n): found[n] for n in names}
    for odfv, names in resolved.on_demand.values():
        values |= _on_demand(odfv, names, spine, values)
    columns = [
        values[ref].alias(name) for ref, name in zip(resolved.refs, resolved.names, strict=True)
    ]
    return spine.with_columns(columns)


def _on_demand(
    odfv: OnDemandFeatureView,
    names: list[str],
    spine: pl.DataFrame,
    values: dict[tuple[str, str], pl.Series],
) -> dict[tuple[str, str], pl.Series]:
    inputs: dict[str, pl.Series] = {}
    for src in odfv.source_views:
        for feature in src.features:
            if (src.name, feature) in values:
                inputs[feature] = values[(src.name, feature)].alias(feature)
    for request in odfv.request_sources:
        for field in request.schema:
            inputs[field] = spine.get_column(field)
    frame = pl.DataFrame(list(inputs.values()))
    by_name = {f.name: f for f in odfv.features}
    out = frame.select(*(to_polars(by_name[n].expr, schema=frame.schema).alias(n) for n in names))
    return {(odfv.name, n): out.get_column(n) for n in names}
