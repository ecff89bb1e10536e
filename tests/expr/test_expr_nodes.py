"""Building expressions: the public API, identity, reprs and every ExpressionError."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import featurestore.expr as fx
from featurestore.errors import DefinitionError, ExpressionError
from featurestore.expr import (
    coalesce,
    col,
    lit,
    max_horizontal,
    min_horizontal,
    output_dtype,
    to_polars,
    to_python,
    when,
)


def test_exported_api() -> None:
    assert sorted(fx.__all__) == sorted(
        [
            "Expr",
            "coalesce",
            "col",
            "from_dict",
            "from_json",
            "lit",
            "max_horizontal",
            "min_horizontal",
            "output_dtype",
            "to_polars",
            "to_python",
            "when",
        ]
    )
    for name in fx.__all__:
        assert getattr(fx, name) is not None


def test_expression_errors_are_definition_errors() -> None:
    assert issubclass(ExpressionError, DefinitionError)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ((col("fare") + 1).log1p(), '(col("fare") + 1).log1p()'),
        (-col("x") * 2.5, '(-col("x") * 2.5)'),
        (1 - col("x"), '(1 - col("x"))'),
        (col("x") ** 2, '(col("x") ** 2)'),
        (col("x") ** col("y"), '(col("x") ** col("y"))'),
        (2 ** -col("y"), '(2 ** -col("y"))'),
        (col("x") ** (lit(2) + 1), '(col("x") ** (2 + 1))'),
        (col("x").log(), 'col("x").log()'),
        (col("x").log(10), 'col("x").log(10.0)'),
        (col("x").round(2).clip(0, None), 'col("x").round(2).clip(0, None)'),
        (col("s").str.contains("a.b"), 'col("s").str.contains("a.b")'),
        (col("t").dt.hour() >= 22, '(col("t").dt.hour() >= 22)'),
        (col("x").cast(pl.Int64), 'col("x").cast("int64")'),
        (coalesce(col("a") + 1, 0.5), 'coalesce(col("a") + 1, 0.5)'),
        (
            when(col("a") > 1).then("x").otherwise(None),
            'when(col("a") > 1).then("x").otherwise(lit(None))',
        ),
        (lit(math.nan), 'lit(float("nan"))'),
        (~(col("a") & True), '~(col("a") & True)'),
    ],
)
def test_repr_reads_like_the_code(expr: fx.Expr, text: str) -> None:
    assert repr(expr) == text


def test_meta_eq_and_hash() -> None:
    a, b = (col("x") + 1).sqrt(), (col("x") + 1).sqrt()
    assert a.meta_eq(b) and hash(a) == hash(b)
    assert not a.meta_eq((col("x") + 1.0).sqrt())
    assert lit(math.nan).meta_eq(lit(math.nan))
    assert not lit(0.0).meta_eq(lit(-0.0))
    assert not lit(1).meta_eq(lit(True))
    assert not col("x").meta_eq("x")
    utc = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cet = dt.datetime(2020, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert lit(utc).meta_eq(lit(cet))  # the same instant, stored as UTC
    assert lit(cet).value.tzinfo is ZoneInfo("UTC")


def test_comparison_builds_an_expression_without_truth_value() -> None:
    expr = col("a") == 1
    assert isinstance(expr, fx.Expr)
    with pytest.raises(ExpressionError, match="ambiguous"):
        bool(expr)
    with pytest.raises(ExpressionError, match="ambiguous"):
        if col("a") == col("b"):
            pass


def test_expressions_are_immutable() -> None:
    expr = col("a")
    with pytest.raises(AttributeError, match="immutable"):
        expr.name = "b"  # type: ignore[misc]


def test_columns_lists_every_reference() -> None:
    expr = when(col("a") > 0).then(col("b")).otherwise(coalesce(col("c"), lit(1)))
    assert expr.columns() == frozenset({"a", "b", "c"})
    assert lit(3).columns() == frozenset()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lit(object()), "unsupported literal"),
        (lambda: lit([1, 2]), "unsupported literal"),
        (lambda: lit(decimal.Decimal("1.5")), "unsupported literal"),
        (lambda: lit(dt.date(2020, 1, 1)), "unsupported literal"),
        (lambda: lit(2**63), "does not fit in int64"),
        (lambda: lit(dt.datetime(2020, 1, 1)), "naive"),
        (lambda: lit("\ud800"), "not valid Unicode"),
        (lambda: col(""), "must not be empty"),
        (lambda: col(3), "must be a string"),  # type: ignore[arg-type]
        (lambda: col("x").cast("int32"), "unknown dtype name 'int32'"),
        (lambda: col("x").cast(pl.Int32), "integers are int64"),
        (lambda: col("x").cast(pl.Datetime("ns")), "Datetime"),
        (lambda: col("x").cast(pl.List(pl.Int64)), "does not support dtype"),
        (lambda: coalesce(), "at least one"),
        (lambda: min_horizontal(), "at least one"),
        (lambda: max_horizontal(), "at least one"),
        (lambda: col("s").str.lower() + 1, "needs float64 or int64 input, got str"),
        (lambda: lit("a") & True, "needs bool input, got str"),
        (lambda: lit(1).str.lower(), "needs str input, got int64"),
        (lambda: lit(1.5).dt.hour(), "needs datetime input"),
        (lambda: when(lit(1)).then(2), "needs bool input"),
        (lambda: when(col("a")).then(1).otherwise("x"), "mixes int64 and str"),
        (lambda: coalesce(lit(1), lit("x")), "mixes int64 and str"),
        (lambda: lit(True) < 1, "mixes bool and int64"),
        (lambda: lit("1").cast("bool"), "cannot cast str values to bool"),
        (lambda: col("x").clip(), "needs a lower or an upper bound"),
        (lambda: col("x").clip(math.nan, 1), "must be finite"),
        (lambda: col("x").clip(True, 1), "must be a number"),
        (lambda: col("x").round(-1), "decimals must be in"),
        (lambda: col("x").round(1.5), "decimals must be an int"),  # type: ignore[arg-type]
        (lambda: col("x").log(0), "log base must be positive and not 1"),
        (lambda: col("x").log(1), "log base must be positive and not 1"),
        (lambda: col("x") ** lit("y"), "needs float64 or int64 input, got str in"),
        (lambda: True ** col("x"), "needs float64 or int64 input, got bool in"),
        (lambda: col("x") ** "y", "needs float64 or int64 input, got str in"),
        (lambda: col("x") ** when(col("b")), "missing .then"),
        (lambda: col("x") ** math.inf, "must be finite"),
        (lambda: col("x") ** 2**40, "too large"),
        (lambda: col("x").str.contains(3), "must be a string"),  # type: ignore[arg-type]
        (lambda: when(col("a")).then(1).otherwise(2).otherwise(3), "already has otherwise"),
        (lambda: when(col("a")).then(1).otherwise(2).when(col("b")), "already has otherwise"),
        (lambda: col("a") + when(col("b")), "missing .then"),
    ],
)
def test_bad_expressions_are_refused_when_built(build: object, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        build()  # type: ignore[operator]


def test_output_dtype() -> None:
    schema = {"i": pl.Int32, "f": pl.Float64, "s": pl.String, "d": pl.Datetime("ns")}
    assert output_dtype(col("i") * 2, schema) == pl.Int64
    assert output_dtype(col("i") / 2, schema) == pl.Float64
    assert output_dtype(col("s").str.len_chars(), schema) == pl.Int64
    assert output_dtype(col("d").dt.hour(), schema) == pl.Int64
    assert output_dtype(coalesce(col("i"), col("f")), schema) == pl.Float64
    assert output_dtype(col("d"), schema) == pl.Datetime("us", "UTC")
    assert output_dtype(lit(None), schema) == pl.Null
    with pytest.raises(ExpressionError, match=r"column\(s\) \['zz'\]"):
        output_dtype(col("zz") + 1, schema)
    with pytest.raises(ExpressionError, match="needs float64 or int64 input, got str"):
        output_dtype(col("s") + 1, schema)
    with pytest.raises(ExpressionError, match="dtype Date"):
        output_dtype(col("x"), {"x": pl.Date})
    with pytest.raises(ExpressionError, match="needs an expression"):
        output_dtype("x", schema)  # type: ignore[arg-type]


def test_compilers_refuse_non_expressions() -> None:
    with pytest.raises(ExpressionError, match="needs an expression"):
        to_polars("x")  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="needs an expression"):
        to_python(3)  # type: ignore[arg-type]


def test_python_rows_with_missing_or_wrong_values() -> None:
    fn = to_python(col("x") + 1, schema={"x": pl.Int64})
    with pytest.raises(ExpressionError, match="row has no column 'x'"):
        fn({"y": 1})
    with pytest.raises(ExpressionError, match="column 'x' holds 'a'"):
        fn({"x": "a"})
    loose = to_python(col("x") + 1)
    with pytest.raises(ExpressionError, match="cannot take str and int values"):
        loose({"x": "a"})


def test_casts_polars_refuses_raise_on_both_sides() -> None:
    expr = col("x").cast("bool")
    frame = pl.DataFrame({"x": ["true"]})
    with pytest.raises(pl.exceptions.PolarsError):
        frame.select(to_polars(expr))
    with pytest.raises(ExpressionError, match="cannot cast str value 'true' to bool"):
        to_python(expr)({"x": "true"})
    with pytest.raises(ExpressionError, match="cannot cast str values to bool"):
        to_python(expr, schema=frame.schema)


def test_python_values_are_normalised() -> None:
    np = pytest.importorskip("numpy")
    fn = to_python(col("x") * 2, schema={"x": pl.Float64})
    assert fn({"x": 3}) == 6.0 and type(fn({"x": 3})) is float  # a JSON integer
    assert fn({"x": np.float32(1.5)}) == 3.0
    assert to_python(col("x") + 1)({"x": np.int64(4)}) == 5
    hour = to_python(col("t").dt.hour())
    cet = dt.timezone(dt.timedelta(hours=1))
    assert hour({"t": dt.datetime(2020, 1, 1, 0, 30, tzinfo=cet)}) == 23
    assert hour({"t": dt.datetime(2020, 1, 1, 5)}) == 5  # naive is taken as UTC
    same = to_python(col("t"))({"t": dt.datetime(2020, 1, 1, 1, tzinfo=cet)})
    assert same == dt.datetime(2020, 1, 1, tzinfo=dt.UTC) and same.tzinfo is ZoneInfo("UTC")


def test_python_types_match_polars() -> None:
    row = {"i": 3, "b": True}
    assert type(to_python(col("i") > 1)(row)) is bool
    assert type(to_python(col("b").cast("int64"))(row)) is int
    assert type(to_python(col("i") / 1)(row)) is float
    assert to_python(lit(1) + lit(2))({}) == 3  # constants are folded once
    assert abs(col("i")).meta_eq(col("i").abs())


def test_pickle_and_copy_keep_the_tree() -> None:
    import copy
    import pickle

    expr = when(col("a") > 1).then(col("b").log(2)).otherwise(math.nan)
    assert pickle.loads(pickle.dumps(expr)).meta_eq(expr)
    assert copy.deepcopy(expr) is expr and copy.copy(expr) is expr


def test_numpy_scalars_are_literals() -> None:
    np = pytest.importorskip("numpy")
    assert lit(np.int64(3)).meta_eq(lit(3))
    assert lit(np.float64(1.5)).meta_eq(lit(1.5))
    assert lit(np.bool_(True)).meta_eq(lit(True))
