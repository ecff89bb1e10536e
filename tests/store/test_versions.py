"""One definition for all history: features computed at read with the version in force, older
versions on request, saved frames reproduced exactly, online values that know their version."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_repo import T0, TripContract, driver, trips

from featurestore import Feature, FeatureStore, FeatureView, col

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "offline"))
from oracle import oracle_join

MakeStore = Callable[..., FeatureStore]
UTC_US = pl.Datetime("us", "UTC")


def view(factor: float, *extra: Feature) -> FeatureView:
    """A view whose one feature is ``fare * factor`` (what changes between versions)."""
    return FeatureView(
        "v",
        entities=[driver],
        source=trips,
        contract=TripContract,
        ttl=None,
        features=[Feature("scaled", col("fare") * factor), *extra],
    )


def batch(rows: list[tuple[int, float, int]]) -> pl.DataFrame:
    """(driver_id, fare, event hour) rows, known five minutes after their event."""
    return pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "fare": [r[1] for r in rows],
            "city": ["ams"] * len(rows),
            "event_ts": [T0 + timedelta(hours=r[2]) for r in rows],
            "created_ts": [T0 + timedelta(hours=r[2], minutes=5) for r in rows],
        },
        schema_overrides={
            "driver_id": pl.Int64,
            "fare": pl.Float64,
            "event_ts": UTC_US,
            "created_ts": UTC_US,
        },
    )


def spine(points: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "driver_id": [p[0] for p in points],
            "event_timestamp": [T0 + timedelta(hours=p[1]) for p in points],
            "label": list(range(len(points))),
        },
        schema_overrides={"event_timestamp": UTC_US, "driver_id": pl.Int64},
    )


def oracle(the_spine: pl.DataFrame, batches: list[pl.DataFrame], factor: float) -> pl.DataFrame:
    """The frame computed independently: every source row's feature recomputed in plain Python
    with ``factor``, then the point-in-time rule one spine row at a time."""
    rows: list[dict[str, Any]] = []
    for number, frame in enumerate(batches):
        for position, r in enumerate(frame.to_dicts()):
            rows.append(
                {
                    "driver_id": r["driver_id"],
                    "event_timestamp": r["event_ts"],
                    "created_timestamp": r["created_ts"],
                    "seq": number * 1_000_000 + position,
                    "scaled": None if r["fare"] is None else r["fare"] * factor,
                }
            )
    table = pl.DataFrame(
        rows,
        schema={
            "driver_id": pl.Int64,
            "event_timestamp": UTC_US,
            "created_timestamp": UTC_US,
            "seq": pl.Int64,
            "scaled": pl.Float64,
        },
    )
    return oracle_join(the_spine, table, join_keys=["driver_id"], features=["scaled"], ttl=None)


def test_a_changed_expression_holds_for_every_row_of_history(make_store: MakeStore) -> None:
    store = make_store(objects=[view(2.0)])
    first = batch([(1, 10.0, 0), (2, 20.0, 1)])
    store.ingest("v", first)
    plan = store.apply([view(3.0)])
    assert [item.name for item in plan.changed] == ["v"]
    second = batch([(1, 30.0, 5)])
    store.ingest("v", second)
    the_spine = spine([(1, 2), (2, 3), (1, 6)])
    frame = store.get_training_frame(the_spine, features=["v:scaled"])
    # every row follows the new expression, old rows included (no mix of 20.0 and 90.0)
    assert frame["scaled"].to_list() == [30.0, 60.0, 90.0]
    assert_frame_equal(frame, oracle(the_spine, [first, second], 3.0))
    # the old version on request, over the same history
    old = store.get_training_frame(the_spine, features=["v:scaled"], versions={"v": 1})
    assert old["scaled"].to_list() == [20.0, 40.0, 60.0]


def test_a_feature_added_to_a_view_with_data_covers_all_history(make_store: MakeStore) -> None:
    store = make_store(objects=[view(2.0)])
    store.ingest("v", batch([(1, 10.0, 0), (2, 20.0, 1)]))
    store.materialize(end=T0 + timedelta(days=1))
    store.apply([view(2.0, Feature("fare_plus", col("fare") + 1))])
    frame = store.get_training_frame(spine([(1, 2), (2, 3)]), features=["v:fare_plus"])
    assert frame["fare_plus"].to_list() == [11.0, 21.0]
    report = store.materialize(end=T0 + timedelta(days=1))
    assert report.views == {"v": 2}  # a new version: every entity rewritten, watermark or not
    answer = store.get_online_features(
        features=["v:scaled", "v:fare_plus"], entities={"driver_id": [1, 2]}
    )
    assert answer.to_dict()["fare_plus"] == [11.0, 21.0]


def test_versions_must_exist(make_store: MakeStore) -> None:
    from featurestore import NotFoundError, RequestError

    store = make_store(objects=[view(2.0)])
    store.ingest("v", batch([(1, 10.0, 0)]))
    with pytest.raises(NotFoundError):
        store.get_training_frame(spine([(1, 2)]), features=["v:scaled"], versions={"v": 7})
    with pytest.raises(RequestError, match="positive version"):
        store.get_training_frame(spine([(1, 2)]), features=["v:scaled"], versions={"v": "1"})


def test_materialize_after_a_change_rewrites_every_entity_and_skew_says_outdated(
    make_store: MakeStore,
) -> None:
    store = make_store(
        '[serving]\nskew_sample_rate = 1.0\n[ingestion]\nmax_future = "10000d"\n',
        objects=[view(2.0)],
    )
    store.ingest("v", batch([(1, 10.0, 0), (2, 20.0, 1)]))
    end = T0 + timedelta(days=1)
    store.materialize(end=end)
    assert store.registry.watermark("v") == end
    store.apply([view(3.0)])
    # served before materialize: the old version's values
    served = store.get_online_features(features=["v:scaled"], entities={"driver_id": [1, 2]})
    assert served.to_dict()["scaled"] == [20.0, 40.0]
    report = store.check_skew()
    counts = {(f.view, f.feature): (f.outdated, f.match, f.mismatch) for f in report.features}
    assert counts[("v", "scaled")] == (2, 0, 0)
    # the same end again: an incremental run would write nothing, a new version writes all
    assert store.materialize(end=end).views == {"v": 2}
    served = store.get_online_features(features=["v:scaled"], entities={"driver_id": [1, 2]})
    assert served.to_dict()["scaled"] == [30.0, 60.0]
    report = store.check_skew()
    counts = {(f.view, f.feature): (f.outdated, f.match, f.mismatch) for f in report.features}
    assert counts[("v", "scaled")] == (2, 2, 0)  # the two earlier samples stay outdated
    assert store.materialize(end=end).views == {"v": 0}  # same version: incremental again


# -- saved frames are reproduced exactly, whatever happens after ---------------------------


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    repo = tmp_path_factory.mktemp("versions")
    (repo / "featurestore.toml").write_text('project = "base"\n')
    with FeatureStore(repo) as store:
        yield store


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("ingest"),
            st.lists(
                st.tuples(
                    st.integers(0, 3),
                    st.floats(0, 100, allow_nan=False),
                    st.integers(0, 30),
                ),
                min_size=1,
                max_size=5,
            ),
        ),
        st.tuples(st.just("change"), st.sampled_from([1.0, 2.0, 0.5, -3.0, 7.25])),
        st.tuples(st.just("save"), st.none()),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops, points=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), min_size=1))
def test_saved_frames_are_reproduced_and_every_version_holds_for_all_history(
    base_repo: FeatureStore, steps: list[tuple[str, Any]], points: list[tuple[int, int]]
) -> None:
    config = base_repo.config.model_copy(update={"project": f"v{uuid.uuid4().hex[:10]}"})
    the_spine = spine(points)
    with FeatureStore(config=config) as store:
        factors = [1.5]
        store.apply([view(factors[-1])])
        batches: list[pl.DataFrame] = []
        saved: list[str] = []
        for op, arg in steps:
            if op == "ingest":
                frame = batch(arg)
                if store.ingest("v", frame, force=True).rows_written:
                    batches.append(frame)
            elif op == "change" and arg != factors[-1]:
                factors.append(arg)
                store.apply([view(arg)])
            elif op == "save":
                name = f"d{len(saved)}"
                store.get_training_frame(the_spine, features=["v:scaled"], save_as=name)
                saved.append(name)
        for name in saved:
            assert_frame_equal(store.reproduce_dataset(name), store.get_saved_dataset(name))
        for version, factor in enumerate(factors, start=1):
            got = store.get_training_frame(
                the_spine, features=["v:scaled"], versions={"v": version}
            )
            assert_frame_equal(got, oracle(the_spine, batches, factor))
