"""Scale of the skew check: 1,000,000 logged served values (100,000 sampled entities x 10 features).

Builds an embedded repo in a temporary folder (SQLite online store, Parquet offline store),
ingests 5 rows per entity, materializes, serves every entity once (in requests of 1,000, sample
rate 1.0, so every served value is logged), then times ``store.check_skew()`` (flushing the log
buffer to Parquet, recomputing every value offline with the training-frame rule, classifying).
Prints one JSON line.

Run: ``.venv/bin/python benchmarks/skew_scale.py [--entities N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from featurestore import Entity, Feature, FeatureStore, FeatureView, PushSource, col

FEATURES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    args = parser.parse_args()
    n = args.entities
    schema = {"driver_id": int, "event_ts": "datetime", **{f"x{i}": float for i in range(FEATURES)}}
    source = PushSource("events", schema=schema, timestamp_field="event_ts")
    view = FeatureView(
        "big",
        entities=[Entity("driver", join_keys=["driver_id"], value_type=int)],
        source=source,
        features=[Feature(f"f{i}", col(f"x{i}") * 2) for i in range(FEATURES)],
    )
    rng = np.random.default_rng(0)
    now = dt.datetime.now(dt.UTC)
    rows = 5 * n
    frame = pl.DataFrame(
        {
            "driver_id": np.repeat(np.arange(n), 5),
            "event_ts": pl.Series(
                [now - dt.timedelta(hours=1)] * rows, dtype=pl.Datetime("us", "UTC")
            )
            - pl.Series(rng.integers(0, 86_400_000_000, rows)).cast(pl.Duration("us")),
            **{f"x{i}": rng.normal(size=rows) for i in range(FEATURES)},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / "featurestore.toml").write_text(
            'project = "bench"\n[serving]\nskew_sample_rate = 1.0\nmax_entities = 1000\n'
            "log_buffer_size = 2000000\n"
        )
        with FeatureStore(repo) as store:
            store.apply([view])
            t = time.perf_counter()
            store.ingest("big", frame)
            ingest_s = time.perf_counter() - t
            store.materialize()
            refs = [f"big:f{i}" for i in range(FEATURES)]
            t = time.perf_counter()
            for start in range(0, n, 1000):
                store.get_online_features(
                    refs, entities={"driver_id": list(range(start, min(n, start + 1000)))}
                )
            serve_s = time.perf_counter() - t
            t = time.perf_counter()
            flushed = store.flush_serving_log()
            flush_s = time.perf_counter() - t
            t = time.perf_counter()
            report = store.check_skew()
            check_s = time.perf_counter() - t
    values = sum(f.total for f in report.features)
    print(
        json.dumps(
            {
                "benchmark": "skew_scale",
                "entities": n,
                "logged_values": flushed,
                "checked_values": values,
                "mismatch": report.total("mismatch"),
                "stale": report.total("stale"),
                "ingest_seconds": round(ingest_s, 2),
                "serve_and_log_seconds": round(serve_s, 2),
                "flush_seconds": round(flush_s, 2),
                "check_seconds": round(check_s, 2),
                "values_per_second": round(values / check_s),
            }
        )
    )


if __name__ == "__main__":
    main()
