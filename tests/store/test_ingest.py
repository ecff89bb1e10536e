"""Ingestion under contracts: policies, schema failures, atomic publish, every run recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_repo import T0, trips_view

from featurestore import ContractError, FeatureStore, RequestError
from featurestore.offline.buckets import bucket_of

#: the store contract: on a local folder and on a real S3-compatible server
OFFLINE_STORES = ("local", "s3")

MakeStore = Callable[..., FeatureStore]


def batch(n: int = 6, **overrides: list[Any]) -> pl.DataFrame:
    ts = [T0 + timedelta(hours=i) for i in range(n)]
    data: dict[str, Any] = {
        "driver_id": [i % 3 for i in range(n)],
        "fare": [10.0 + i for i in range(n)],
        "city": ["ams"] * n,
        "event_ts": ts,
        "created_ts": [t + timedelta(minutes=5) for t in ts],
    }
    data.update(overrides)
    return pl.DataFrame(
        data,
        schema_overrides={
            "driver_id": pl.Int64,
            "fare": pl.Float64,
            "city": pl.String,
            "event_ts": pl.Datetime("us", "UTC"),
            "created_ts": pl.Datetime("us", "UTC"),
        },
    )


def offline_rows(store: FeatureStore, view: str = "driver_trips") -> int:
    """Rows of the view's committed batches (what every reader sees)."""
    lazy = store._scan(store.get_feature_view(view))
    return 0 if lazy is None else lazy.select(pl.len()).collect().item()


def quarantine(store: FeatureStore, view: str = "driver_trips") -> pl.DataFrame:
    return store.quarantined(view)


def test_clean_batch(make_store: MakeStore) -> None:
    store = make_store()
    report = store.ingest("driver_trips", batch())
    assert (report.status, report.rows_in, report.rows_written, report.rows_quarantined) == (
        "ok",
        6,
        6,
        0,
    )
    assert offline_rows(store) == 6
    assert report.health["fare"]["min"] == 10.0
    assert set(report.to_dict()) >= {
        "run_id",
        "view",
        "source",
        "status",
        "started_at",
        "rows_in",
        "rows_written",
        "rows_quarantined",
        "violations",
        "health",
    }


def test_quarantine_policy_splits_rows_with_reasons(make_store: MakeStore) -> None:
    store = make_store()
    report = store.ingest(
        "driver_trips",
        batch(
            fare=[10.0, -1.0, 12.0, 13.0, 20_000.0, 15.0],
            city=["ams", "ams", "xx", "ams", "ams", "ams"],
        ),
    )
    assert report.status == "quarantined"
    assert (report.rows_written, report.rows_quarantined) == (3, 3)
    checks = {(v["column"], v["check"]): v["failures"] for v in report.violations}
    assert checks[("fare", "greater_than_or_equal_to(0)")] == 1
    assert checks[("fare", "less_than_or_equal_to(10000)")] == 1
    assert sum(n for (c, _), n in checks.items() if c == "city") == 1
    bad = quarantine(store)
    assert sorted(bad["__row"].to_list()) == [1, 2, 4]
    reasons = {r["__row"]: r["__reasons"] for r in bad.to_dicts()}
    assert reasons[2][0]["column"] == "city" and reasons[2][0]["value"] == "xx"
    assert offline_rows(store) == 3


def test_reject_policy_rejects_whole_batch(make_store: MakeStore) -> None:
    store = make_store(objects=[trips_view(on_violation="reject")])
    with pytest.raises(ContractError, match=r"driver_trips.*rejected") as caught:
        store.ingest("driver_trips", batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0]))
    report = caught.value.report
    assert (report.status, report.rows_written, report.rows_quarantined) == ("rejected", 0, 6)
    assert offline_rows(store) == 0
    assert quarantine(store).height == 6
    assert store.contract_reports("driver_trips")[0].status == "rejected"


