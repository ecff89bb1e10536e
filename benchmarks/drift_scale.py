"""Scale of ``drift_report``: 1,000,000 rows x 20 features on each side.

The features mix what a training frame holds: normal, skewed (log-normal), integer counts with
many ties, a float column with 5% nulls, and string categories; the current side is shifted for
half of them. Prints one JSON line with the median wall and CPU time of three runs (after one
warm-up), and SciPy's wall time for KS plus Wasserstein of one feature, for comparison.

Run: ``.venv/bin/python benchmarks/drift_scale.py [--rows N] [--features K]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from featurestore.parity import drift_report

REPEATS = 3


def frame(rows: int, features: int, shift: float, seed: int) -> pl.DataFrame:
    """``features`` columns cycling through five kinds of distribution."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(features):
        delta = shift if i % 2 else 0.0
        kind = i % 5
        if kind == 0:
            columns[f"f{i}"] = rng.normal(delta, 1.0, rows)
        elif kind == 1:
            columns[f"f{i}"] = rng.lognormal(delta, 1.0, rows)
        elif kind == 2:
            columns[f"f{i}"] = rng.poisson(3.0 + delta, rows)
        elif kind == 3:
            values = rng.normal(delta, 2.0, rows)
            columns[f"f{i}"] = pl.Series(values).scatter(
                np.flatnonzero(rng.random(rows) < 0.05), None
            )
        else:
            p = [0.5 - delta / 10, 0.3, 0.2 + delta / 10]
            columns[f"f{i}"] = rng.choice(["ams", "ber", "lis"], rows, p=p)
    return pl.DataFrame(columns)


def median_seconds(run: Callable[[], Any]) -> tuple[float, float]:
    """Median wall and CPU (all threads) time of ``REPEATS`` runs after one warm-up.

    CPU time is the steadier figure on a shared machine, where wall time depends on the load.
    """
    run()
    wall, cpu = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def scipy_one_feature(reference: np.ndarray, current: np.ndarray) -> None:
    """The straightforward SciPy calls for one numeric feature (the baseline)."""
    from scipy.stats import ks_2samp, wasserstein_distance

    ks_2samp(reference, current)
    wasserstein_distance(reference, current)


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args()
    reference = frame(args.rows, args.features, 0.0, seed=1)
    current = frame(args.rows, args.features, 0.2, seed=2)

    def run() -> None:
        drift_report(reference, current, reference_name="train", current_name="serve")

    seconds, cpu_seconds = median_seconds(run)
    report = drift_report(reference, current, reference_name="train", current_name="serve")
    ref0, cur0 = reference["f0"].to_numpy(), current["f0"].to_numpy()
    baseline, _ = median_seconds(lambda: scipy_one_feature(ref0, cur0))
    print(
        json.dumps(
            {
                "benchmark": "drift_scale",
                "rows_per_side": args.rows,
                "features": args.features,
                "seconds_median_of_3": round(seconds, 3),
                "cpu_seconds_median_of_3": round(cpu_seconds, 3),
                "seconds_per_feature": round(seconds / args.features, 4),
                "scipy_ks_plus_wasserstein_one_feature_seconds": round(baseline, 3),
                "drifted": len(report.drifted),
            }
        )
    )


if __name__ == "__main__":
    main()
