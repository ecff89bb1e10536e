"""Feedback, drift and performance through the store (SQLite online store, real files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from featurestore import (
    ConflictError,
    Entity,
    Feature,
    FeatureStore,
    FeatureView,
    NotFoundError,
    PushSource,
    RequestError,
    col,
)
from featurestore.monitoring import parse_window
from featurestore.online.encoding import unpack_value
from featurestore.parity.log import ServingLogger, _Samples, sampled

UTC_US = pl.Datetime("us", "UTC")
driver = Entity("driver", join_keys=["driver_id"], value_type=int)
source = PushSource(
    "events",
    schema={"driver_id": int, "fare": float, "city": str, "event_ts": "datetime"},
    timestamp_field="event_ts",
)
view = FeatureView(
    "trips",
    entities=[driver],
    source=source,
    features=[Feature("fare", col("fare")), Feature("city", col("city"))],
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStore]:
    (tmp_path / "featurestore.toml").write_text(
        'project = "mon"\n[serving]\nskew_sample_rate = 1.0\n'
    )
    with FeatureStore(tmp_path) as s:
        s.apply([view])
        yield s


def push(store: FeatureStore, fares: np.ndarray, cities: list[str], at: dt.datetime) -> None:
    n = len(fares)
    frame = pl.DataFrame(
        {"driver_id": np.arange(n), "fare": fares, "city": cities, "event_ts": [at] * n},
        schema_overrides={"event_ts": UTC_US},
    )
    store.push("events", frame, to="online_and_offline")


def test_feedback_rules(store: FeatureStore) -> None:
    push(store, np.array([1.0, 2.0]), ["a", "b"], dt.datetime.now(dt.UTC))
    first = store.get_online_features(["trips:fare"], entities={"driver_id": [0]})
    second = store.get_online_features(["trips:fare"], entities={"driver_id": [1]})
    store.log_feedback(first.request_id, prediction=0.9)
    store.log_feedback(first.request_id, label=1)  # the label arrives later
    with pytest.raises(ConflictError, match="already stored"):
        store.log_feedback(first.request_id, label=0)
    with pytest.raises(NotFoundError, match="unknown request_id"):
        store.log_feedback("f" * 32, label=1)
    with pytest.raises(RequestError, match="label must be a number, a bool or a string"):
        store.log_feedback(second.request_id, label=[1])
    with pytest.raises(RequestError, match="earlier feedback gave labels as numbers"):
        store.log_feedback(second.request_id, label="yes")
    with pytest.raises(RequestError, match="needs a prediction or a label"):
        store.log_feedback(second.request_id)
    store.log_feedback(second.request_id, prediction=0.2, label=0)
    frame = store.feedback_frame()
    assert frame.height == 2 and frame["label"].to_list() == [1, 0]


def test_drift_of_served_values_against_a_training_frame(store: FeatureStore) -> None:
    rng = np.random.default_rng(0)
    then = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    push(store, rng.normal(10, 1, 300), ["a"] * 300, then)
    spine = pl.DataFrame(
        {"driver_id": np.arange(300), "event_timestamp": [then + dt.timedelta(hours=1)] * 300},
        schema_overrides={"event_timestamp": UTC_US},
    )
    store.get_training_frame(spine, features=["trips:fare", "trips:city"], save_as="train")
    # production: fares drift up, the city mix changes
    push(store, rng.normal(14, 1, 300), ["b"] * 150 + ["a"] * 150, dt.datetime.now(dt.UTC))
    for start in range(0, 300, 50):
        store.get_online_features(
            ["trips:fare", "trips:city"], entities={"driver_id": list(range(start, start + 50))}
        )
    report = store.drift(reference="train")
    by_name = {f.feature: f for f in report.features}
    assert set(by_name) == {"fare", "city"}
    assert by_name["fare"].drifted and "psi" in by_name["fare"].flags
    assert by_name["city"].kind == "categorical" and "chi2" in by_name["city"].flags
    assert store.registry.reports("drift")[0]["reference"] == "train"
    same = store.drift(reference="train", current="train")
    assert not any(f.drifted for f in same.features)


def test_performance_from_feedback(store: FeatureStore) -> None:
    push(store, np.array([1.0]), ["a"], dt.datetime.now(dt.UTC))
    rng = np.random.default_rng(1)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(200):
        answer = store.get_online_features(["trips:fare"], entities={"driver_id": [0]})
        p = float(rng.random())
        label = int(rng.random() < (p if i < 100 else 1 - p))  # the relation flips halfway
        store.log_feedback(
            answer.request_id, prediction=p, label=label, timestamp=start + dt.timedelta(hours=i)
        )
    report = store.performance("2d")
    windows = report.to_dict()["windows"]
    assert len(windows) >= 4
    assert windows[0]["roc_auc"] > 0.6 and windows[-1]["roc_auc"] < 0.4
    with pytest.raises(RequestError, match="window"):
        store.performance("yesterday")


def test_sampling_is_by_key_hash_and_never_blocks(tmp_path: Path) -> None:
    keys = list(range(10_000))
    chosen = [k for k in keys if sampled([k], 0.1)]
    assert 800 < len(chosen) < 1200
    assert chosen == [k for k in keys if sampled([k], 0.1)]  # the same entities every time

    class Down:
        def log_append(self, entries: object, *, maxlen: int) -> int:
            raise ConnectionError("down")

    logger = ServingLogger(lambda: Down(), rate=1.0, maxlen=10, queue_size=3)  # type: ignore[arg-type, return-value]
    from featurestore.serving import OnlineResponse

    response = OnlineResponse(
        names=["driver_id", "fare"],
        join_keys=["driver_id"],
        values={"driver_id": list(range(5)), "fare": [1.0] * 5},
        statuses={"driver_id": ["PRESENT"] * 5, "fare": ["PRESENT"] * 5},
        event_timestamps={"driver_id": [None] * 5, "fare": [None] * 5},
        request_id="r",
        requested_at=dt.datetime.now(dt.UTC),
        refs=[("trips", "fare")],
    )
    logger.log(response, {})  # 5 samples into a queue of 3: 2 dropped at once, none raised
    logger.ship()  # the store is down: the 3 queued are dropped too
    logger.close()
    assert (logger.counters.logged, logger.counters.dropped) == (0, 5)


def test_logged_entries_decode_to_what_was_served() -> None:
    """Each sampled row decodes to its served values, statuses, event times and the view
    versions in use at the time (a new versions mapping, as after a refresh, is picked up)."""
    from featurestore.online.encoding import unpack_value
    from featurestore.parity.log import _entries, decode_entries
    from featurestore.serving import OnlineResponse

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    shared = [t0, t0 + dt.timedelta(seconds=1), None, t0]
    response = OnlineResponse(
        names=["driver_id", "fare", "per_km"],
        join_keys=["driver_id"],
        values={"driver_id": [1, 2, 3, 4], "fare": [1.5, None, None, 4.5], "per_km": [1, 2, 3, 4]},
        statuses={
            "driver_id": ["PRESENT"] * 4,
            "fare": ["PRESENT", "NULL_VALUE", "NOT_FOUND", "PRESENT"],
            "per_km": ["PRESENT"] * 4,
        },
        event_timestamps={"driver_id": [None] * 4, "fare": shared, "per_km": [None] * 4},
        request_id="r1",
        requested_at=t0,
        refs=[("trips", "fare"), ("odfv", "per_km")],
        inputs={("trips", "km"): ([9.0, 8.0, None, 7.0], ["PRESENT"] * 4, shared)},
        request_data={"speed": [10, 20, 30, 40]},
    )
    chosen = [i for i, k in enumerate([1, 2, 3, 4]) if sampled([k], 0.1)]
    assert 0 < len(chosen) < 4  # a part of the request is sampled
    for versions, rate, rows in (({"trips": 3}, 1.0, [0, 1, 2, 3]), ({"trips": 4}, 0.1, chosen)):
        frame = decode_entries(_entries(response, versions, rate))
        got = [
            (r["view"], r["feature"], r["status"], r["event_timestamp"], r["view_version"])
            for r in frame.iter_rows(named=True)
        ]
        expected = [
            row
            for i in rows
            for row in (
                ("trips", "fare", response.statuses["fare"][i], shared[i], versions["trips"]),
                ("odfv", "per_km", "PRESENT", None, 0),
                ("trips", "km", "PRESENT", shared[i], versions["trips"]),
            )
        ]
        assert got == expected
        served = [
            [response.values["fare"][i], i + 1, response.inputs[("trips", "km")][0][i]]
            for i in rows
        ]
        assert [unpack_value(v) for v in frame["value"]] == [v for row in served for v in row]
        assert frame["requested"].to_list() == [True, True, False] * len(rows)
        assert frame["request_id"].unique().to_list() == ["r1"]


def test_parse_window() -> None:
    assert parse_window("6h") == dt.timedelta(hours=6)
    assert parse_window("2w") == dt.timedelta(days=14)
    assert parse_window(dt.timedelta(minutes=5)) == dt.timedelta(minutes=5)


def test_the_log_records_the_view_version_of_the_stored_row_that_answered(
    store: FeatureStore,
) -> None:
    """A row materialized under an older view version is logged with that version; an entity
    with no row is logged with the version in force on the server."""
    from featurestore.online import encode_entity_keys

    changed = FeatureView(
        "trips",
        entities=[driver],
        source=source,
        features=[*view.features, Feature("fare_x2", col("fare") * 2)],
    )
    store.apply([changed])
    in_force = store.registry.get("feature_view", "trips").version
    assert in_force == 2
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    keys = encode_entity_keys(store.project, "driver", {"driver_id": [0, 1]})
    written = pl.DataFrame(
        {
            "entity_key": keys,
            "view_version": [1, 2],
            "event_timestamp": [at, at],
            "seq": [0, 0],
            "fare": [1.5, 2.5],
            "city": ["a", "b"],
        },
        schema_overrides={"event_timestamp": UTC_US},
    )
    assert store.online.write("trips", written) == 2
    answer = store.get_online_features(
        ["trips:fare", "trips:city"], entities={"driver_id": [0, 1, 2]}
    )
    assert answer.to_dict()["fare"] == [1.5, 2.5, None]
    store.flush_serving_log()
    log = store.serving_log().filter(pl.col("request_id") == answer.request_id)
    by_driver = {
        (unpack_value(row["keys"])["driver_id"], row["feature"]): row["view_version"]
        for row in log.iter_rows(named=True)
    }
    assert by_driver == {
        (0, "fare"): 1,
        (0, "city"): 1,
        (1, "fare"): 2,
        (1, "city"): 2,
        (2, "fare"): 2,
        (2, "city"): 2,
    }


def test_sampling_an_answer_never_raises(
    store: FeatureStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The server samples after the answer is sent: a failing logger is logged, not raised."""
    answer = store.get_online_features(["trips:fare"], entities={"driver_id": [1]})

    class Broken:
        def log(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("the shipping thread cannot start")

    store.monitor._serving_logger = Broken()  # type: ignore[assignment]
    try:
        store.monitor.log_served(answer, store.state)
    finally:
        store.monitor._serving_logger = None
    assert "could not sample an answer into the serving log" in caplog.text


@given(
    rows=st.lists(  # one request: every row has the same join keys
        st.tuples(st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8))), max_size=50
    )
    | st.lists(st.tuples(st.integers(), st.text(max_size=4)), max_size=50)
    | st.lists(st.tuples(st.integers(-(2**70), 2**70)), max_size=50)
    | st.lists(st.tuples(st.booleans() | st.integers(-3, 3)), max_size=50),
    rate=st.sampled_from([0.0, 0.01, 0.3, 0.999, 1.0]),
)
def test_a_request_samples_the_rows_sampled_says(
    rows: list[tuple[object, ...]], rate: float
) -> None:
    """The serving path's batch test (C-level passes over a request's rows) picks exactly the
    entities :func:`sampled` picks one by one, whatever their keys."""
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else []
    expected = [i for i, keys in enumerate(rows) if sampled(keys, rate)]
    assert _Samples(rate).rows(columns) == expected
    if rows:  # one key column alone: integers take the fast path, other types the general one
        firsts = [keys[:1] for keys in rows]
        expected = [i for i, keys in enumerate(firsts) if sampled(keys, rate)]
        assert _Samples(rate).rows(columns[:1]) == expected
