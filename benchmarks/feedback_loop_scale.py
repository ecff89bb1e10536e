"""Scale of ``feedback_loop_report``: a million feedback rows and a million served rows.

A recommender's month: each request shows one of 1,000 items (the prediction and the served
entity), a fifth of the traffic is the control group, labels are clicks. The floor is the least
any implementation must do: one Polars ``group_by`` per window over feedback (distinct
predictions, rows, outcome rate per group) and one over the serving log (distinct entities).
Prints one JSON line: median wall and CPU seconds of three runs after a warm-up, and the ratio.

Run: ``.venv/bin/python benchmarks/feedback_loop_scale.py [--rows N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl
from drift_scale import median_seconds  # the same timing: median of 3 runs after a warm-up

from featurestore.parity import feedback_loop_report

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
UTC_US = pl.Datetime("us", "UTC")


def traffic(rows: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, 30 * 86_400_000_000, rows))
    times = pl.Series(offsets + int(T0.timestamp() * 1e6)).cast(UTC_US)
    items = rng.integers(0, 1000, rows)
    control = rng.random(rows) < 0.2
    feedback = pl.DataFrame(
        {
            "timestamp": times,
            "prediction": pl.Series(items).cast(pl.String),
            "label": (rng.random(rows) < np.where(control, 0.10, 0.12)).astype(np.int64),
        }
    ).with_columns(
        group=pl.when(pl.Series(control)).then(pl.lit("control")).otherwise(pl.lit(None, pl.String))
    )
    served = pl.DataFrame(
        {
            "requested_at": times,
            "keys": pl.Series(items).cast(pl.String).cast(pl.Binary),
            "sample": np.arange(rows),
        }
    )
    return feedback, served


def floor(feedback: pl.DataFrame, served: pl.DataFrame) -> Any:
    day = 86_400_000_000
    windows = feedback.group_by(pl.col("timestamp").dt.epoch("us") // day).agg(
        pl.col("prediction").n_unique(),
        pl.len(),
        pl.col("label").filter(pl.col("group") == "control").mean().alias("control"),
        pl.col("label").filter(pl.col("group").is_null()).mean().alias("rest"),
    )
    entities = served.group_by(pl.col("requested_at").dt.epoch("us") // day).agg(
        pl.col("keys").n_unique()
    )
    return windows, entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    feedback, served = traffic(args.rows)
    ours_wall, ours_cpu = median_seconds(
        lambda: feedback_loop_report(feedback, served, window=dt.timedelta(days=1))
    )
    floor_wall, floor_cpu = median_seconds(lambda: floor(feedback, served))
    print(
        json.dumps(
            {
                "benchmark": "feedback_loop_scale",
                "feedback_rows": args.rows,
                "served_rows": args.rows,
                "windows": 30,
                "report_wall_s": round(ours_wall, 3),
                "report_cpu_s": round(ours_cpu, 3),
                "floor_wall_s": round(floor_wall, 3),
                "floor_cpu_s": round(floor_cpu, 3),
                "wall_ratio": round(ours_wall / floor_wall, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
