"""Drift statistics against SciPy/NumPy computed straight from the DESIGN.md §9 definitions."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from featurestore.errors import ConfigError, NotFoundError, RequestError
from featurestore.parity import DriftThresholds, drift_report, feature_drift

TOL = {"rel": 1e-9, "abs": 1e-12}
KEYS = [
    "feature",
    "kind",
    "n_reference",
    "n_current",
    "null_rate_reference",
    "null_rate_current",
    "psi",
    "js",
    "ks_statistic",
    "ks_pvalue",
    "wasserstein",
    "chi2_statistic",
    "chi2_pvalue",
    "drifted",
    "flags",
]


def _psi(r: np.ndarray, c: np.ndarray) -> float:
    rs = np.where(r == 0, 1e-4, r)
    cs = np.where(c == 0, 1e-4, c)
    return float(np.sum((cs - rs) * np.log(cs / rs)))


def expected_numeric(reference: Any, current: Any) -> dict[str, float]:
    """The definitions, written out with SciPy/NumPy, one value at a time where they say so."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    k = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=k) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=k) / len(cur)
    with warnings.catch_warnings():
        # SciPy's exact method sometimes falls back to the asymptotic one, with a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = ks_2samp(ref, cur)
    return {
        "psi": _psi(r, c),
        "js": float(jensenshannon(r, c, base=2)),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "wasserstein": float(wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)),
    }


def expected_categorical(reference: list[Any], current: list[Any]) -> dict[str, float]:
    ref = [x for x in reference if x is not None]
    cur = [x for x in current if x is not None]
    categories = sorted(set(ref) | set(cur), key=str)
    rc = np.array([ref.count(x) for x in categories])
    cc = np.array([cur.count(x) for x in categories])
    result = {
        "psi": _psi(rc / rc.sum(), cc / cc.sum()),
        "js": float(jensenshannon(rc / rc.sum(), cc / cc.sum(), base=2)),
    }
    chi2 = chi2_contingency(np.vstack([rc, cc]))
    result["chi2_statistic"] = float(chi2.statistic)
    result["chi2_pvalue"] = float(chi2.pvalue)
    return result


def assert_matches(got: Any, expected: dict[str, float]) -> None:
    for key, value in expected.items():
        assert getattr(got, key) == pytest.approx(value, **TOL), key


RNG_CASES = {
    "normal small": lambda g: (g.normal(0, 1, 400), g.normal(0.3, 1.2, 600)),
    "normal asymptotic": lambda g: (g.normal(0, 1, 12_000), g.normal(0.02, 1, 15_000)),
    "skewed": lambda g: (g.lognormal(0, 1, 3_000), g.lognormal(0.1, 1.1, 2_500)),
    "skewed asymptotic": lambda g: (g.exponential(2, 20_000), g.exponential(2.1, 11_000)),
    "ints with ties": lambda g: (g.poisson(3, 2_000), g.poisson(3.3, 1_500)),
    "ints with ties asymptotic": lambda g: (g.integers(0, 5, 30_000), g.integers(0, 6, 30_000)),
    "same distribution": lambda g: (g.normal(0, 1, 5_000), g.normal(0, 1, 5_000)),
}


@pytest.mark.parametrize("case", sorted(RNG_CASES))
def test_numeric_statistics_equal_scipy(case: str) -> None:
    reference, current = RNG_CASES[case](np.random.default_rng(7))
    got = feature_drift("x", pl.Series(reference), pl.Series(current))
    assert got.kind == "numeric"
    assert (got.n_reference, got.n_current) == (len(reference), len(current))
    assert_matches(got, expected_numeric(reference, current))
    assert got.chi2_statistic is None and got.chi2_pvalue is None


