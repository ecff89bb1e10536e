"""``featurestore.feast_compat``: Feast's retrieval calls answer what the native calls answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from featurestore import FeatureStore, RequestError
from featurestore.feast_compat import get_historical_features, get_online_features
from featurestore.quickstart.sample import sample_end, sample_spine, write_sample_repo

FEATURES = ["driver_trips:fare_log", "driver_trips:fare_sum_7d", "driver_trips:is_night"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    """The quickstart sample (SQLite online store), ingested and materialized."""
    repo = write_sample_repo(tmp_path_factory.mktemp("compat") / "repo", project="compat")
    with FeatureStore(repo) as opened:
        opened.apply()
        opened.ingest("driver_trips")
        opened.materialize(end=sample_end())
        yield opened


@pytest.fixture(scope="module")
def spine() -> pl.DataFrame:
    return sample_spine(200)


def naive(frame: pl.DataFrame, column: str = "event_timestamp") -> pd.DataFrame:
    """A pandas entity frame as Feast users write them: naive UTC timestamps."""
    out = frame.to_pandas()
    out[column] = out[column].dt.tz_localize(None)
    return out


def test_historical_features_are_the_training_frame(
    store: FeatureStore, spine: pl.DataFrame
) -> None:
    job = get_historical_features(store, entity_df=naive(spine), features=FEATURES)
    native = store.get_training_frame(spine, features=FEATURES)
    pd.testing.assert_frame_equal(job.to_df(), native.to_pandas())
    assert job.to_arrow().equals(native.to_arrow())
    assert_frame_equal(job.to_polars(), native)
    assert native["fare_log"].null_count() < native.height  # values, not only nulls


def test_historical_features_of_a_feature_service_with_full_names(
    store: FeatureStore, spine: pl.DataFrame
) -> None:
    service = store.get_feature_service("ranking_v1")
    job = get_historical_features(
        store, entity_df=spine.to_arrow(), features=service, full_feature_names=True
    )
    native = store.get_training_frame(spine, service="ranking_v1", full_feature_names=True)
    assert_frame_equal(job.to_polars(), native)
    assert "ride_features__fare_per_km_est" in native.columns


def test_historical_features_find_the_one_datetime_column_as_feast_does(
    store: FeatureStore, spine: pl.DataFrame
) -> None:
    renamed = naive(spine).rename(columns={"event_timestamp": "label_time"})
    job = get_historical_features(
        store, entity_df=renamed, features=FEATURES, point_in_time="event"
    )
    native = store.get_training_frame(spine, features=FEATURES, point_in_time="event")
    assert_frame_equal(job.to_polars(), native.rename({"event_timestamp": "label_time"}))


@pytest.mark.parametrize(
    ("entity_df", "features", "names"),
    [
        ("SELECT * FROM spine", FEATURES, "SQL query"),
        (pd.DataFrame({"driver_id": [1]}), FEATURES, "no datetime column"),
        (
            pd.DataFrame(
                {"driver_id": [1], "a": [dt.datetime(2026, 1, 1)], "b": [dt.datetime(2026, 1, 1)]}
            ),
            FEATURES,
            "exactly one datetime column",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [dt.datetime(2026, 1, 1)]}),
            "driver_trips:fare_log",
            "FeatureService",
        ),
    ],
)
def test_historical_features_refuse_what_they_cannot_take(
    store: FeatureStore, entity_df: object, features: object, names: str
) -> None:
    with pytest.raises(RequestError, match=names):
        get_historical_features(store, entity_df=entity_df, features=features)  # type: ignore[arg-type]


def test_online_features_from_entity_rows_are_the_native_answer(store: FeatureStore) -> None:
    rows = [{"driver_id": 3, "distance_km": 2.5}, {"driver_id": 100_000, "distance_km": 1.0}]
    service = store.get_feature_service("ranking_v1")
    answer = get_online_features(store, features=service, entity_rows=rows)
    native = store.get_online_features(
        service="ranking_v1",
        entities={"driver_id": [3, 100_000]},
        request_data={"distance_km": [2.5, 1.0]},
    )
    assert answer.to_dict() == native.to_dict()
    assert answer.statuses == native.statuses
    assert answer.to_dict()["fare_log"][0] is not None
    pd.testing.assert_frame_equal(answer.to_df(), native.to_pandas())
    columns = get_online_features(
        store, features=FEATURES, entity_rows={"driver_id": [3, 7]}, full_feature_names=True
    )
    assert (
        columns.to_dict()
        == store.get_online_features(
            FEATURES, entities={"driver_id": [3, 7]}, full_feature_names=True
        ).to_dict()
    )


@pytest.mark.parametrize(
    ("rows", "names"),
    [
        ([{"driver_id": 3}, {"driver": 4}], r"entity_rows\[1\]"),
        ([], "non-empty"),
        ([{"driver_id": 3}, "4"], r"entity_rows\[1\]"),
    ],
)
def test_online_features_refuse_ragged_rows(
    store: FeatureStore, rows: list[object], names: str
) -> None:
    with pytest.raises(RequestError, match=names):
        get_online_features(store, features=FEATURES, entity_rows=rows)  # type: ignore[arg-type]


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs_as_written(
    store: FeatureStore, spine: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("## Coming from Feast", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(store.repo_path)
    scope: dict[str, object] = {"entity_df": naive(spine)}
    exec(compile(code, "README.md", "exec"), scope)
    native = store.get_training_frame(
        spine, features=["driver_trips:fare_log", "driver_trips:trips_1h"]
    )
    pd.testing.assert_frame_equal(scope["training_df"], native.to_pandas())  # type: ignore[arg-type]
    assert (
        scope["online"]
        == store.get_online_features(
            service="ranking_v1", entities={"driver_id": [7]}, request_data={"distance_km": [3.2]}
        ).to_dict()
    )
