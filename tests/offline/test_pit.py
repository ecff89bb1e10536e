"""Point-in-time join and latest rows: the rules on hand-made frames, and the errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from featurestore.errors import RequestError
from featurestore.offline.pit import latest_rows, point_in_time_join

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
H, US = timedelta(hours=1), timedelta(microseconds=1)
TS = pl.Datetime("us", "UTC")


def rows_frame(records: list[dict[str, Any]], key: str = "k") -> pl.DataFrame:
    """Feature rows; ``seq`` defaults to the position, ``created_timestamp`` to null."""
    full = [{"created_timestamp": None, "seq": i, **r} for i, r in enumerate(records)]
    schema = {
        key: pl.Int64,
        "event_timestamp": TS,
        "created_timestamp": TS,
        "seq": pl.Int64,
        "f": pl.Float64,
    }
    return pl.DataFrame(full, schema={c: schema[c] for c in full[0]}, orient="row")


def spine_frame(points: list[tuple[Any, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"k": [p[0] for p in points], "event_timestamp": [p[1] for p in points]},
        schema={"k": pl.Int64, "event_timestamp": TS},
    )


def join(spine: pl.DataFrame, rows: pl.DataFrame | pl.LazyFrame, **kw: Any) -> list[Any]:
    kw.setdefault("ttl", None)
    out = point_in_time_join(spine, rows, join_keys=["k"], features=["f"], **kw)
    return out.get_column("f").to_list()


def test_ttl_bounds_are_inclusive_to_the_microsecond() -> None:
    ttl = timedelta(days=1)
    rows = rows_frame([{"k": 1, "event_timestamp": T0 - ttl, "f": 1.0}])
    spine = spine_frame([(1, T0), (1, T0 + US), (1, T0 - ttl), (1, T0 - ttl - US)])
    assert join(spine, rows, ttl=ttl) == [1.0, None, 1.0, None]
    assert join(spine, rows, ttl=timedelta(0)) == [None, None, 1.0, None]


def test_known_rule_skips_backfills_in_favour_of_a_known_row() -> None:
    rows = rows_frame(
        [
            {"k": 1, "event_timestamp": T0 - 2 * H, "created_timestamp": T0 - 2 * H, "f": 1.0},
            {"k": 1, "event_timestamp": T0 - H, "created_timestamp": T0 + H, "f": 2.0},
        ]
    )
    spine = spine_frame([(1, T0), (1, T0 + H), (1, T0 + H - US)])
    assert join(spine, rows) == [1.0, 2.0, 1.0]
    assert join(spine, rows, point_in_time="event") == [2.0, 2.0, 2.0]


def test_ttl_applies_to_the_known_winner_only() -> None:
    # The newer row is not known yet; the older known one is outside the ttl: no value.
    rows = rows_frame(
        [
            {"k": 1, "event_timestamp": T0 - 3 * H, "f": 1.0},
            {"k": 1, "event_timestamp": T0 - H, "created_timestamp": T0 + H, "f": 2.0},
        ]
    )
    assert join(spine_frame([(1, T0)]), rows, ttl=2 * H) == [None]


def test_ties_go_to_created_then_seq_then_position() -> None:
    e = T0 - H
    rows = rows_frame(
        [
            {"k": 1, "event_timestamp": e, "created_timestamp": e + 2 * H, "seq": 1, "f": 1.0},
            {"k": 1, "event_timestamp": e, "created_timestamp": e, "seq": 9, "f": 2.0},
            {"k": 2, "event_timestamp": e, "created_timestamp": e, "seq": 5, "f": 3.0},
            {"k": 2, "event_timestamp": e, "created_timestamp": e, "seq": 4, "f": 4.0},
            {"k": 3, "event_timestamp": e, "seq": 7, "f": 5.0},
            {"k": 3, "event_timestamp": e, "seq": 7, "f": 6.0},
            {"k": 4, "event_timestamp": e, "seq": None, "f": 7.0},
            {"k": 4, "event_timestamp": e, "seq": 0, "f": 8.0},
        ]
    )
    spine = spine_frame([(1, T0), (1, T0 + 2 * H), (2, T0), (3, T0), (4, T0)])
    assert join(spine, rows) == [2.0, 1.0, 3.0, 6.0, 8.0]


def test_null_created_counts_as_known_at_event_time() -> None:
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "created_timestamp": None, "f": 1.0}])
    assert join(spine_frame([(1, T0), (1, T0 - US)]), rows) == [1.0, None]


def test_spine_comes_back_whole_in_order_with_its_columns_untouched() -> None:
    rows = rows_frame(
        [{"k": 1, "event_timestamp": T0, "f": 1.0}, {"k": None, "event_timestamp": T0, "f": 9.0}]
    )
    spine = pl.DataFrame(
        {
            "label": pl.Series([True, False, True, True], dtype=pl.Boolean),
            "k": pl.Series([1, None, 1, 7], dtype=pl.Int32),
            "event_timestamp": [T0, T0, T0 - H, T0],
            "weights": [[1.0], [], None, [2.0]],
            "tag": pl.Series(["a", "b", "a", "c"], dtype=pl.Categorical),
        }
    )
    out = point_in_time_join(spine, rows, join_keys=["k"], features=["f"], ttl=None)
    assert_frame_equal(out.drop("f"), spine)
    assert out.get_column("f").to_list() == [1.0, None, None, None]


def test_multi_key_string_entities_and_lazy_rows_without_optional_columns() -> None:
    rows = pl.LazyFrame(
        {"a": [1, 1, 2], "b": ["x", "y", "x"], "event_timestamp": [T0 - H] * 3, "f": [1, 2, 3]}
    )
    spine = pl.DataFrame(
        {"b": ["y", "x", "x", None], "a": [1, 2, 1, 1], "event_timestamp": [T0] * 4}
    )
    out = point_in_time_join(
        spine, rows, join_keys=["a", "b"], features=["f"], ttl=None, rename={"f": "g"}
    )
    assert out.columns == ["b", "a", "event_timestamp", "g"]
    assert out.get_column("g").to_list() == [2, 3, 1, None]


def test_other_timestamp_flavours_are_compared_in_utc() -> None:
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "f": 1.0}])
    naive = spine_frame([(1, T0)]).with_columns(
        pl.col("event_timestamp").dt.replace_time_zone(None)
    )
    ns_paris = spine_frame([(1, T0 - US), (1, T0)]).with_columns(
        pl.col("event_timestamp").dt.cast_time_unit("ns").dt.convert_time_zone("Europe/Paris")
    )
    assert join(naive, rows) == [1.0]
    assert join(ns_paris, rows) == [None, 1.0]
    assert join(spine_frame([(1, T0)]), rows, ttl=timedelta.max) == [1.0]


def test_empty_spine_and_empty_rows() -> None:
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "f": 1.0}])
    empty = point_in_time_join(spine_frame([]), rows, join_keys=["k"], features=["f"], ttl=None)
    assert empty.schema == pl.Schema({"k": pl.Int64, "event_timestamp": TS, "f": pl.Float64})
    assert join(spine_frame([(1, T0)]), rows.clear()) == [None]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": ["nope"]}, "column 'nope' is missing from the feature rows"),
        ({"join_keys": ["zz"]}, "column 'zz' is missing"),
        ({"point_in_time": "later"}, "point_in_time must be 'known' or 'event'"),
        ({"ttl": timedelta(hours=-1)}, "ttl must not be negative"),
        ({"rename": {"f": "k"}}, "feature column 'k' already exists in the spine"),
        ({"rename": {"g": "h"}}, "rename names 'g'"),
        ({"join_keys": []}, "join_keys must name at least one column"),
    ],
)
def test_mistakes_get_one_clear_sentence(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"join_keys": ["k"], "features": ["f"], "ttl": None} | kwargs
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "f": 1.0}])
    with pytest.raises(RequestError, match=message):
        point_in_time_join(spine_frame([(1, T0)]), rows, **args)


def test_key_and_time_dtype_mismatches_are_refused() -> None:
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "f": 1.0}])
    spine = pl.DataFrame({"k": ["1"], "event_timestamp": [T0]})
    with pytest.raises(RequestError, match="join key 'k' is String in the spine but Int64"):
        point_in_time_join(spine, rows, join_keys=["k"], features=["f"], ttl=None)
    spine = pl.DataFrame({"k": [1], "event_timestamp": ["2024-01-01"]})
    with pytest.raises(RequestError, match="'event_timestamp' of the spine must be a datetime"):
        point_in_time_join(spine, rows, join_keys=["k"], features=["f"], ttl=None)


def test_latest_rows_picks_the_training_winner_and_filters_by_watermark() -> None:
    rows = rows_frame(
        [
            {"k": 2, "event_timestamp": T0 - 2 * H, "f": 1.0},
            {"k": 2, "event_timestamp": T0 - H, "created_timestamp": T0 + H, "f": 2.0},
            {"k": 1, "event_timestamp": T0 - 3 * H, "f": 3.0},
            {"k": 3, "event_timestamp": T0 + H, "f": 4.0},
        ]
    )
    got = latest_rows(rows, join_keys=["k"], as_of=T0)
    assert got.columns == rows.columns
    assert got.select("k", "f").rows() == [(1, 3.0), (2, 1.0)]
    later = latest_rows(rows, join_keys=["k"], as_of=T0 + H, since=T0)
    assert later.select("k", "f").rows() == [(2, 2.0), (3, 4.0)]
    by_event = latest_rows(rows, join_keys=["k"], as_of=T0, point_in_time="event")
    assert by_event.select("k", "f").rows() == [(1, 3.0), (2, 2.0)]


def test_spine_must_be_a_polars_frame() -> None:
    rows = rows_frame([{"k": 1, "event_timestamp": T0, "f": 1.0}])
    with pytest.raises(RequestError, match="the spine must be a polars DataFrame, not dict"):
        point_in_time_join({"k": [1]}, rows, join_keys=["k"], features=["f"], ttl=None)  # type: ignore[arg-type]
    assert join(spine_frame([(1, T0)]).lazy(), rows) == [1.0]  # type: ignore[arg-type]
