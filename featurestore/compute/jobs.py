"""The per-bucket work of training frames and the skew check, spread over an engine and
gathered back in the spine's order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import polars as pl

from featurestore.compute.engine import Engine
from featurestore.offline.bucketed import POSITION, ViewLayout
from featurestore.offline.recompute import Recomputed, SkewJob, skew_job
from featurestore.offline.training import TrainingJob, training_job

__all__ = ["skew_values", "training_values"]


def training_values(
    engine: Engine,
    layout: ViewLayout,
    names: list[str],
    keys: pl.DataFrame,
    point_in_time: Literal["known", "event"],
) -> dict[str, pl.Series]:
    """Feature values of one view for every spine row, one job per bucket the spine touches.

    Each spine row lands in exactly one bucket, so the jobs' rows sorted by position are the
    spine's rows in order.
    """
    jobs = [
        TrainingJob(layout.bucket(bucket), tuple(names), part, point_in_time)
        for bucket, part in layout.split(keys).items()
    ]
    return _in_spine_order(list(engine.map(training_job, jobs)), names)


def _in_spine_order(parts: list[pl.DataFrame], names: list[str]) -> dict[str, pl.Series]:
    """The columns of the jobs' results in the spine's order.

    The positions of all parts together are a permutation of the spine's rows, and each part
    lists its rows in spine order, so gathering through the inverse permutation reads every
    part front to back, all in step (no sort, and cache-friendly). Two columns at a time on two
    threads (Polars releases the GIL; one gather leaves a core idle), each column's pieces
    released once gathered: the results are held twice only two columns at a time (``parts``
    is emptied for that).
    """
    positions = pl.concat([p.get_column(POSITION) for p in parts], rechunk=True).to_numpy()
    inverse = np.empty(len(positions), dtype=np.int64)
    inverse[positions] = np.arange(len(positions), dtype=np.int64)
    index = pl.Series(inverse)
    pieces = {name: [p.get_column(name) for p in parts] for name in names}
    parts.clear()

    def gather(name: str) -> pl.Series:
        return pl.concat(pieces.pop(name), rechunk=True).gather(index)

    with ThreadPoolExecutor(2, thread_name_prefix="featurestore-gather") as pool:
        return dict(zip(names, pool.map(gather, names), strict=True))


def skew_values(
    engine: Engine,
    layout: ViewLayout,
    spine: pl.DataFrame,
    plain: list[str],
    aggs: list[str],
    seqs: Mapping[dt.datetime, int],
) -> Recomputed:
    """What offline knew for logged samples of one view, one job per bucket the samples touch;
    each job reads only its samples' rows (``offline.recompute``)."""
    jobs = [
        SkewJob(layout.bucket(bucket), part, tuple(plain), tuple(aggs), tuple(seqs.items()))
        for bucket, part in layout.split(spine).items()
    ]
    done = list(engine.map(skew_job, jobs))

    def gather(frames: list[pl.DataFrame | None]) -> pl.DataFrame | None:
        present = [f for f in frames if f is not None]
        if not present:
            return None
        return pl.concat(present).sort(POSITION).drop(POSITION)

    return Recomputed(
        gather([d.plain for d in done]),
        gather([d.now for d in done]),
        gather([d.then for d in done]),
    )
