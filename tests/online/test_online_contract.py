"""The contract every online store keeps: SQLite, standalone Redis and Redis Cluster alike."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from online_helpers import INT64_MAX, INT64_MIN, SCALARS, T0, rows, same

from featurestore.errors import RequestError
from featurestore.online import OnlineStore, ReadRequest, encode_entity_keys, open_online_store

Keys = Callable[..., list[str]]

EVERY_DTYPE = {
    "i": pl.Series([INT64_MIN, INT64_MAX, None, 0], dtype=pl.Int64),
    "f": pl.Series([math.nan, -math.inf, -0.0, None], dtype=pl.Float64),
    "b": pl.Series([True, False, None, True], dtype=pl.Boolean),
    "s": pl.Series(["", "ünï 日本 🎉", None, "a{b}:c"], dtype=pl.String),
    "t": pl.Series(
        [datetime(1, 1, 1, tzinfo=UTC), T0, None, datetime(9999, 12, 31, 23, 59, tzinfo=UTC)],
        dtype=pl.Datetime("us", "UTC"),
    ),
}


def read_one(store: OnlineStore, view: str, keys: list[str], features: list[str]) -> Any:
    (result,) = store.read([ReadRequest(view, keys, features)])
    return result


def test_every_dtype_round_trips_exactly(store: OnlineStore, keys: Keys) -> None:
    entities = keys(1, 2, 3, 4)
    assert store.write("v", rows(entities, dict(EVERY_DTYPE))) == 4
    result = read_one(store, "v", entities, list(EVERY_DTYPE))
    assert result.found == [True] * 4
    assert result.event_timestamps == [T0] * 4
    for name, column in EVERY_DTYPE.items():
        assert all(
            same(got, want) for got, want in zip(result.values[name], column.to_list(), strict=True)
        ), name


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=SCALARS)
def test_any_value_round_trips_through_the_store(
    store: OnlineStore, project_name: str, value: Any
) -> None:
    entity = encode_entity_keys(project_name, "e", {"id": [uuid.uuid4().hex]})
    store.write("v", rows(entity, {"x": pl.Series([value], dtype=pl.Object)}))
    assert same(read_one(store, "v", entity, ["x"]).values["x"][0], value)


def test_newer_wins_and_older_is_ignored(store: OnlineStore, keys: Keys) -> None:
    (key,) = keys(1)
    assert store.write("v", rows([key], {"x": [1]}, event=T0)) == 1
    assert store.write("v", rows([key], {"x": [2]}, event=T0 + timedelta(seconds=1))) == 1
    assert store.write("v", rows([key], {"x": [3]}, event=T0)) == 0
    result = read_one(store, "v", [key], ["x"])
    assert result.values["x"] == [2]
    assert result.event_timestamps == [T0 + timedelta(seconds=1)]


def test_equal_event_times_go_to_the_later_created_time_null_lowest(
    store: OnlineStore, keys: Keys
) -> None:
    (key,) = keys(1)
    later = T0 + timedelta(hours=1)
    store.write("v", rows([key], {"x": [1]}, created=[later], seq=0))
    assert store.write("v", rows([key], {"x": [2]}, created=[None], seq=9)) == 0
    assert store.write("v", rows([key], {"x": [3]}, created=[T0], seq=9)) == 0
    assert store.write("v", rows([key], {"x": [4]}, created=[later + timedelta(1)], seq=0)) == 1
    assert read_one(store, "v", [key], ["x"]).values["x"] == [4]


def test_equal_event_and_created_times_go_to_the_greater_seq(
    store: OnlineStore, keys: Keys
) -> None:
    (key,) = keys(1)
    store.write("v", rows([key], {"x": [1]}, seq=5))
    assert store.write("v", rows([key], {"x": [2]}, seq=4)) == 0
    assert store.write("v", rows([key], {"x": [3]}, seq=5)) == 0  # a tie is not newer
    assert store.write("v", rows([key], {"x": [4]}, seq=6)) == 1
    assert store.write("v", rows([key], {"x": [5]}, seq=INT64_MIN)) == 0
    assert read_one(store, "v", [key], ["x"]).values["x"] == [4]


def test_a_newer_view_version_wins_whatever_the_times(store: OnlineStore, keys: Keys) -> None:
    """The order is (view_version, event, created, seq): a materialization under a newer view
    version rewrites the row even with equal or older times; an older version never wins."""
    (key,) = keys(1)
    later = T0 + timedelta(days=1)
    assert store.write("v", rows([key], {"x": [1]}, event=later, seq=9, version=1)) == 1
    assert store.write("v", rows([key], {"x": [2]}, event=T0, seq=0, version=2)) == 1
    assert store.write("v", rows([key], {"x": [3]}, event=later + timedelta(1), version=1)) == 0
    assert store.write("v", rows([key], {"x": [4]}, event=T0, seq=0, version=2)) == 0  # a tie
    assert store.write("v", rows([key], {"x": [5]}, event=T0, seq=1, version=2)) == 1
    assert store.write("v", rows([key], {"x": [6]}, event=later)) == 0  # absent: version 0
    result = read_one(store, "v", [key], ["x"])
    assert (result.values["x"], result.view_versions) == ([5], [2])
    assert result.event_timestamps == [T0]


def test_reads_give_each_found_rows_view_version(store: OnlineStore, keys: Keys) -> None:
    a, b, c, absent = keys(1, 2, 3, 4)
    store.write("v", rows([a, b], {"x": [1, 2]}, version=[3, 7]))
    store.write("v", rows([c], {"x": [3]}))
    store.write("v@windows", rows([a], {"n": [1]}, version=5))
    result, windows = store.read(
        [ReadRequest("v", [a, b, c, absent, a], ["x"]), ReadRequest("v@windows", [a, b], ["n"])]
    )
    assert result.view_versions == [3, 7, 0, None, 3]
    assert result.values["x"] == [1, 2, 3, None, 1]
    assert windows.view_versions == [5, None]


def test_the_newer_view_version_wins_within_one_batch(store: OnlineStore, keys: Keys) -> None:
    (key,) = keys(1)
    store.write("v", rows([key, key], {"x": [1, 2]}, event=[T0 + timedelta(1), T0], version=[1, 2]))
    assert read_one(store, "v", [key], ["x"]).values["x"] == [2]


def test_a_window_record_follows_the_same_order(store: OnlineStore, keys: Keys) -> None:
    (key,) = keys(1)
    store.write("v@windows", rows([key], {"n": [1]}, event=T0 + timedelta(1), version=1))
    assert store.write("v@windows", rows([key], {"n": [2]}, event=T0, version=2)) == 1
    assert (
        store.write("v@windows", rows([key], {"n": [3]}, event=T0 + timedelta(2), version=1)) == 0
    )
    assert read_one(store, "v@windows", [key], ["n"]).values["n"] == [2]


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_the_newest_of_one_batch_wins_in_any_order(
    store: OnlineStore, keys: Keys, order: list[int]
) -> None:
    (key,) = keys(1)
    events = [T0, T0 + timedelta(microseconds=1)]
    store.write("v", rows([key, key], {"x": order}, event=[events[i] for i in order]))
    assert read_one(store, "v", [key], ["x"]).values["x"] == [1]


def test_missing_entities_stored_nulls_and_unknown_features(store: OnlineStore, keys: Keys) -> None:
    present, absent = keys(1, 2)
    store.write("v", rows([present], {"x": [None], "y": [1.5]}))
    result = read_one(store, "v", [present, absent, present], ["y", "x", "added_later"])
    assert result.found == [True, False, True]
    assert result.event_timestamps == [T0, None, T0]
    assert result.values == {
        "y": [1.5, None, 1.5],
        "x": [None, None, None],
        "added_later": [None, None, None],
    }


def test_a_row_written_with_new_features_replaces_the_old_layout(
    store: OnlineStore, keys: Keys
) -> None:
    (key,) = keys(1)
    store.write("v", rows([key], {"a": [1]}))
    store.write("v", rows([key], {"b": [2]}, event=T0 + timedelta(1)))
    assert read_one(store, "v", [key], ["a", "b"]).values == {"a": [None], "b": [2]}


def test_rows_of_several_layouts_in_one_read(store: OnlineStore, keys: Keys) -> None:
    old, new = keys(1, 2)
    store.write("v", rows([old], {"a": [1], "b": [2.5]}))
    store.write("v", rows([new], {"b": [3.5], "c": ["x"]}))
    result = read_one(store, "v", [old, new, old], ["c", "b", "a", "b"])
    assert result.values == {"c": [None, "x", None], "b": [2.5, 3.5, 2.5], "a": [1, None, 1]}
    assert result.nulls


def test_nulls_is_false_only_without_a_null_value(store: OnlineStore, keys: Keys) -> None:
    a, b, absent = keys(1, 2, 3)
    store.write("v", rows([a, b], {"x": [1.0, 2.0], "y": [None, 3], "s": ["p", "q"]}))
    assert not read_one(store, "v", [a, b], ["x"]).nulls
    assert not read_one(store, "v", [a, b, a], ["s", "x"]).nulls
    assert not read_one(store, "v", [b], ["x", "y", "s"]).nulls
    assert read_one(store, "v", [a, b], ["x", "y"]).nulls
    assert read_one(store, "v", [a], ["x", "y"]).nulls
    assert read_one(store, "v", [a, b], ["x", "added_later"]).nulls
    assert read_one(store, "v", [a, absent], ["x"]).nulls


def test_many_entities_of_several_views_in_one_read(store: OnlineStore, keys: Keys) -> None:
    drivers = keys(*range(100))
    riders = keys(*[f"r{i}" for i in range(50)], entity="rider")
    store.write("trips", rows(drivers, {"n": list(range(100))}))
    store.write("ratings", rows(drivers[::2], {"stars": [float(i) for i in range(50)]}))
    store.write("riders", rows(riders, {"age": list(range(50))}, event=T0 + timedelta(1)))
    trips, ratings, riders_result, empty = store.read(
        [
            ReadRequest("trips", drivers, ["n"]),
            ReadRequest("ratings", drivers, ["stars"]),
            ReadRequest("riders", riders, ["age"]),
            ReadRequest("trips", [], ["n"]),
        ]
    )
    assert trips.values["n"] == list(range(100))
    assert ratings.found == [i % 2 == 0 for i in range(100)]
    assert ratings.values["stars"][:4] == [0.0, None, 1.0, None]
    assert riders_result.values["age"] == list(range(50))
    assert riders_result.event_timestamps == [T0 + timedelta(1)] * 50
    assert empty.found == [] and empty.values == {"n": []}
    assert store.read([]) == []


def test_a_read_of_many_entities_with_repeats(store: OnlineStore, keys: Keys) -> None:
    entities = keys(*range(450))
    store.write("v", rows(entities[::3], {"n": list(range(150))}))
    wanted = [*entities, *entities[:5]]
    (result,) = store.read([ReadRequest("v", wanted, ["n"])])
    expected = [i // 3 if i % 3 == 0 else None for i in range(450)]
    assert result.values["n"] == [*expected, *expected[:5]]
    assert result.found == [v is not None for v in result.values["n"]]


def test_views_and_projects_are_kept_apart(
    store: OnlineStore, store_url: str, keys: Keys, project_name: str
) -> None:
    (key,) = keys(1)
    store.write("a", rows([key], {"x": [1]}))
    store.write("b", rows([key], {"x": [2]}))
    other_project = f"{project_name}x"
    other = open_online_store(store_url, other_project)
    try:
        (other_key,) = encode_entity_keys(other_project, "driver", {"driver_id": [1]})
        other.write("a", rows([other_key], {"x": [3]}))
        assert (store.count("a"), store.count("b"), other.count("a")) == (1, 1, 1)
        store.write("b", rows(keys(2, 3), {"x": [5, 6]}))
        assert store.count("b") == 3 and store.count("nothing") == 0
        assert store.delete_view("a") == 1
        assert store.count("a") == 0
        assert read_one(store, "a", [key], ["x"]).found == [False]
        assert read_one(store, "b", [key], ["x"]).values["x"] == [2]
        assert read_one(other, "a", [other_key], ["x"]).values["x"] == [3]
        assert store.delete_view("a") == 0
    finally:
        other.delete_view("a")
        other.close()


def test_the_serving_log_is_a_bounded_fifo_that_counts_drops(store: OnlineStore) -> None:
    assert store.log_claim(10, "c0") == []
    assert store.log_claims() == []  # claiming nothing makes no claim
    assert store.log_append([b"a", b"b"], maxlen=3) == 0
    assert store.log_append([b"c", b"d", b"\x00\xff"], maxlen=3) == 2
    assert store.log_append([], maxlen=3) == 0
    assert store.log_claim(2, "c1") == [b"a", b"b"]
    assert store.log_append([b"e"], maxlen=3) == 0  # claimed entries leave the buffer's room
    assert store.log_claim(10, "c2") == [b"c", b"e"]
    assert store.log_claim(10, "c3") == []


def test_claims_stay_until_released(store: OnlineStore) -> None:
    """A flush that dies between claiming entries and releasing them leaves the claim, entries
    in order, for the next flush; a released claim is gone, releasing twice is harmless."""
    store.log_append([b"a", b"b", b"\x00\xff", b"c"], maxlen=10)
    assert store.log_claim(3, "2026-01-01-x") == [b"a", b"b", b"\x00\xff"]
    assert store.log_claim(3, "2026-01-02-y") == [b"c"]
    assert store.log_claims() == [
        ("2026-01-01-x", [b"a", b"b", b"\x00\xff"]),
        ("2026-01-02-y", [b"c"]),
    ]
    store.log_release("2026-01-01-x")
    store.log_release("2026-01-01-x")
    assert store.log_claims() == [("2026-01-02-y", [b"c"])]
    store.log_release("2026-01-02-y")
    assert store.log_claims() == []


@pytest.mark.parametrize(
    ("frame_change", "message"),
    [
        (lambda f: f.drop("seq"), "lack the column 'seq'"),
        (lambda f: f.drop("entity_key"), "lack the column 'entity_key'"),
        (lambda f: f.with_columns(event_timestamp=None), "'event_timestamp'.* nulls"),
        (lambda f: f.with_columns(event_timestamp=pl.lit("x")), "must be a Datetime"),
        (lambda f: f.with_columns(seq=pl.lit(None, pl.Int64)), "'seq'.* nulls"),
        (lambda f: f.with_columns(view_version=pl.lit(None, pl.Int64)), "'view_version'.* nulls"),
    ],
)
def test_a_bad_write_frame_is_refused_with_a_clear_message(
    store: OnlineStore,
    keys: Keys,
    frame_change: Callable[[pl.DataFrame], pl.DataFrame],
    message: str,
) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        store.write("v", frame_change(rows(keys(1), {"x": [1]})))
    assert "view 'v'" in str(caught.value)


def test_created_timestamp_may_be_absent(store: OnlineStore, keys: Keys) -> None:
    frame = rows(keys(1), {"x": [1]}).drop("created_timestamp")
    assert store.write("v", frame) == 1
    assert store.ping() is None
