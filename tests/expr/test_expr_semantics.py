"""Edge cases of every node, on both compilers (Polars being the reference)."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from expr_check import check

from featurestore.expr import coalesce, col, lit, max_horizontal, min_horizontal, when

UTC = ZoneInfo("UTC")
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
NAN, INF = math.nan, math.inf
I = {"x": pl.Int64}  # noqa: E741
F = {"x": pl.Float64}
S = {"x": pl.String}
D = {"x": pl.Datetime("us", "UTC")}
B = {"x": pl.Boolean}


def test_division_by_a_literal_is_correctly_rounded_on_a_long_frame() -> None:
    check(col("x") / 10, {"x": [3.0] * 5}, F, [0.3] * 5)
    check(col("x") / 10, {"x": [3] * 5}, I, [0.3] * 5)
    check(col("x") // 1e-300, {"x": [3.0] * 3}, F, [3e300] * 3)
    check(col("x") % 0.1, {"x": [0.3] * 3}, F, [0.3 - 0.1 * math.floor(0.3 / 0.1)] * 3)


def test_division_by_a_scalar_column_is_correctly_rounded() -> None:
    frame = pl.DataFrame({"x": [3.0] * 4}).with_columns(d=pl.lit(10.0))
    from featurestore.expr import to_polars

    out = frame.select(to_polars(col("x") / col("d")).alias("r"))["r"].to_list()
    assert out == [0.3] * 4


def test_true_division_is_float_and_ieee() -> None:
    check(col("x") / 0, {"x": [1, -1, 0, None]}, I, [INF, -INF, NAN, None])
    check(col("x") / -0.0, {"x": [1.0, NAN]}, F, [-INF, NAN])
    # Polars converts int64 to float64 first; Python's exact int division would differ.
    check(col("x") / 3, {"x": [2**53 + 1, 10**18 + 1]}, I, [float(2**53 + 1) / 3.0, 1e18 / 3])


def test_integer_arithmetic_wraps_like_polars() -> None:
    check(col("x") + 1, {"x": [I64_MAX]}, I, [I64_MIN])
    check(col("x") * 2, {"x": [I64_MAX, I64_MIN]}, I, [-2, 0])
    check(-col("x"), {"x": [I64_MIN, 5]}, I, [I64_MIN, -5])
    check(col("x").abs(), {"x": [I64_MIN, -5]}, I, [I64_MIN, 5])
    check(col("x") // -1, {"x": [I64_MIN]}, I, [I64_MIN])


def test_integer_floor_division_and_modulo() -> None:
    xs = {"x": [7, -7, 7, -7, 5, None]}
    check(col("x") // lit(2), xs, I, [3, -4, 3, -4, 2, None])
    check(col("x") % -2, xs, I, [-1, -1, -1, -1, -1, None])
    check(col("x") // 0, xs, I, [None] * 6)
    check(col("x") % 0, xs, I, [None] * 6)


def test_float_floor_division_and_modulo() -> None:
    xs = {"x": [7.5, -7.5, 0.0, -0.0, INF, NAN, 5e-324]}
    check(col("x") // 2.0, xs, F, [3.0, -4.0, 0.0, -0.0, INF, NAN, 0.0])
    check(col("x") // 0.0, xs, F, [INF, -INF, NAN, NAN, INF, NAN, INF])
    check(col("x") % -2.0, xs, F, [-0.5, -1.5, 0.0, 0.0, NAN, NAN, 5e-324])
    check(col("x") % INF, xs, F, [NAN] * 7)


def test_power() -> None:
    check(col("x") ** 2, {"x": [3, I64_MAX]}, I, [9, 1])
    check(col("x") ** 63, {"x": [7]}, I, [2898552624600762295])
    check(col("x") ** 0, {"x": [0, None]}, I, [1, None])
    check(col("x") ** -1, {"x": [2, 0]}, I, [0.5, INF])
    check(col("x") ** 0.5, {"x": [-0.0, -INF, 4.0, -1.0]}, F, [-0.0, NAN, 2.0, NAN])
    check(col("x") ** 1.5, {"x": [-8.0, 0.0]}, F, [NAN, 0.0])
    check(col("x") ** 3, {"x": [1.1]}, F, [1.1 * 1.1 * 1.1])
    check(col("x") ** -1.0, {"x": [0.0, -0.0]}, F, [INF, -INF])


def test_rounding() -> None:
    xs = {"x": [0.5, 1.5, 2.5, -0.5, -0.4, NAN, INF, None]}
    check(col("x").round(), xs, F, [0.0, 2.0, 2.0, -0.0, -0.0, NAN, INF, None])
    check(col("x").round(2), {"x": [1.005, 9342.55, 1e308, -0.001]}, F, [1.0, 9342.55, 1e308, -0.0])
    check(col("x").floor(), {"x": [-0.5, 1.5, -0.0]}, F, [-1.0, 1.0, -0.0])
    check(col("x").ceil(), {"x": [-0.5, 1.5]}, F, [-0.0, 2.0])
    check(col("x").round(3), {"x": [7]}, I, [7])


def test_logs_and_exponentials() -> None:
    xs = {"x": [-1.0, 0.0, -0.0, 1.0, INF, NAN, None]}
    check(col("x").log(), xs, F, [NAN, -INF, -INF, 0.0, INF, NAN, None])
    check(col("x").log1p(), {"x": [-2.0, -1.0, 0.0]}, F, [NAN, -INF, 0.0])
    check(col("x").exp(), {"x": [1000.0, -1000.0, 0.0]}, F, [INF, 0.0, 1.0])
    check(col("x").sqrt(), {"x": [-1, 4]}, I, [NAN, 2.0])
    check(col("x").log(10), {"x": [1000.0]}, F, [math.log(1000.0) / math.log(10.0)])


def test_clip() -> None:
    check(col("x").clip(0, 10), {"x": [-5, 5, 50, None]}, I, [0, 5, 10, None])
    check(col("x").clip(0.5, None), {"x": [0, 3]}, I, [0.5, 3.0])
    check(col("x").clip(None, 0), {"x": [NAN, -0.0, 1.0]}, F, [NAN, -0.0, 0.0])


def test_comparisons_order_nan_last_like_polars() -> None:
    xs = {"x": [NAN, INF, -0.0, None]}
    check(col("x") == NAN, xs, F, [True, False, False, None])
    check(col("x") > INF, xs, F, [True, False, False, None])
    check(col("x") == 0.0, xs, F, [False, False, True, None])
    check(col("x") == float(2**53), {"x": [2**53 + 1]}, I, [True])  # as float64, like Polars
    check(col("x") == 2**53, {"x": [2**53 + 1]}, I, [False])
    check(col("x") < 2.5, {"x": [2, 3]}, I, [True, False])
    check(col("x") < "b", {"x": ["a", "é", ""]}, S, [True, False, True])


def test_kleene_logic() -> None:
    xs = {"x": [True, False, None]}
    check(col("x") & lit(None), xs, B, [None, False, None])
    check(col("x") | lit(None), xs, B, [True, None, None])
    check(~col("x"), xs, B, [False, True, None])


def test_null_and_nan_handling() -> None:
    xs = {"x": [1.0, NAN, None]}
    check(col("x").is_null(), xs, F, [False, False, True])
    check(col("x").is_nan(), xs, F, [False, True, None])
    check(col("x").fill_nan(0), xs, F, [1.0, 0.0, None])
    check(col("x").fill_null(0), xs, F, [1.0, NAN, 0.0])
    check(col("x").fill_null(0.5), {"x": [1, None]}, I, [1.0, 0.5])
    check(col("x").is_nan(), {"x": [1]}, I, [False])


def test_merges_promote_int_to_float() -> None:
    check(coalesce(col("x"), 2.5), {"x": [1, None]}, I, [1.0, 2.5])
    check(min_horizontal(col("x"), NAN, None), {"x": [1.0, NAN, None]}, F, [1.0, NAN, NAN])
    check(max_horizontal(col("x"), 0.0), {"x": [-0.0, 1.0]}, F, [0.0, 1.0])
    check(min_horizontal(col("x"), "b"), {"x": ["a", None]}, S, ["a", "b"])
    check(coalesce(lit(None), lit(None)).is_null(), {"x": [1]}, I, [True])


def test_when_then_otherwise() -> None:
    xs = {"x": [1, 5, None]}
    case = when(col("x") > 3).then(col("x")).when(col("x") > 0).then(0.5)
    check(case, xs, I, [0.5, 5.0, None])
    check(case.otherwise(-1), xs, I, [0.5, 5.0, -1.0])
    check(when(lit(None)).then(1).otherwise(2), xs, I, [2, 2, 2])
    check(when(col("x") > 3).then(None).otherwise(None), xs, I, [None] * 3)


def test_strings_are_unicode() -> None:
    xs = {"x": ["ΣΑΣ", "ß", "🙂a", "", "İ", None]}
    check(col("x").str.lower(), xs, S, ["σας", "ß", "🙂a", "", "i̇", None])
    check(col("x").str.upper(), xs, S, ["ΣΑΣ", "SS", "🙂A", "", "İ", None])
    check(col("x").str.len_chars(), xs, S, [3, 1, 2, 0, 1, None])
    check(col("x").str.contains(""), xs, S, [True, True, True, True, True, None])
    check(col("x").str.starts_with("🙂"), xs, S, [False, False, True, False, False, None])
    check(col("x").str.contains("."), {"x": ["a.b", "ab"]}, S, [True, False])  # literal, no regex


def test_string_case_follows_polars_unicode_tables() -> None:
    # Polars (Rust) knows newer Unicode than Python 3.11: ƛ gained an upper case in Unicode 16.
    check(col("x").str.upper(), {"x": ["ƛ", "aƛ"]}, S, ["\ua7dc", "A\ua7dc"])
    check(col("x").str.lower(), {"x": ["\ua7dc"]}, S, ["ƛ"])


def test_datetime_parts() -> None:
    when_ = [
        dt.datetime(2024, 12, 29, 23, 5, tzinfo=UTC),
        dt.datetime(1, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        None,
    ]
    xs = {"x": when_}
    check(col("x").dt.hour(), xs, D, [23, 0, 23, None])
    check(col("x").dt.weekday(), xs, D, [7, 1, 5, None])
    check(col("x").dt.day() + col("x").dt.month() * 100, xs, D, [1229, 101, 1231, None])
    check(col("x").dt.year(), xs, D, [2024, 1, 9999, None])
    check(
        col("x").dt.epoch(), xs, D, [1735513500000000, -62135596800000000, 253402300799999999, None]
    )
    check(col("x").dt.hour() * 100, xs, D, [2300, 0, 2300, None])  # int64, no Int8 wrap


def test_casts() -> None:
    check(
        col("x").cast("int64"),
        {"x": [1.9, -1.9, NAN, 2.0**63, -(2.0**63)]},
        F,
        [1, -1, None, None, I64_MIN],
    )
    check(
        col("x").cast(pl.Int64),
        {"x": ["12", "+3", " 1", "1.0", "9223372036854775808"]},
        S,
        [12, 3, None, None, None],
    )
    check(
        col("x").cast("float64"),
        {"x": ["1e3", ".5", "inf", "-NaN", "x", "1_0"]},
        S,
        [1000.0, 0.5, INF, NAN, None, None],
    )
    check(
        col("x").cast("str"),
        {"x": [1e-5, 1e-7, 1e16, 0.1, -0.0, NAN, INF]},
        F,
        ["0.00001", "1e-7", "1e+16", "0.1", "-0.0", "NaN", "inf"],
    )
    check(col("x").cast("str"), {"x": [True, False]}, B, ["true", "false"])
    check(col("x").cast("bool"), {"x": [0.0, -0.0, NAN, 2.0]}, F, [False, False, True, True])
    moment = dt.datetime(5, 6, 7, 8, 9, 10, 11, tzinfo=UTC)
    check(col("x").cast("str"), {"x": [moment]}, D, ["0005-06-07 08:09:10.000011+00:00"])
    check(
        col("x").cast("datetime"),
        {"x": [0, -1, I64_MAX]},
        I,
        [
            dt.datetime(1970, 1, 1, tzinfo=UTC),
            dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            None,
        ],
    )
    check(
        col("x").cast("float64"),
        {"x": [moment]},
        D,
        [float((moment - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1))],
    )


def test_null_literals_take_the_type_they_need() -> None:
    xs = {"x": [1, 2]}
    check(lit(None).str.lower().is_null(), xs, I, [True, True])
    check(lit(None).dt.hour().fill_null(col("x")), xs, I, [1, 2])
    check((lit(None) // lit(None)).is_null(), xs, I, [True, True])
    check(~lit(None) | True, xs, I, [True, True])


@pytest.mark.parametrize("dtype", [pl.Int32, pl.UInt8, pl.Float32])
def test_to_polars_with_schema_brings_columns_to_64_bits(dtype: pl.DataType) -> None:
    from featurestore.expr import to_polars

    frame = pl.DataFrame({"x": [100]}, schema={"x": dtype})
    out = frame.select(to_polars(col("x") * 100_000_000, schema=frame.schema))
    assert out.to_series().to_list() == [10_000_000_000]


def test_adding_a_scalar_zero_keeps_ieee_signed_zeros() -> None:
    # Polars' scalar kernels return `x` for `x + 0.0` and `-x` for `0.0 - x`; IEEE does not.
    xs = {"x": [-0.0, 0.0, 1.0]}
    check(col("x") + 0.0, xs, F, [0.0, 0.0, 1.0])
    check(0 + col("x"), xs, F, [0.0, 0.0, 1.0])
    check(0.0 - col("x"), xs, F, [0.0, 0.0, -1.0])
    check(1 / (col("x") + -coalesce(lit(None), 0)), xs, F, [INF, INF, 1.0])


def test_scalar_shortcuts_of_polars_do_not_change_lengths() -> None:
    utc0 = dt.datetime(1970, 1, 1, tzinfo=UTC)
    nulls = {"x": [None, None, None]}
    check(utc0 == col("x").cast("datetime"), nulls, I, [None] * 3)
    check(lit(5) < when(col("x") > 0).then(col("x")).otherwise(3), nulls, I, [False] * 3)
    check(coalesce(None, 1, coalesce(None, col("x"))), nulls, I, [1] * 3)
    check(
        lit(None) & (utc0 == coalesce(None, utc0, col("x").cast("datetime"))), nulls, I, [None] * 3
    )
    as_time = (lit(None) + col("x")).cast("datetime")  # compiles to a literal
    check(as_time == col("x").cast("datetime"), nulls, I, [None] * 3)


def test_round_scales_like_rust_powi() -> None:
    # Polars scales by 10.powi(decimals); Python's 10.0 ** 23 is one ulp away from it.
    from expr_check import both

    xs = {"x": [1.2345678901234567e-7, 3.3e-50, 0.1, 2.5e-23]}
    for decimals in (23, 37, 80, 100):
        both(col("x").round(decimals), xs, F)  # asserts Python == Polars


def test_final_sigma_follows_polars() -> None:
    xs = {"x": ["ΑΣ", "ΑΣ Β", "aΣb", "\ua7dcΣ", "abcdefghijklmnopΣ", "ΣΣ"]}
    check(col("x").str.lower(), xs, S, ["ας", "ας β", "aσb", "ƛσ", "abcdefghijklmnopς", "σς"])


def test_coalesce_stopping_at_a_constant_keeps_the_dtype_of_every_argument() -> None:
    """Found by the parity test: ``coalesce(0, col("f"))`` stops at the constant, yet without
    a schema its dtype must still be the supertype with the float column it never reads."""
    from featurestore.expr import to_polars

    expr = coalesce(lit(None), coalesce(coalesce(lit(None), lit(0) + lit(0)), col("f")))
    frame = pl.DataFrame({"f": [1.5, None]})
    untyped = frame.select(to_polars(expr).alias("v")).to_series()
    typed = frame.select(to_polars(expr, schema=frame.schema).alias("v")).to_series()
    assert untyped.dtype == typed.dtype == pl.Float64
    assert untyped.to_list() == typed.to_list() == [0.0]
