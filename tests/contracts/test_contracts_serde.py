"""Contracts as JSON: every built-in check survives the trip and validates the same way after it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pandera.pandas as pandas_pa
import pandera.polars as pa
import polars as pl
import pytest
from pandera import extensions
from pandera.api.parsers import Parser

import featurestore.contracts as contracts
from featurestore.contracts import (
    as_schema,
    contract_columns,
    contract_from_json,
    contract_to_json,
    validate,
)
from featurestore.errors import DefinitionError


class EveryCheck(pa.DataFrameModel):
    """One column per built-in check we support (and the column options we store)."""

    ge_lt: int = pa.Field(ge=0, lt=100, unique=True)
    gt_le: float = pa.Field(gt=0, le=1, nullable=True)
    isin: str = pa.Field(isin=["x", "y"])
    notin: str = pa.Field(notin=["bad"])
    matches: str = pa.Field(str_matches=r"^[a-z]+$", str_length={"min_value": 1, "max_value": 5})
    in_range: int = pa.Field(in_range={"min_value": 0, "max_value": 10, "include_min": False})
    eq: int = pa.Field(eq=3)
    ne: int = pa.Field(ne=3)
    affixes: str = pa.Field(str_contains="q", str_startswith="q", str_endswith="z")
    when: pl.Datetime("us", "UTC") = pa.Field(  # type: ignore[valid-type]
        ge=datetime(2020, 1, 1, tzinfo=UTC), nullable=True
    )
    day: pl.Date = pa.Field(in_range={"min_value": date(2020, 1, 1), "max_value": date(2030, 1, 1)})

    class Config:
        coerce = True


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "ge_lt": 1,
        "gt_le": 0.5,
        "isin": "x",
        "notin": "ok",
        "matches": "abc",
        "in_range": 5,
        "eq": 3,
        "ne": 4,
        "affixes": "qz",
        "when": datetime(2021, 1, 1, tzinfo=UTC),
        "day": date(2021, 1, 1),
    }
    return row | overrides


BREAKS = {
    "ge_lt": -1,
    "gt_le": 0.0,
    "isin": "z",
    "notin": "bad",
    "matches": "ABC",
    "in_range": 0,
    "eq": 4,
    "ne": 3,
    "affixes": "qa",
    "when": datetime(2019, 1, 1, tzinfo=UTC),
    "day": date(2031, 1, 1),
}


def _mixed_batch() -> pl.DataFrame:
    """Row 0 is clean; row i+1 breaks the i-th column; the last row repeats ge_lt=1 (unique)."""
    rows = [_row(ge_lt=0)]
    rows += [
        _row(**({"ge_lt": 10 + i} | {col: bad})) for i, (col, bad) in enumerate(BREAKS.items())
    ]
    rows.append(_row(matches="toolongvalue", ge_lt=1))
    rows.append(_row(ge_lt=1))
    return pl.DataFrame(rows, schema_overrides={"when": pl.Datetime("us", "UTC")})


def _summary(contract: contracts.Contract) -> tuple[object, ...]:
    result = validate(_mixed_batch(), contract, policy="quarantine")
    violations = [(v.column, v.check, v.failures, v.examples) for v in result.violations]
    return (result.quarantined.to_dicts(), result.valid.to_dicts(), violations, result.schema_error)


@pytest.mark.parametrize("contract", [EveryCheck, EveryCheck.to_schema()], ids=["model", "schema"])
def test_round_trip_keeps_every_check_and_validates_the_same(contract: contracts.Contract) -> None:
    text = contract_to_json(contract)
    loaded = contract_from_json(text)
    assert isinstance(loaded, pa.DataFrameSchema)
    assert contract_to_json(loaded) == text
    original = as_schema(contract)
    for name, column in original.columns.items():
        assert [c.error for c in loaded.columns[name].checks] == [c.error for c in column.checks]
        assert loaded.columns[name].dtype == column.dtype
        assert loaded.columns[name].nullable == column.nullable
        assert loaded.columns[name].unique == column.unique
    assert loaded.coerce is True
    assert _summary(loaded) == _summary(contract)


def test_every_check_in_the_batch_fails_once() -> None:
    result = validate(_mixed_batch(), EveryCheck, policy="quarantine")
    failed_columns = {v.column for v in result.violations}
    assert set(BREAKS) <= failed_columns
    assert result.valid.height == 1
    assert result.quarantined.get_column("__row").to_list() == list(range(1, 14))


def test_schema_options_survive() -> None:
    schema = pa.DataFrameSchema(
        {
            "a": pa.Column(pl.Int32, pa.Check.ge(0, ignore_na=False, error="a must be >= 0")),
            "^x_": pa.Column(pl.Float64, regex=True),
            "e": pa.Column(pl.Enum(["p", "q"])),
            "l": pa.Column(pl.List(pl.Int64), required=False),
        },
        strict="filter",
        unique=["a", "e"],
        name="opts",
    )
    loaded = contract_from_json(contract_to_json(schema))
    assert loaded.strict == "filter"
    assert loaded.unique == ["a", "e"]
    assert loaded.name == "opts"
    check = loaded.columns["a"].checks[0]
    assert (check.error, check.ignore_na) == ("a must be >= 0", False)
    assert loaded.columns["^x_"].regex is True
    assert loaded.columns["l"].required is False
    assert contract_columns(loaded) == {
        "a": pl.Int32(),
        "^x_": pl.Float64(),
        "e": pl.Enum(["p", "q"]),
        "l": pl.List(pl.Int64),
    }


def test_contract_columns_of_a_model() -> None:
    class Trip(pa.DataFrameModel):
        driver_id: int = pa.Field(ge=0)
        fare: float
        city: str

    untyped = pa.DataFrameSchema({"free": pa.Column()})
    assert contract_columns(Trip) == {
        "driver_id": pl.Int64(),
        "fare": pl.Float64(),
        "city": pl.String(),
    }
    assert contract_columns(untyped) == {"free": None}


def _raises_naming(contract: contracts.Contract, *words: str) -> None:
    with pytest.raises(DefinitionError) as info:
        contract_to_json(contract)
    for word in words:
        assert word in str(info.value)


def test_inline_lambda_check_is_refused_by_name() -> None:
    schema = pa.DataFrameSchema(
        {"a": pa.Column(int, pa.Check(lambda s: s > 0, name="positive"))}, name="lam"
    )
    _raises_naming(schema, "'positive'", "column 'a'", "custom", "'lam'")


def test_model_check_method_is_refused_by_name() -> None:
    class WithMethod(pa.DataFrameModel):
        a: int

        @pa.check("a")
        def is_small(cls, data: pa.PolarsData) -> pl.LazyFrame:
            return data.lazyframe.select(pl.col(data.key) < 10)

        @pa.dataframe_check
        def wide(cls, data: pa.PolarsData) -> pl.LazyFrame:
            return data.lazyframe.select(pl.col("a") > 0)

    _raises_naming(WithMethod, "'WithMethod'", "custom")


def test_registered_custom_check_is_refused_by_name() -> None:
    name = "is_even_featurestore_test"
    if name not in pa.Check.REGISTERED_CUSTOM_CHECKS:

        @extensions.register_check_method(check_type="element_wise")
        def is_even_featurestore_test(value: int) -> bool:
            return value % 2 == 0

    schema = pa.DataFrameSchema({"n": pa.Column(int, pa.Check.is_even_featurestore_test())})
    _raises_naming(schema, name, "registered custom check", "column 'n'")


def test_naive_datetime_column_is_refused() -> None:
    schema = pa.DataFrameSchema({"ts": pa.Column(pl.Datetime("us"))}, name="naive")
    _raises_naming(schema, "column 'ts'", "UTC")


def test_parser_is_refused() -> None:
    schema = pa.DataFrameSchema(
        {"a": pa.Column(int, parsers=Parser(lambda s: s.abs()))}, name="parsed"
    )
    _raises_naming(schema, "parser", "column 'a'")


def test_pandas_contracts_are_refused() -> None:
    pandas_schema = pandas_pa.DataFrameSchema({"a": pandas_pa.Column(int)}, name="pd")
    with pytest.raises(DefinitionError, match=r"pandera\.polars"):
        contract_to_json(pandas_schema)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="not a Pandera polars schema"):
        contract_from_json(pandas_schema.to_json())
    with pytest.raises(DefinitionError, match="not a Pandera polars"):
        as_schema({"a": int})  # type: ignore[arg-type]


def test_text_that_is_not_json_is_not_read_as_a_path(tmp_path: object) -> None:
    with pytest.raises(DefinitionError, match="not valid JSON"):
        contract_from_json("pyproject.toml")
    with pytest.raises(DefinitionError, match="not a Pandera polars schema"):
        contract_from_json(json.dumps([1, 2]))


def test_unknown_check_in_stored_json_is_a_definition_error() -> None:
    text = json.dumps(
        {"schema_type": "polars_dataframe", "columns": {"a": {"dtype": "Int64", "nope": 1}}}
    )
    with pytest.raises(DefinitionError, match="'nope' on column 'a'"):
        contract_from_json(text)


def test_unreadable_dtype_in_stored_json_is_a_definition_error() -> None:
    text = json.dumps({"schema_type": "polars_dataframe", "columns": {"a": {"dtype": "NotAType"}}})
    with pytest.raises(DefinitionError, match="cannot be read back"):
        contract_from_json(text)
