"""Value encoding and entity keys: exact round trips, typed cluster-friendly keys (no server)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from online_helpers import INT64_MAX, INT64_MIN, VALUES, same
from redis.crc import key_slot

from featurestore.errors import RequestError
from featurestore.online import encode_entity_keys, pack_value, unpack_value


@given(VALUES)
def test_every_value_round_trips_exactly(value: Any) -> None:
    assert same(unpack_value(pack_value(value)), value)


@pytest.mark.parametrize(
    "value",
    [INT64_MIN, INT64_MAX, 1, 1.0, -0.0, math.nan, math.inf, -math.inf, True, False, None, "",
     "ünï 日本 🎉", datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999),
     date(2024, 2, 29), timedelta(microseconds=-1)],
)  # fmt: skip
def test_edge_values_keep_their_type(value: Any) -> None:
    assert same(unpack_value(pack_value(value)), value)


def test_a_non_utc_datetime_comes_back_as_the_same_instant_in_utc() -> None:
    amsterdam = datetime(2024, 6, 1, 12, tzinfo=UTC).astimezone()
    back = unpack_value(pack_value(amsterdam))
    assert back == amsterdam and back.tzinfo is UTC


def test_keys_are_typed_deterministic_and_scoped() -> None:
    one = encode_entity_keys("p", "driver", {"driver_id": [1, "1", True, 1.0]})
    assert len(set(one)) == 4
    assert one == encode_entity_keys("p", "driver", {"driver_id": [1, "1", True, 1.0]})
    assert one[0] == "fs:{p:driver:i1}"
    assert encode_entity_keys("q", "driver", {"driver_id": [1]}) != one[:1]
    assert encode_entity_keys("p", "rider", {"rider_id": [1]}) != one[:1]


def test_compound_keys_follow_the_given_order() -> None:
    ab = encode_entity_keys("p", "trip", {"a": [1], "b": ["x"]})
    ba = encode_entity_keys("p", "trip", {"b": ["x"], "a": [1]})
    assert ab == ["fs:{p:trip:i1,sx}"] and ba == ["fs:{p:trip:sx,i1}"]


@given(st.text())
def test_no_string_can_break_the_hash_tag_or_forge_a_separator(text: str) -> None:
    (key,) = encode_entity_keys("p", "e", {"k": [text]})
    assert key.count("{") == 1 and key.count("}") == 1 and key.endswith("}")
    (pair,) = encode_entity_keys("p", "e", {"a": [text], "b": [text]})
    assert pair.count(",") == 1
    assert key_slot(key.encode()) == key_slot(key[key.index("{") + 1 : -1].encode())


@given(st.lists(st.integers(INT64_MIN, INT64_MAX)), st.lists(st.text()))
def test_polars_columns_give_the_same_keys_as_python_values(
    ints: list[int], texts: list[str]
) -> None:
    for values, dtype in ((ints, pl.Int64), (texts, pl.String)):
        series = pl.Series(values, dtype=dtype)
        assert encode_entity_keys("p", "e", {"k": series}) == encode_entity_keys(
            "p", "e", {"k": values}
        )


def test_numpy_scalars_and_other_types_are_keyed_like_python_ones() -> None:
    assert encode_entity_keys("p", "e", {"k": [np.int64(7), np.bool_(True), np.float64(1.5)]}) == [
        "fs:{p:e:i7}",
        "fs:{p:e:b1}",
        "fs:{p:e:f1.5}",
    ]
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    aware, naive = encode_entity_keys("p", "e", {"k": [moment, moment.replace(tzinfo=None)]})
    assert aware == naive
    assert encode_entity_keys("p", "e", {"k": [-0.0]}) == encode_entity_keys("p", "e", {"k": [0.0]})


@pytest.mark.parametrize(
    ("join_keys", "message"),
    [
        ({}, "needs at least one join key"),
        ({"a": [1, 2], "b": [1]}, "different lengths"),
        ({"driver_id": [1, None]}, "null"),
        ({"driver_id": pl.Series([1, None])}, "null"),
        ({"driver_id": [object()]}, "object cannot be a join key"),
    ],
)
def test_bad_join_keys_say_what_is_wrong(join_keys: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        encode_entity_keys("p", "driver", join_keys)
    assert "driver" in str(caught.value)