def test_warn_policy_writes_everything(make_store: MakeStore) -> None:
    store = make_store(objects=[trips_view(on_violation="warn")])
    report = store.ingest("driver_trips", batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0]))
    assert (report.status, report.rows_written, report.rows_quarantined) == ("warned", 6, 0)
    assert report.violations and report.violations[0]["failures"] == 1
    assert offline_rows(store) == 6


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (batch().drop("fare"), "fare"),
        (batch().drop("event_ts"), "event_ts"),
        (batch().with_columns(pl.col("event_ts").dt.replace_time_zone(None)), "naive"),
        (batch().with_columns(pl.col("fare").cast(pl.String) + "x"), "fare"),
    ],
    ids=["missing-column", "missing-timestamp", "naive-timestamp", "wrong-type"],
)
def test_schema_failures_reject_the_batch_and_record_the_run(
    make_store: MakeStore, frame: pl.DataFrame, match: str
) -> None:
    store = make_store()
    with pytest.raises(ContractError, match=match) as caught:
        store.ingest("driver_trips", frame)
    report = caught.value.report
    assert report.status == "rejected" and report.rows_written == 0 and report.rows_quarantined == 6
    assert offline_rows(store) == 0
    assert quarantine(store).height == 6
    assert [r.status for r in store.contract_reports()] == ["rejected"]


def test_null_join_key_is_quarantined(make_store: MakeStore) -> None:
    store = make_store()
    report = store.ingest("driver_trips", batch(driver_id=[1, None, 2, 1, 2, 1]))
    assert report.rows_quarantined == 1 and report.rows_written == 5


def test_inputs_parquet_csv_pandas_arrow(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store()
    frame = batch()
    frame.write_parquet(tmp_path / "b.parquet")
    frame.write_csv(tmp_path / "b.csv")
    first = store.ingest("driver_trips", tmp_path / "b.parquet")
    assert first.rows_written == 6
    # every format reads to the same rows, so each is recognised as the same batch ...
    for same in (str(tmp_path / "b.csv"), frame.to_pandas(), frame.to_arrow()):
        again = store.ingest("driver_trips", same)
        assert (again.status, again.duplicate_of, again.rows_written) == (
            "duplicate",
            first.run_id,
            0,
        )
    # ... unless forced
    assert store.ingest("driver_trips", frame.to_arrow(), force=True).rows_written == 6
    assert offline_rows(store) == 12


def test_source_default_path(make_store: MakeStore) -> None:
    store = make_store()
    batch().write_parquet(store.repo_path / "data" / "trips.parquet")
    assert store.ingest("driver_trips").rows_written == 6


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("nope.parquet", "does not exist"),
        ("defs.txt", "not Parquet or CSV"),
        (42, "frame or a file path"),
    ],
)
def test_bad_sources(make_store: MakeStore, data: object, match: str) -> None:
    store = make_store()
    (store.repo_path / "defs.txt").write_text("hello")
    with pytest.raises(RequestError, match=match):
        store.ingest("driver_trips", data)


