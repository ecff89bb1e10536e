"""``featurestore quickstart``: the whole product on a sample repo, end to end, on the embedded default.

Each step prints what it found. Later steps (serving, parity) are added as the product grows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console

from featurestore.quickstart.sample import sample_end, write_sample_repo

__all__ = ["run_demo", "sample_spine"]

MARKER = ".featurestore-quickstart"


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


def _fresh(directory: Path) -> Path:
    if directory.exists():
        if not (directory / MARKER).exists():
            from featurestore.errors import FeatureStoreError

            raise FeatureStoreError(
                f"{directory} exists and was not made by quickstart; choose another --dir"
            )
        shutil.rmtree(directory)
    write_sample_repo(directory)
    (directory / MARKER).touch()
    return directory


def run_demo(directory: Path, console: Console) -> None:
    from featurestore.cli.render import contract_table, plan_table
    from featurestore.errors import ContractError
    from featurestore.store import FeatureStore

    def step(title: str) -> None:
        console.rule(f"[bold]{title}")

    repo = _fresh(directory.resolve())
    step(f"1. a sample feature repo in {repo}")
    console.print("features.py defines an entity, a contract, a view with windowed aggregates,")
    console.print("an on-demand feature computed from request data, and a feature service.")

    with FeatureStore(repo) as store:
        step("2. featurestore apply")
        console.print(plan_table(store.apply(), dry_run=False))

        step("3. ingest trips under the data contract")
        try:
            report = store.ingest("driver_trips")
        except ContractError as exc:  # pragma: no cover - the sample batch is not rejected
            report = exc.report
        console.print(str(report), markup=False)

        step("4. the contract report: what was quarantined, and why")
        console.print(contract_table(store.contract_reports(view="driver_trips")))

        step("5. a point-in-time-correct training frame")
        spine = sample_spine()
        frame = store.get_training_frame(spine, service="ranking_v1", save_as="ranking_train")
        console.print(frame.head(5))
        filled = frame.get_column("fare_log").is_not_null().sum()
        console.print(
            f"{frame.height} spine rows in, {frame.height} out, in order; {filled} found a "
            "fare known at their time (the rest: no trips yet within the 7-day ttl)"
        )

        step("6. materialize the latest values into the online store")
        console.print(str(store.materialize()), markup=False)

        step("7. online features, as a model would ask for them")
        response = store.get_online_features(
            service="ranking_v1",
            entities={"driver_id": [1, 2, 999]},
            request_data={"distance_km": [3.2, 9.0, 1.0]},
        )
        console.print(response.to_polars())
        console.print({k: v for k, v in response.statuses.items() if k != "driver_id"})
    console.print("\nNext: the realistic scenarios in examples/ (see the README).")
