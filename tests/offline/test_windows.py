"""Windowed aggregates: window edges, the known-at rule, empty windows, NaN, precision, errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from oracle import oracle_windows
from polars.testing import assert_frame_equal

from featurestore.errors import DefinitionError, RequestError
from featurestore.offline import windows
from featurestore.offline.windows import WindowSpec, window_aggregates, window_values_at

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
H, US = timedelta(hours=1), timedelta(microseconds=1)
TS = pl.Datetime("us", "UTC")
FNS = ("count", "sum", "mean", "min", "max", "std", "last")


def rows_frame(
    events: list[datetime],
    values: list[Any],
    created: list[Any] | None = None,
    dtype: Any = pl.Float64,
) -> pl.DataFrame:
    n = len(events)
    return pl.DataFrame(
        {
            "k": [1] * n,
            "event_timestamp": events,
            "created_timestamp": created or [None] * n,
            "seq": list(range(n)),
            "v": values,
        },
        schema={
            "k": pl.Int64,
            "event_timestamp": TS,
            "created_timestamp": TS,
            "seq": pl.Int64,
            "v": dtype,
        },
    )


def specs(window: timedelta, fns: tuple[str, ...] = FNS) -> list[WindowSpec]:
    return [WindowSpec(fn, "v", fn, window) for fn in fns]  # type: ignore[arg-type]


def at(rows: pl.DataFrame, times: list[datetime], window: timedelta, **kw: Any) -> pl.DataFrame:
    spine = pl.DataFrame(
        {"k": [1] * len(times), "event_timestamp": times},
        schema={"k": pl.Int64, "event_timestamp": TS},
    )
    return window_aggregates(spine, rows, join_keys=["k"], aggs=specs(window), **kw)


def test_window_is_exclusive_at_start_and_inclusive_at_end() -> None:
    rows = rows_frame([T0], [2.0])
    out = at(rows, [T0 - US, T0, T0 + H - US, T0 + H], H)
    assert out.get_column("count").to_list() == [0, 1, 1, 0]
    assert out.get_column("last").to_list() == [None, 2.0, 2.0, None]
    assert out.get_column("sum").to_list() == [0.0, 2.0, 2.0, 0.0]


def test_rows_count_only_once_known() -> None:
    rows = rows_frame([T0, T0 + US], [1.0, 5.0], created=[None, T0 + 30 * 60 * 10**6 * US])
    out = at(rows, [T0 + US, T0 + H / 2, T0 + H], H)
    assert out.get_column("count").to_list() == [1, 2, 1]
    assert out.get_column("max").to_list() == [1.0, 5.0, 5.0]
    assert out.get_column("last").to_list() == [1.0, 5.0, 5.0]
    by_event = at(rows, [T0 + US], H, point_in_time="event")
    assert by_event.get_column("sum").to_list() == [6.0]


def test_a_row_known_after_its_window_passed_never_counts() -> None:
    rows = rows_frame([T0], [1.0], created=[T0 + 2 * H])
    out = at(rows, [T0 + H - US, T0 + 2 * H], H)
    assert out.get_column("count").to_list() == [0, 0]
    assert out.get_column("last").to_list() == [None, None]


def test_empty_windows_and_integer_dtypes() -> None:
    rows = rows_frame([T0, T0], [3, None], dtype=pl.Int32)
    out = at(rows, [T0 - H, T0], H)
    assert out.select(FNS).rows() == [
        (0, 0, None, None, None, None, None),
        (1, 3, 3.0, 3, 3, None, None),
    ]
    assert out.select(FNS).dtypes == [
        pl.Int64,
        pl.Int64,
        pl.Float64,
        pl.Int32,
        pl.Int32,
        pl.Float64,
        pl.Int32,
    ]


def test_std_is_exact_for_equal_values_and_large_offsets() -> None:
    rows = rows_frame([T0, T0 + US, T0 + 2 * US], [1e9 + 0.1, 1e9 + 0.1, 1e9 + 0.1])
    assert at(rows, [T0 + H], 2 * H).get_column("std").to_list() == [0.0]
    rows = rows_frame([T0 - 10 * H, T0, T0 + US], [1e15, 1.0, 2.0])
    out = at(rows, [T0 + H], 2 * H)
    assert out.get_column("std").item() == pytest.approx(math.sqrt(0.5), rel=1e-12)
    assert out.get_column("sum").item() == 3.0


def test_nan_follows_polars_aggregations() -> None:
    rows = rows_frame([T0, T0 + US, T0 + 2 * US], [1.0, math.nan, None])
    got = at(rows, [T0 + H], 2 * H).row(0, named=True)
    assert got["count"] == 2 and got["min"] == 1.0 and got["max"] == 1.0
    assert all(math.isnan(got[f]) for f in ("sum", "mean", "std"))
    assert got["last"] is None  # the winning row's value, null or not
    only_nan = at(rows_frame([T0], [math.nan]), [T0], H).row(0, named=True)
    assert math.isnan(only_nan["min"]) and math.isnan(only_nan["max"])


def test_huge_windows_do_not_overflow() -> None:
    rows = rows_frame([datetime(1970, 1, 1, tzinfo=UTC), T0], [1.0, 2.0])
    out = at(rows, [T0], timedelta.max)
    assert out.get_column("count").to_list() == [2]
    assert out.get_column("sum").to_list() == [3.0]


def test_chunked_expansion_matches_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "PAIR_BUDGET", 3)
    events = [T0 + i * 10 * 60 * 10**6 * US for i in range(12)]
    rows = rows_frame(
        events,
        [float(i % 5) for i in range(12)],
        created=[e + (2 * H if i % 3 == 0 else 0 * H) for i, e in enumerate(events)],
    )
    spine = pl.DataFrame(
        {"k": [1, 2, 1, 1] * 5, "event_timestamp": events[:10] * 2},
        schema={"k": pl.Int64, "event_timestamp": TS},
    )
    aggs = specs(H)
    got = window_aggregates(spine, rows, join_keys=["k"], aggs=aggs)
    want = oracle_windows(spine, rows, join_keys=["k"], aggs=aggs)
    assert_frame_equal(got, want, rel_tol=1e-12)


def test_window_values_at_keeps_entities_whose_window_emptied() -> None:
    rows = pl.DataFrame(
        {"k": [1, 2, 3], "event_timestamp": [T0 - 3 * H, T0 - H / 2, T0 + H], "v": [1.0, 2.0, 3.0]},
        schema={"k": pl.Int64, "event_timestamp": TS, "v": pl.Float64},
    )
    out = window_values_at(
        rows.lazy(), join_keys=["k"], aggs=specs(H, ("count", "sum", "mean")), at=T0
    )
    assert out.columns == ["k", "event_timestamp", "count", "sum", "mean"]
    assert out.rows() == [(1, T0, 0, 0.0, None), (2, T0, 1, 2.0, 2.0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "aggregate name 'bad name' is not an identifier"),
        ({"fn": "median"}, "has fn 'median'"),
        ({"window": timedelta(0)}, "needs a window of at least one microsecond"),
    ],
)
def test_window_spec_refuses_bad_definitions(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"name": "a", "input": "v", "fn": "sum", "window": H} | kwargs
    with pytest.raises(DefinitionError, match=message):
        WindowSpec(**args)


def test_request_mistakes_are_named() -> None:
    rows = rows_frame([T0], ["x"], dtype=pl.String)
    spine = pl.DataFrame({"k": [1], "event_timestamp": [T0]})
    with pytest.raises(DefinitionError, match="applies sum to column 'v' of type String"):
        window_aggregates(spine, rows, join_keys=["k"], aggs=specs(H, ("sum",)))
    with pytest.raises(RequestError, match="aggregate column 'count' is not unique"):
        window_aggregates(spine, rows, join_keys=["k"], aggs=specs(H, ("count", "count")))
    with pytest.raises(RequestError, match="column 'w' is missing from the feature rows"):
        window_aggregates(spine, rows, join_keys=["k"], aggs=[WindowSpec("a", "w", "sum", H)])
