"""``POST /get-online-features`` and ``POST /push`` against a real uvicorn process."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import Served

from featurestore import FeatureService

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DRIVER_FEATURES = ["driver_trips:trips_1h", "driver_trips:fare_log", "driver_trips:last_fare"]


def columns(answer: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The answer as ``{name: {values, statuses, event_timestamps}}``."""
    names = answer["metadata"]["feature_names"]
    assert len(names) == len(answer["results"])
    return dict(zip(names, answer["results"], strict=True))


def test_feast_shape_join_keys_first_features_in_requested_order(served: Served) -> None:
    reply = served.post(
        "/get-online-features",
        {"features": DRIVER_FEATURES, "entities": {"driver_id": [3, 7, 100_000]}},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    answer = reply.json()
    assert answer["metadata"]["feature_names"] == ["driver_id", "trips_1h", "fare_log", "last_fare"]
    assert re.fullmatch(r"[0-9a-f]{32}", answer["metadata"]["request_id"])
    result = columns(answer)
    assert result["driver_id"] == {
        "values": [3, 7, 100_000],
        "statuses": ["PRESENT"] * 3,
        "event_timestamps": ["1970-01-01T00:00:00.000000Z"] * 3,  # as Feast's server writes
    }
    for name in ("trips_1h", "fare_log", "last_fare"):
        assert result[name]["statuses"][:2] == ["PRESENT", "PRESENT"]
        assert result[name]["event_timestamps"][2] is None
        assert all(ISO.match(t) for t in result[name]["event_timestamps"][:2])
    for name in ("fare_log", "last_fare"):
        assert result[name]["statuses"][2] == "NOT_FOUND"
        assert result[name]["values"][2] is None
    # a windowed count of an entity without rows is the empty window's count, as in training
    assert (result["trips_1h"]["statuses"][2], result["trips_1h"]["values"][2]) == ("PRESENT", 0)
    # the HTTP answer is the Python API's answer
    local = served.store.get_online_features(
        DRIVER_FEATURES, entities={"driver_id": [3, 7, 100_000]}
    )
    assert {k: v["values"] for k, v in result.items()} == local.to_dict()


def test_service_order_and_full_feature_names(served: Served) -> None:
    service = served.store.get_feature_service("ranking_v1")
    reply = served.post(
        "/get-online-features",
        {
            "feature_service": "ranking_v1",
            "entities": {"driver_id": [1]},
            "request_data": {"distance_km": [2.5]},
            "full_feature_names": True,
        },
    )
    assert reply.status_code == 200, reply.text
    names = reply.json()["metadata"]["feature_names"]
    assert names == ["driver_id", *(ref.replace(":", "__") for ref in service.refs)]
    assert "driver_trips__fare_log" in names and "ride_features__fare_per_km_est" in names


def test_on_demand_feature_from_request_data(served: Served) -> None:
    reply = served.post(
        "/get-online-features",
        {
            "features": ["driver_trips:last_fare", "ride_features:fare_per_km_est"],
            "entities": {"driver_id": [4, 5]},
            "request_data": {"distance_km": [3, 0.5]},
        },
    )
    assert reply.status_code == 200, reply.text
    result = columns(reply.json())
    fares = result["last_fare"]["values"]
    assert result["fare_per_km_est"]["values"] == [fares[0] / 4.0, fares[1] / 1.5]
    assert result["fare_per_km_est"]["statuses"] == ["PRESENT", "PRESENT"]


def _push(served: Served, rows: dict[str, list[Any]], to: str = "online") -> Any:
    reply = served.post("/push", {"push_source_name": "rider_events", "df": rows, "to": to})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_every_status_over_http(served: Served) -> None:
    now = dt.datetime.now(dt.UTC)
    riders = [f"r-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    report = _push(
        served,
        {
            "rider_id": riders[:3],
            "rating": [4.5, None, 3.0],
            "event_ts": [(now - dt.timedelta(hours=h)).isoformat() for h in (0, 0, 2)],
        },
    )
    assert (
        report["status"] == "ok" and report["rows_written"] == 3 and report["view"] == "rider_stats"
    )
    reply = served.post(
        "/get-online-features",
        {
            "features": ["rider_stats:rating", "rider_stats:rating_x2"],
            "entities": {"rider_id": riders},
        },
    )
    assert reply.status_code == 200, reply.text
    result = columns(reply.json())
    expected = ["PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert result["rating"]["statuses"] == expected
    assert result["rating"]["values"] == [4.5, None, None, None]
    assert result["rating_x2"]["values"] == [9.0, None, None, None]
    stamps = result["rating"]["event_timestamps"]
    assert stamps[0] == now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert ISO.match(stamps[2]) and stamps[3] is None


def test_a_push_to_the_offline_store_only_is_not_served(served: Served) -> None:
    rider = f"r-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.UTC).isoformat()
    _push(served, {"rider_id": [rider], "rating": [1.0], "event_ts": [now]}, to="offline")
    reply = served.post(
        "/get-online-features",
        {"features": ["rider_stats:rating"], "entities": {"rider_id": [rider]}},
    )
    assert columns(reply.json())["rating"]["statuses"] == ["NOT_FOUND"]


distance = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_subnormal=False),
    st.integers(min_value=0, max_value=10**6),
)


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rows=st.lists(st.tuples(st.integers(0, 230), distance), min_size=1, max_size=12))
def test_request_time_features_match_the_training_frame(
    served: Served, rows: list[tuple[int, float]]
) -> None:
    drivers = [d for d, _ in rows]
    distances = [x for _, x in rows]
    reply = served.post(
        "/get-online-features",
        {
            "features": ["ride_features:fare_per_km_est"],
            "entities": {"driver_id": drivers},
            "request_data": {"distance_km": distances},
        },
    )
    assert reply.status_code == 200, reply.text
    online = columns(reply.json())["fare_per_km_est"]["values"]
    spine = pl.DataFrame(
        {
            "driver_id": drivers,
            "event_timestamp": [served.end] * len(rows),
            "distance_km": [float(x) for x in distances],
        }
    )
    frame = served.store.get_training_frame(spine, features=["ride_features:fare_per_km_est"])
    assert online == frame["fare_per_km_est"].to_list()


