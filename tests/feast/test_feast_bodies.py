"""The bodies Feast's clients and docs send, over HTTP to a live server (no Feast needed):
``/materialize`` with Feast's names or no body, ``/materialize-incremental``,
``/write-to-online-store``, the version metadata, request data among the entities, and the
event times Feast's server gives join keys and on-demand features."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import FeatureServer, Served

from featurestore import RequestError

EPOCH = "1970-01-01T00:00:00.000000Z"
RIDER = ["rider_stats:rating", "rider_stats:rating_x2"]


def post(served: Served, path: str, body: Any) -> httpx.Response:
    return served.post(path, body)


def detail(reply: httpx.Response, status: int, *names: str) -> None:
    assert reply.status_code == status, reply.text
    text = reply.json()["detail"]
    for name in names:
        assert name in text, text


def columns(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = answer["metadata"]["feature_names"]
    return dict(zip(names, answer["results"], strict=True))


def test_materialize_takes_feast_names_and_an_empty_body(feast_served: Served) -> None:
    end = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    body = {
        "start_ts": (end - dt.timedelta(days=1)).isoformat(),
        "end_ts": end.replace(tzinfo=None).isoformat(),  # naive: UTC, as Feast's server takes it
        "feature_views": ["driver_trips"],
        "disable_event_timestamp": False,
        "full_feature_names": False,
    }
    reply = post(feast_served, "/materialize", body)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert list(report["views"]) == ["driver_trips"]
    assert report["watermark"] == end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    empty = httpx.post(feast_served.url + "/materialize", timeout=60)
    assert empty.status_code == 200, empty.text
    assert set(empty.json()["views"]) == {"driver_trips", "rider_stats"}
    full = post(feast_served, "/materialize", {"disable_event_timestamp": True})
    assert full.status_code == 200, full.text
    assert full.json()["start"] == "1900-01-01T00:00:00.000000Z"  # limits.EARLIEST


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"start": "2026-01-01T00:00:00Z", "start_ts": "2026-01-01T00:00:00Z"}, ("start_ts",)),
        ({"views": ["driver_trips"], "feature_views": ["driver_trips"]}, ("feature_views",)),
        ({"version": "v2"}, ("'v2'", "version")),
        ({"start_ts": "2026-01-01", "disable_event_timestamp": True}, ("disable_event_timestamp",)),
        ({"feature_views": ["nope"]}, ("nope",)),
        ({"end_ts": "2026-01-01", "bogus": 1}, ("bogus",)),
    ],
)
def test_materialize_refuses_a_confused_body(
    feast_served: Served, body: dict[str, Any], names: tuple[str, ...]
) -> None:
    reply = post(feast_served, "/materialize", body)
    assert 400 <= reply.status_code < 500, reply.text
    detail(reply, reply.status_code, *names)


def test_materialize_incremental(feast_served: Served) -> None:
    end = dt.datetime.now(dt.UTC)  # after the watermarks other tests leave
    body = {"end_ts": end.isoformat(), "feature_views": ["rider_stats"]}
    reply = post(feast_served, "/materialize-incremental", body)
    assert reply.status_code == 200, reply.text
    assert list(reply.json()["views"]) == ["rider_stats"]
    assert reply.json()["start"] is None  # from the watermark
    detail(post(feast_served, "/materialize-incremental", {}), 422, "end_ts")
    detail(
        post(feast_served, "/materialize-incremental", {"end_ts": "2026-01-01", "version": "v1"}),
        422,
        "version",
    )


def _rider_write(rider: str, **columns: Any) -> dict[str, Any]:
    df = {
        "rider_id": [rider],
        "rating": [4.0],
        "rating_x2": [8],  # JSON's whole number for a float feature
        "event_timestamp": [dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()],
        "created": [None],
    }
    df.update(columns)
    return {"feature_view_name": "rider_stats", "df": df, "allow_registry_cache": False}


def test_write_to_online_store_writes_values_as_given(feast_served: Served) -> None:
    rider = f"r-{uuid.uuid4().hex[:8]}"
    reply = post(feast_served, "/write-to-online-store", _rider_write(rider))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"feature_view_name": "rider_stats", "rows": 1}
    answer = feast_served.store.get_online_features(RIDER, entities={"rider_id": [rider]})
    assert answer.to_dict() == {"rider_id": [rider], "rating": [4.0], "rating_x2": [8.0]}
    assert answer.statuses["rating"] == ["PRESENT"]
    # a later write of the same event time wins, as in Feast
    again = _rider_write(rider, rating=[1.0], rating_x2=[2.0])
    stamp = answer.event_timestamps["rating"][0].isoformat()
    again["df"]["event_timestamp"] = [stamp]
    reply = post(feast_served, "/write-to-online-store", again)
    assert reply.status_code == 200, reply.text
    answer = feast_served.store.get_online_features(RIDER, entities={"rider_id": [rider]})
    assert answer.to_dict()["rating"] == [1.0]
    assert answer.event_timestamps["rating"][0].isoformat() == stamp


def test_write_to_online_store_through_the_python_api(feast_served: Served) -> None:
    rider = f"r-{uuid.uuid4().hex[:8]}"
    stamp = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    rows = {"rider_id": [rider], "rating": [3.0], "rating_x2": [6.0], "event_ts": [stamp]}
    assert feast_served.store.write_to_online_store("rider_stats", rows) == 1
    answer = feast_served.store.get_online_features(RIDER, entities={"rider_id": [rider]})
    assert answer.to_dict()["rating_x2"] == [6.0]
    assert answer.event_timestamps["rating"] == [stamp]


FAR = "9999-12-31T00:00:00"


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        ({"feature_view_name": "nope"}, 404, ("nope",)),
        ({"feature_view_name": "ride_features"}, 404, ("ride_features",)),
        (
            {"df": {"rider_id": ["x"], "rating": [1.0], "event_timestamp": [FAR]}},
            422,
            ("rating_x2",),
        ),
        ({"df_extra": {"speed": [1]}}, 422, ("speed",)),
        ({"df_extra": {"rating": [1.0, 2.0]}}, 422, ("same number",)),
        ({"df_extra": {"rating": ["high"]}}, 422, ("rating", "Float64")),
        ({"df_extra": {"rating_x2": [True]}}, 422, ("rating_x2",)),
        ({"df_extra": {"rider_id": [7]}}, 422, ("rider_id", "String")),
        ({"df_extra": {"event_timestamp": [FAR]}}, 422, ("event_timestamp", "max_future")),
        ({"df_extra": {"event_timestamp": ["1066-10-14T00:00:00"]}}, 422, ("1900",)),
        ({"df_extra": {"event_timestamp": ["yesterday"]}}, 422, ("ISO 8601", "yesterday")),
        ({"df_extra": {"event_timestamp": [None]}}, 422, ("null event time",)),
        ({"df_extra": {"rating": "x"}}, 422, ("rating",)),
        ({"df": {}}, 422, ("df",)),
        ({"transform_on_write": "maybe"}, 422, ("transform_on_write",)),
    ],
)
def test_write_to_online_store_refuses_bad_values(
    feast_served: Served, change: dict[str, Any], status: int, names: tuple[str, ...]
) -> None:
    body = _rider_write(f"r-{uuid.uuid4().hex[:8]}")
    body["df"].update(change.pop("df_extra", {}))
    body.update(change)
    detail(post(feast_served, "/write-to-online-store", body), status, *names)


def test_version_metadata_and_epoch_event_times(feast_served: Served) -> None:
    body = {
        "feature_service": "ranking_v1",
        "entities": {"driver_id": [3, 100_000], "distance_km": [2.0, 4.0]},  # as Feast sends
        "include_feature_view_version_metadata": True,
    }
    reply = post(feast_served, "/get-online-features", body)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    versions = feast_served.store.state.view_versions
    assert answer["metadata"]["feature_view_metadata"] == [
        {"name": "driver_trips", "version": versions["driver_trips"]},
        {"name": "ride_features", "version": versions["ride_features"]},
    ]
    result = columns(answer)
    assert result["driver_id"]["event_timestamps"] == [EPOCH, EPOCH]
    assert result["fare_per_km_est"]["event_timestamps"] == [EPOCH, EPOCH]
    assert result["fare_log"]["event_timestamps"][0] not in (None, EPOCH)
    assert result["fare_log"]["event_timestamps"][1] is None  # not found: no event time
    # request data among the entities is the same request as in request_data
    apart = {
        "feature_service": "ranking_v1",
        "entities": {"driver_id": [3, 100_000]},
        "request_data": {"distance_km": [2.0, 4.0]},
    }
    same = columns(post(feast_served, "/get-online-features", apart).json())
    assert {k: v["values"] for k, v in same.items()} == {k: v["values"] for k, v in result.items()}
    twice = {**apart, "entities": body["entities"]}
    detail(post(feast_served, "/get-online-features", twice), 422, "distance_km", "twice")


def test_push_takes_feast_fields(feast_served: Served) -> None:
    rider = f"r-{uuid.uuid4().hex[:8]}"
    body = {
        "push_source_name": "rider_events",
        "df": {
            "rider_id": [rider],
            "rating": [2.5],
            "event_ts": [dt.datetime.now(dt.UTC).isoformat()],
        },
        "to": "online",
        "allow_registry_cache": True,
        "transform_on_write": True,
    }
    reply = post(feast_served, "/push", body)
    assert reply.status_code == 200, reply.text
    answer = feast_served.store.get_online_features(RIDER, entities={"rider_id": [rider]})
    assert answer.to_dict()["rating_x2"] == [5.0]


# Schemathesis (tests/server/test_schema_fuzz.py) rarely guesses a view or column name; these
# bodies use the repo's own names around arbitrary JSON, to reach the write's deeper checks.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no others
    st.text(max_size=8),
    st.sampled_from(["2026-01-01T00:00:00", "9999-12-31", "0001-01-01T00:00:00Z", "1e400"]),
)
_write_bodies = st.fixed_dictionaries(
    {
        "feature_view_name": st.sampled_from(["rider_stats", "driver_trips", "ride_features"]),
        "df": st.dictionaries(
            st.sampled_from(
                ["rider_id", "driver_id", "rating", "rating_x2", "trips_1h", "event_timestamp"]
            ),
            st.lists(_scalars, min_size=0, max_size=3) | _scalars,
            max_size=6,
        ),
    },
    optional={"transform_on_write": st.booleans(), "allow_registry_cache": st.booleans()},
)


@given(body=_write_bodies)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_write_body_gets_a_server_error(feast_served: Served, body: dict[str, Any]) -> None:
    reply = post(feast_served, "/write-to-online-store", body)
    assert reply.status_code < 500, reply.text
    assert reply.status_code == 200 or "detail" in reply.json()


def test_feast_endpoints_need_the_write_scope(
    feast_served: Served, tmp_path_factory: pytest.TempPathFactory
) -> None:
    reader, writer = "feast-reader-0123", "feast-writer-4567"
    tokens = (
        f'[{{token = "{reader}", scopes = ["read"]}}, {{token = "{writer}", scopes = ["write"]}}]'
    )
    log = tmp_path_factory.mktemp("feast_auth") / "server.log"
    server = FeatureServer(feast_served.repo, log, {"FEATURESTORE_SERVING_TOKENS": tokens})
    server.start()
    try:
        rider = f"r-{uuid.uuid4().hex[:8]}"
        end = dt.datetime.now(dt.UTC).isoformat()
        calls = [
            ("/write-to-online-store", _rider_write(rider)),
            ("/materialize-incremental", {"end_ts": end, "feature_views": ["rider_stats"]}),
        ]
        for path, body in calls:
            url = server.url + path
            assert httpx.post(url, json=body, timeout=30).status_code == 401
            denied = httpx.post(url, json=body, headers={"Authorization": f"Bearer {reader}"})
            assert denied.status_code == 403 and "'write'" in denied.json()["detail"]
            allowed = httpx.post(
                url, json=body, headers={"Authorization": f"Bearer {writer}"}, timeout=60
            )
            assert allowed.status_code == 200, allowed.text
    finally:
        server.stop()


def test_values_written_as_given_show_up_in_the_skew_check(feast_served: Served) -> None:
    """Values a Feast writer computed itself are caught by the skew check."""
    store, driver = feast_served.store, 50
    before = store.get_online_features(["driver_trips:last_fare"], entities={"driver_id": [driver]})
    assert before.statuses["last_fare"] == ["PRESENT"]
    wrong = before.to_dict()["last_fare"][0] + 1000.0
    stamp = dt.datetime.now(dt.UTC).isoformat()
    body = {
        "feature_view_name": "driver_trips",
        "df": {
            "driver_id": [driver],
            "fare_log": [0.0],
            "is_night": [False],
            "last_fare": [wrong],
            "fare_sum_7d": [0.0],
            "trips_1h": [0],
            "event_timestamp": [stamp],
        },
    }
    assert post(feast_served, "/write-to-online-store", body).status_code == 200
    served = store.get_online_features(["driver_trips:last_fare"], entities={"driver_id": [driver]})
    assert served.to_dict()["last_fare"] == [wrong]  # sampled into the serving log (rate 1.0)
    report = store.check_skew().to_dict()
    (row,) = [
        f for f in report["features"] if (f["view"], f["feature"]) == ("driver_trips", "last_fare")
    ]
    # an event offline never saw (or, at an event it knows, a different value)
    assert row["missing_offline"] + row["mismatch"] >= 1, row
    assert wrong in [e["served"] for e in row["examples"]], row["examples"]


def test_the_python_write_refuses_a_huge_integer_for_a_float(feast_served: Served) -> None:
    rows = {
        "rider_id": ["r"],
        "rating": [10**400],
        "rating_x2": [1.0],
        "event_ts": [dt.datetime.now(dt.UTC)],
    }
    with pytest.raises(RequestError, match="rating"):
        feast_served.store.write_to_online_store("rider_stats", rows)
