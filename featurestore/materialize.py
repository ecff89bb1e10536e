"""Materialization: load the latest offline values into the online store.

The winning row per entity is chosen by the training-frame rule (``latest_rows``), so online and
offline never disagree on ties; the ttl is applied at request time instead. Windowed aggregates
are evaluated at the materialization time ``end`` and stored under a separate online record
(``<view>@windows``) whose event time is that window end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from featurestore._faults import fault_point
from featurestore.compute import Engine
from featurestore.definitions import FeatureView
from featurestore.offline.bucketed import BucketFiles, ViewLayout
from featurestore.offline.compute import normalise_keys
from featurestore.offline.pit import latest_rows
from featurestore.offline.windows import WindowSpec, window_values_at
from featurestore.online import (
    WINDOW_SUFFIX,
    OnlineStore,
    encode_entity_keys,
    entity_namespace,
)
from featurestore.online.marker import has_marker

__all__ = [
    "WINDOW_SUFFIX",
    "MaterializeJob",
    "Materialized",
    "entity_name",
    "lost_data",
    "materialize_job",
    "materialize_rows",
    "materialize_view",
    "online_rows",
    "write_pushed",
]

BATCH = 50_000

#: called after each bucket job is written: (rows it wrote, jobs done, jobs in all)
Progress = Callable[[int, int, int], None]


def entity_name(view: FeatureView) -> str:
    """The online key namespace of a view (see :mod:`featurestore.online.keys`)."""
    return entity_namespace(e.name for e in view.entities)


def online_rows(
    project: str,
    view: FeatureView,
    rows: pl.DataFrame,
    features: list[str],
    *,
    view_version: int = 0,
) -> pl.DataFrame:
    """``rows`` (join keys, timestamps, seq, features) with the join keys encoded as
    ``entity_key`` and the view version that computed them."""
    keys = encode_entity_keys(
        project, entity_name(view), {k: rows.get_column(k).to_list() for k in view.join_keys}
    )
    return rows.select(
        pl.Series("entity_key", keys, dtype=pl.String),
        pl.lit(view_version, dtype=pl.Int64).alias("view_version"),
        "event_timestamp",
        "created_timestamp",
        "seq",
        *features,
    )


def _changed_entities(
    rows: pl.LazyFrame,
    keys: list[str],
    start: dt.datetime | None,
    end: dt.datetime,
    lookback: dt.timedelta,
    last_seq: int | None,
) -> pl.LazyFrame:
    """Keys of entities whose answer may have changed since the last run.

    A row matters if it became visible in ``(start - lookback, end]`` by event or created time
    (late backfills with a new created time), or was ingested after the last run (``seq``), which
    covers backfills of sources without created timestamps.
    """
    if start is None:
        return rows.select(keys).unique()
    since = start - lookback
    ts, created = pl.col("event_timestamp"), pl.col("created_timestamp")
    changed = ((ts > since) & (ts <= end)) | ((created > since) & (created <= end))
    if last_seq is not None:
        changed = changed | (pl.col("seq") > last_seq)
    return rows.filter(changed).select(keys).unique()


@dataclass(frozen=True)
class Materialized:
    """What one bucket's job computed: online rows of plain features and of windows (encoded,
    ready to write; None when the view has none) and the greatest ingestion ``seq`` it saw."""

    plain: pl.DataFrame | None
    windows: pl.DataFrame | None
    seen_seq: int | None


def materialize_rows(
    view: FeatureView,
    rows: pl.LazyFrame | None,
    *,
    project: str,
    start: dt.datetime | None,
    end: dt.datetime,
    last_seq: int | None = None,
    view_version: int = 0,
) -> Materialized:
    """``view``'s online rows as of ``end`` from its offline rows, as computed by ``view_version``."""
    if rows is None:
        return Materialized(None, None, last_seq)
    keys = view.join_keys
    seen_seq = rows.select(pl.col("seq").max()).collect().item()
    rows = rows.with_columns(*normalise_keys(rows, keys))
    plain_rows = window_rows = None
    plain = [f.name for f in view.row_features]
    if plain:
        changed = _changed_entities(rows, keys, start, end, dt.timedelta(0), last_seq)
        candidates = rows.join(changed, on=keys, how="semi", nulls_equal=False)
        latest = latest_rows(
            candidates.select(*keys, "event_timestamp", "created_timestamp", "seq", *plain),
            join_keys=keys,
            as_of=end,
        )
        plain_rows = online_rows(project, view, latest, plain, view_version=view_version)
    if view.aggregates:
        widest = max(a.window for a in view.aggregates)
        # a window that held rows at the last run may be empty now: those entities change too
        changed = _changed_entities(rows, keys, start, end, widest, last_seq)
        candidates = rows.join(changed, on=keys, how="semi", nulls_equal=False)
        specs = [WindowSpec(a.name, a.name, a.fn, a.window) for a in view.aggregates]  # type: ignore[arg-type]
        values = window_values_at(candidates, join_keys=keys, aggs=specs, at=end)
        values = values.with_columns(
            pl.lit(end).cast(pl.Datetime("us", "UTC")).alias("event_timestamp"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("created_timestamp"),
            pl.lit(0, dtype=pl.Int64).alias("seq"),
        )
        window_rows = online_rows(
            project, view, values, [s.name for s in specs], view_version=view_version
        )
    return Materialized(plain_rows, window_rows, seen_seq)


@dataclass(frozen=True)
class MaterializeJob:
    """One bucket of a view to materialize (see :func:`materialize_rows` for the fields)."""

    part: BucketFiles
    project: str
    start: dt.datetime | None
    end: dt.datetime
    last_seq: int | None
    view_version: int


def materialize_job(job: MaterializeJob) -> Materialized:
    """One bucket's online rows (run locally or as a Ray task)."""
    view = job.part.view()
    return materialize_rows(
        view,
        job.part.rows(view),
        project=job.project,
        start=job.start,
        end=job.end,
        last_seq=job.last_seq,
        view_version=job.view_version,
    )


def materialize_view(
    layout: ViewLayout,
    *,
    engine: Engine,
    online: OnlineStore,
    project: str,
    start: dt.datetime | None,
    end: dt.datetime,
    last_seq: int | None = None,
    progress: Progress | None = None,
    view_version: int = 0,
    record: str | None = None,
) -> tuple[int, int | None]:
    """Write a view's values as of ``end`` to ``online``, bucket by bucket: each bucket's job
    computes its rows (on the engine) and they are written here as they come back.

    ``progress`` hears of each bucket once it is written, with the rows the store took (a row
    older than the stored one is not written), so its counts add up to the rows returned.
    ``record`` names the online record to write (default: the view's name; a rollout's
    candidate writes its own, so the two versions' values never mix).

    Returns:
        The rows written and the greatest ingestion ``seq`` seen (to record with the run).
    """
    name = record or layout.view.name
    jobs = [
        MaterializeJob(part, project, start, end, last_seq, view_version)
        for part in layout.all_buckets()
    ]
    written, seen = 0, [last_seq] if not jobs else []
    if progress is not None:
        progress(0, 0, len(jobs))
    for finished, done in enumerate(engine.map(materialize_job, jobs), 1):
        step = 0
        if done.plain is not None:
            step += _write(online, name, done.plain)
        if done.windows is not None:
            step += _write(online, name + WINDOW_SUFFIX, done.windows)
        written += step
        seen.append(done.seen_seq)
        fault_point("materialize.bucket_written")
        if progress is not None:
            progress(step, finished, len(jobs))
    known = [s for s in seen if s is not None]
    return written, max(known) if known else None


def lost_data(online: OnlineStore, *, project: str, materialized: Callable[[], bool]) -> str | None:
    """Why every view must be reloaded in full, or None when the online store kept its data.

    Args:
        online: the online store.
        project: the project whose marker to look for.
        materialized: whether any view was materialized before (asked only when the marker is
            missing: a store that never had data has lost nothing).
    """
    if has_marker(online, project=project) or not materialized():
        return None
    return (
        "the online store lost its data (its materialization marker is missing, as after a "
        "restart without persistence or a flush): reloading every view in full"
    )


def _write(online: OnlineStore, name: str, rows: pl.DataFrame) -> int:
    written = 0
    for offset in range(0, rows.height, BATCH):
        written += online.write(name, rows.slice(offset, BATCH))
    return written


def write_pushed(
    view: FeatureView,
    computed: pl.DataFrame,
    *,
    offline: pl.LazyFrame | None,
    offline_has_rows: bool,
    online: OnlineStore,
    project: str,
    view_version: int = 0,
    record: str | None = None,
) -> None:
    """Write pushed rows online: their row-level features, and the windows they move (as
    computed by ``view_version``), under ``record`` (default: the view's name).

    The windows of the pushed entities are re-evaluated at the newest pushed event time over the
    offline rows plus (when the push did not go offline) the pushed rows themselves.
    """
    keys = view.join_keys
    name = record or view.name
    plain = [f.name for f in view.row_features]
    if plain:
        online.write(name, online_rows(project, view, computed, plain, view_version=view_version))
    if not view.aggregates:
        return
    inputs = [a.name for a in view.aggregates]
    pushed = computed.select(*keys, "event_timestamp", "created_timestamp", "seq", *inputs).lazy()
    rows = pushed
    if offline is not None:
        stored = offline.with_columns(*normalise_keys(offline, keys)).select(
            pushed.collect_schema().names()
        )
        touched = stored.join(pushed.select(keys).unique(), on=keys, how="semi")
        rows = touched if offline_has_rows else pl.concat([touched, pushed], how="vertical_relaxed")
    # the window ends when the newest pushed row became known (its created time, if later)
    at = computed.select(pl.max_horizontal("event_timestamp", "created_timestamp").max()).item()
    specs = [WindowSpec(a.name, a.name, a.fn, a.window) for a in view.aggregates]  # type: ignore[arg-type]
    values = window_values_at(rows, join_keys=keys, aggs=specs, at=at)  # type: ignore[arg-type]
    values = values.with_columns(
        pl.lit(at).cast(pl.Datetime("us", "UTC")).alias("event_timestamp"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("created_timestamp"),
        pl.lit(0, dtype=pl.Int64).alias("seq"),
    )
    online.write(
        name + WINDOW_SUFFIX,
        online_rows(project, view, values, inputs, view_version=view_version),
    )
