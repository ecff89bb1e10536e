"""Mistakes in features.py are found at apply, and future timestamps never land."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from cli_helpers import run
from store_repo import TripContract, driver, trips_view

from featurestore import (
    DefinitionError,
    Feature,
    FeatureStore,
    FeatureView,
    FileSource,
    PushSource,
    RequestError,
    col,
)

MakeStore = Callable[..., FeatureStore]
UTC_US = pl.Datetime("us", "UTC")


def source_file(store: FeatureStore) -> None:
    """The view's source file, so its header is what apply checks against."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pl.DataFrame(
        {
            "driver_id": [1],
            "fare": [1.0],
            "city": ["ams"],
            "event_ts": [now],
            "created_ts": [now],
        },
        schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
    ).write_parquet(store.repo_path / "data" / "trips.parquet")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"features": [Feature("fare_log", col("fair").log1p())]},
            "view 'driver_trips', feature 'fare_log': column 'fair' is not in source 'trips' "
            "(its columns: city, created_ts, driver_id, event_ts, fare)",
        ),
        (
            {"source": FileSource("data/trips.parquet", timestamp_field="event_time")},
            "view 'driver_trips', timestamp_field 'event_time': column 'event_time'",
        ),
        (
            {"entities": [driver.__class__("rider", join_keys=["rider_id"])]},
            "view 'driver_trips', join key 'rider_id': column 'rider_id'",
        ),
    ],
)
def test_a_misspelt_column_is_refused_at_apply_in_one_line(
    make_store: MakeStore, overrides: dict[str, object], message: str
) -> None:
    store = make_store(objects=[trips_view()])
    source_file(store)
    with pytest.raises(DefinitionError) as caught:
        store.apply([trips_view(**overrides)])
    assert message in caught.value.message
    assert "\n" not in caught.value.message and "__event_ts" not in caught.value.message
    assert store.registry.get("feature_view", "driver_trips").version == 1  # nothing stored


def test_a_contract_column_the_file_lacks_is_refused(make_store: MakeStore) -> None:
    import pandera.polars as pa

    class Misspelt(pa.DataFrameModel):
        driver_id: int
        farre: float

    store = make_store(objects=[trips_view()])
    source_file(store)
    with pytest.raises(DefinitionError, match="contract column 'farre'"):
        store.apply([trips_view(contract=Misspelt)])


def test_the_cli_says_it_at_apply_with_exit_1(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "featurestore.toml").write_text('project = "p"\n')
    pl.DataFrame({"k": [1], "val": [2.0], "ts": [datetime(2026, 1, 1, tzinfo=UTC)]}).write_parquet(
        repo / "data" / "x.parquet"
    )
    (repo / "features.py").write_text(
        "from featurestore import Entity, Feature, FeatureView, FileSource, col\n"
        "v = FeatureView('v', entities=[Entity('k')], source=FileSource('data/x.parquet', "
        "timestamp_field='ts'), features=[Feature('v2', col('vall') * 2)])\n"
    )
    done = run("apply", cwd=repo)
    assert done.returncode == 1
    assert "view 'v', feature 'v2': column 'vall' is not in source" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_push_source_takes_its_timestamps_from_its_batch_source() -> None:
    batch = FileSource("data/t.parquet", timestamp_field="ts", created_timestamp_field="made")
    push = PushSource("events", schema={"k": int, "ts": "datetime"}, batch_source=batch)
    assert (push.timestamp_field, push.created_timestamp_field) == ("ts", "made")
    own = PushSource("e2", schema={"k": int}, batch_source=batch, timestamp_field="at")
    assert own.timestamp_field == "at"
    alone = PushSource("e3", schema={"k": int})
    assert (alone.timestamp_field, alone.created_timestamp_field) == ("event_timestamp", None)


# -- timestamps from the future ------------------------------------------------------------------


def trips(events: list[datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "driver_id": list(range(len(events))),
            "fare": [10.0] * len(events),
            "city": ["ams"] * len(events),
            "event_ts": events,
            "created_ts": events,
        },
        schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US, "driver_id": pl.Int64},
    )


def test_future_rows_are_quarantined_on_batch_and_push(make_store: MakeStore) -> None:
    store = make_store()
    now = datetime.now(UTC)
    far = datetime(9999, 12, 31, tzinfo=UTC)
    report = store.ingest("driver_trips", trips([now - timedelta(hours=1), far, now]))
    assert (report.status, report.rows_written, report.rows_quarantined) == ("quarantined", 2, 1)
    assert report.violations[-1]["check"] == "max_future"
    reasons = store.quarantined("driver_trips")["__reasons"].to_list()
    assert reasons == [[{"column": "event_ts", "check": "max_future", "value": "9999-12-31T00:00:00.000000Z"}, {"column": "created_ts", "check": "max_future", "value": "9999-12-31T00:00:00.000000Z"}]]  # fmt: skip
    assert store.quarantined("driver_trips")["__row"].to_list() == [1]
    pushed = store.push(
        "trip_events",
        pl.DataFrame(
            {
                "driver_id": [1, 2],
                "fare": [1.0, 2.0],
                "city": ["ams", "ams"],
                "event_ts": [now, far],
            },
            schema_overrides={"event_ts": UTC_US},
        ),
        to="online_and_offline",
    )
    assert (pushed.rows_written, pushed.rows_quarantined) == (1, 1)
    live = store.get_online_features(
        features=["driver_live:live_fare"], entities={"driver_id": [2]}
    )
    assert live.statuses["live_fare"] == ["NOT_FOUND"]  # nothing pinned online either


