"""Training frames through the store: ingestion + point-in-time rule + on-demand features, end to end.

The expected values come from the independent oracle in ``tests/offline/oracle.py`` applied to
the rows the store actually published, so ingestion order (seq), key handling, naming and column
assembly are all checked, not only the join function.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_repo import T0, definitions, trips_view

from featurestore import FeatureStore, NotFoundError, RequestError
from featurestore.offline.windows import WindowSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "offline"))
from oracle import oracle_join, oracle_windows

#: the store contract: on a local folder and on a real S3-compatible server
OFFLINE_STORES = ("local", "s3")

MakeStore = Callable[..., FeatureStore]
UTC_US = pl.Datetime("us", "UTC")


def trips(rows: list[tuple[int, float, int, int]]) -> pl.DataFrame:
    """(driver_id, fare, event hour, created hour) rows."""
    return pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "fare": [r[1] for r in rows],
            "city": ["ams"] * len(rows),
            "event_ts": [T0 + timedelta(hours=r[2]) for r in rows],
            "created_ts": [T0 + timedelta(hours=r[3]) for r in rows],
        },
        schema_overrides={
            "event_ts": UTC_US,
            "created_ts": UTC_US,
            "driver_id": pl.Int64,
            "fare": pl.Float64,
        },
    )


def spine(rows: list[tuple[int, int]], **extra: list[Any]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "event_timestamp": [T0 + timedelta(hours=r[1]) for r in rows],
            **extra,
        },
        schema_overrides={"event_timestamp": UTC_US},
    )


def test_known_at_rule_ttl_ties_and_order(make_store: MakeStore) -> None:
    store = make_store()
    store.ingest("driver_trips", trips([(1, 10.0, 0, 0), (1, 20.0, 5, 30), (2, 7.0, 1, 1)]))
    store.ingest(
        "driver_trips", trips([(1, 11.0, 0, 0)])
    )  # same event+created: ingested later wins
    frame = store.get_training_frame(
        spine([(1, 6), (1, 31), (2, 1), (3, 5), (1, 6), (2, 24 * 8 + 2)], label=[1, 0, 1, 0, 1, 0]),
        features=["driver_trips:fare", "driver_trips:trips_1d"],
    )
    assert frame["fare"].to_list() == [11.0, 20.0, 7.0, None, 11.0, None]
    # both rows at hour 0 count (a duplicate is a row); at hour 31 the window (7h, 31h] is empty
    assert frame["trips_1d"].to_list() == [2, 0, 1, 0, 2, 0]
    assert frame["label"].to_list() == [1, 0, 1, 0, 1, 0]
    event_mode = store.get_training_frame(
        spine([(1, 6)]), features=["driver_trips:fare"], point_in_time="event"
    )
    assert event_mode["fare"].to_list() == [20.0]


def test_service_on_demand_and_full_names(make_store: MakeStore) -> None:
    store = make_store()
    store.ingest("driver_trips", trips([(1, 10.0, 0, 0), (2, 4.0, 0, 0)]))
    frame = store.get_training_frame(
        spine([(1, 2), (2, 2)], distance_km=[1.0, 3.0]), service="ranking"
    )
    assert frame.columns == [
        "driver_id",
        "event_timestamp",
        "distance_km",
        "fare",
        "fare_sum_1d",
        "fare_per_km",
    ]
    assert frame["fare_per_km"].to_list() == [5.0, 1.0]
    full = store.get_training_frame(
        spine([(1, 2)], distance_km=[1.0]), service="ranking", full_feature_names=True
    )
    assert full.columns[-3:] == [
        "driver_trips__fare",
        "driver_trips__fare_sum_1d",
        "ride__fare_per_km",
    ]


def test_name_collisions_are_refused(make_store: MakeStore) -> None:
    other = trips_view(name="driver_trips_copy")
    store = make_store(objects=[*definitions(), other])
    with pytest.raises(RequestError, match="full_feature_names"):
        store.get_training_frame(
            spine([(1, 2)]), features=["driver_trips:fare", "driver_trips_copy:fare"]
        )
    with pytest.raises(RequestError, match="already has a column named 'fare'"):
        store.get_training_frame(spine([(1, 2)], fare=[1.0]), features=["driver_trips:fare"])


@pytest.mark.parametrize(
    ("frame", "kwargs", "error", "match"),
    [
        (
            spine([(1, 2)]).drop("driver_id"),
            {"features": ["driver_trips:fare"]},
            RequestError,
            "driver_id",
        ),
        (
            spine([(1, 2)]).drop("event_timestamp"),
            {"features": ["driver_trips:fare"]},
            RequestError,
            "event_timestamp",
        ),
        (
            spine([(1, 2)]).with_columns(pl.col("event_timestamp").dt.replace_time_zone(None)),
            {"features": ["driver_trips:fare"]},
            RequestError,
            "naive",
        ),
        (spine([]), {"features": ["driver_trips:fare"]}, RequestError, "empty"),
        (spine([(1, 2)]), {"features": ["driver_trips:nope"]}, NotFoundError, "no feature 'nope'"),
        (spine([(1, 2)]), {"features": ["nope:fare"]}, NotFoundError, "'nope'"),
        (spine([(1, 2)]), {"service": "nope"}, NotFoundError, "'nope'"),
        (spine([(1, 2)]), {"features": ["fare"]}, RequestError, "view:feature"),
        (spine([(1, 2)]), {"service": "ranking"}, RequestError, "distance_km"),
        (spine([(1, 2)]), {}, RequestError, "either"),
        (
            spine([(1, 2), (2, 2)]).with_columns(
                pl.Series("driver_id", [1, 10**22], dtype=pl.Int128)
            ),
            {"features": ["driver_trips:fare"]},
            RequestError,
            r"spine column 'driver_id' has 1 key\(s\) that do not fit a 64-bit integer, "
            "e.g. 10000000000000000000000",
        ),
        (
            spine([(1, 2)]).with_columns(pl.Series("driver_id", [2**63 + 5], dtype=pl.UInt64)),
            {"features": ["driver_trips:fare"]},
            RequestError,
            "do not fit a 64-bit integer, e.g. 9223372036854775813",
        ),
    ],
    ids=[
        "no-key",
        "no-ts",
        "naive",
        "empty",
        "feature",
        "view",
        "service",
        "ref",
        "request-field",
        "nothing",
        "key-beyond-int64",
        "unsigned-key-beyond-int64",
    ],
)
def test_bad_requests(
    make_store: MakeStore,
    frame: pl.DataFrame,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    store = make_store()
    with pytest.raises(error, match=match):
        store.get_training_frame(frame, **kwargs)


def test_save_as_records_lineage(make_store: MakeStore) -> None:
    store = make_store()
    store.ingest("driver_trips", trips([(1, 10.0, 0, 0)]))
    frame = store.get_training_frame(
        spine([(1, 2)]), features=["driver_trips:fare"], save_as="train_v1"
    )
    record = store.registry.get_dataset("train_v1")
    assert record["rows"] == 1 and record["feature_refs"] == {"driver_trips:fare": 1}
    assert len(record["spine_hash"]) == 64
    assert_frame_equal(store.get_saved_dataset("train_v1"), frame)


def test_views_without_data_give_typed_nulls(make_store: MakeStore) -> None:
    store = make_store()
    frame = store.get_training_frame(
        spine([(1, 2)]), features=["driver_trips:fare", "driver_trips:trips_1d"]
    )
    assert frame["fare"].to_list() == [None]
    assert frame["trips_1d"].to_list() == [0]


@pytest.fixture(scope="module")
def oracle_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    repo = tmp_path_factory.mktemp("oracle")
    (repo / "featurestore.toml").write_text('project = "o"\n')
    with FeatureStore(repo) as store:
        yield store


def fresh_project(base: FeatureStore) -> FeatureStore:
    """A new, empty project beside ``base`` (same registry database, no migration to rerun)."""
    return FeatureStore(
        config=base.config.model_copy(update={"project": f"o{uuid.uuid4().hex[:10]}"})
    )


batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
            st.integers(0, 20),
            st.integers(0, 6),
        ),
        min_size=0,
        max_size=8,
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=batches,
    points=st.lists(st.tuples(st.integers(0, 5), st.integers(-2, 30)), min_size=1, max_size=10),
)
def test_store_agrees_with_the_oracle(
    oracle_repo: FeatureStore,
    batches: list[list[tuple[int, float | None, int, int]]],
    points: list[tuple[int, int]],
) -> None:
    view = trips_view(ttl=timedelta(hours=6))
    with fresh_project(oracle_repo) as store:
        store.apply([view])
        for rows in batches:
            frame = trips([(k, f, e, e + lag) for k, f, e, lag in rows])  # type: ignore[misc]
            if frame.height:
                store.ingest("driver_trips", frame)
        the_spine = spine(points)
        got = store.get_training_frame(
            the_spine,
            features=["driver_trips:fare", "driver_trips:fare_sum_1d", "driver_trips:trips_1d"],
        )
        lazy = store._scan(store.get_feature_view("driver_trips"))
        published = lazy.collect() if lazy is not None else None
    if published is None:
        return
    want = oracle_join(
        the_spine, published, join_keys=["driver_id"], features=["fare"], ttl=timedelta(hours=6)
    )
    aggs = [
        WindowSpec("fare_sum_1d", "fare_sum_1d", "sum", timedelta(days=1)),
        WindowSpec("trips_1d", "trips_1d", "count", timedelta(days=1)),
    ]
    want = want.hstack(
        oracle_windows(the_spine, published, join_keys=["driver_id"], aggs=aggs).select(
            "fare_sum_1d", "trips_1d"
        )
    )
    assert_frame_equal(got, want, check_exact=False, rel_tol=1e-9)
