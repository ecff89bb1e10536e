"""Property: over random batches with random violations, validate() splits as the checks say.

The expected outcome is computed here in plain Python from the contract's meaning (ge, in_range,
isin, str_length, nullable), never from Pandera, and compared for every policy.
"""

from __future__ import annotations

import math
from typing import Any

import pandera.polars as pa
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.contracts import validate

CITIES = ["ams", "ber", "lis"]
CHECKS = {
    "id": pa.Check.ge(0),
    "fare": pa.Check.in_range(0, 100),
    "city": pa.Check.isin(CITIES),
    "code": pa.Check.str_length(1, 3),
}
NULLABLE = {"id": False, "fare": True, "city": False, "code": True}
CONTRACT = pa.DataFrameSchema(
    {
        name: pa.Column(dtype, CHECKS[name], nullable=NULLABLE[name])
        for name, dtype in [
            ("id", pl.Int64),
            ("fare", pl.Float64),
            ("city", pl.String),
            ("code", pl.String),
        ]
    },
    name="prop",
)
SCHEMA = {
    "id": pl.Int64,
    "fare": pl.Float64,
    "city": pl.String,
    "code": pl.String,
    "note": pl.Int64,
}


def passes(column: str, value: Any) -> bool:
    """The contract's checks, restated in plain Python (nulls skip checks, as in Pandera)."""
    if column == "id":
        return bool(value >= 0)
    if column == "fare":
        return bool(0 <= value <= 100)  # NaN compares False: it fails, as in Polars
    if column == "city":
        return value in CITIES
    return 1 <= len(value) <= 3


def failures_of(row: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(column, check, value) for each check ``row`` breaks, in contract column order."""
    found = []
    for column in CHECKS:
        value = row[column]
        if value is None:
            if not NULLABLE[column]:
                found.append((column, "not_nullable", None))
        elif not passes(column, value):
            found.append((column, CHECKS[column].error, value))
    return found


rows = st.fixed_dictionaries(
    {
        "id": st.one_of(st.integers(0, 10**9), st.integers(-(10**9), -1), st.none()),
        "fare": st.one_of(
            st.floats(0, 100),
            st.floats(100.001, 1e12),
            st.floats(-1e12, -0.001),
            st.just(math.nan),
            st.none(),
        ),
        "city": st.one_of(st.sampled_from(CITIES), st.text(max_size=4), st.none()),
        "code": st.one_of(st.text(max_size=5), st.none()),
        "note": st.integers(-5, 5),
    }
)
batch_problems = st.one_of(
    st.just(None),
    st.tuples(st.just("missing"), st.sampled_from(list(CHECKS))),
    st.tuples(st.just("wrong_type"), st.sampled_from(["id", "fare"])),
)


def same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def distinct_first_five(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if not any(same(value, s) for s in seen):
            seen.append(value)
    return seen[:5]


def as_text(value: Any) -> str | None:
    return None if value is None else pl.Series([value]).cast(pl.String)[0]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Sizes drawn uniformly: plain st.lists stays short and rarely gives five distinct failures.
    data=st.integers(0, 50).flatmap(lambda n: st.lists(rows, min_size=n, max_size=n)),
    problem=batch_problems,
    policy=st.sampled_from(["quarantine", "reject", "warn"]),
)
def test_split_matches_the_checks(
    data: list[dict[str, Any]], problem: tuple[str, str] | None, policy: str
) -> None:
    frame = pl.DataFrame(data, schema=SCHEMA)
    if problem is not None and problem[0] == "missing":
        frame = frame.drop(problem[1])
    elif problem is not None:
        frame = frame.with_columns(pl.col(problem[1]).cast(pl.String))

    result = validate(frame, CONTRACT, policy=policy)  # type: ignore[arg-type]

    assert result.valid.height + result.quarantined.height == frame.height
    assert result.quarantined.columns == [*frame.columns, "__row", "__reasons"]
    if problem is not None:
        assert result.schema_error is not None and repr(problem[1]) in result.schema_error
        assert result.valid.height == 0
        assert result.quarantined.get_column("__row").to_list() == list(range(frame.height))
        assert result.quarantined.select(frame.columns).equals(frame)
        return

    expected = [failures_of(row) for row in data]
    failing = [i for i, found in enumerate(expected) if found]
    assert result.schema_error is None

    if policy == "warn":
        assert result.valid.equals(frame)
        assert result.quarantined.height == 0
    elif policy == "reject" and failing:
        assert result.valid.height == 0
        assert result.quarantined.get_column("__row").to_list() == list(range(frame.height))
    else:
        assert result.quarantined.get_column("__row").to_list() == failing
        clean = [i for i in range(frame.height) if i not in set(failing)]
        assert result.valid.equals(frame[clean])
        assert result.quarantined.select(frame.columns).equals(frame[failing])

    for row in result.quarantined.iter_rows(named=True):
        got = sorted((r["column"], r["check"], r["value"]) for r in row["__reasons"])
        want = sorted((c, check, as_text(v)) for c, check, v in expected[row["__row"]])
        assert got == want

    by_check: dict[tuple[str, str], list[Any]] = {}
    for found in expected:
        for column, check, value in found:
            by_check.setdefault((column, check), []).append(value)
    assert {(v.column, v.check) for v in result.violations} == set(by_check)
    for violation in result.violations:
        values = by_check[(violation.column, violation.check)]  # type: ignore[index]
        assert violation.failures == len(values)
        want_examples = distinct_first_five(values)
        assert len(violation.examples) == len(want_examples)
        assert all(same(a, b) for a, b in zip(violation.examples, want_examples, strict=True))
