"""A small, realistic ride-hailing repo: definitions, config and seeded data with planted problems.

The trips batch holds a few contract violations (negative fares, an unknown city, a null driver
id) so the first ingestion has something to quarantine. ``spine.parquet`` holds label events
(driver, time, requested distance, accepted) for the tour's training frame.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["DEFINITIONS", "sample_end", "sample_spine", "trips_frame", "write_sample_repo"]


def sample_end() -> dt.datetime:
    """The end of the sample history: the current hour, so served values are fresh (within ttl)."""
    return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


CITIES = ["ams", "ber", "lis"]

CONFIG = """\
project = "{project}"
registry = "sqlite:///.featurestore/registry.db"
offline_store = ".featurestore/offline"
online_store = "sqlite:///.featurestore/online.db"

[serving]
skew_sample_rate = 1.0
"""

DEFINITIONS = '''\
"""Ride-hailing features: one definition, trained on offline and served online."""

from datetime import timedelta

import pandera.polars as pa

from featurestore import (
    Aggregate,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    RequestSource,
    col,
)

driver = Entity("driver", join_keys=["driver_id"], value_type=int)


class TripContract(pa.DataFrameModel):
    """What a trip row must look like before it may become a feature."""

    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000)
    city: str = pa.Field(isin=["ams", "ber", "lis"])


trips = FileSource(
    "data/trips.parquet", timestamp_field="event_ts", created_timestamp_field="created_ts"
)

driver_trips = FeatureView(
    "driver_trips",
    entities=[driver],
    source=trips,
    contract=TripContract,
    ttl=timedelta(days=7),
    features=[
        Feature("fare_log", col("fare").log1p()),
        Feature("is_night", (col("event_ts").dt.hour() >= 22) | (col("event_ts").dt.hour() < 6)),
        Feature("last_fare", col("fare")),
        Aggregate("fare_sum_7d", col("fare"), "sum", window=timedelta(days=7)),
        Aggregate("trips_1h", col("fare"), "count", window=timedelta(hours=1)),
    ],
)

ride_request = RequestSource("ride_request", schema={"distance_km": float})

ride_features = OnDemandFeatureView(
    "ride_features",
    sources=[driver_trips, ride_request],
    features=[Feature("fare_per_km_est", col("last_fare") / (col("distance_km") + 1))],
)

ranking_v1 = FeatureService("ranking_v1", features=[driver_trips, ride_features])
'''


def trips_frame(
    n_drivers: int = 200, days: int = 30, seed: int = 7, end: dt.datetime | None = None
) -> pl.DataFrame:
    """Seeded trips ending at ``end`` (default: :func:`sample_end`), with planted violations."""
    end = end or sample_end()
    rng = np.random.default_rng(seed)
    n = n_drivers * days * 4
    start = end - dt.timedelta(days=days)
    offsets = rng.integers(0, days * 86_400_000_000, size=n)
    event_ts = pl.Series(offsets, dtype=pl.Int64).cast(pl.Duration("us")) + start
    lag = pl.Series(rng.integers(0, 600_000_000, size=n), dtype=pl.Int64).cast(pl.Duration("us"))
    frame = pl.DataFrame(
        {
            "driver_id": rng.integers(0, n_drivers, size=n),
            "fare": np.round(rng.gamma(2.0, 9.0, size=n), 2),
            "city": rng.choice(CITIES, size=n),
            "event_ts": event_ts,
        }
    ).with_columns((pl.col("event_ts") + lag).alias("created_ts"))
    bad = rng.choice(n, size=12, replace=False)
    fare = frame["fare"].to_numpy().copy()
    fare[bad[:6]] = -fare[bad[:6]] - 1.0  # refunds booked as negative fares
    city = frame["city"].to_list()
    for i in bad[6:10]:
        city[i] = "paris"  # a city the contract does not know
    driver = frame["driver_id"].to_list()
    for i in bad[10:]:
        driver[i] = None  # a trip without a driver
    return frame.with_columns(
        pl.Series("fare", fare),
        pl.Series("city", city),
        pl.Series("driver_id", driver, dtype=pl.Int64),
    ).sort("event_ts")


def sample_spine(n: int = 1000, seed: int = 11, n_drivers: int = 200) -> pl.DataFrame:
    """Label events: which driver, when, the trip distance asked for, and whether it was accepted."""
    rng = np.random.default_rng(seed)
    start = sample_end() - dt.timedelta(days=20)
    offsets = pl.Series(rng.integers(0, 20 * 86_400_000_000, size=n), dtype=pl.Int64)
    return pl.DataFrame(
        {
            "driver_id": rng.integers(0, n_drivers + 20, size=n),  # some drivers have no trips
            "event_timestamp": offsets.cast(pl.Duration("us")) + start,
            "distance_km": np.round(rng.uniform(0.5, 30.0, size=n), 1),
            "accepted": rng.integers(0, 2, size=n),
        }
    ).sort("event_timestamp")


def write_sample_repo(path: Path, project: str = "rides") -> Path:
    """Write the sample repo into ``path`` (created if needed); returns the path."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "data").mkdir(exist_ok=True)
    (path / "featurestore.toml").write_text(CONFIG.format(project=project))
    (path / "features.py").write_text(DEFINITIONS)
    trips_frame().write_parquet(path / "data" / "trips.parquet")
    sample_spine().write_parquet(path / "spine.parquet")
    return path
