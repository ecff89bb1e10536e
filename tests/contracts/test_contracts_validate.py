"""validate(): the valid/quarantined split, schema errors and violations on fixed batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandera.polars as pa
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from featurestore.contracts import REASONS_DTYPE, Violation, require_utc, validate
from featurestore.errors import DefinitionError, RequestError


class TripContract(pa.DataFrameModel):
    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000)
    city: str = pa.Field(isin=["ams", "ber", "lis"])


def trips() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "driver_id": [1, -2, 3, None, 5],
            "fare": [1.0, 2.0, -3.0, 20_000.0, 5.0],
            "city": ["ams", "xx", None, "ber", "lis"],
            "extra": [10, 20, 30, 40, 50],
        }
    )


def reasons(result_frame: pl.DataFrame) -> list[list[tuple[str | None, str, str | None]]]:
    return [
        [(r["column"], r["check"], r["value"]) for r in row]
        for row in result_frame.get_column("__reasons").to_list()
    ]


GE0 = "greater_than_or_equal_to(0)"
ISIN = "isin(['ams', 'ber', 'lis'])"
ROW_REASONS = [
    [("driver_id", GE0, "-2"), ("city", ISIN, "xx")],
    [("fare", GE0, "-3.0"), ("city", "not_nullable", None)],
    [("driver_id", "not_nullable", None), ("fare", "less_than_or_equal_to(10000)", "20000.0")],
]


def test_quarantine_splits_rows_and_keeps_original_columns() -> None:
    result = validate(trips(), TripContract, policy="quarantine")
    assert result.schema_error is None
    assert_frame_equal(result.valid, trips()[[0, 4]])
    assert result.quarantined.columns == [*trips().columns, "__row", "__reasons"]
    assert result.quarantined.schema["__row"] == pl.Int64
    assert result.quarantined.schema["__reasons"] == REASONS_DTYPE
    assert result.quarantined.get_column("__row").to_list() == [1, 2, 3]
    assert_frame_equal(result.quarantined.select(trips().columns), trips()[[1, 2, 3]])
    assert reasons(result.quarantined) == ROW_REASONS
    assert result.violations == [
        Violation("driver_id", "not_nullable", 1, [None]),
        Violation("driver_id", GE0, 1, [-2]),
        Violation("fare", GE0, 1, [-3.0]),
        Violation("fare", "less_than_or_equal_to(10000)", 1, [20_000.0]),
        Violation("city", "not_nullable", 1, [None]),
        Violation("city", ISIN, 1, ["xx"]),
    ]


def test_reject_quarantines_the_whole_batch_with_reasons_only_on_failing_rows() -> None:
    result = validate(trips(), TripContract, policy="reject")
    assert result.valid.height == 0
    assert result.valid.columns == trips().columns
    assert result.rejected
    assert result.quarantined.get_column("__row").to_list() == [0, 1, 2, 3, 4]
    assert reasons(result.quarantined) == [[], *ROW_REASONS, []]
    assert len(result.violations) == 6
    assert result.schema_error is None


def test_warn_keeps_every_row_and_reports() -> None:
    result = validate(trips(), TripContract, policy="warn")
    assert_frame_equal(result.valid, trips())
    assert result.quarantined.height == 0
    assert result.quarantined.columns == [*trips().columns, "__row", "__reasons"]
    assert [v.failures for v in result.violations] == [1] * 6


def test_clean_batch_and_no_contract() -> None:
    clean = trips()[[0, 4]]
    for contract in (TripContract, None):
        result = validate(clean, contract, policy="reject")
        assert_frame_equal(result.valid, clean)
        assert result.quarantined.height == 0
        assert result.violations == []
        assert result.schema_error is None
        assert not result.rejected


@pytest.mark.parametrize("policy", ["quarantine", "reject", "warn"])
def test_missing_column_and_wrong_dtype_are_schema_errors(policy: str) -> None:
    batch = trips().drop("city").with_columns(pl.col("fare").cast(pl.String))
    result = validate(batch, TripContract, policy=policy)  # type: ignore[arg-type]
    assert result.schema_error is not None
    assert "'TripContract'" in result.schema_error
    assert "column 'city' is missing" in result.schema_error
    assert "column 'fare' has type String, expected Float64" in result.schema_error
    assert "ComputeError" not in result.schema_error
    assert result.valid.height == 0
    assert_frame_equal(result.quarantined.select(batch.columns), batch)
    batch_reasons = [
        ("city", "column_in_dataframe", "city"),
        ("fare", "dtype('Float64')", "String"),
    ]
    rows = reasons(result.quarantined)
    assert all(row[:2] == batch_reasons for row in rows)
    assert rows[1][2:] == [("driver_id", GE0, "-2")]
    checks = {(v.column, v.check) for v in result.violations}
    assert ("city", "column_in_dataframe") in checks
    assert ("fare", GE0) not in checks  # a consequence of the wrong dtype, not a finding


def test_naive_datetime_column_is_a_schema_error() -> None:
    batch = trips().with_columns(pl.lit(datetime(2026, 1, 1)).alias("event_ts"))
    result = validate(batch, TripContract, policy="warn")
    assert result.schema_error is not None
    assert "'event_ts'" in result.schema_error
    assert "UTC" in result.schema_error
    assert result.valid.height == 0
    assert result.quarantined.height == batch.height
    assert result.violations[0].column == "event_ts"
    aware = batch.with_columns(pl.col("event_ts").dt.replace_time_zone("UTC"))
    assert validate(aware, TripContract, policy="warn").schema_error is None


def test_require_utc() -> None:
    frame = pl.DataFrame(
        {
            "a": [datetime(2026, 1, 1)],
            "b": [datetime(2026, 1, 1, tzinfo=UTC)],
            "c": [datetime(2026, 1, 1)],
        }
    )
    message = require_utc(frame)
    assert message is not None and "'a', 'c'" in message and "replace_time_zone" in message
    assert require_utc(frame, ["b", "nope"]) is None
    only_c = require_utc(frame, ["c"])
    assert only_c is not None and "'c'" in only_c and "'a'" not in only_c
    amsterdam = frame.select(pl.col("b").dt.convert_time_zone("Europe/Amsterdam"))
    assert require_utc(amsterdam) is None


def test_coercion_applies_to_valid_rows_and_quarantine_keeps_originals() -> None:
    schema = pa.DataFrameSchema({"n": pa.Column(pl.Int64, pa.Check.ge(0), coerce=True)})
    batch = pl.DataFrame({"n": ["1", "-2", "3"]})
    result = validate(batch, schema, policy="quarantine")
    assert result.valid.schema["n"] == pl.Int64
    assert result.valid.get_column("n").to_list() == [1, 3]
    assert result.quarantined.get_column("n").to_list() == ["-2"]
    assert result.violations == [Violation("n", GE0, 1, [-2])]


def test_value_that_cannot_be_cast_is_a_schema_error() -> None:
    schema = pa.DataFrameSchema({"n": pa.Column(pl.Int64, pa.Check.ge(0), coerce=True)})
    result = validate(pl.DataFrame({"n": ["1", "x"]}), schema, policy="quarantine")
    assert result.schema_error is not None
    assert "column 'n' has type String, expected Int64" in result.schema_error
    assert result.valid.height == 0 and result.quarantined.height == 2


def test_failure_case_limits_and_row_dropping_cannot_hide_rows() -> None:
    schema = pa.DataFrameSchema(
        {"n": pa.Column(int, pa.Check.ge(0, n_failure_cases=1), drop_invalid_rows=True)},
        drop_invalid_rows=True,
    )
    batch = pl.DataFrame({"n": [-1, -2, 3, -4]})
    result = validate(batch, schema, policy="quarantine")
    assert result.quarantined.get_column("__row").to_list() == [0, 1, 3]
    assert result.valid.get_column("n").to_list() == [3]
    assert result.violations[0].failures == 3
    assert schema.columns["n"].checks[0].n_failure_cases == 1  # the caller's schema is untouched


def test_frame_level_checks() -> None:
    row_wise = pa.DataFrameSchema(
        {"a": pa.Column(int), "b": pa.Column(int)},
        checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("a") < pl.col("b")), name="a_lt_b")],
        name="wide",
    )
    batch = pl.DataFrame({"a": [1, 5, 2], "b": [2, 4, 3]})
    result = validate(batch, row_wise, policy="quarantine")
    assert result.quarantined.get_column("__row").to_list() == [1]
    assert reasons(result.quarantined)[0][0][:2] == (None, "a_lt_b")
    assert result.violations[0].column is None

    as_a_whole = pa.DataFrameSchema(
        {"a": pa.Column(int)}, checks=[pa.Check(lambda d: False, name="never")], name="whole"
    )
    result = validate(batch, as_a_whole, policy="quarantine")
    assert result.schema_error is not None and "never" in result.schema_error
    assert result.quarantined.height == 3


def test_unique_quarantines_every_duplicate() -> None:
    schema = pa.DataFrameSchema({"k": pa.Column(int, unique=True)})
    result = validate(pl.DataFrame({"k": [1, 2, 1, 3]}), schema, policy="quarantine")
    assert result.quarantined.get_column("__row").to_list() == [0, 2]
    assert result.violations == [Violation("k", "field_uniqueness", 2, [1])]


def test_strict_contract_refuses_extra_columns() -> None:
    schema = pa.DataFrameSchema({"a": pa.Column(int)}, strict=True, name="strict")
    result = validate(pl.DataFrame({"a": [1], "b": [2]}), schema, policy="quarantine")
    assert result.schema_error is not None
    assert "column 'b' is not in the contract" in result.schema_error


def test_examples_are_five_distinct_values_in_row_order() -> None:
    schema = pa.DataFrameSchema({"n": pa.Column(int, pa.Check.ge(0))})
    values = [-1, -1, -2, 4, -3, -4, -2, -5, -6, -7]
    result = validate(pl.DataFrame({"n": values}), schema, policy="quarantine")
    assert result.violations == [Violation("n", GE0, 9, [-1, -2, -3, -4, -5])]


def test_violation_to_dict_is_strict_json() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    violation = Violation("x", "check", 3, [float("nan"), float("inf"), when, None, 1])
    data = violation.to_dict()
    assert data == {
        "column": "x",
        "check": "check",
        "failures": 3,
        "examples": ["nan", "inf", "2026-01-01T00:00:00+00:00", None, 1],
    }
    json.dumps(data, allow_nan=False)


def test_empty_batch() -> None:
    empty = trips().clear()
    result = validate(empty, TripContract, policy="reject")
    assert result.valid.height == 0 and result.quarantined.height == 0
    assert result.schema_error is None and not result.rejected


def test_bad_calls_are_clear_errors() -> None:
    with pytest.raises(DefinitionError, match="'drop'"):
        validate(trips(), TripContract, policy="drop")  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="Polars DataFrame"):
        validate(trips().lazy(), TripContract)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="'__row'"):
        validate(trips().with_columns(__row=pl.lit(1)), TripContract)