def test_ties_on_the_edges_land_in_the_upper_bin() -> None:
    # Deciles of 0..9 repeated are exact data values: a value equal to an edge goes right.
    reference = np.repeat(np.arange(10.0), 10)
    current = np.repeat(np.arange(10.0), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    got = feature_drift("x", pl.Series(reference), pl.Series(current))
    assert_matches(got, expected_numeric(reference, current))


def test_nulls_and_nan_are_dropped_and_counted_in_the_null_rate() -> None:
    g = np.random.default_rng(3)
    ref = g.normal(0, 1, 1_000)
    cur = g.normal(0.5, 1, 800)
    ref_series = pl.Series(ref).scatter([0, 5, 9], None).scatter([1, 2], float("nan"))
    cur_series = pl.Series(cur).scatter(list(range(80)), None)
    got = feature_drift("x", ref_series, cur_series)
    assert got.null_rate_reference == pytest.approx(5 / 1_000)
    assert got.null_rate_current == pytest.approx(80 / 800)
    assert (got.n_reference, got.n_current) == (995, 720)
    expected = expected_numeric(ref_series.fill_null(float("nan")), cur[80:])
    assert_matches(got, expected)


def test_integer_columns_equal_scipy_on_the_integers_themselves() -> None:
    g = np.random.default_rng(11)
    reference = g.integers(-3, 4, 700)
    current = g.integers(-2, 5, 900)
    series = pl.Series(reference, dtype=pl.Int16), pl.Series(current, dtype=pl.Int32)
    got = feature_drift("x", *series)
    assert_matches(got, expected_numeric(reference, current))


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
values = st.one_of(
    st.lists(finite, min_size=1, max_size=150),
    st.lists(st.sampled_from([-1.5, 0.0, 2.0, 3.25, 7.0]), min_size=1, max_size=150),
)


@settings(max_examples=80, deadline=None)
@given(reference=values, current=values)
def test_numeric_statistics_equal_scipy_on_any_sample(
    reference: list[float], current: list[float]
) -> None:
    got = feature_drift("x", pl.Series(reference, dtype=pl.Float64), pl.Series(current))
    assert_matches(got, expected_numeric(reference, current))


@settings(max_examples=60, deadline=None)
@given(
    reference=st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=80),
    current=st.lists(st.sampled_from(["a", "b", "c", "e", None]), min_size=1, max_size=80),
)
def test_categorical_statistics_equal_scipy_on_any_sample(
    reference: list[str | None], current: list[str | None]
) -> None:
    got = feature_drift("c", pl.Series(reference, dtype=pl.String), pl.Series(current))
    ref = [x for x in reference if x is not None]
    cur = [x for x in current if x is not None]
    if not ref or not cur:
        assert got.psi is None and got.chi2_pvalue is None
    elif len(set(ref) | set(cur)) == 1:
        assert (got.psi, got.js, got.chi2_statistic, got.chi2_pvalue) == (0.0, 0.0, None, None)
    else:
        assert_matches(got, expected_categorical(reference, current))
    assert got.ks_statistic is None and got.wasserstein is None


def test_categorical_kinds_strings_bools_categoricals_and_enums() -> None:
    g = np.random.default_rng(5)
    ref = list(g.choice(["ams", "ber", "lis"], 3_000, p=[0.5, 0.3, 0.2]))
    cur = list(g.choice(["ams", "ber", "lis", "par"], 2_000, p=[0.4, 0.3, 0.2, 0.1]))
    expected = expected_categorical(ref, cur)
    enum = pl.Enum(["ams", "ber", "lis", "par"])
    for dtype in (pl.String, pl.Categorical, enum):
        got = feature_drift("city", pl.Series(ref, dtype=dtype), pl.Series(cur, dtype=dtype))
        assert got.kind == "categorical"
        assert_matches(got, expected)
    flags = [bool(x) for x in g.random(500) < 0.3], [bool(x) for x in g.random(400) < 0.5]
    got = feature_drift("flag", pl.Series(flags[0]), pl.Series(flags[1]))
    assert got.kind == "categorical"
    assert_matches(got, expected_categorical(*flags))


def test_a_category_on_one_side_only_is_smoothed_and_tested() -> None:
    got = feature_drift("c", pl.Series(["a"] * 50 + ["b"] * 50), pl.Series(["a"] * 60 + ["z"] * 40))
    assert_matches(got, expected_categorical(["a"] * 50 + ["b"] * 50, ["a"] * 60 + ["z"] * 40))
    assert got.flags == ["psi", "js", "chi2"]


