"""health(): null rate, min, max, mean per column, always JSON-ready."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore.contracts import health


def test_figures_per_type() -> None:
    frame = pl.DataFrame(
        {
            "n": [1, None, 3, 4],
            "f": [1.0, math.nan, None, 3.0],
            "b": [True, False, True, None],
            "s": ["b", "a", None, "c"],
            "ts": [datetime(2026, 1, d, tzinfo=UTC) for d in (2, 1, 4, 3)],
            "d": [date(2026, 1, 1), None, None, date(2025, 1, 1)],
            "l": [[1], [2], None, []],
            "e": pl.Series(["x", "y", "x", None], dtype=pl.Enum(["y", "x"])),
        }
    )
    figures = health(frame)
    assert list(figures) == frame.columns
    assert figures["n"] == {"null_rate": 0.25, "min": 1.0, "max": 4.0, "mean": 8 / 3}
    assert figures["f"] == {"null_rate": 0.25, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert figures["b"] == {"null_rate": 0.25, "min": 0.0, "max": 1.0, "mean": 2 / 3}
    assert figures["s"] == {"null_rate": 0.25, "min": "a", "max": "c", "mean": None}
    assert figures["ts"] == {
        "null_rate": 0.0,
        "min": "2026-01-01T00:00:00+00:00",
        "max": "2026-01-04T00:00:00+00:00",
        "mean": None,
    }
    assert figures["d"] == {
        "null_rate": 0.5,
        "min": "2025-01-01",
        "max": "2026-01-01",
        "mean": None,
    }
    assert figures["l"] == {"null_rate": 0.25, "min": None, "max": None, "mean": None}
    assert figures["e"]["min"] == "x" and figures["e"]["null_rate"] == 0.25
    json.dumps(figures, allow_nan=False)


def test_infinities_and_empty_batches_stay_json() -> None:
    figures = health(pl.DataFrame({"f": [1.0, math.inf]}))
    assert figures["f"] == {"null_rate": 0.0, "min": 1.0, "max": None, "mean": None}
    empty = health(pl.DataFrame(schema={"a": pl.Int64, "s": pl.String}))
    assert empty == {
        "a": {"null_rate": None, "min": None, "max": None, "mean": None},
        "s": {"null_rate": None, "min": None, "max": None, "mean": None},
    }
    assert health(pl.DataFrame()) == {}
    json.dumps(figures, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
        max_size=30,
    ),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), max_size=30),
)
def test_float_figures_skip_nan_whether_or_not_a_column_has_any(
    with_nan: list[float | None], without_nan: list[float | None]
) -> None:
    """NaN-free columns skip the ``fill_nan`` copy; the figures equal the copy's anyway."""
    height = min(len(with_nan), len(without_nan))
    frame = pl.DataFrame(
        {"a": with_nan[:height], "b": without_nan[:height]},
        schema={"a": pl.Float64, "b": pl.Float64},
    )
    figures = health(frame)
    for name in frame.columns:
        values = frame.get_column(name).fill_nan(None)
        expected = [values.min(), values.max(), values.mean()]
        got = [figures[name][k] for k in ("min", "max", "mean")]
        want = [float(v) if v is not None and math.isfinite(v) else None for v in expected]
        assert got == want


def test_long_text_figures_are_cut() -> None:
    """A report (and a 422 carrying one) never repeats a long value whole: found by the
    hostile-body fuzz test, a 1,000-character timestamp came back in full as the column's max."""
    figures = health(pl.DataFrame({"s": ["a", "x" * 1000], "t": ["b" * 64, "c"]}))
    assert figures["s"]["min"] == "a"
    assert figures["s"]["max"] == "x" * 64 + "..."
    assert figures["t"]["min"] == "b" * 64  # 64 characters stay whole
