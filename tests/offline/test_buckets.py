"""Key buckets: the hash is stable (pinned values) and bucketed jobs equal the oracle.

The property tests write random rows into 1, 2 and 7 buckets exactly as an ingestion does
(``split_by_bucket`` + ``write_job``), then compute training-frame values, latest rows and
windows bucket by bucket (``training_values``, ``materialize_rows``, the skew check's
``skew_values``) and compare them with the brute-force oracle over all rows at once.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import oracle_join, oracle_latest, oracle_windows
from polars.testing import assert_frame_equal
from test_pit_properties import DURATIONS, TS, scenarios, times

from featurestore import Aggregate, Entity, Feature, FeatureView, FileSource, col
from featurestore.compute import LocalEngine
from featurestore.compute.jobs import skew_values, training_values
from featurestore.materialize import materialize_rows
from featurestore.offline.bucketed import ViewLayout
from featurestore.offline.buckets import bucket_of, key_hash, split_by_bucket
from featurestore.offline.compute import SEQ_COLUMN, view_rows
from featurestore.offline.files import Location
from featurestore.offline.recompute import END
from featurestore.offline.storage import WriteJob, write_job
from featurestore.offline.windows import WindowSpec

BUCKETS = [1, 2, 7]
#: each example writes Parquet files; ``FS_BUCKET_EXAMPLES`` sets how many (default 40)
PROFILE = settings(
    max_examples=int(os.environ.get("FS_BUCKET_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


MASK = 2**64 - 1


def _mix(z: int) -> int:
    """splitmix64's finaliser in plain Python integers (the reference)."""
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _fnv(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def _reference(row: tuple[Any, ...]) -> int:
    h = 0
    for value in row:
        if value is None:
            c = 0x9E3779B97F4A7C15
        elif isinstance(value, str):
            c = _fnv(value.encode())
        else:
            c = value & MASK
        h = _mix(((h * 0x100000001B3) & MASK) ^ c)
    return h


def test_hash_is_the_documented_algorithm() -> None:
    """FNV-1a 64 and splitmix64, written out in plain Python here, give the same numbers; a
    change would move stored rows to other buckets, so it must be deliberate."""
    assert _fnv(b"foobar") == 0x85944171F73967E8  # FNV's published test vector
    frame = pl.DataFrame(
        {"k": [0, 1, -1, 2**63 - 1, None, 42], "s": ["", "a", "foobar", "é", None, "ab" * 40]}
    )
    for keys in (["k"], ["s"], ["k", "s"], ["s", "k"]):
        want = [_reference(tuple(r[k] for k in keys)) for r in frame.to_dicts()]
        assert key_hash(frame, keys).tolist() == want
    assert key_hash(frame, ["k"])[1] == 0x5692161D100B05E5  # pinned: splitmix64's mix of 1
    assert bucket_of(frame, ["k", "s"], 7).to_list() == [
        _reference((r["k"], r["s"])) % 7 for r in frame.to_dicts()
    ]


def test_hash_ignores_how_a_key_is_typed() -> None:
    """Int32 and Int64 keys, strings and categoricals: the same key, the same bucket."""
    ints = pl.Series("k", [5, -3, 2**31 - 1])
    a = key_hash(pl.DataFrame([ints.cast(pl.Int32)]), ["k"])
    b = key_hash(pl.DataFrame([ints.cast(pl.Int64)]), ["k"])
    assert a.tolist() == b.tolist()
    text = pl.Series("s", ["x", "é", "x"])
    c = key_hash(pl.DataFrame([text.cast(pl.Categorical)]), ["s"])
    assert c.tolist() == key_hash(pl.DataFrame([text]), ["s"]).tolist()


def test_split_keeps_every_row_once_in_order() -> None:
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"k": rng.integers(0, 1000, 5000), "i": np.arange(5000)})
    parts = split_by_bucket(frame, ["k"], 7)
    assert sorted(parts) == list(range(7))
    joined = pl.concat(parts.values()).sort("i")
    assert joined.equals(frame)
    for part in parts.values():
        assert part["i"].is_sorted()
        assert part.select(bucket_of(part, ["k"], 7).n_unique()).item() == 1


def _view(keys: list[str]) -> FeatureView:
    windows = [
        Aggregate(f"x_{fn}", col("x"), fn, window=timedelta(minutes=3))  # type: ignore[arg-type]
        for fn in ("count", "sum", "mean", "min", "max", "std", "last")
    ]
    return FeatureView(
        "v",
        entities=[Entity("e", join_keys=keys)],
        source=FileSource(
            "rows.parquet",
            timestamp_field="event_timestamp",
            created_timestamp_field="created_timestamp",
        ),
        ttl=timedelta(minutes=5),
        features=[
            Feature("x", col("x")),
            Feature("n", col("n")),
            Feature("s", col("s")),
            *windows,
            Aggregate("n_sum", col("n"), "sum", window=timedelta(minutes=1)),
        ],
    )


def _layout(tmp: Path, view: FeatureView, rows: pl.DataFrame, buckets: int) -> ViewLayout:
    """Store ``rows`` as one batch split into ``buckets``, as an ingestion does."""
    location = Location.of(str(tmp), f"p{buckets}")
    stored = rows.drop("seq").with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(SEQ_COLUMN))
    files = [
        (f.path, f.bucket)
        for bucket, part in split_by_bucket(stored, view.join_keys, buckets).items()
        for f in write_job(WriteJob(location, "v", "run-1", bucket, part))
    ]
    return ViewLayout.of(location, view, buckets, files)


