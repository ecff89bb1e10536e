"""Helpers shared by the online-store tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import strategies as st

T0 = datetime(2024, 1, 1, tzinfo=UTC)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Scalars of every dtype the stores keep, edge cases included.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]),
    st.text(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.dates(),
    st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6)),
)

#: Scalars plus lists and string-keyed maps of them.
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=8,
)


def same(a: Any, b: Any) -> bool:
    """Exact equality: same type, NaN equals NaN, -0.0 differs from 0.0, tz-awareness kept."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, datetime):
        return a == b and (a.tzinfo is None) == (b.tzinfo is None)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def rows(
    keys: Sequence[str],
    features: dict[str, pl.Series | list[Any]] | None = None,
    *,
    event: Sequence[datetime] | datetime = T0,
    created: Sequence[datetime | None] | None = None,
    seq: Sequence[int] | int = 0,
    version: Sequence[int] | int | None = None,
) -> pl.DataFrame:
    """A write frame: the meta columns plus ``features`` (lists or Series, one value per key);
    ``view_version`` only when ``version`` is given (absent, the store takes 0)."""
    n = len(keys)
    events = [event] * n if isinstance(event, datetime) else list(event)
    seqs = [seq] * n if isinstance(seq, int) else list(seq)
    frame = pl.DataFrame(
        {
            "entity_key": pl.Series(list(keys), dtype=pl.String),
            "event_timestamp": pl.Series(events, dtype=pl.Datetime("us", "UTC")),
            "created_timestamp": pl.Series(created or [None] * n, dtype=pl.Datetime("us", "UTC")),
            "seq": pl.Series(seqs, dtype=pl.Int64),
        }
    )
    if version is not None:
        versions = [version] * n if isinstance(version, int) else list(version)
        frame = frame.with_columns(pl.Series("view_version", versions, dtype=pl.Int64))
    return frame.with_columns(
        values.alias(name) if isinstance(values, pl.Series) else pl.Series(name, values)
        for name, values in (features or {}).items()
    )


__all__ = ["INT64_MAX", "INT64_MIN", "SCALARS", "T0", "VALUES", "rows", "same"]
