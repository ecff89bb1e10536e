"""Throughput of contract validation: 2,000,000 rows x 5 columns, a 3-check contract.

Measures ``featurestore.contracts.validate`` end to end (Pandera's lazy validation plus the
valid/quarantined split) on a clean batch and on one with 1% of rows breaking a check, and
``health`` on the same batch. Prints one JSON line; figures are the median of three runs.

Run: ``.venv/bin/python benchmarks/contracts_throughput.py [--rows N]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl

from featurestore.contracts import health, validate

REPEATS = 3


class TripContract(pa.DataFrameModel):
    """The contract of DESIGN.md section 3."""

    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000)
    city: str = pa.Field(isin=["ams", "ber", "lis"])


def batch(rows: int, bad_share: float, seed: int = 0) -> pl.DataFrame:
    """A batch of trips; ``bad_share`` of its rows break one check (spread over the three)."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "driver_id": rng.integers(0, 100_000, rows),
            "fare": rng.uniform(0, 200, rows),
            "city": rng.choice(["ams", "ber", "lis"], rows),
            "event_ts": pl.datetime_range(
                pl.datetime(2026, 1, 1, time_zone="UTC"),
                pl.datetime(2026, 1, 1, time_zone="UTC") + pl.duration(seconds=rows - 1),
                "1s",
                eager=True,
            ),
            "distance_km": rng.exponential(5.0, rows),
        }
    )
    bad = np.flatnonzero(rng.random(rows) < bad_share)
    kind = pl.Series(np.arange(rows) % 3)
    is_bad = pl.Series(np.isin(np.arange(rows), bad))
    return frame.with_columns(
        pl.when(is_bad & (kind == 0)).then(-1).otherwise(pl.col("driver_id")).alias("driver_id"),
        pl.when(is_bad & (kind == 1)).then(-5.0).otherwise(pl.col("fare")).alias("fare"),
        pl.when(is_bad & (kind == 2)).then(pl.lit("xxx")).otherwise(pl.col("city")).alias("city"),
    )


def median_seconds(run: Callable[[], Any]) -> float:
    """Median wall time of ``REPEATS`` runs after one warm-up."""
    run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    rows = parser.parse_args().rows
    clean, dirty = batch(rows, 0.0), batch(rows, 0.01)
    quarantined = validate(dirty, TripContract, policy="quarantine").quarantined.height
    clean_s = median_seconds(lambda: validate(clean, TripContract, policy="quarantine"))
    dirty_s = median_seconds(lambda: validate(dirty, TripContract, policy="quarantine"))
    reject_s = median_seconds(lambda: validate(dirty, TripContract, policy="reject"))
    health_s = median_seconds(lambda: health(dirty))
    pandera_s = median_seconds(lambda: _pandera_only(dirty))
    print(
        json.dumps(
            {
                "benchmark": "contracts_throughput",
                "rows": rows,
                "columns": clean.width,
                "checks": 4,
                "quarantined_rows_1pct": quarantined,
                "clean_rows_per_s": round(rows / clean_s),
                "dirty_1pct_rows_per_s": round(rows / dirty_s),
                "dirty_1pct_reject_rows_per_s": round(rows / reject_s),
                "pandera_only_dirty_rows_per_s": round(rows / pandera_s),
                "health_rows_per_s": round(rows / health_s),
                "clean_s": round(clean_s, 4),
                "dirty_1pct_s": round(dirty_s, 4),
            }
        )
    )


def _pandera_only(frame: pl.DataFrame) -> None:
    """Pandera's lazy validation alone, for comparison with the full split."""
    with contextlib.suppress(pa.errors.SchemaErrors):
        TripContract.validate(frame, lazy=True)


if __name__ == "__main__":
    main()