def test_a_single_category_on_both_sides_has_no_chi_square() -> None:
    got = feature_drift("c", pl.Series(["a", "a", None]), pl.Series(["a"] * 5))
    assert (got.psi, got.js) == (0.0, 0.0)
    assert got.chi2_statistic is None and got.chi2_pvalue is None
    assert not got.drifted
    assert got.note is not None and "chi-square undefined" in got.note


def test_one_different_category_on_each_side_is_a_two_column_table() -> None:
    got = feature_drift("c", pl.Series(["a"] * 120), pl.Series(["b"] * 120))
    assert_matches(got, expected_categorical(["a"] * 120, ["b"] * 120))
    assert "chi2" in got.flags
    assert got.histogram == {"categories": ["a", "b"], "reference": [1, 0], "current": [0, 1]}


@pytest.mark.parametrize("n_small", [2, 3, 99])
def test_fewer_than_min_samples_gives_figures_but_never_flags(n_small: int) -> None:
    g = np.random.default_rng(5)
    big, shifted = g.normal(0, 1, 500), g.normal(5, 1, n_small)
    for ref, cur in ((big, shifted), (shifted, big)):
        got = feature_drift("x", pl.Series(ref), pl.Series(cur))
        assert got.insufficient_data and got.to_dict()["insufficient_data"] is True
        assert got.psi is not None and got.psi > 1 and got.ks_pvalue is not None
        assert (got.flags, got.warnings, got.drifted) == ([], [], False)
        assert got.note is not None and "min_samples=100" in got.note
    cats = feature_drift("c", pl.Series(["a"] * 500), pl.Series(["b"] * n_small))
    assert cats.insufficient_data and not cats.drifted


def test_min_samples_is_settable_and_100_values_are_enough() -> None:
    g = np.random.default_rng(6)
    ref, cur = g.normal(0, 1, 100), g.normal(5, 1, 100)
    enough = feature_drift("x", pl.Series(ref), pl.Series(cur))
    assert not enough.insufficient_data and enough.drifted
    strict = feature_drift("x", pl.Series(ref), pl.Series(cur), DriftThresholds(min_samples=101))
    assert strict.insufficient_data and not strict.drifted
    few = feature_drift("x", pl.Series(ref[:5]), pl.Series(cur[:5]), DriftThresholds(min_samples=5))
    assert not few.insufficient_data and few.drifted
    with pytest.raises(ConfigError, match="min_samples"):
        DriftThresholds(min_samples=0)


def test_numeric_histogram_is_what_psi_compared() -> None:
    g = np.random.default_rng(7)
    ref, cur = g.normal(0, 1, 1000), g.normal(1, 1, 800)
    got = feature_drift("x", pl.Series(ref), pl.Series(cur))
    assert got.histogram is not None
    edges = np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert got.histogram["edges"] == pytest.approx(edges.tolist(), rel=1e-12)
    counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=10)
    assert got.histogram["current"] == pytest.approx((counts / 800).tolist())
    assert sum(got.histogram["reference"]) == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [pl.Float64, pl.Int64, pl.String, pl.Boolean])
def test_an_all_null_side_gives_no_statistics_and_no_flags(dtype: pl.DataType) -> None:
    values = {
        pl.Float64: [1.0, 2.0],
        pl.Int64: [1, 2],
        pl.String: ["a", "b"],
        pl.Boolean: [True, False],
    }[dtype]
    for ref, cur in ((values, [None, None, None]), ([None], values), ([None], [None])):
        got = feature_drift("x", pl.Series(ref, dtype=dtype), pl.Series(cur, dtype=dtype))
        stats = got.to_dict()
        assert all(stats[k] is None for k in KEYS[6:13]), stats
        assert not got.drifted and got.flags == [] and got.warnings == []
        assert got.note is not None and "not enough data" in got.note
    got = feature_drift("x", pl.Series([None, None]), pl.Series([None]))
    assert (got.kind, got.null_rate_reference, got.n_reference) == ("categorical", 1.0, 0)