def test_crash_while_publishing_leaves_nothing_visible(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the batch's partition files are written must not expose any of them."""
    store = make_store()
    store.ingest("driver_trips", batch(3))
    real = pl.LazyFrame.sink_parquet
    written: list[str] = []

    def crash_after_writing(self: pl.LazyFrame, target: Any, *args: Any, **kwargs: Any) -> Any:
        real(self, target, *args, **kwargs)
        written.extend(f.path for f in store.offline.list_files("views"))
        raise OSError("disk full")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", crash_after_writing)
    spread = batch(
        4,
        event_ts=[T0 + timedelta(days=i) for i in range(4)],
        created_ts=[T0 + timedelta(days=i) for i in range(4)],
    )
    with pytest.raises(OSError, match="disk full"):
        store.ingest("driver_trips", spread)
    monkeypatch.undo()
    assert written, "the crash must come after partition files were written"
    assert offline_rows(store) == 3
    assert store.contract_reports()[0].status == "failed"
    assert store.ingest("driver_trips", spread).rows_written == 4
    assert offline_rows(store) == 7


def test_files_of_a_run_that_never_committed_are_invisible_and_swept(
    make_store: MakeStore,
) -> None:
    store = make_store()
    store.ingest("driver_trips", batch(3))
    # a run whose process died after writing its files: opened, files written, never committed
    run_id, seq = store.registry.begin_ingestion("driver_trips", "crashed", owner="nohost:1")
    name = f"run-{seq:012d}-{run_id}"
    orphan = f"{store.offline.view_dir('driver_trips')}/{name}"
    store.offline.write_file(f"{orphan}/bucket=0000/date=2026-01-01/part.parquet", batch())
    assert offline_rows(store) == 3
    store.registry.finish_ingestion(run_id, {"status": "failed", "run_id": run_id})
    store.ingest("driver_trips", batch(4))
    assert not store.offline.list_files(orphan)
    assert offline_rows(store) == 7


values = st.one_of(
    st.floats(min_value=0, max_value=10_000, allow_nan=False),
    st.floats(min_value=-100, max_value=-0.01),
    st.floats(min_value=10_000.5, max_value=1e6),
    st.none(),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fares=st.lists(values, min_size=0, max_size=25),
    city_bad=st.lists(st.booleans(), min_size=25, max_size=25),
    key_null=st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_rows_in_equals_written_plus_quarantined(
    shared_store: FeatureStore,
    fares: list[float | None],
    city_bad: list[bool],
    key_null: list[bool],
) -> None:
    store = shared_store
    before_rows, before_quarantine = offline_rows(store), quarantine(store).height
    n = len(fares)
    frame = batch(
        n,
        fare=fares,
        city=["zz" if b else "ber" for b in city_bad[:n]],
        driver_id=[None if k and i % 4 == 0 else i for i, k in enumerate(key_null[:n])],
    ).with_columns(pl.col("fare").cast(pl.Float64))
    expected_bad = sum(
        1
        for i in range(n)
        if (fares[i] is not None and not 0 <= fares[i] <= 10_000)  # type: ignore[operator]
        or city_bad[i]
        or (key_null[i] and i % 4 == 0)
    )
    report = store.ingest("driver_trips", frame, force=True)  # Hypothesis repeats batches
    assert report.rows_in == report.rows_written + report.rows_quarantined == n
    assert report.rows_quarantined == expected_bad
    assert offline_rows(store) - before_rows == report.rows_written
    assert quarantine(store).height - before_quarantine == report.rows_quarantined


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from store_repo import definitions

    repo = tmp_path_factory.mktemp("shared")
    (repo / "featurestore.toml").write_text('project = "shared"\n')
    with FeatureStore(repo) as store:
        store.apply(definitions())
        yield store


def test_reports_newest_first_and_per_view(make_store: MakeStore) -> None:
    store = make_store()
    store.ingest("driver_trips", batch(2))
    store.ingest("driver_trips", batch(3))
    reports = store.contract_reports(view="driver_trips")
    assert [r.rows_in for r in reports] == [3, 2]
    assert store.contract_reports(view="driver_live") == []


def test_quarantined_rows_are_readable_per_run(make_store: MakeStore) -> None:
    store = make_store()
    first = store.ingest("driver_trips", batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0]))
    store.ingest("driver_trips", batch(city=["ams", "xx", "xx", "ams", "ams", "ams"]))
    everything = store.quarantined("driver_trips")
    assert everything.height == 3
    mine = store.quarantined("driver_trips", run_id=first.run_id)
    assert mine["fare"].to_list() == [-1.0] and mine["__run_id"].to_list() == [first.run_id]
    assert mine["__reasons"].to_list()[0][0]["check"] == "greater_than_or_equal_to(0)"


def test_bucket_count_is_fixed_by_the_first_ingestion(make_store: MakeStore) -> None:
    """A view keeps the bucket count of its first ingestion whatever the config says later, and
    every file lands in the bucket its keys hash to."""
    store = make_store("[offline]\nbuckets = 3\n")
    store.ingest("driver_trips", batch(30, driver_id=list(range(30))))
    later = FeatureStore(
        config=store.config.model_copy(
            update={"offline": store.config.offline.model_copy(update={"buckets": 5})}
        )
    )
    try:
        later.ingest("driver_trips", batch(30, driver_id=list(range(30, 60))))
        assert later.registry.view_buckets("driver_trips", 5) == 3
        files, _ = later.registry.committed_files("driver_trips")
        assert {f.bucket for f in files} == {0, 1, 2}
        for f in files:
            keys = later.offline.read(f.path).select("driver_id")
            assert set(bucket_of(keys, ["driver_id"], 3).to_list()) == {f.bucket}
            assert f"/bucket={f.bucket:04d}/" in f.path
        spine = pl.DataFrame(
            {"driver_id": list(range(60)), "event_timestamp": [T0 + timedelta(days=2)] * 60},
            schema_overrides={"event_timestamp": pl.Datetime("us", "UTC")},
        )
        frame = later.get_training_frame(spine, features=["driver_trips:fare"])
        assert frame["fare"].to_list() == [10.0 + (i % 30) for i in range(60)]
    finally:
        later.close()