def test_future_rows_are_quarantined_even_under_warn(make_store: MakeStore) -> None:
    store = make_store(objects=[trips_view(on_violation="warn")])
    far = datetime(9999, 1, 1, tzinfo=UTC)
    report = store.ingest("driver_trips", trips([datetime.now(UTC), far]))
    assert (report.rows_written, report.rows_quarantined) == (1, 1)


def test_rows_before_1900_are_quarantined(make_store: MakeStore) -> None:
    """Nothing is materialized before 1900 (the door's bound): such a row would be trained on
    and never served, so it is quarantined like a row from the future; 1900 itself is kept."""
    store = make_store()
    now = datetime.now(UTC)
    first, before, earliest = (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
    )
    report = store.ingest("driver_trips", trips([first, now, before, earliest]))
    assert (report.status, report.rows_written, report.rows_quarantined) == ("quarantined", 2, 2)
    (early,) = [v for v in report.violations if v["check"] == "before_1900"]
    assert (early["failures"], early["limit"]) == (2, "1900-01-01T00:00:00+00:00")
    quarantined = store.quarantined("driver_trips")
    assert quarantined["__row"].to_list() == [0, 2]
    assert quarantined["__reasons"].to_list()[0] == [
        {"column": "event_ts", "check": "before_1900", "value": "0001-01-01T00:00:00.000000Z"},
        {"column": "created_ts", "check": "before_1900", "value": "0001-01-01T00:00:00.000000Z"},
    ]


def test_max_future_is_configurable(make_store: MakeStore) -> None:
    store = make_store('[ingestion]\nmax_future = "30d"\n')
    report = store.ingest("driver_trips", trips([datetime.now(UTC) + timedelta(days=10)]))
    assert report.rows_written == 1


def test_materialize_refuses_an_end_beyond_max_future(make_store: MakeStore) -> None:
    store = make_store()
    with pytest.raises(RequestError, match=r"later than now plus ingestion\.max_future"):
        store.materialize(end=datetime(9999, 12, 31, tzinfo=UTC))
    assert store.registry.watermark("driver_trips") is None
    done = run("materialize", "--end", "9999-12-31T00:00:00Z", cwd=store.repo_path)
    assert done.returncode == 1 and "max_future" in done.stderr + done.stdout


def test_a_batch_lacking_a_feature_column_is_rejected_naming_it(make_store: MakeStore) -> None:
    from featurestore import ContractError

    store = make_store(objects=[FeatureView("v", entities=[driver], source=trips_view().source, contract=TripContract, features=[Feature("x", col("extra") + 1)])])  # fmt: skip
    with pytest.raises(ContractError) as caught:
        store.ingest("v", trips([datetime.now(UTC)]))
    assert "feature 'x': the batch lacks column 'extra'" in caught.value.message


@pytest.mark.parametrize("policy", ["quarantine", "reject", "warn"])
def test_future_rows_and_contract_failures_together(make_store: MakeStore, policy: str) -> None:
    from featurestore import ContractError

    store = make_store(objects=[trips_view(on_violation=policy)])
    now, far = datetime.now(UTC), datetime(9000, 1, 1, tzinfo=UTC)
    frame = trips([now, far, now, far, now]).with_columns(
        pl.Series("city", ["ams", "ams", "xx", "xx", "ams"])
    )
    if policy == "reject":
        with pytest.raises(ContractError) as caught:
            store.ingest("driver_trips", frame)
        report = caught.value.report
        assert (report.rows_written, report.rows_quarantined) == (0, 5)
        assert store.quarantined("driver_trips")["__row"].to_list() == [0, 1, 2, 3, 4]
        return
    report = store.ingest("driver_trips", frame)
    assert report.rows_in == report.rows_written + report.rows_quarantined
    rows = store.quarantined("driver_trips")
    if policy == "warn":  # the contract only warns; the future rows never land
        assert rows["__row"].to_list() == [1, 3] and report.rows_written == 3
        return
    assert rows["__row"].to_list() == [1, 2, 3]
    assert [[r["check"] for r in reasons] for reasons in rows["__reasons"].to_list()] == [
        ["max_future", "max_future"],
        ["isin(['ams', 'ber', 'lis'])"],
        ["max_future", "max_future"],
    ]
