"""``OnlineResponse`` as Feast's users know it: ``to_pandas()`` / ``to_df()``, the epoch event
times of join keys and on-demand features over HTTP, and the version metadata."""

from __future__ import annotations

import datetime as dt
import sys

import orjson
import pandas as pd
import pytest

from featurestore.serving import OnlineResponse

UTC = dt.UTC
WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def response() -> OnlineResponse:
    return OnlineResponse(
        names=["driver_id", "fare", "per_km"],
        join_keys=["driver_id"],
        values={"driver_id": [1, 2], "fare": [3.5, None], "per_km": [0.5, None]},
        statuses={
            "driver_id": ["PRESENT"] * 2,
            "fare": ["PRESENT", "NOT_FOUND"],
            "per_km": ["PRESENT", "NULL_VALUE"],
        },
        event_timestamps={"driver_id": [None] * 2, "fare": [WHEN, None], "per_km": [None] * 2},
        request_id="ab" * 16,
        requested_at=WHEN,
        refs=[("trips", "fare"), ("rides", "per_km")],
        on_demand=["per_km"],
    )


def test_to_pandas_and_to_df_are_the_values() -> None:
    answer = response()
    expected = pd.DataFrame({"driver_id": [1, 2], "fare": [3.5, None], "per_km": [0.5, None]})
    pd.testing.assert_frame_equal(answer.to_pandas(), expected)
    pd.testing.assert_frame_equal(answer.to_df(), expected)


def test_to_pandas_without_pandas_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an environment without it gives
    with pytest.raises(ImportError, match=r"pip install 'featurestore\[pandas\]'"):
        response().to_pandas()


def test_join_keys_and_on_demand_features_carry_the_epoch_over_http() -> None:
    answer = response()
    epoch = "1970-01-01T00:00:00.000000Z"
    for body in (answer.to_feast(), orjson.loads(answer.to_feast_json())):
        stamps = [r["event_timestamps"] for r in body["results"]]
        assert stamps == [[epoch, epoch], ["2026-03-04T05:06:07.000000Z", None], [epoch, epoch]]
        assert "feature_view_metadata" not in body["metadata"]
    # the Python answer keeps None: no stored row timed them
    assert answer.event_timestamps["driver_id"] == [None, None]


def test_version_metadata_lists_each_view_once_in_requested_order() -> None:
    answer = response()
    versions = {"trips": 3, "rides": 1, "other": 9}
    for body in (
        answer.to_feast(view_versions=versions),
        orjson.loads(answer.to_feast_json(view_versions=versions)),
    ):
        assert body["metadata"]["feature_view_metadata"] == [
            {"name": "trips", "version": 3},
            {"name": "rides", "version": 1},
        ]
        assert body["metadata"]["request_id"] == "ab" * 16
