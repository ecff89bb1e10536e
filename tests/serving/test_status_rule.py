"""The status rule of an online answer, checked against a plain per-value statement of it.

Serving fills statuses with a shortcut when every entity was found and is fresh (C-level
checks, one shared all-present list); everything else goes value by value. Both must give what
the rule says: ``NOT_FOUND`` (no row; an aggregate with no stored window is the empty window's
value, ``PRESENT``), ``OUTSIDE_MAX_AGE`` (older than the ttl: withheld as null), ``NULL_VALUE``
(a stored null), else ``PRESENT``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.online import ReadResult
from featurestore.serving import fill as fill_read

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TTL = dt.timedelta(hours=1)
VALUE = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=2))


@st.composite
def reads(draw: st.DrawFn, *, always_found: bool = False) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    features = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    found = [True] * n if always_found else draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ages = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n))
    stamps = [
        NOW - dt.timedelta(minutes=a) if hit else None for hit, a in zip(found, ages, strict=True)
    ]
    values = {f: [draw(VALUE) if hit else None for hit in found] for f in features}
    nulls = any(v is None for f in features for v, hit in zip(values[f], found, strict=True) if hit)
    result = ReadResult(found, stamps, values, nulls=nulls or draw(st.booleans()))
    ttl = draw(st.sampled_from([None, TTL]))
    empty = draw(st.sampled_from([None, {}, {features[0]: 0}]))
    return {"result": result, "features": features, "ttl": ttl, "empty": empty}


def rule(read: dict[str, Any]) -> tuple[list[list[Any]], list[list[str]]]:
    """The status rule, value by value."""
    result, empty = read["result"], read["empty"] or {}
    values_out, statuses_out = [], []
    for feature in read["features"]:
        values, statuses = [], []
        for hit, stamp, value in zip(
            result.found, result.event_timestamps, result.values[feature], strict=True
        ):
            if not hit:
                if feature in empty:
                    values.append(empty[feature])
                    statuses.append("PRESENT")
                else:
                    values.append(None)
                    statuses.append("NOT_FOUND")
            elif read["ttl"] is not None and stamp < NOW - read["ttl"]:
                values.append(None)
                statuses.append("OUTSIDE_MAX_AGE")
            else:
                values.append(value)
                statuses.append("NULL_VALUE" if value is None else "PRESENT")
        values_out.append(values)
        statuses_out.append(statuses)
    return values_out, statuses_out


def fill(read: dict[str, Any]) -> tuple[list[list[Any]], list[list[str]]]:
    filled = fill_read(read["result"], read["features"], read["ttl"], NOW, read["empty"])
    assert list(filled.event_timestamps) == read["result"].event_timestamps
    return [list(v) for v in filled.values], [list(s) for s in filled.statuses]


def same(a: list[list[Any]], b: list[list[Any]]) -> bool:
    return all(
        all(p is q or p == q or (p != p and q != q) for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )


@settings(max_examples=300)
@given(reads())
def test_every_read_follows_the_rule(read: dict[str, Any]) -> None:
    got_values, got_statuses = fill(read)
    want_values, want_statuses = rule(read)
    assert got_statuses == want_statuses
    assert same(got_values, want_values)


@settings(max_examples=300)
@given(reads(always_found=True))
def test_the_shortcut_and_the_value_by_value_path_agree(read: dict[str, Any]) -> None:
    """Add an entity that was not found (which turns the shortcut off) and drop it again: the
    answer for the other entities is the shortcut's."""
    shortcut = fill(read)
    result = read["result"]
    longer = ReadResult(
        [*result.found, False],
        [*result.event_timestamps, None],
        {f: [*column, None] for f, column in result.values.items()},
        nulls=True,
    )
    values, statuses = fill(read | {"result": longer})
    assert [s[:-1] for s in statuses] == shortcut[1]
    assert same([v[:-1] for v in values], shortcut[0])