def test_a_frame_without_rows_has_no_null_rate() -> None:
    got = feature_drift("x", pl.Series([], dtype=pl.Float64), pl.Series([1.0, None]))
    assert got.null_rate_reference is None and got.null_rate_current == 0.5
    assert got.psi is None and not got.drifted


def test_a_null_dtype_side_takes_the_other_side_kind() -> None:
    got = feature_drift("x", pl.Series([1.0, 2.0]), pl.Series([None, None]))
    assert got.kind == "numeric" and got.null_rate_current == 1.0 and got.psi is None


def test_constant_columns() -> None:
    same = feature_drift("x", pl.Series([3.0] * 50), pl.Series([3.0] * 70))
    assert_matches(same, expected_numeric([3.0] * 50, [3.0] * 70))
    assert (same.psi, same.js, same.ks_statistic, same.ks_pvalue, same.wasserstein) == (
        0.0,
        0.0,
        0.0,
        1.0,
        0.0,
    )
    assert not same.drifted
    assert same.note is not None and "constant reference" in same.note
    moved = feature_drift("x", pl.Series([3.0] * 50), pl.Series([4.0] * 70))
    assert_matches(moved, expected_numeric([3.0] * 50, [4.0] * 70))
    assert moved.ks_statistic == 1.0 and moved.wasserstein == pytest.approx(1 / 0.001)
    varied_current = feature_drift("x", pl.Series([3.0] * 50), pl.Series(np.linspace(0, 6, 70)))
    assert_matches(varied_current, expected_numeric([3.0] * 50, np.linspace(0, 6, 70)))
    constant_current = feature_drift("x", pl.Series(np.linspace(0, 6, 70)), pl.Series([3.0] * 9))
    assert_matches(constant_current, expected_numeric(np.linspace(0, 6, 70), [3.0] * 9))


def test_exact_ks_falling_back_to_asymptotic_matches_scipy_silently() -> None:
    reference = [-1.5, 0.0, 0.0, 2.0, 2.0, 7.0, 7.0]
    current = [0.0, 0.0, 2.0, 2.0, 3.25, 7.0, 7.0]
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        ks_2samp(reference, current)
    got = feature_drift("x", pl.Series(reference), pl.Series(current))
    assert_matches(got, expected_numeric(reference, current))


def test_single_values() -> None:
    got = feature_drift("x", pl.Series([1.0]), pl.Series([2.0]))
    assert_matches(got, expected_numeric([1.0], [2.0]))


def test_infinite_values_never_report_nan_or_warn() -> None:
    got = feature_drift("x", pl.Series([1.0, 2.0, float("inf")] * 5), pl.Series([1.0, 2.0, 3.0]))
    values = [v for v in got.to_dict().values() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in values)
    assert got.wasserstein is None
    json.dumps(got.to_dict(), allow_nan=False)


def test_flags_warnings_and_thresholds() -> None:
    g = np.random.default_rng(2)
    ref, cur = g.normal(0, 1, 4_000), g.normal(0.3, 1, 4_000)
    expected = expected_numeric(ref, cur)
    assert 0.1 < expected["psi"] < 0.25
    got = feature_drift("x", pl.Series(ref), pl.Series(cur))
    by_default = [
        name
        for name, hit in (
            ("psi", expected["psi"] > 0.25),
            ("js", expected["js"] > 0.1),
            ("ks", expected["ks_pvalue"] < 0.05),
        )
        if hit
    ]
    assert got.flags == by_default and got.warnings == ["psi"] and got.drifted
    got = feature_drift("x", pl.Series(ref), pl.Series(cur), DriftThresholds(js=0.5))
    assert got.flags == ["ks"] and got.warnings == ["psi"]
    strict = DriftThresholds(psi=0.05, psi_warn=0.01, js=0.01, ks_pvalue=1e-300)
    got = feature_drift("x", pl.Series(ref), pl.Series(cur), strict)
    assert got.flags == ["psi", "js"] and got.warnings == []
    lax = DriftThresholds(psi=10, psi_warn=10, js=1, ks_pvalue=0)
    got = feature_drift("x", pl.Series(ref), pl.Series(cur), lax)
    assert (got.flags, got.warnings, got.drifted) == ([], [], False)