def _all_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The oracle's input: the stored rows with their ingestion order as ``seq``."""
    return rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


def _usable(case: dict[str, Any]) -> pl.DataFrame:
    """The spine rows a training frame accepts (keys and time present)."""
    return case["spine"].drop_nulls([*case["keys"], "event_timestamp"])


@PROFILE
@given(scenarios(), st.sampled_from(BUCKETS))
def test_training_values_match_oracle(
    tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any], buckets: int
) -> None:
    keys, mode = case["keys"], case["mode"]
    spine = _usable(case)
    if spine.height == 0:
        return
    view = _view(keys)
    layout = _layout(tmp_path_factory.mktemp("b"), view, case["rows"], buckets)
    names = [f.name for f in view.features]
    got = training_values(
        LocalEngine(), layout, names, spine.select(*keys, "event_timestamp"), mode
    )
    rows = _all_rows(case["rows"])
    plain = oracle_join(
        spine, rows, join_keys=keys, features=["x", "n", "s"], ttl=view.ttl, point_in_time=mode
    )
    specs = [WindowSpec(a.name, a.expr.name, a.fn, a.window) for a in view.aggregates]  # type: ignore[attr-defined, arg-type]
    windows = oracle_windows(spine, rows, join_keys=keys, aggs=specs, point_in_time=mode)
    want = pl.concat([plain.select("x", "n", "s"), windows.select(names[3:])], how="horizontal")
    # a view with no rows at all is typed as its definition allows (tests/store/test_training)
    typed = case["rows"].height > 0
    assert_frame_equal(pl.DataFrame(got), want, rel_tol=1e-9, abs_tol=1e-9, check_dtypes=typed)


@PROFILE
@given(scenarios(), st.sampled_from(BUCKETS), times)
def test_materialized_rows_match_oracle(
    tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any], buckets: int, at: datetime
) -> None:
    keys = case["keys"]
    view = _view(keys)
    layout = _layout(tmp_path_factory.mktemp("m"), view, case["rows"], buckets)
    parts = [
        materialize_rows(view, part.rows(view), project="p", start=None, end=at)
        for part in layout.all_buckets()
    ]
    plain = [p.plain for p in parts if p is not None and p.plain is not None]
    got = pl.concat(plain).sort("seq") if plain else None
    want = oracle_latest(_all_rows(case["rows"]), join_keys=keys, as_of=at).sort("seq")
    if got is None:
        assert want.height == 0
        return
    assert got.height == want.height
    assert got.select("seq", "x", "n", "s").equals(want.select("seq", "x", "n", "s"))


@PROFILE
@given(scenarios(), st.sampled_from(BUCKETS), st.sampled_from(DURATIONS[:3]))
def test_skew_values_match_oracle(
    tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any], buckets: int, lag: timedelta
) -> None:
    """The skew check's recomputation reads only the samples' buckets and rows."""
    keys = case["keys"]
    spine = _usable(case).select(*keys, "event_timestamp")
    if spine.height == 0:
        return
    spine = spine.with_columns((pl.col("event_timestamp") - lag).cast(TS).alias(END))
    view = _view(keys)
    layout = _layout(tmp_path_factory.mktemp("s"), view, case["rows"], buckets)
    got = skew_values(LocalEngine(), layout, spine, ["x", "s"], ["x_sum", "x_last"], {})
    rows = _all_rows(case["rows"])
    plain = oracle_join(spine, rows, join_keys=keys, features=["x", "s"], ttl=view.ttl)
    assert got.plain is not None and got.now is not None and got.then is not None
    typed = case["rows"].height > 0  # without rows the values are typed as the check needs
    assert_frame_equal(got.plain.select("x", "s"), plain.select("x", "s"), check_dtypes=typed)
    specs = [WindowSpec("x_sum", "x", "sum", timedelta(minutes=3))]
    now = oracle_windows(spine, rows, join_keys=keys, aggs=specs)
    close = {"rel_tol": 1e-9, "abs_tol": 1e-9, "check_dtypes": typed}
    assert_frame_equal(got.now.select("x_sum"), now.select("x_sum"), **close)
    then = oracle_windows(
        spine.with_columns(pl.col(END).alias("event_timestamp")), rows, join_keys=keys, aggs=specs
    )
    assert_frame_equal(got.then.select("x_sum"), then.select("x_sum"), **close)


def test_rows_of_a_view_with_no_rows_in_a_bucket_keep_the_view_wide_dtypes(tmp_path: Path) -> None:
    """A bucket the spine touches but no row landed in computes with the view-wide schema."""
    view = _view(["k"])
    rows = pl.DataFrame(
        {
            "k": [1],
            "event_timestamp": [datetime(2024, 1, 1)],
            "created_timestamp": [None],
            "seq": [0],
            "x": [1.5],
            "n": [2],
            "s": ["a"],
        },
        schema_overrides={"event_timestamp": TS, "created_timestamp": TS},
    )
    layout = _layout(tmp_path, view, rows, 7)
    spine = pl.DataFrame({"k": list(range(20)), "event_timestamp": [datetime(2024, 1, 2)] * 20})
    spine = spine.with_columns(pl.col("event_timestamp").cast(TS))
    got = training_values(LocalEngine(), layout, ["n", "n_sum", "x_count"], spine, "known")
    assert got["n"].dtype == pl.Int64 and got["n_sum"].dtype == pl.Int64
    assert got["x_count"].to_list() == [0] * 20
    one = view_rows(view, layout.bucket(next(iter(layout.files))).source())  # type: ignore[arg-type]
    assert one.collect().height == 1
