"""Fine-grained checks that need no server: error sentences and the JSON answer."""

from __future__ import annotations

import datetime as dt
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.server.errors import validation_sentence
from featurestore.serving import OnlineResponse

UTC = dt.UTC


@pytest.mark.parametrize(
    ("errors", "sentence"),
    [
        (
            [{"type": "missing", "loc": ("body", "df"), "msg": "Field required"}],
            "the request body is missing required field 'df'",
        ),
        (
            [{"type": "missing", "loc": ("body",), "msg": "Field required"}],
            "the request body is missing",
        ),
        (
            [{"type": "missing", "loc": ("query", "view"), "msg": "x"}],
            "query parameter 'view' is required",
        ),
        (
            [{"type": "extra_forbidden", "loc": ("body", "x"), "msg": "x"}],
            "the request body has an unknown field 'x'",
        ),
        (
            [
                {
                    "type": "int_parsing",
                    "loc": ("query", "limit"),
                    "msg": "Input should be a valid integer",
                }
            ],
            "query parameter 'limit': input should be a valid integer",
        ),
        (
            [{"type": "literal_error", "loc": ("body", "df", "a", 0), "msg": "Bad"}],
            "field 'df.a.0': bad",
        ),
        ([], "the request is invalid"),
    ],
)
def test_validation_errors_become_one_sentence(
    errors: list[dict[str, object]], sentence: str
) -> None:
    assert validation_sentence(errors) == sentence


def response(values: dict[str, list[object]], stamps: list[dt.datetime | None]) -> OnlineResponse:
    names = ["k", *values]
    shared = list(stamps)
    return OnlineResponse(
        names=names,
        join_keys=["k"],
        values={"k": [1] * len(stamps), **values},
        statuses={name: ["PRESENT"] * len(stamps) for name in names},
        event_timestamps={"k": [None] * len(stamps), **{name: shared for name in values}},
        request_id="ab" * 16,
        requested_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_to_feast_json_is_to_feast_as_json() -> None:
    stamps = [
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        None,
    ]
    values: dict[str, list[object]] = {
        "f": [1.5, None, -0.0],
        "s": ["a", "é", None],
        "t": [dt.datetime(2026, 5, 6, tzinfo=UTC), None, dt.datetime(2026, 5, 6, 1, 2, 3, 7)],
        "l": [[1, 2], {"a": 1}, True],
    }
    answer = response(values, stamps)
    assert orjson.loads(answer.to_feast_json()) == answer.to_feast()
    rows = orjson.loads(answer.to_feast_json())["results"]
    assert rows[1]["event_timestamps"] == [
        "2026-01-02T03:04:05.000000Z",
        "2026-01-02T01:04:05.123456Z",
        None,
    ]
    assert rows[3]["values"][0] == "2026-05-06T00:00:00.000000Z"


def test_to_feast_json_writes_special_floats_as_null_and_durations_as_seconds() -> None:
    answer = response(
        {"f": [math.nan, math.inf], "d": [dt.timedelta(seconds=90), dt.date(2026, 1, 2)]},
        [None, None],
    )
    rows = orjson.loads(answer.to_feast_json())["results"]
    assert rows[1]["values"] == [None, None]
    assert rows[2]["values"] == [90.0, "2026-01-02"]


def _as_json(value: object) -> object:
    """What JSON keeps of a value to_feast() gives: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet='],[{}"\\é a1', max_size=6),
)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_to_feast_json_equals_to_feast_for_any_values_and_runs(data: st.DataObject) -> None:
    """Runs of features sharing statuses and event times, numeric or not, write as to_feast()."""
    n = data.draw(st.integers(1, 4), label="entities")
    count = data.draw(st.integers(1, 6), label="features")
    kinds = st.sampled_from(["float", "int", "bool", "mixed"])
    shared_status, shared_stamps = ["PRESENT"] * n, [dt.datetime(2026, 1, 1, tzinfo=UTC)] * n
    names, values, statuses, stamps = ["k"], {"k": list(range(n))}, {}, {}
    statuses["k"], stamps["k"] = ["PRESENT"] * n, [None] * n
    for i in range(count):
        name = f"f{i}"
        kind = data.draw(kinds, label=f"kind {name}")
        element = {
            "float": st.floats(allow_nan=True, allow_infinity=True),
            "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
            "bool": st.booleans(),
            "mixed": _VALUES,
        }[kind]
        names.append(name)
        values[name] = data.draw(st.lists(element, min_size=n, max_size=n), label=name)
        own = data.draw(st.booleans(), label=f"own lists {name}")
        statuses[name] = ["NULL_VALUE"] * n if own else shared_status
        stamps[name] = [None] * n if own else shared_stamps
    answer = OnlineResponse(
        names=names,
        join_keys=["k"],
        values=values,
        statuses=statuses,
        event_timestamps=stamps,
        request_id="cd" * 16,
        requested_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    expected = answer.to_feast()
    for row in expected["results"]:
        row["values"] = [_as_json(v) for v in row["values"]]
    assert orjson.loads(answer.to_feast_json()) == expected
