"""Seeded ride-hailing data, relative to the moment of the run (serving applies ttl to the real clock).

Everything is drawn from fixed seeds; only the anchor ``now`` moves from run to run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from examples._shared import utc_series

__all__ = [
    "FRESH_DRIVERS",
    "GUARD",
    "N_DRIVERS",
    "PLANTED_VIOLATIONS",
    "fresh_trips",
    "history",
    "ride_requests",
    "training_spine",
]

N_DRIVERS = 200
CITIES = ["ams", "ber", "lis"]
#: drivers whose trips of the last minutes land after the materialization job ran
FRESH_DRIVERS = range(50)
#: rows a contract must refuse: (column, check) -> how many
PLANTED_VIOLATIONS = {("fare", "greater_than_or_equal_to(0)"): 5, ("city", "isin"): 3}
#: no trip falls within this long after ``now - 7 days``, so no row leaves a 7-day window (or the
#: 7-day ttl) between materializing and serving: what the report then calls stale is the lag alone
GUARD = dt.timedelta(minutes=10)


def _micros(td: dt.timedelta) -> int:
    return td // dt.timedelta(microseconds=1)


def history(now: dt.datetime, days: int = 30, seed: int = 7) -> pl.DataFrame:
    """Thirty days of trips ending two hours before ``now``, with planted contract violations."""
    rng = np.random.default_rng(seed)
    n = N_DRIVERS * days * 3
    start, end = now - dt.timedelta(days=days), now - dt.timedelta(hours=2)
    offsets = rng.integers(0, _micros(end - start), size=n)
    distance = np.round(rng.gamma(2.0, 4.0, size=n) + 0.5, 2)
    frame = pl.DataFrame(
        {
            "driver_id": rng.integers(0, N_DRIVERS, size=n),
            "fare": np.round(3.0 + distance * rng.normal(1.8, 0.2, size=n), 2),
            "distance_km": distance,
            "city": rng.choice(CITIES, size=n),
            "event_ts": pl.Series(offsets, dtype=pl.Int64).cast(pl.Duration("us")) + start,
            "lag": pl.Series(rng.integers(0, _micros(dt.timedelta(minutes=10)), size=n)),
        }
    )
    edge = now - dt.timedelta(days=7)
    frame = frame.filter(~pl.col("event_ts").is_between(edge, edge + GUARD)).with_columns(
        (pl.col("event_ts") + pl.col("lag").cast(pl.Duration("us"))).alias("created_ts")
    )
    bad = rng.choice(frame.height, size=sum(PLANTED_VIOLATIONS.values()), replace=False)
    refunds, unknown_city = bad[:5], bad[5:]
    fare = frame["fare"].to_numpy().copy()
    fare[refunds] = -fare[refunds]  # refunds booked as negative fares
    city = frame["city"].to_numpy().copy()
    city[unknown_city] = "paris"  # a city the contract does not know
    return (
        frame.drop("lag")
        .with_columns(pl.Series("fare", fare), pl.Series("city", city))
        .sort("event_ts")
    )


def fresh_trips(now: dt.datetime, seed: int = 8) -> pl.DataFrame:
    """One trip per fresh driver in the last 15 minutes, arriving 30 seconds after it ended."""
    rng = np.random.default_rng(seed)
    drivers = list(FRESH_DRIVERS)
    times = [now - dt.timedelta(minutes=15) + dt.timedelta(seconds=10 * i) for i in drivers]
    distance = np.round(rng.gamma(2.0, 4.0, size=len(drivers)) + 0.5, 2)
    return pl.DataFrame(
        {
            "driver_id": drivers,
            "fare": np.round(3.0 + distance * rng.normal(1.8, 0.2, size=len(drivers)), 2),
            "distance_km": distance,
            "city": rng.choice(CITIES, size=len(drivers)),
            "event_ts": utc_series("event_ts", times),
            "created_ts": utc_series("created_ts", [t + dt.timedelta(seconds=30) for t in times]),
        }
    )


def training_spine(now: dt.datetime, n: int = 3000, seed: int = 11) -> pl.DataFrame:
    """Past ride offers: which driver, when, the trip asked for, and whether the driver accepted."""
    rng = np.random.default_rng(seed)
    start = now - dt.timedelta(days=20)
    offsets = rng.integers(0, _micros(dt.timedelta(days=19)), size=n)
    return pl.DataFrame(
        {
            "driver_id": rng.integers(0, N_DRIVERS, size=n),
            "event_timestamp": pl.Series(offsets, dtype=pl.Int64).cast(pl.Duration("us")) + start,
            "trip_km": np.round(rng.gamma(2.0, 4.0, size=n) + 0.5, 1),
            "surge": np.round(rng.choice([1.0, 1.0, 1.0, 1.3, 1.8], size=n), 1),
            "accepted": rng.integers(0, 2, size=n),
        }
    ).sort("event_timestamp")


def ride_requests(seed: int, batch: int = 10, new_drivers: int = 10) -> list[dict[str, list[Any]]]:
    """One round of ranking requests over every driver, plus a few new ones who never drove.

    Each request asks for ``batch`` drivers (the candidates near one rider) with that ride's data.
    """
    rng = np.random.default_rng(seed)
    drivers = list(range(N_DRIVERS + new_drivers))
    rounds: list[dict[str, list[Any]]] = []
    for first in range(0, len(drivers), batch):
        ids = drivers[first : first + batch]
        trip_km = float(np.round(rng.gamma(2.0, 4.0) + 0.5, 1))
        surge = float(rng.choice([1.0, 1.3, 1.8]))
        rounds.append(
            {"driver_id": ids, "trip_km": [trip_km] * len(ids), "surge": [surge] * len(ids)}
        )
    return rounds
