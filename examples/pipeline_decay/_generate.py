"""Seeded daily batches of a partner's restaurant feed, degrading on planned days.

Day 1-3 are clean. Day 4: the rating service times out for 30% of restaurants (null ratings).
Day 5: restaurants on one point-of-sale system (every fifth) report prep time in seconds, far
beyond any plausible number of minutes. Day 6: the partner renames ``prep_time_min`` to
``prep_minutes``. Day 7: the partner fixes the feed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from examples._shared import utc_series

__all__ = ["DAYS", "FIRST_DAY", "N_RESTAURANTS", "Batch", "batches"]

FIRST_DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
DAYS = 7
N_RESTAURANTS = 300
NULL_SPIKE_DAY, SECONDS_DAY, RENAME_DAY = 4, 5, 6
NULL_SHARE = 0.3


@dataclass(frozen=True)
class Batch:
    """One day's delivery and what was planted in it.

    Attributes:
        day: 1 to ``DAYS``.
        frame: the rows as the partner sends them.
        planted: what a contract must find: ``{column: report_ids of the bad rows}``; a
            renamed column makes the whole batch bad (``{"*": every report_id}``).
    """

    day: int
    frame: pl.DataFrame
    planted: dict[str, list[int]] = field(default_factory=dict)


def _clean(rng: np.random.Generator, day: int) -> pl.DataFrame:
    start = FIRST_DAY + dt.timedelta(days=day - 1)
    seconds = rng.uniform(20 * 3600, 23 * 3600, N_RESTAURANTS)  # sent each evening
    return pl.DataFrame(
        {
            "restaurant_id": np.arange(N_RESTAURANTS),
            "report_id": day * 10_000 + np.arange(N_RESTAURANTS),
            "prep_time_min": np.round(rng.gamma(6.0, 3.0, N_RESTAURANTS) + 4.0, 1),
            "rating": np.round(np.clip(rng.normal(4.2, 0.4, N_RESTAURANTS), 1.0, 5.0), 2),
            "orders_today": rng.poisson(40, N_RESTAURANTS),
            "reported_at": utc_series(
                "reported_at", [start + dt.timedelta(seconds=float(s)) for s in seconds]
            ),
        }
    )


def batches(seed: int = 29) -> list[Batch]:
    """The seven daily batches, in order."""
    rng = np.random.default_rng(seed)
    out = []
    for day in range(1, DAYS + 1):
        frame = _clean(rng, day)
        ids = frame.get_column("report_id")
        if day == NULL_SPIKE_DAY:
            bad = rng.random(frame.height) < NULL_SHARE
            frame = frame.with_columns(
                pl.when(pl.Series(bad)).then(None).otherwise(pl.col("rating")).alias("rating")
            )
            out.append(Batch(day, frame, {"rating": ids.filter(pl.Series(bad)).to_list()}))
        elif day == SECONDS_DAY:
            on_pos = frame.get_column("restaurant_id") % 5 == 0
            frame = frame.with_columns(
                pl.when(on_pos)
                .then(pl.col("prep_time_min") * 60)
                .otherwise(pl.col("prep_time_min"))
                .alias("prep_time_min")
            )
            out.append(Batch(day, frame, {"prep_time_min": ids.filter(on_pos).to_list()}))
        elif day == RENAME_DAY:
            frame = frame.rename({"prep_time_min": "prep_minutes"})
            out.append(Batch(day, frame, {"*": ids.to_list()}))
        else:
            out.append(Batch(day, frame))
    return out
