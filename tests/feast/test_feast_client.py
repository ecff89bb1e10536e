"""Feast's own client (Feast 0.67.0, in its own virtualenv) works unchanged against our server.

A Feast repo whose ``online_store`` is ``type: remote`` pointing at a live server of ours reads
features and a feature service (request data included, which Feast sends among the entities),
writes through ``write_to_online_store`` and ``push``, and has our server materialize
(``materialize``, ``materialize_incremental``); every value equals our own API's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from feast_helpers import run_feast
from server_helpers import Served

DRIVERS = [3, 7, 11, 100_000]  # the last has no trips
FEATURES = [
    "driver_trips:fare_log",
    "driver_trips:is_night",
    "driver_trips:last_fare",
    "driver_trips:fare_sum_7d",
    "driver_trips:trips_1h",
    "ride_features:fare_per_km_est",
]
DISTANCES = [2.5, 10.0, 0.0, 4.0]


def plan(served: Served, folder: Path, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "repo": str(folder),
        "server": served.url,
        "trips": str(served.repo / "data" / "trips.parquet"),
        "steps": steps,
    }


def ours(served: Served, ids: list[Any], key: str, features: list[str]) -> dict[str, Any]:
    """Our HTTP answer as ``{name: values}`` (what Feast's ``to_dict()`` gives)."""
    reply = served.post("/get-online-features", {"features": features, "entities": {key: ids}})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    names = answer["metadata"]["feature_names"]
    return {n: r["values"] for n, r in zip(names, answer["results"], strict=True)}


@pytest.mark.timeout(1800)  # the first run installs Feast into its cached virtualenv (minutes)
def test_feast_reads_and_writes_through_our_server(
    feast_python: Path, feast_served: Served, tmp_path: Path
) -> None:
    served = feast_served
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = (now - dt.timedelta(minutes=5)).isoformat()
    written, pushed, by_us, loaded = (f"r-{uuid.uuid4().hex[:8]}" for _ in range(4))
    # a rider known only offline, until Feast's materialize (run by our server) loads it
    offline = {
        "push_source_name": "rider_events",
        "df": {"rider_id": [loaded], "rating": [1.5], "event_ts": [stamp]},
        "to": "offline",
    }
    assert served.post("/push", offline).status_code == 200
    latest = dt.datetime.now(dt.UTC).isoformat()  # after every watermark other tests left
    new_driver = 900_001
    rows = [{"driver_id": d, "distance_km": km} for d, km in zip(DRIVERS, DISTANCES, strict=True)]
    driver_values = {
        "driver_id": [new_driver],
        "fare_log": [1.5],
        "is_night": [False],
        "last_fare": [3.48],
        "fare_sum_7d": [10.25],
        "trips_1h": [2],
        "event_ts": [stamp],
        "created_ts": [stamp],  # Feast asks for the source's created column (sent as "created")
    }
    results = run_feast(
        feast_python,
        plan(
            served,
            tmp_path / "feast_repo",
            [
                {"op": "read", "features": FEATURES, "rows": rows},
                {"op": "read", "service": "ranking_v1", "rows": rows, "metadata": True},
                {
                    "op": "write",
                    "view": "rider_stats",
                    "df": {
                        "rider_id": [written],
                        "rating": [4.5],
                        "rating_x2": [9.0],
                        "event_ts": [stamp],
                    },
                },
                {
                    "op": "push",
                    "source": "rider_events",
                    "df": {
                        "rider_id": [pushed],
                        "rating": [2.0],
                        "rating_x2": [4.0],
                        "event_ts": [stamp],
                    },
                },
                {"op": "write", "view": "driver_trips", "df": driver_values},
                {
                    "op": "materialize",
                    "start": (now - dt.timedelta(hours=1)).isoformat(),
                    "end": latest,
                    "views": ["rider_stats"],
                },
                {"op": "materialize", "end": latest, "views": ["driver_trips"]},
                {
                    "op": "read",
                    "features": ["rider_stats:rating", "rider_stats:rating_x2"],
                    "rows": [{"rider_id": r} for r in (written, pushed, loaded)],
                },
            ],
        ),
    )
    by_features, by_service, *oks, riders_by_feast = results
    assert oks == ["ok"] * 5

    # reads: Feast's to_dict() is our Python API's to_dict(), value for value
    entities = {"driver_id": DRIVERS}
    request_data = {"distance_km": DISTANCES}
    native = served.store.get_online_features(
        FEATURES, entities=entities, request_data=request_data
    )
    assert by_features == native.to_dict()
    assert by_features["fare_log"][-1] is None  # the driver without trips
    service = served.store.get_online_features(
        service="ranking_v1", entities=entities, request_data=request_data
    )
    versions = served.store.state.view_versions
    assert by_service.pop("feature_view_metadata") == [
        ["driver_trips", versions["driver_trips"]],
        ["ride_features", versions["ride_features"]],
    ]
    assert by_service == service.to_dict()
    assert list(by_service) == ["driver_id", *(f.split(":")[1] for f in FEATURES)]

    # writes: what Feast wrote is what our API serves, as a push of the same row by our API
    push = served.post(
        "/push",
        {
            "push_source_name": "rider_events",
            "df": {"rider_id": [by_us], "rating": [4.5], "event_ts": [stamp]},
        },
    )
    assert push.status_code == 200, push.text
    riders = ours(
        served,
        [written, pushed, loaded, by_us],
        "rider_id",
        ["rider_stats:rating", "rider_stats:rating_x2"],
    )
    assert riders == {
        "rider_id": [written, pushed, loaded, by_us],
        "rating": [4.5, 2.0, 1.5, 4.5],
        "rating_x2": [9.0, 4.0, 3.0, 9.0],
    }
    assert riders_by_feast == {k: v[:3] for k, v in riders.items()}
    answer = served.store.get_online_features(
        ["rider_stats:rating"], entities={"rider_id": [written, by_us]}
    )
    assert answer.statuses["rating"] == ["PRESENT", "PRESENT"]
    assert answer.event_timestamps["rating"] == [now - dt.timedelta(minutes=5)] * 2

    # a view with windowed aggregates takes Feast's values as given too
    driver = ours(served, [new_driver], "driver_id", FEATURES[:5])
    assert driver == {k: v for k, v in driver_values.items() if not k.endswith("_ts")}


def test_feast_sends_its_version_metadata_flag(feast_served: Served) -> None:
    """What Feast's remote store always sends is taken (no Feast needed to see it)."""
    body = {
        "features": ["driver_trips:fare_log"],
        "entities": {"driver_id": [3]},
        "full_feature_names": False,
        "include_feature_view_version_metadata": False,
    }
    reply = httpx.post(feast_served.url + "/get-online-features", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    assert "feature_view_metadata" not in reply.json()["metadata"]
