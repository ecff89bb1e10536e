"""The bounds values keep to before they are stored (featurestore.limits) and the serving
checks that apply them: each refusal is a RequestError naming the value, quoted short."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from featurestore.errors import RequestError
from featurestore.limits import (
    EARLIEST,
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    check_fields,
    check_int,
    check_time,
    check_values,
    clip,
    quote,
)
from featurestore.monitoring import parse_window
from featurestore.serving import check_entities, request_columns

KEYS, TYPES = ["driver_id"], {"driver_id": "int64"}


def test_quote_shows_at_most_100_characters_of_a_string() -> None:
    text = quote("x" * 50_000_000)
    assert text.startswith("'" + "x" * 100 + "'...") and "50000000 characters" in text
    assert len(text) < 140
    assert quote("short") == "'short'"


def test_quote_never_recurses_nor_raises() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert quote(deep) == "[[[[...]]]]"
    assert quote(10**10_000) == "<an integer of 33220 bits>"
    assert quote({"a": "\ud800"}) == "{'a': '\\ud800'}"

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no")

    assert quote(Broken()).startswith("<Broken")


def test_integers_beyond_int64_are_refused() -> None:
    assert check_int(INT64_MAX, "x") == INT64_MAX and check_int(INT64_MIN, "x") == INT64_MIN
    for bad in (INT64_MAX + 1, INT64_MIN - 1, 10**400):
        with pytest.raises(RequestError, match="does not fit a 64-bit integer"):
            check_int(bad, "entity key 'driver_id':")


def test_times_before_1900_or_past_the_latest_are_refused() -> None:
    now = dt.datetime.now(dt.UTC)
    assert check_time(EARLIEST, "start") == EARLIEST
    assert check_time(None, "start") is None
    with pytest.raises(RequestError, match="start 0001-01-01T00:00:00\\+00:00 is before 1900"):
        check_time(dt.datetime(1, 1, 1, tzinfo=dt.UTC), "start")
    with pytest.raises(RequestError, match=r"later than now plus ingestion\.max_future"):
        check_time(dt.datetime(9999, 12, 31, tzinfo=dt.UTC), "timestamp", latest=now)


def test_values_nested_too_deep_or_too_large_are_named() -> None:
    check_values([[1, 2], {"a": [INT64_MAX]}])
    deep: list[object] = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(RequestError, match=f"nests deeper than {MAX_DEPTH} levels"):
        check_values(deep)
    with pytest.raises(
        RequestError, match=r"field 'df\.rating' holds the integer 9223372036854775808"
    ):
        check_fields({"push_source_name": "p", "df": {"rating": [1.0, INT64_MAX + 1]}})
    with pytest.raises(RequestError, match=r"field 'entities\.k' nests deeper"):
        check_fields({"entities": {"k": deep}})
    with pytest.raises(RequestError, match=r"field 'label' holds"):
        check_fields({"label": -(2**64)})


@pytest.mark.parametrize(
    ("entities", "named"),
    [
        ({"driver_id": [1, INT64_MAX + 1]}, "'driver_id'"),
        ({"driver_id": [INT64_MIN - 1]}, "'driver_id'"),
        ({"driver_id": ["1"]}, "'driver_id' must be an integer"),
        ({"driver_id": [1], "rider_id": ["a"]}, "'rider_id'"),
        ({"rider_id": ["a"]}, "'driver_id'"),
        ({"driver_id": "1"}, "'driver_id' must be a list"),
    ],
)
def test_entity_checks_name_the_key(entities: dict[str, object], named: str) -> None:
    with pytest.raises(RequestError, match=named):
        check_entities(entities, KEYS, TYPES, 1000)  # type: ignore[arg-type]


def test_ragged_entity_lists_are_refused_with_their_lengths() -> None:
    with pytest.raises(RequestError, match=r"same number of values \(a 2, b 1\)"):
        check_entities({"a": [1, 2], "b": [1]}, ["a", "b"], {}, 1000)


def test_undeclared_key_types_still_refuse_integers_beyond_int64() -> None:
    assert check_entities({"k": [1, "a"]}, ["k"], {}, 1000) == 2
    with pytest.raises(RequestError, match="'k'"):
        check_entities({"k": ["a", 2**70]}, ["k"], {}, 1000)


def test_request_data_is_bounded_and_must_be_a_mapping() -> None:
    with pytest.raises(RequestError, match="request_data must map field names"):
        request_columns(5, {"x": "float64"}, 1)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="'n'"):
        request_columns({"n": [2**63]}, {"n": "int64"}, 1)
    with pytest.raises(RequestError, match="too large for a float"):
        request_columns({"x": [10**400]}, {"x": "float64"}, 1)


@pytest.mark.parametrize("window", ["1000000w", "0s", "3661d"])
def test_windows_beyond_the_bound_are_refused(window: str) -> None:
    with pytest.raises(RequestError, match="window"):
        parse_window(window)
    assert parse_window("520w") == dt.timedelta(weeks=520)


@pytest.mark.parametrize("text", ["x" * 5000, "\x00" * 5000, "\ud800" * 3000, "é" * 3000])
def test_a_clipped_message_stays_short_once_written_as_json(text: str) -> None:
    # control characters are written \u0000 in JSON: six bytes each
    assert len(orjson.dumps(clip(text))) <= 1010


_NO_SURROGATES = st.characters(blacklist_categories=("Cs",))


@given(
    name=st.text(_NO_SURROGATES, min_size=101, max_size=3000),
    short=st.text(_NO_SURROGATES, max_size=100),
)
def test_a_clipped_message_quotes_at_most_100_characters_of_each_input(
    name: str, short: str
) -> None:
    """Messages quote names with repr (``f"dataset {name!r}"``); ``clip`` cuts each quoted input
    to 100 characters of its repr, keeps a short one whole and leaves what ``quote`` cut alone."""
    clipped = clip(f"dataset {name!r} is not saved in project {short!r}")
    assert clipped.endswith(f" is not saved in project {short!r}")
    suffix = f"... ({len(repr(name)) - 2} characters quoted)"
    assert len(clipped[len("dataset ") : clipped.index(suffix)]) <= 102  # and two quote marks
    assert "characters quoted" not in clip(f"view {quote(name)} is unknown")
