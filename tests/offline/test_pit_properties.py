"""Property tests: the point-in-time join, latest rows and windowed aggregates against the oracle.

Random small frames stress the edges the rules turn on: ties on event and created times and on
``seq``, duplicate spine rows, null keys and times, null and NaN values, spine rows before any data,
entities without data, times one microsecond either side of the ttl/window bounds, rows created
after (or before) their event, all-null created columns, multi-key and string keys, both modes.
``FS_PIT_EXAMPLES`` sets the examples per test (default 200).
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import oracle_join, oracle_latest, oracle_windows
from polars.testing import assert_frame_equal

from featurestore.offline.pit import latest_rows, point_in_time_join
from featurestore.offline.windows import WindowSpec, window_aggregates, window_values_at

BASE = datetime(2024, 1, 1, tzinfo=UTC)
MIN, US = timedelta(minutes=1), timedelta(microseconds=1)
TS = pl.Datetime("us", "UTC")
PROFILE = settings(
    max_examples=int(os.environ.get("FS_PIT_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = {
    "int": (["k"], [(1,), (2,), (3,)], {"k": pl.Int64}),
    "str": (["k"], [("a",), ("b",), ("é",)], {"k": pl.String}),
    "multi": (["k1", "k2"], [(1, "a"), (1, "b"), (2, "a")], {"k1": pl.Int64, "k2": pl.String}),
}
UNKNOWN = {"int": [(9,), (None,)], "str": [("zz",), (None,)], "multi": [(2, "b"), (None, "a")]}
DURATIONS = [0 * MIN, US, MIN, 3 * MIN, 5 * MIN, timedelta(days=1)]

times = st.builds(
    lambda m, j: BASE + m * MIN + j * US,
    st.integers(0, 10),
    st.sampled_from([-1, 0, 0, 0, 1]),
)
created_offsets = st.sampled_from([None, None, -MIN, 0 * MIN, US, MIN, 3 * MIN, 10 * MIN])
floats = st.one_of(
    st.none(),
    st.just(math.nan),
    st.sampled_from([0.0, 1.5, -2.25, 0.1, 3.0, 1e3]),
    st.floats(-1e3, 1e3, allow_nan=False),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Rows and a spine for one key kind, plus a mode."""
    kind = draw(st.sampled_from(sorted(KEYS)))
    keys, pool, key_types = KEYS[kind]
    no_created = draw(st.integers(0, 3)) == 0  # a source without created timestamps
    records = []
    for _ in range(draw(st.integers(0, 18))):
        key = draw(st.sampled_from(pool))
        event = draw(times)
        offset = None if no_created else draw(created_offsets)
        records.append(
            {
                **dict(zip(keys, key, strict=True)),
                "event_timestamp": event,
                "created_timestamp": None if offset is None else event + offset,
                "seq": draw(st.one_of(st.integers(0, 4), st.none())),
                "x": draw(floats),
                "n": draw(st.one_of(st.none(), st.integers(-100, 100))),
                "s": draw(st.one_of(st.none(), st.sampled_from(["x", "y", "zz", ""]))),
            }
        )
    rows_schema = {
        **key_types,
        "event_timestamp": TS,
        "created_timestamp": TS,
        "seq": pl.Int64,
        "x": pl.Float64,
        "n": pl.Int64,
        "s": pl.String,
    }
    spine_records = []
    for _ in range(draw(st.integers(0, 12))):
        key = draw(st.sampled_from(pool + UNKNOWN[kind]))
        early = times.map(lambda t: t - 20 * MIN)  # before any feature row
        t = None if draw(st.integers(0, 9)) == 0 else draw(st.one_of(times, early))
        spine_records.append({**dict(zip(keys, key, strict=True)), "event_timestamp": t})
    if spine_records and draw(st.booleans()):  # duplicate spine rows
        spine_records += draw(st.lists(st.sampled_from(spine_records), max_size=3))
    spine = pl.DataFrame(
        spine_records, schema={**key_types, "event_timestamp": TS}, orient="row"
    ).with_columns(
        pl.int_range(pl.len()).cast(pl.Float32).alias("label"),
        pl.lit("extra").cast(pl.Categorical).alias("tag"),
    )
    return {
        "keys": keys,
        "rows": pl.DataFrame(records, schema=rows_schema, orient="row"),
        "spine": spine,
        "mode": draw(st.sampled_from(["known", "event"])),
    }


@PROFILE
@given(scenarios(), st.sampled_from([None, *DURATIONS]))
def test_join_matches_oracle(case: dict[str, Any], ttl: timedelta | None) -> None:
    kwargs = dict(
        join_keys=case["keys"],
        features=["x", "n", "s"],
        ttl=ttl,
        point_in_time=case["mode"],
        rename={"n": "n_renamed"},
    )
    got = point_in_time_join(case["spine"], case["rows"].lazy(), **kwargs)
    assert_frame_equal(got, oracle_join(case["spine"], case["rows"], **kwargs), check_exact=True)


@PROFILE
@given(scenarios(), st.lists(st.sampled_from(DURATIONS[1:]), min_size=1, max_size=2))
def test_windows_match_oracle(case: dict[str, Any], windows: list[timedelta]) -> None:
    plan = {
        "x": ["count", "sum", "mean", "min", "max", "std", "last"],
        "n": ["sum", "mean", "std", "min", "max", "last"],
        "s": ["count", "min", "max", "last"],
    }
    aggs = [
        WindowSpec(f"{col}_{fn}_{i}", col, fn, w)  # type: ignore[arg-type]
        for i, w in enumerate(windows)
        for col, fns in plan.items()
        for fn in fns
    ]
    kwargs = dict(join_keys=case["keys"], aggs=aggs, point_in_time=case["mode"])
    got = window_aggregates(case["spine"], case["rows"], **kwargs)
    want = oracle_windows(case["spine"], case["rows"], **kwargs)
    assert_frame_equal(got, want, rel_tol=1e-9, abs_tol=1e-9)


@PROFILE
@given(scenarios(), times, st.one_of(st.none(), times))
def test_latest_rows_match_oracle(case: dict[str, Any], as_of: datetime, since: Any) -> None:
    kwargs = dict(join_keys=case["keys"], as_of=as_of, since=since, point_in_time=case["mode"])
    got = latest_rows(case["rows"], **kwargs)
    assert_frame_equal(got, oracle_latest(case["rows"], **kwargs), check_exact=True)


@PROFILE
@given(scenarios(), times, st.sampled_from(DURATIONS[1:]))
def test_window_values_at_match_oracle(case: dict[str, Any], at: datetime, w: timedelta) -> None:
    keys, rows, mode = case["keys"], case["rows"], case["mode"]
    aggs = [WindowSpec(f"x_{fn}", "x", fn, w) for fn in ("count", "sum", "mean", "last")]  # type: ignore[arg-type]
    got = window_values_at(rows, join_keys=keys, aggs=aggs, at=at, point_in_time=mode)
    # Every entity with a row known at `at` gets a row, windows empty or not.
    known = oracle_latest(rows, join_keys=keys, as_of=at, point_in_time=mode)
    spine = known.select(keys).with_columns(pl.lit(at).cast(TS).alias("event_timestamp"))
    want = oracle_windows(spine, rows, join_keys=keys, aggs=aggs, point_in_time=mode)
    assert_frame_equal(got, want, rel_tol=1e-9, abs_tol=1e-9)
