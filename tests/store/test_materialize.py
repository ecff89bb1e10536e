"""Materialization: online equals the training frame at the materialization time, incrementally.

Runs against the embedded SQLite online store and the real Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from s3_server import s3_config
from store_repo import T0, trips_view

from featurestore import FeatureStore
from featurestore.server.schemas import MaterializeBody
from featurestore.serving import OnlineResponse, Request, answer

UTC_US = pl.Datetime("us", "UTC")
FEATURES = [
    "driver_trips:fare",
    "driver_trips:fare_log",
    "driver_trips:fare_sum_1d",
    "driver_trips:trips_1d",
]


def trips(rows: list[tuple[int, float | None, float, float | None]]) -> pl.DataFrame:
    """(driver_id, fare, event hour, created hour or None) rows."""
    return pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "fare": [r[1] for r in rows],
            "city": ["ams"] * len(rows),
            "event_ts": [T0 + timedelta(hours=r[2]) for r in rows],
            "created_ts": [None if r[3] is None else T0 + timedelta(hours=r[3]) for r in rows],
        },
        schema_overrides={
            "event_ts": UTC_US,
            "created_ts": UTC_US,
            "driver_id": pl.Int64,
            "fare": pl.Float64,
        },
    )


@pytest.fixture(params=["sqlite", "redis", "sqlite+s3"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeatureStore]:
    """Online: the embedded SQLite or the real Redis; offline: a folder, or the real S3-compatible
    server for ``sqlite+s3``."""
    online = "sqlite:///.featurestore/online.db"
    if request.param == "redis":
        online = request.getfixturevalue("redis_url")
    top = table = ""
    if request.param.endswith("+s3"):
        bucket = f"b{uuid.uuid4().hex[:16]}"
        top, table = s3_config(request.getfixturevalue("s3_endpoint"), bucket)
    (tmp_path / "featurestore.toml").write_text(
        f'project = "m"\nonline_store = "{online}"\n{top}{table}'
    )
    with FeatureStore(tmp_path) as store:
        yield store


@contextmanager
def fresh(base: FeatureStore, view: Any = None) -> Iterator[FeatureStore]:
    """A new project in the same registry and online store; its online rows are deleted after."""
    name = f"m{uuid.uuid4().hex[:10]}"
    store = FeatureStore(config=base.config.model_copy(update={"project": name}))
    view = view or trips_view(ttl=None)
    store.apply([view])
    try:
        yield store
    finally:
        store.online.delete_view(view.name)
        store.online.delete_view(view.name + "@windows")
        store.close()


def online_at(store: FeatureStore, drivers: list[int], at: Any) -> OnlineResponse:
    request = Request(features=FEATURES, entities={"driver_id": drivers})
    return answer(store.state, request, store.online, now=at)


def training_at(store: FeatureStore, drivers: list[int], at: Any) -> pl.DataFrame:
    spine = pl.DataFrame(
        {"driver_id": drivers, "event_timestamp": [at] * len(drivers)},
        schema_overrides={"event_timestamp": UTC_US},
    )
    return store.get_training_frame(spine, features=FEATURES)


def assert_online_matches_training(store: FeatureStore, drivers: list[int], at: Any) -> None:
    online = online_at(store, drivers, at)
    frame = training_at(store, drivers, at)
    for ref in FEATURES:
        name = ref.split(":")[1]
        want = frame[name].to_list()
        got = online.to_dict()[name]
        for d, w, g, status in zip(drivers, want, got, online.statuses[name], strict=True):
            if status == "NOT_FOUND":
                # never materialized: the offline answer has no row either (aggregates: empty window)
                assert w in (None, 0, 0.0), (name, d, w)
            else:
                assert g == w or (g != g and w != w), (name, d, g, w, status)


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
        st.integers(0, 48).map(float),
        st.one_of(st.none(), st.integers(0, 60).map(float)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(rows_strategy, min_size=1, max_size=3), cut=st.integers(10, 60))
def test_online_equals_training_frame_at_materialization_time(
    base: FeatureStore, batches: list[list[tuple[int, float | None, float, float | None]]], cut: int
) -> None:
    """Ties (equal event, equal created, equal both) resolve alike online and offline."""
    with fresh(base) as store:
        for rows in batches:
            store.ingest(
                "driver_trips",
                trips([(k, f, e, None if c is None else max(c, e)) for k, f, e, c in rows]),
            )
        at = T0 + timedelta(hours=cut)
        store.materialize(end=at)
        assert_online_matches_training(store, list(range(6)), at)


def test_incremental_idempotent_and_never_older(base: FeatureStore) -> None:
    with fresh(base) as store:
        store.ingest("driver_trips", trips([(1, 10.0, 0, 0), (2, 20.0, 0, 0)]))
        first = store.materialize(end=T0 + timedelta(hours=1))
        assert first.views["driver_trips"] > 0
        assert store.registry.watermark("driver_trips") == T0 + timedelta(hours=1)
        again = store.materialize(end=T0 + timedelta(hours=1))
        assert again.rows == 0  # nothing changed: nothing written
        # a new row for driver 1 only: the next run touches driver 1's plain features only
        store.ingest("driver_trips", trips([(1, 11.0, 2, 2)]))
        second = store.materialize(end=T0 + timedelta(hours=3))
        assert_online_matches_training(store, [1, 2, 3], T0 + timedelta(hours=3))
        assert second.rows < 2 * first.rows + 2
        # an older batch (event before what is online) never overwrites the newer value
        store.ingest("driver_trips", trips([(1, 99.0, 1, 1)]))
        store.materialize(end=T0 + timedelta(hours=3), start=T0)
        assert online_at(store, [1], T0 + timedelta(hours=3)).to_dict()["fare"] == [11.0]


def test_a_full_reload_writes_events_from_1900_on(base: FeatureStore) -> None:
    """``disable_event_timestamp`` starts where the door does (1900), not at 1970: an event of
    1950, or of 1900 itself, is written again once the online rows are gone."""
    with fresh(base) as store:
        old = pl.DataFrame(
            {
                "driver_id": [1, 2],
                "fare": [19.0, 50.0],
                "city": ["ams", "ams"],
                "event_ts": [datetime(1900, 1, 1, tzinfo=UTC), datetime(1950, 6, 1, tzinfo=UTC)],
                "created_ts": [None, None],
            },
            schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
        )
        store.ingest("driver_trips", old)
        store.materialize(end=T0)
        store.online.delete_view("driver_trips")  # the marker stays: only a full reload helps
        start, end, views = MaterializeBody(disable_event_timestamp=True, end=T0).window()
        store.materialize(views, start=start, end=end)
        assert online_at(store, [1, 2], T0).to_dict()["fare"] == [19.0, 50.0]


def test_backfill_without_created_time_is_picked_up(base: FeatureStore) -> None:
    with fresh(base) as store:
        store.ingest("driver_trips", trips([(1, 10.0, 0, None)]))
        store.materialize(end=T0 + timedelta(hours=5))
        # ingested after the run, but with an event time before its watermark
        store.ingest("driver_trips", trips([(2, 30.0, 1, None)]))
        store.materialize(end=T0 + timedelta(hours=6))
        assert online_at(store, [2], T0 + timedelta(hours=6)).to_dict()["fare"] == [30.0]


def test_push_then_materialize_keeps_the_newest(base: FeatureStore) -> None:
    from store_repo import pushed_view

    with FeatureStore(
        config=base.config.model_copy(update={"project": f"m{uuid.uuid4().hex[:10]}"})
    ) as store:
        store.apply([pushed_view()])
        event = {"driver_id": [5], "fare": [12.5], "city": ["lis"], "event_ts": [T0]}
        frame = pl.DataFrame(event, schema_overrides={"event_ts": UTC_US})
        report = store.push("trip_events", frame, to="online_and_offline")
        assert (report.rows_in, report.rows_written) == (1, 1)
        request = Request(
            features=["driver_live:live_fare", "driver_live:live_fare_x2"],
            entities={"driver_id": [5]},
        )
        served = answer(store.state, request, store.online, now=T0)
        assert served.to_dict()["live_fare_x2"] == [25.0]
        store.materialize(end=T0 + timedelta(hours=1))
        served = answer(store.state, request, store.online, now=T0)
        assert served.to_dict()["live_fare"] == [12.5]
