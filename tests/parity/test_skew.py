"""The skew check classifies each planted case exactly, on SQLite and on the real Redis.

Each case is built on purpose: stale (served before a newer batch was ingested and before
re-materialization), missing_offline (pushed online only), missing_online (ingested, never
materialized), mismatch (an online value overwritten directly for the same event), and a clean
run (ingest, materialize, serve, check) with no mismatch and nothing stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from trip_events import UTC_US, batch

from featurestore import (
    Aggregate,
    Entity,
    Feature,
    FeatureService,
    FeatureStore,
    FeatureView,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    col,
)
from featurestore.materialize import online_rows
from featurestore.parity.differences import same_value

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource(
    "trip_events",
    schema={"driver_id": int, "fare": float, "event_ts": "datetime", "created_ts": "datetime"},
    timestamp_field="event_ts",
    created_timestamp_field="created_ts",
)
trips = FeatureView(
    "trips",
    entities=[driver],
    source=events,
    ttl=dt.timedelta(days=7),
    features=[
        Feature("fare", col("fare")),
        Feature("fare_x2", col("fare") * 2),
        Aggregate("fare_sum_1d", col("fare"), "sum", window=dt.timedelta(days=1)),
    ],
)
request = RequestSource("ride", schema={"km": float})
per_km = OnDemandFeatureView(
    "per_km", sources=[trips, request], features=[Feature("fare_per_km", col("fare") / col("km"))]
)
service = FeatureService("svc", features=[trips, per_km])


@pytest.fixture(params=["sqlite", "redis"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, project_name: str
) -> Iterator[FeatureStore]:
    online = "sqlite:///.featurestore/online.db"
    if request.param == "redis":
        online = request.getfixturevalue("redis_url")
    (tmp_path / "featurestore.toml").write_text(
        f'project = "{project_name}"\nonline_store = "{online}"\n[serving]\nskew_sample_rate = 1.0\n'
    )
    with FeatureStore(tmp_path) as s:
        s.apply([trips, request, per_km, service])
        yield s
        s.online.delete_view("trips")
        s.online.delete_view("trips@windows")


def serve(store: FeatureStore, drivers: list[int]) -> None:
    store.get_online_features(
        service="svc", entities={"driver_id": drivers}, request_data={"km": [2.0] * len(drivers)}
    )


def by_feature(report: object) -> dict[tuple[str, str], dict[str, int]]:
    return {(f["view"], f["feature"]): f for f in report.to_dict()["features"]}  # type: ignore[attr-defined]


def test_clean_run_has_no_mismatch_and_nothing_stale(store: FeatureStore) -> None:
    now = dt.datetime.now(dt.UTC)
    store.push(
        "trip_events",
        batch([(1, 10.0, now - dt.timedelta(hours=2)), (2, 7.5, now - dt.timedelta(hours=3))]),
        to="offline",
    )
    store.materialize()
    serve(store, [1, 2])
    report = store.check_skew()
    assert report.samples == 2
    assert report.total("mismatch") == 0 and report.total("stale") == 0
    features = by_feature(report)
    assert features[("trips", "fare")]["match"] == 2
    assert features[("per_km", "fare_per_km")]["match"] == 2
    assert store.registry.reports("skew")[0]["samples"] == 2


def test_each_planted_case_is_classified_exactly(store: FeatureStore) -> None:
    now = dt.datetime.now(dt.UTC)
    h = dt.timedelta(hours=1)
    # drivers 1 (stale), 3 (mismatch): ingested and materialized
    store.push("trip_events", batch([(1, 10.0, now - 3 * h), (3, 30.0, now - 3 * h)]), to="offline")
    store.materialize()
    # driver 4 (missing_online): ingested after the materialization, never materialized
    store.push("trip_events", batch([(4, 40.0, now - 3 * h)]), to="offline")
    # driver 2 (missing_offline): pushed to the online store only
    store.push("trip_events", batch([(2, 20.0, now - 2 * h)]), to="online")
    # driver 3 (mismatch): the online value overwritten directly, same event, another number
    view = store.get_feature_view("trips")
    forged = batch([(3, 31.0, now - 3 * h)]).select(
        "driver_id",
        pl.col("event_ts").alias("event_timestamp"),
        pl.col("created_ts").alias("created_timestamp"),
        pl.lit(1 << 62, dtype=pl.Int64).alias("seq"),
        pl.lit(31.0).alias("fare"),
        pl.lit(99.0).alias("fare_x2"),
    )
    # (written as the view version in force, as a materialization would be)
    version = store.registry.get("feature_view", "trips").version
    forged_rows = online_rows(
        store.project, view, forged, ["fare", "fare_x2"], view_version=version
    )
    store.online.write("trips", forged_rows)
    # ... and its window, same window end, another sum
    [end] = store.registry.materialization_seqs("trips")
    window = forged.select(
        "driver_id",
        pl.lit(end).cast(UTC_US).alias("event_timestamp"),
        pl.lit(None, dtype=UTC_US).alias("created_timestamp"),
        pl.lit(1, dtype=pl.Int64).alias("seq"),
        pl.lit(77.0).alias("fare_sum_1d"),
    )
    window_rows = online_rows(store.project, view, window, ["fare_sum_1d"], view_version=version)
    store.online.write("trips@windows", window_rows)
    serve(store, [1, 2, 3, 4])
    # driver 1 (stale): a newer event, known before the request, ingested after serving and
    # before any re-materialization
    store.push("trip_events", batch([(1, 11.0, now - 2 * h)]), to="offline")

    report = store.check_skew()
    assert report.samples == 4
    fare = by_feature(report)[("trips", "fare")]
    assert {
        c: fare[c] for c in ("match", "stale", "missing_online", "missing_offline", "mismatch")
    } == {
        "match": 0,
        "stale": 1,
        "missing_online": 1,
        "missing_offline": 1,
        "mismatch": 1,
    }
    cases = {e["keys"]["driver_id"]: e["class"] for e in fare["examples"]}
    assert cases == {1: "stale", 2: "missing_offline", 3: "mismatch", 4: "missing_online"}
    assert fare["mean_abs_diff"] == pytest.approx(1.0) and fare["max_abs_diff"] == pytest.approx(
        1.0
    )
    x2 = by_feature(report)[("trips", "fare_x2")]
    assert x2["mismatch"] == 1 and x2["stale"] == 1
    # windows: driver 1's window got a row after the run that served it (stale), driver 3's
    # stored sum was forged (mismatch), driver 4 was never materialized, driver 2 never offline
    sums = by_feature(report)[("trips", "fare_sum_1d")]
    got = {e["keys"]["driver_id"]: e["class"] for e in sums["examples"]}
    assert got == {1: "stale", 2: "missing_offline", 3: "mismatch", 4: "missing_online"}
    # the on-demand feature takes the class of the input that differed: its transformation
    # agrees with what was served in every case
    odfv = by_feature(report)[("per_km", "fare_per_km")]
    got = {e["keys"]["driver_id"]: e["class"] for e in odfv["examples"]}
    assert got == {1: "stale", 2: "missing_offline", 3: "mismatch", 4: "missing_online"}


def test_same_value_rules() -> None:
    assert same_value(1.0, 1.0 + 1e-12) and not same_value(1.0, 1.0001)
    assert same_value(float("nan"), float("nan")) and same_value(None, None)
    assert not same_value(None, 0) and not same_value(1, True) and same_value(2, 2.0)