def test_many_entities_match_the_training_frame(served: Served) -> None:
    import numpy as np

    rng = np.random.default_rng(11)
    drivers = rng.integers(0, 220, 500).tolist()
    distances = rng.gamma(2.0, 3.0, 500).round(3).tolist()
    request = {
        "features": ["driver_trips:last_fare", "ride_features:fare_per_km_est"],
        "entities": {"driver_id": drivers},
        "request_data": {"distance_km": distances},
    }
    result = columns(served.post("/get-online-features", request).json())
    spine = pl.DataFrame(
        {"driver_id": drivers, "event_timestamp": [served.end] * 500, "distance_km": distances}
    )
    frame = served.store.get_training_frame(spine, features=request["features"])
    assert result["last_fare"]["values"] == frame["last_fare"].to_list()
    assert result["fare_per_km_est"]["values"] == frame["fare_per_km_est"].to_list()


def test_a_running_server_picks_up_newly_applied_definitions(served: Served) -> None:
    name = f"svc_{uuid.uuid4().hex[:8]}"
    view = served.store.get_feature_view("driver_trips")
    served.store.apply([FeatureService(name, features=[view[["last_fare", "fare_log"]]])])
    deadline = time.monotonic() + 10
    while True:
        reply = served.post(
            "/get-online-features", {"feature_service": name, "entities": {"driver_id": [2]}}
        )
        if reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply.status_code == 200, reply.text
    assert reply.json()["metadata"]["feature_names"] == ["driver_id", "last_fare", "fare_log"]


def test_materialize_and_contract_reports(served: Served) -> None:
    reply = served.post("/materialize", {"views": ["driver_trips"], "end": served.end.isoformat()})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert set(report) == {"views", "rows", "start", "watermark", "reloaded"}
    assert report["watermark"] == served.end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    reports = httpx_get(served, "/reports/contracts?view=driver_trips&limit=5")
    assert reports[0]["view"] == "driver_trips" and reports[0]["status"] == "quarantined"
    assert reports[0]["rows_quarantined"] == 12


def httpx_get(served: Served, path: str) -> Any:
    import httpx

    reply = httpx.get(served.url + path, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()
