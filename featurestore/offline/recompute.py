"""What offline knew for the skew check: served values recomputed by the training-frame rule.

For logged samples (a spine of entity keys and request times) of one view, :func:`recompute`
gives three frames in spine order: the plain features with the event time of the row that wins
(``EVENT``), the windowed aggregates at the request time (``now``), and the same windows as the
materialization that wrote each served value computed them (``then``: its window end, and only
rows ingested up to the last ``seq`` that run saw). Each aggregate comes with its count of
inputs (``__n_<name>``), so an empty window can be told from a wrongly computed one.

The skew check runs this bucket by bucket (:class:`SkewJob`), reading only the sampled entities'
rows, so its cost follows the samples, not the view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from featurestore.definitions import FeatureView
from featurestore.offline.bucketed import POSITION, BucketFiles
from featurestore.offline.compute import normalise_keys
from featurestore.offline.pit import point_in_time_join
from featurestore.offline.windows import WindowSpec, window_aggregates

__all__ = ["END", "EVENT", "Recomputed", "SkewJob", "recompute", "skew_job"]

#: the event time of the row whose values a plain feature took
EVENT = "__event"
#: per sample, the window end of the served aggregate (null: none was served)
END = "__fs_end"
TS = "event_timestamp"


@dataclass(frozen=True)
class Recomputed:
    """Offline values for the samples, each frame in spine order (None: nothing asked)."""

    plain: pl.DataFrame | None
    now: pl.DataFrame | None
    then: pl.DataFrame | None


def _rows_of(
    view: FeatureView, rows: pl.LazyFrame | None, spine: pl.DataFrame, columns: list[str]
) -> pl.LazyFrame:
    if rows is None:
        schema: dict[str, Any] = {k: spine.schema[k] for k in view.join_keys}
        schema |= {
            TS: pl.Datetime("us", "UTC"),
            "created_timestamp": pl.Datetime("us", "UTC"),
            "seq": pl.Int64,
        }
        schema |= dict.fromkeys(columns, pl.Float64)
        return pl.LazyFrame(schema=schema)
    return rows.with_columns(*normalise_keys(rows, view.join_keys))


def window_specs(view: FeatureView, aggs: list[str]) -> list[WindowSpec]:
    """The aggregates asked for, and a count of the inputs of each (``__n_<name>``)."""
    chosen = [a for a in view.aggregates if a.name in aggs]
    specs = [WindowSpec(a.name, a.name, a.fn, a.window) for a in chosen]  # type: ignore[arg-type]
    return specs + [WindowSpec(f"__n_{a.name}", a.name, "count", a.window) for a in chosen]


def recompute(
    view: FeatureView,
    spine: pl.DataFrame,
    plain: list[str],
    aggs: list[str],
    rows: pl.LazyFrame | None,
    seqs: Mapping[dt.datetime, int],
) -> Recomputed:
    """Offline values for ``spine`` (join keys, ``event_timestamp``, ``END``) from ``rows``.

    Args:
        seqs: materialization end -> the last ingestion seq that run saw.
    """
    keys = spine.select(*view.join_keys, TS)
    joined = now = then = None
    if plain:
        lazy = _rows_of(view, rows, spine, plain).select(
            *view.join_keys, TS, "created_timestamp", "seq", *plain, pl.col(TS).alias(EVENT)
        )
        found = point_in_time_join(
            keys, lazy, join_keys=view.join_keys, features=[*plain, EVENT], ttl=view.ttl
        )
        joined = found.select(*plain, EVENT)
    if aggs:
        specs = window_specs(view, aggs)
        lazy = _rows_of(view, rows, spine, aggs).select(
            *view.join_keys, TS, "created_timestamp", "seq", *aggs
        )
        names = [s.name for s in specs]
        now = window_aggregates(keys, lazy, join_keys=view.join_keys, aggs=specs).select(names)
        then = _as_materialized(view, spine, lazy, specs, seqs).select(names)
    return Recomputed(joined, now, then)


def _as_materialized(
    view: FeatureView,
    spine: pl.DataFrame,
    rows: pl.LazyFrame,
    specs: list[WindowSpec],
    seqs: Mapping[dt.datetime, int],
) -> pl.DataFrame:
    """The windows as the materialization that wrote each served value computed them.

    A served window ends at its run's ``end``; the run saw the rows ingested up to its last
    ``seq``, so rows that arrived later (even with earlier timestamps) are left out here too.
    """
    ends = spine.get_column(END).to_list()
    at = pl.Series(
        TS,
        [e or t for e, t in zip(ends, spine[TS], strict=True)],
        dtype=pl.Datetime("us", "UTC"),
    )
    probe = spine.select(*view.join_keys).with_columns(
        at, pl.int_range(0, pl.len(), dtype=pl.Int64).alias("__i")
    )
    limits = pl.Series(
        "__seq", [seqs.get(e) if e is not None else None for e in ends], dtype=pl.Int64
    )
    probe = probe.with_columns(limits)
    parts = []
    for (limit,), group in probe.group_by("__seq", maintain_order=True):
        seen = rows if limit is None else rows.filter(pl.col("seq") <= limit)
        windows = window_aggregates(
            group.drop("__seq", "__i"), seen, join_keys=view.join_keys, aggs=specs
        )
        parts.append(windows.with_columns(group.get_column("__i")))
    return pl.concat(parts).sort("__i")


@dataclass(frozen=True)
class SkewJob:
    """One bucket of one view for the skew check: its files and the samples hashed to it
    (join keys, ``event_timestamp``, ``END``, ``POSITION``)."""

    part: BucketFiles
    spine: pl.DataFrame
    plain: tuple[str, ...]
    aggs: tuple[str, ...]
    seqs: tuple[tuple[dt.datetime, int], ...]


def skew_job(job: SkewJob) -> Recomputed:
    """The bucket's offline values, each frame with ``POSITION`` first (locally or on Ray)."""
    view = job.part.view()
    rows = job.part.rows(view, keys=job.spine.select(view.join_keys))
    found = recompute(view, job.spine, list(job.plain), list(job.aggs), rows, dict(job.seqs))
    position = job.spine.select(POSITION)
    frames = (found.plain, found.now, found.then)
    return Recomputed(*(None if f is None else position.hstack(f.get_columns()) for f in frames))
