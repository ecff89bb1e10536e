"""Point-in-time-correct training frames (DESIGN.md §7 and §12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView
from featurestore.errors import RequestError
from featurestore.expr import to_polars
from featurestore.offline.compute import normalise_keys
from featurestore.offline.inputs import to_frame, utc_column
from featurestore.offline.pit import point_in_time_join
from featurestore.offline.windows import WindowSpec, window_aggregates
from featurestore.resolve import Resolved

__all__ = ["build_training_frame", "prepare_spine"]

ScanView = Callable[[FeatureView], pl.LazyFrame | None]
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
    ts, error = utc_column(frame, TS, "spine")
    if error is not None:
        raise RequestError(error)
    assert ts is not None
    return frame.with_columns(ts)


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


def build_training_frame(
    spine: pl.DataFrame,
    resolved: Resolved,
    scan: ScanView,
    point_in_time: Literal["known", "event"] = "known",
) -> pl.DataFrame:
    """Join every requested feature onto ``spine`` as of each row's ``event_timestamp``."""
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
        rows = scan(view)
        lazy = rows if rows is not None else _empty_rows(view, keys).lazy()
        lazy = lazy.with_columns(*normalise_keys(lazy, view.join_keys))
        view_keys = keys.select(*view.join_keys, TS)
        by_name = {f.name: f for f in view.features}
        plain = [n for n in names if not by_name[n].aggregate]
        aggs = [by_name[n] for n in names if by_name[n].aggregate]
        if plain:
            joined = point_in_time_join(
                view_keys,
                lazy.select(*view.join_keys, TS, "created_timestamp", "seq", *plain),
                join_keys=view.join_keys,
                features=plain,
                ttl=view.ttl,
                point_in_time=point_in_time,
            )
            values |= {(view.name, n): joined.get_column(n) for n in plain}
        if aggs:
            specs = [WindowSpec(a.name, a.name, a.fn, a.window) for a in aggs]  # type: ignore[union-attr, arg-type]
            windowed = window_aggregates(
                view_keys,
                lazy.select(
                    *view.join_keys, TS, "created_timestamp", "seq", *(a.name for a in aggs)
                ),
                join_keys=view.join_keys,
                aggs=specs,
                point_in_time=point_in_time,
            )
            values |= {(view.name, a.name): windowed.get_column(a.name) for a in aggs}
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
