"""Benchmark: the point-in-time join against a bare Polars ``join_asof`` floor.

Data: 100,000 entities x 20 event times = 2,000,000 feature rows with 10 float features and created
timestamps (most rows known within two hours of their event, 5% backfilled days later), and a
1,000,000-row spine; one view, ttl 7 days. Each measured run is its own subprocess, so its peak RSS
is its own; the figure is the median of 3 runs. The floor sorts both sides and joins by key with the
ttl as tolerance, without the known-at rule and without restoring the spine's order; a second
floor sorts both sides by (key, time) first, which Polars' grouped ``join_asof`` handles faster.

A third floor is DuckDB's ``ASOF LEFT JOIN`` over the same Parquet files (reading included, as
for the store's ``get_training_frame``, which reads its committed source rows and computes the
features at read); the target is ``training_frame_ratio_to_duckdb <= 1.0``.

Prints one JSON line, e.g. ``{"pit_join_s": ..., "floor_s": ..., "ratio": ..., ...}``.
Run: ``.venv/bin/python benchmarks/offline_pit.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

N_ENTITIES, N_TIMES, N_FEATURES, N_SPINE = 100_000, 20, 10, 1_000_000
TTL = timedelta(days=7)
RUNS = 3
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_US = 90 * 86_400 * 1_000_000


def make_data(workdir: Path, entities: int, spine_rows: int, seed: int = 7) -> None:
    """Write ``rows.parquet`` and ``spine.parquet`` into ``workdir``."""
    rng = np.random.default_rng(seed)
    n = entities * N_TIMES
    start_us = int(START.timestamp() * 1_000_000)
    event = start_us + rng.integers(0, SPAN_US, n)
    delay = rng.integers(0, 2 * 3_600 * 1_000_000, n)
    backfill = rng.random(n) < 0.05
    delay[backfill] += rng.integers(1, 10, backfill.sum()) * 86_400 * 1_000_000
    rows = pl.DataFrame(
        {
            "entity_id": np.repeat(np.arange(entities, dtype=np.int64), N_TIMES),
            "event_timestamp": event,
            "created_timestamp": event + delay,
            "seq": np.arange(n, dtype=np.int64),
            **{f"f{i}": rng.standard_normal(n) for i in range(N_FEATURES)},
        }
    ).with_columns(pl.col("event_timestamp", "created_timestamp").cast(pl.Datetime("us", "UTC")))
    spine = pl.DataFrame(
        {
            "entity_id": rng.integers(0, entities, spine_rows),
            "event_timestamp": start_us + rng.integers(0, SPAN_US, spine_rows),
            "label": rng.integers(0, 2, spine_rows),
        }
    ).with_columns(pl.col("event_timestamp").cast(pl.Datetime("us", "UTC")))
    rows.write_parquet(workdir / "rows.parquet")
    spine.write_parquet(workdir / "spine.parquet")


def _run_floor(rows: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    return spine.sort("event_timestamp").join_asof(
        rows.sort("event_timestamp"),
        on="event_timestamp",
        by="entity_id",
        tolerance=TTL,
        check_sortedness=False,
    )


def _run_floor_keysorted(rows: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    by_key = ["entity_id", "event_timestamp"]
    return spine.sort(by_key).join_asof(
        rows.sort(by_key),
        on="event_timestamp",
        by="entity_id",
        tolerance=TTL,
        check_sortedness=False,
    )


def _run_pit(rows: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    from featurestore.offline.pit import point_in_time_join

    return point_in_time_join(
        spine,
        rows,
        join_keys=["entity_id"],
        features=[f"f{i}" for i in range(N_FEATURES)],
        ttl=TTL,
    )


def _run_duckdb(workdir: Path) -> pl.DataFrame:
    """DuckDB's ``ASOF LEFT JOIN`` reading the same Parquet files: every spine row with the
    latest row at or before its time (no ttl, no known-at rule), materialised as Polars."""
    import duckdb

    features = ", ".join(f"r.f{i}" for i in range(N_FEATURES))
    return duckdb.sql(
        f"""
        SELECT s.*, {features}
        FROM read_parquet('{workdir / "spine.parquet"}') s
        ASOF LEFT JOIN read_parquet('{workdir / "rows.parquet"}') r
          ON s.entity_id = r.entity_id AND s.event_timestamp >= r.event_timestamp
        """
    ).pl()


RUNNERS = {"pit": _run_pit, "floor": _run_floor, "floor_keysorted": _run_floor_keysorted}
REPO = "repo0"


def _store_frame(store: Any, spine: pl.DataFrame) -> pl.DataFrame:
    """The whole product path: ``FeatureStore.get_training_frame`` over the ingested repo
    (reading the Parquet dataset, the known-at rule, the spine's order, the naming)."""
    return store.get_training_frame(
        spine, features=[f"pit:f{i}" for i in range(N_FEATURES)], full_feature_names=True
    )


def write_repo(path: Path) -> None:
    """A feature repo with one view over the benchmark rows, guarded by a 3-check contract."""
    path.mkdir(parents=True)
    (path / "featurestore.toml").write_text('project = "bench"\n')
    features = ", ".join(f'Feature("f{i}", col("f{i}"))' for i in range(N_FEATURES))
    (path / "features.py").write_text(
        f"""
from datetime import timedelta
import pandera.polars as pa
from featurestore import Entity, Feature, FeatureView, FileSource, col

class Rows(pa.DataFrameModel):
    entity_id: int = pa.Field(ge=0)
    f0: float = pa.Field(ge=-100, le=100)
    f1: float = pa.Field(nullable=False)

pit = FeatureView(
    "pit",
    entities=[Entity("entity", join_keys=["entity_id"])],
    source=FileSource("rows.parquet", created_timestamp_field="created_timestamp"),
    contract=Rows,
    ttl=timedelta(days=7),
    features=[{features}],
)
"""
    )


def _peak_mib() -> float:
    """This process's peak RSS (``VmHWM``). Not ``getrusage``'s ``ru_maxrss``: Linux carries
    that across ``execve``, so a child would report its parent's peak (the data generation)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, workdir: Path) -> None:
    """One measured run in this process; prints its figures as JSON."""
    if kind == "duckdb":  # reads its files inside the timing, as the store does
        import duckdb  # noqa: F401  (its import is not the query's cost)

        before_mib = _peak_mib()
        started = time.perf_counter()
        out = _run_duckdb(workdir)
    elif kind == "store":
        spine = pl.read_parquet(workdir / "spine.parquet")
        from featurestore import FeatureStore

        store = FeatureStore(workdir / REPO)  # opening the registry is not the query's cost
        store.list_feature_views()
        before_mib = _peak_mib()
        started = time.perf_counter()
        out = _store_frame(store, spine)
    else:
        spine = pl.read_parquet(workdir / "spine.parquet")
        rows = pl.read_parquet(workdir / "rows.parquet")
        before_mib = _peak_mib()
        started = time.perf_counter()
        out = RUNNERS[kind](rows, spine)
    seconds = time.perf_counter() - started
    peak_mib = _peak_mib()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak_mib,
                "data_mib": before_mib,
                "out_rows": out.height,
            }
        )
    )


def _child_run(kind: str, workdir: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", kind, "--workdir", str(workdir)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure_all(kinds: list[str], workdir: Path) -> dict[str, dict[str, float]]:
    """Median seconds and peak RSS of ``RUNS`` subprocess runs of each kind.

    The kinds take turns (round robin), so a machine whose speed drifts over minutes slows
    every kind alike and the ratios stay fair.
    """
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(RUNS):
        for kind in kinds:
            runs[kind].append(_child_run(kind, workdir))
    return {
        kind: {
            "seconds": statistics.median(r["seconds"] for r in done),
            "peak_mib": statistics.median(r["peak_mib"] for r in done),
            "data_mib": statistics.median(r["data_mib"] for r in done),
        }
        for kind, done in runs.items()
    }


def ingestion_figures(workdir: Path) -> dict[str, Any]:
    """Ingest ``rows.parquet`` under its contract ``RUNS`` times (a fresh repo each; the first
    is kept for the training-frame runs).

    Returns:
        ``ingest_rows_per_s`` (median; reading the file, validating, hashing, writing and
        committing the batch).
    """

    source = workdir / "rows.parquet"
    pl.read_parquet(source).drop("seq").write_parquet(workdir / "source.parquet")
    speeds = [ingest_into(workdir / f"repo{i}", workdir / "source.parquet") for i in range(RUNS)]
    return {
        "ingest_rows": N_ENTITIES * N_TIMES,
        "ingest_rows_per_s": round(statistics.median(speeds)),
    }


def ingest_into(repo: Path, source: Path, extra_toml: str = "") -> float:
    """Make the benchmark repo at ``repo`` over ``source`` and ingest it; rows per second."""
    from featurestore import FeatureStore

    write_repo(repo)
    with (repo / "featurestore.toml").open("a") as toml:
        toml.write(extra_toml)
    (repo / "rows.parquet").symlink_to(source)
    with FeatureStore(repo) as store:
        store.apply()
        started = time.perf_counter()
        report = store.ingest("pit")
        seconds = time.perf_counter() - started
    assert report.rows_written == report.rows_in, report
    return report.rows_in / seconds


def main() -> None:
    """Generate the data, measure both joins, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=sorted([*RUNNERS, "store", "duckdb"]))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, for a smoke run")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.workdir)
        return
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="fs_bench_pit_") as tmp:
        workdir = Path(tmp)
        make_data(workdir, N_ENTITIES // scale, N_SPINE // scale)
        figures: dict[str, Any] = ingestion_figures(workdir)
        kinds = ["pit", "floor", "floor_keysorted", "store", "duckdb"]
        got = measure_all(kinds, workdir)
        pit, floor, keysorted = got["pit"], got["floor"], got["floor_keysorted"]
        store, duck = got["store"], got["duckdb"]
        figures |= {
            "benchmark": "offline_pit",
            "feature_rows": N_ENTITIES // scale * N_TIMES,
            "spine_rows": N_SPINE // scale,
            "pit_join_s": round(pit["seconds"], 3),
            "floor_join_asof_s": round(floor["seconds"], 3),
            "ratio_to_floor": round(pit["seconds"] / floor["seconds"], 3),
            "floor_keysorted_s": round(keysorted["seconds"], 3),
            "ratio_to_keysorted_floor": round(pit["seconds"] / keysorted["seconds"], 3),
            "pit_peak_rss_mib": round(pit["peak_mib"], 1),
            "floor_peak_rss_mib": round(floor["peak_mib"], 1),
            "data_loaded_rss_mib": round(pit["data_mib"], 1),
            "training_frame_s": round(store["seconds"], 3),
            "training_frame_peak_mib": round(store["peak_mib"], 1),
            "training_frame_ratio": round(store["seconds"] / floor["seconds"], 3),
            "duckdb_asof_s": round(duck["seconds"], 3),
            "duckdb_peak_rss_mib": round(duck["peak_mib"], 1),
            "training_frame_ratio_to_duckdb": round(store["seconds"] / duck["seconds"], 3),
            "runs": RUNS,
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "polars": pl.__version__,
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
