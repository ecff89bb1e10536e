"""Crash anything at any instant: a ``kill -9`` of ``featurestore ingest`` loses or doubles nothing,
and one of ``featurestore materialize`` leaves nothing a second run does not mend.

Each test kills a real ``featurestore ingest`` process with SIGKILL, either at a named point
(``FEATURESTORE_FAULT``, the hook in ``featurestore._faults``: before, between and after the file
writes and the commit) or after a random delay, then ingests the same file again and checks
what a reader sees: the rows of committed runs only, each row once, ``rows_in == rows_written +
rows_quarantined`` for every committed run, aggregates exact, and no file left that the manifest
does not list.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from s3_server import s3_config

from featurestore import FeatureStore
from featurestore.serving import Request, answer

FEATURES = """
from datetime import timedelta
import pandera.polars as pa
from featurestore import Aggregate, Entity, Feature, FeatureView, FileSource, col

class Trip(pa.DataFrameModel):
    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0)

trips = FeatureView(
    "trips",
    entities=[Entity("driver", join_keys=["driver_id"])],
    source=FileSource("data/trips.parquet", timestamp_field="event_ts",
                      created_timestamp_field="created_ts"),
    contract=Trip,
    features=[
        Feature("fare", col("fare")),
        Aggregate("fare_sum", col("fare"), "sum", window=timedelta(days=3650)),
    ],
)
"""
POINTS = [
    "ingest.begun",
    "ingest.validated",
    "ingest.quarantine_written",
    "ingest.rows_written",
    "ingest.committed",
]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: the fault-point crashes run with the offline store on a folder and on S3 (tests/store/conftest)
OFFLINE_STORES = ("local", "s3")


def make_repo(path: Path, rows: int, registry: str | None = None, offline: str = "") -> Path:
    """A repo whose source file spans 30 days (30 partition files per bucket) with 1% bad
    fares; ``offline``: config lines putting the offline store elsewhere (object storage)."""
    (path / "data").mkdir(parents=True)
    toml = 'project = "crash"\n'
    if registry:
        toml += f'registry = "{registry}"\n'
    (path / "featurestore.toml").write_text(toml + offline)
    (path / "features.py").write_text(FEATURES)
    rng = np.random.default_rng(rows)
    fare = rng.uniform(0, 100, rows)
    fare[rng.random(rows) < 0.01] = -1.0
    event = pl.Series(
        [T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 30 * 1440, rows)],
        dtype=pl.Datetime("us", "UTC"),
    )
    pl.DataFrame(
        {
            "driver_id": rng.integers(0, 50, rows),
            "fare": fare,
            "event_ts": event,
            "created_ts": event + timedelta(minutes=1),
        }
    ).write_parquet(path / "data" / "trips.parquet")
    with FeatureStore(path) as store:
        store.apply()
    return path


def ingest(repo: Path, fault: str | None = None) -> subprocess.Popen[str]:
    return featurestore(repo, ["ingest", "trips", "--json"], fault)


def featurestore(repo: Path, args: list[str], fault: str | None = None) -> subprocess.Popen[str]:
    """``featurestore <args>`` in ``repo``, started (killed at ``fault`` when given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    if fault:
        env["FEATURESTORE_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "featurestore.cli", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_store(repo: Path) -> None:
    """What every reader must see after any crash followed by a re-ingest."""
    source = pl.read_parquet(repo / "data" / "trips.parquet")
    valid = source.filter(pl.col("fare") >= 0)
    with FeatureStore(repo) as store:
        reports = store.contract_reports("trips")
        landed = [r for r in reports if r.status in ("ok", "quarantined")]
        assert len(landed) == 1, [(r.status, r.error) for r in reports]  # nothing doubled
        for r in landed:
            assert r.rows_in == r.rows_written + r.rows_quarantined
        assert (landed[0].rows_written, landed[0].rows_quarantined) == (
            valid.height,
            source.height - valid.height,
        )
        view = store.get_feature_view("trips")
        rows = store._scan(view)
        assert rows is not None
        assert rows.select(pl.len()).collect().item() == valid.height
        assert store.quarantined("trips").height == source.height - valid.height
        # the aggregate over all history, as of after the last row: exact per driver
        drivers = sorted(valid["driver_id"].unique().to_list())
        spine = pl.DataFrame(
            {"driver_id": drivers, "event_timestamp": [T0 + timedelta(days=40)] * len(drivers)},
            schema_overrides={"event_timestamp": pl.Datetime("us", "UTC")},
        )
        got = store.get_training_frame(spine, features=["trips:fare_sum"])
        want = valid.group_by("driver_id").agg(pl.col("fare").sum()).sort("driver_id")
        assert got["fare_sum"].to_list() == pytest.approx(want["fare"].to_list(), rel=1e-12)
        # every file on disk belongs to a committed batch (the dead run's files were swept)
        listed = {f.path for f in store.registry.committed_files("trips")[0]}
        listed |= {f.path for f in store.registry.committed_files("trips", "quarantine")[0]}
        on_disk = {
            f.path
            for folder in (store.offline.view_dir("trips"), store.offline.quarantine_dir("trips"))
            for f in store.offline.list_files(folder)
            if f.path.endswith(".parquet")
        }
        assert on_disk == listed


def crash_then_reingest(repo: Path, fault: str | None = None, delay: float = 0.0) -> str:
    """Kill an ingest (at ``fault``, or after ``delay`` seconds), ingest again; the status of the
    second run."""
    first = ingest(repo, fault)
    if fault is None:
        time.sleep(delay)
        first.kill()
    first.communicate(timeout=120)
    if fault is not None:
        assert first.returncode == -9, first.returncode
    second = ingest(repo)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    status: str = json.loads(out)["status"]
    return status


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_point_then_reingest(
    tmp_path: Path, point: str, offline_kind: str, request: pytest.FixtureRequest
) -> None:
    offline = ""
    if offline_kind == "s3":  # the same crashes with the offline store on object storage
        endpoint = request.getfixturevalue("s3_endpoint")
        top, table = s3_config(endpoint, f"b{uuid.uuid4().hex[:16]}")
        offline = top + table
    repo = make_repo(tmp_path / "repo", 20_000, offline=offline)
    status = crash_then_reingest(repo, fault=point)
    # killed after its commit, the first run landed: the same file again is a duplicate
    assert status == ("duplicate" if point == "ingest.committed" else "quarantined")
    check_store(repo)


def test_kill_at_random_instants_then_reingest(tmp_path: Path) -> None:
    rng = random.Random(7)
    for i in range(4):
        repo = make_repo(tmp_path / f"repo{i}", 300_000)
        crash_then_reingest(repo, delay=rng.uniform(0.5, 3.0))
        check_store(repo)


@pytest.fixture
def pg_repo(tmp_path: Path, postgres_url: str) -> Iterator[Path]:
    yield make_repo(tmp_path / "repo", 20_000, registry=postgres_url)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["ingest.rows_written", "ingest.committed"])
def test_kill_with_a_postgres_registry(pg_repo: Path, point: str) -> None:
    crash_then_reingest(pg_repo, fault=point)
    check_store(pg_repo)


MATERIALIZE_POINTS = [
    "materialize.bucket_written",  # the first bucket's rows online, the others not
    "materialize.rows_written",  # every row online, the watermark not recorded
    "materialize.recorded",  # the watermark recorded, the run not finished
]


@pytest.mark.parametrize("point", MATERIALIZE_POINTS)
def test_kill_a_materialization_then_run_it_again(tmp_path: Path, point: str) -> None:
    """A materialization killed anywhere is mended by running it again: the online values
    equal the training frame's as of its end, the watermark is that end, the second run does
    not take the store for one that lost its data, and a third run has nothing to write."""
    repo = make_repo(tmp_path / "repo", 20_000)
    with FeatureStore(repo) as store:
        store.ingest("trips")
    end = T0 + timedelta(days=40)
    args = ["materialize", "--end", end.isoformat(), "--json"]
    first = featurestore(repo, args, fault=point)
    first.communicate(timeout=120)
    assert first.returncode == -9, first.returncode
    second = featurestore(repo, args)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out)["reloaded"] is None
    drivers = list(range(50))
    features = ["trips:fare", "trips:fare_sum"]
    with FeatureStore(repo) as store:
        assert store.registry.watermark("trips") == end
        served = answer(
            store.state,
            Request(features=features, entities={"driver_id": drivers}),
            store.online,
            now=end,
        )
        spine = pl.DataFrame(
            {"driver_id": drivers, "event_timestamp": [end] * len(drivers)},
            schema_overrides={"event_timestamp": pl.Datetime("us", "UTC")},
        )
        frame = store.get_training_frame(spine, features=features)
        for name in ("fare", "fare_sum"):
            assert served.to_dict()[name] == pytest.approx(frame[name].to_list(), rel=1e-12)
            assert set(served.statuses[name]) == {"PRESENT"}
        assert store.materialize(end=end).rows == 0


