"""The packed-key winners equal the general method's, row for row, whenever they apply.

``packed_winners`` is the fast path of ``point_in_time_join`` for one integer key; the oracle
tests of ``test_pit_properties`` run through it with small keys. Here keys span up to the whole
int64 range (negative, near the limits: some cases pack, others must refuse), times reach back
before 1970, event times tie within an entity (the tie order then comes from Polars' sort), and
both modes are compared with ``winners`` on the sorted spine.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from featurestore.offline import pit
from featurestore.offline.pit import (
    SIDX,
    key_dtypes,
    packed_winners,
    prepare_rows,
    prepare_spine,
    probe_rows,
    winners,
)

TS = pl.Datetime("us", "UTC")
BASE = datetime(2024, 1, 1, tzinfo=UTC)
PROFILE = settings(
    max_examples=int(os.environ.get("FS_PIT_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEY_POOLS = {
    "small": st.integers(0, 3),
    "negative": st.integers(-3, 2),
    "wide": st.sampled_from([-(2**63), -1, 0, 2**40, 2**63 - 1]),
}
times = st.one_of(
    st.integers(0, 6).map(lambda m: BASE + timedelta(minutes=m)),
    st.sampled_from([datetime(1960, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)]),
)
offsets = st.sampled_from([None, timedelta(0), timedelta(minutes=1), timedelta(minutes=-1)])


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    keys = KEY_POOLS[draw(st.sampled_from(sorted(KEY_POOLS)))]
    dtype = draw(st.sampled_from([pl.Int64, pl.Int32]))
    if dtype == pl.Int32:
        keys = keys.filter(lambda k: -(2**31) <= k < 2**31)
    rows = []
    for _ in range(draw(st.integers(1, 14))):
        event = draw(times)
        offset = draw(offsets)
        rows.append(
            {
                "k": draw(st.one_of(keys, st.none())),
                "event_timestamp": draw(st.one_of(st.just(event), st.none())),
                "created_timestamp": None if offset is None else event + offset,
                "seq": draw(st.one_of(st.integers(0, 2), st.none())),
            }
        )
    spine = [
        {
            "k": draw(st.one_of(keys, st.none())),
            "event_timestamp": draw(st.one_of(times, st.none())),
        }
        for _ in range(draw(st.integers(1, 10)))
    ]
    return {
        "rows": pl.DataFrame(
            rows,
            schema={"k": dtype, "event_timestamp": TS, "created_timestamp": TS, "seq": pl.Int64},
            orient="row",
        ),
        "spine": pl.DataFrame(spine, schema={"k": dtype, "event_timestamp": TS}, orient="row"),
        "mode": draw(st.sampled_from(["known", "event"])),
    }


def _both(case: dict[str, Any]) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    spine = case["spine"]
    table = prepare_rows(case["rows"], ["k"], [], case["mode"], spine.schema)
    dtypes = key_dtypes(spine.schema, table.frame.schema, ["k"])
    found = packed_winners(probe_rows(spine, dtypes), table, dtypes)
    return found, winners(prepare_spine(spine, dtypes), table)


#: the two sorts ``pit._argsort`` chooses between (small inputs always take the first)
SORTS = {
    "numpy_stable": lambda values: np.argsort(values, kind="stable"),
    "polars": lambda values: pl.Series(values).arg_sort().to_numpy(),
}


@PROFILE
@given(cases(), st.sampled_from(sorted(SORTS)))
def test_packed_winners_equal_the_general_method(case: dict[str, Any], sort: str) -> None:
    with mock.patch.object(pit, "_argsort", SORTS[sort]):
        packed, general = _both(case)
    if packed is not None:
        assert_frame_equal(packed.sort(SIDX), general.sort(SIDX), check_exact=True)


@pytest.mark.parametrize("order", ["entity_major", "random", "descending", "constant"])
def test_argsort_sorts_whatever_the_input_order(order: str) -> None:
    rng = np.random.default_rng(4)
    entity_major = np.repeat(np.arange(5_000), 20) * 10**9 + rng.integers(0, 10**9, 100_000)
    values = {
        "entity_major": entity_major,
        "random": rng.permutation(entity_major),
        "descending": np.sort(entity_major)[::-1].copy(),
        "constant": np.zeros(100_000, dtype=np.int64),
    }[order]
    positions = pit._argsort(values)
    assert np.array_equal(np.sort(positions), np.arange(len(values)))
    assert np.array_equal(values[positions], np.sort(values))


def test_packing_applies_to_ordinary_keys_and_refuses_ranges_beyond_int64() -> None:
    def case(keys: list[int], years: int) -> dict[str, Any]:
        events = [BASE, BASE + timedelta(days=365 * years)]
        return {
            "rows": pl.DataFrame({"k": keys, "event_timestamp": events}),
            "spine": pl.DataFrame({"k": keys, "event_timestamp": events}),
            "mode": "known",
        }

    packed, general = _both(case([0, 1000], years=100))
    assert packed is not None
    assert_frame_equal(packed.sort(SIDX), general.sort(SIDX), check_exact=True)
    assert _both(case([0, 10**4], years=100))[0] is None  # 10^4 keys x 100 years in microseconds


def test_tied_event_times_follow_the_tie_rule() -> None:
    rows = pl.DataFrame(
        {
            "k": [1, 1, 1, 2],
            "event_timestamp": [BASE] * 4,
            "created_timestamp": [BASE, BASE - timedelta(minutes=1), BASE, BASE],
            "seq": [5, 9, 3, 0],
        }
    )
    spine = pl.DataFrame({"k": [1, 2], "event_timestamp": [BASE, BASE]})
    packed, general = _both({"rows": rows, "spine": spine, "mode": "known"})
    assert packed is not None
    assert packed.sort(SIDX)["__fs_ridx"].to_list() == [0, 3]  # created ties, then seq 5 > 3
    assert_frame_equal(packed.sort(SIDX), general.sort(SIDX), check_exact=True)
