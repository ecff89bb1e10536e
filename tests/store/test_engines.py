"""The Ray engine gives exactly the local engine's answers (DESIGN §13).

Two repos get the same batches, one with ``[compute] engine = "local"`` and one with ``"ray"``
(a real local Ray instance with 2 CPUs, started once per session on the loopback address): the
files each ingestion wrote per bucket, the training frames, what materialization put online and
the skew report must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from store_repo import T0

from featurestore import FeatureStore
from featurestore.compute import RayEngine

UTC_US = pl.Datetime("us", "UTC")
#: both engines read one offline store on the S3-compatible server, as a cluster's nodes would
OFFLINE_STORES = ("s3",)


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """A local Ray with 2 CPUs for the whole session (Ray takes seconds to start)."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    yield
    ray.shutdown()


def trips(seed: int, rows: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    event = [T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 3 * 1440, rows)]
    return pl.DataFrame(
        {
            "driver_id": rng.integers(0, 40, rows),
            "fare": np.round(rng.uniform(0, 50, rows), 2),
            "city": rng.choice(["ams", "ber", "lis"], rows),
            "event_ts": event,
            "created_ts": [
                e + timedelta(minutes=int(d))
                for e, d in zip(event, rng.integers(0, 90, rows), strict=True)
            ],
        },
        schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
    )


def spine() -> pl.DataFrame:
    rng = np.random.default_rng(99)
    return pl.DataFrame(
        {
            "driver_id": rng.integers(0, 45, 300),
            "event_timestamp": [
                T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 4 * 1440, 300)
            ],
            "distance_km": rng.uniform(0, 20, 300),
            "label": rng.integers(0, 2, 300),
        },
        schema_overrides={"event_timestamp": UTC_US},
    )


def exercise(store: FeatureStore) -> dict[str, Any]:
    """Ingest, build frames, materialize, serve sampled requests and check skew."""
    out: dict[str, Any] = {}
    for seed in (1, 2):
        report = store.ingest("driver_trips", trips(seed))
        out[f"ingest{seed}"] = (report.status, report.rows_written, report.rows_quarantined)
    files, _ = store.registry.committed_files("driver_trips")
    out["files"] = sorted((f.path.split("/", 3)[-1], f.bucket, f.rows) for f in files)
    out["frame"] = store.get_training_frame(spine(), service="ranking")
    end = T0 + timedelta(days=3, hours=5)
    out["materialized"] = store.materialize(end=end).rows
    response = store.get_online_features(
        service="ranking",
        entities={"driver_id": list(range(45))},
        request_data={"distance_km": [1.0] * 45},
    )
    out["online"] = response.to_polars()
    skew = store.check_skew().to_dict()
    # examples quote request times, which differ between the two stores' runs
    out["skew"] = [{k: v for k, v in f.items() if k != "examples"} for f in skew["features"]]
    out["samples"] = skew["samples"]
    return out


def test_ray_engine_gives_the_local_answers(ray_instance: None, make_store: Any) -> None:
    config = "[offline]\nbuckets = 4\n[serving]\nskew_sample_rate = 1.0\n"
    local = make_store(config + '[compute]\nengine = "local"\n')
    remote = make_store(config + '[compute]\nengine = "ray"\nray_address = "auto"\n')
    assert isinstance(remote.engine, RayEngine)
    got, want = exercise(remote), exercise(local)
    for key in ("ingest1", "ingest2", "materialized", "skew"):
        assert got[key] == want[key], key
    assert [f[1:] for f in got["files"]] == [f[1:] for f in want["files"]]
    assert {f[1] for f in got["files"]} == {0, 1, 2, 3}
    assert_frame_equal(got["frame"], want["frame"])
    assert_frame_equal(got["online"], want["online"])
    assert got["samples"] == want["samples"] > 0