@pytest.mark.parametrize("point", ["log.claimed", "log.written"])
def test_kill_a_serving_log_flush_then_flush_again(tmp_path: Path, point: str) -> None:
    """A flush of the serving log (the skew check's first step) killed after claiming a batch,
    or after writing and recording its file, loses no sample and doubles none: the next flush
    writes the claim again, to the same file."""
    sampling = "[serving]\nskew_sample_rate = 1.0\n"
    repo = make_repo(tmp_path / "repo", 2_000, offline=sampling)
    with FeatureStore(repo) as store:
        store.ingest("trips")
        store.materialize(end=T0 + timedelta(days=40))
        for request in range(20):
            drivers = list(range(request, request + 5))
            store.get_online_features(["trips:fare"], entities={"driver_id": drivers})
    # closed: the 100 samples are in the online store's buffer, none flushed yet
    first = featurestore(repo, ["parity", "skew", "--json"], fault=point)
    first.communicate(timeout=120)
    assert first.returncode == -9, first.returncode
    second = featurestore(repo, ["parity", "skew", "--json"])
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    with FeatureStore(repo) as store:
        log = store.serving_log()
        assert log.height == 100
        assert log.select("request_id", "keys").unique().height == 100  # none twice
        assert log["request_id"].n_unique() == 20
        flushes = store.registry.log_flushes()
        assert len({f["path"] for f in flushes}) == len(flushes) == 1
        assert store.check_skew().samples > 0