@pytest.mark.parametrize(
    "kwargs",
    [{"psi": -1}, {"psi_warn": 0.5, "psi": 0.2}, {"ks_pvalue": 2}, {"js": float("nan")}],
)
def test_invalid_thresholds_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="Drift threshold"):
        DriftThresholds(**kwargs)


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    g = np.random.default_rng(9)
    reference = pl.DataFrame(
        {
            "driver_id": np.arange(500),
            "ts": pl.datetime_range(
                pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 1, 0, 8, 19), "1s", eager=True
            ),
            "fare": g.gamma(2, 10, 500),
            "city": g.choice(["ams", "ber"], 500),
            "only_ref": np.zeros(500),
        }
    )
    current = pl.DataFrame(
        {
            "city": g.choice(["ams", "ber", "lis"], 300),
            "fare": g.gamma(2, 12, 300),
            "driver_id": np.arange(300),
            "ts": pl.datetime_range(
                pl.datetime(2026, 2, 1), pl.datetime(2026, 2, 1, 0, 4, 59), "1s", eager=True
            ),
        }
    )
    return reference, current


def test_report_covers_common_supported_columns_in_reference_order() -> None:
    reference, current = frames()
    report = drift_report(reference, current, reference_name="train_v1", current_name="serving")
    assert [f.feature for f in report.features] == ["driver_id", "fare", "city"]
    out = report.to_dict()
    assert list(out) == ["reference", "current", "features"]
    assert (out["reference"], out["current"]) == ("train_v1", "serving")
    for feature in out["features"]:
        assert list(feature)[: len(KEYS)] == KEYS
    fare = report.features[1]
    assert_matches(fare, expected_numeric(reference["fare"], current["fare"]))
    city = report.features[2]
    assert_matches(
        city, expected_categorical(reference["city"].to_list(), current["city"].to_list())
    )
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out
    assert report.drifted == [f.feature for f in report.features if f.drifted]
    rendered = str(report)
    assert "train_v1 -> serving" in rendered and "fare" in rendered and "city" in rendered


def test_report_named_features_in_the_given_order() -> None:
    reference, current = frames()
    report = drift_report(
        reference,
        current,
        features=["city", "fare", "city"],
        reference_name="a",
        current_name="b",
    )
    assert [f.feature for f in report.features] == ["city", "fare"]


def test_report_errors_name_the_feature() -> None:
    reference, current = frames()
    with pytest.raises(NotFoundError, match="'only_ref' is not a column of the 'b' frame"):
        drift_report(
            reference, current, features=["only_ref"], reference_name="a", current_name="b"
        )
    with pytest.raises(RequestError, match="'ts' has dtype Datetime"):
        drift_report(reference, current, features=["ts"], reference_name="a", current_name="b")
    mixed = current.with_columns(pl.col("fare").cast(pl.String))
    with pytest.raises(RequestError, match="'fare' is Float64 in the reference but String"):
        drift_report(reference, mixed, features=["fare"], reference_name="a", current_name="b")


def test_parallel_report_equals_feature_by_feature() -> None:
    g = np.random.default_rng(4)
    n = 120_000
    reference = pl.DataFrame({"a": g.normal(0, 1, n), "b": g.integers(0, 9, n)})
    current = pl.DataFrame({"a": g.normal(0.01, 1, n), "b": g.integers(0, 10, n)})
    report = drift_report(reference, current, reference_name="r", current_name="c")
    for got in report.features:
        assert got == feature_drift(got.feature, reference[got.feature], current[got.feature])
        assert_matches(got, expected_numeric(reference[got.feature], current[got.feature]))
