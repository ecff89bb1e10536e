"""Every bad request gets a 4xx and ``{"detail": "<one sentence naming the problem>"}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from server_helpers import Served

ENTITY = {"driver_id": [1]}
CASES: list[tuple[str, Any, int, str]] = [
    # (name, body, status, what the detail must name)
    (
        "unknown feature",
        {"features": ["driver_trips:nope"], "entities": ENTITY},
        404,
        "'nope'",
    ),
    (
        "unknown view",
        {"features": ["no_such_view:fare_log"], "entities": ENTITY},
        404,
        "'no_such_view'",
    ),
    (
        "unknown service",
        {"feature_service": "no_such_service", "entities": ENTITY},
        404,
        "'no_such_service'",
    ),
    (
        "missing entity key",
        {"features": ["driver_trips:fare_log"], "entities": {"rider_id": ["a"]}},
        422,
        "'driver_id'",
    ),
    (
        "wrong key type",
        {"features": ["driver_trips:fare_log"], "entities": {"driver_id": ["seven"]}},
        422,
        "'driver_id'",
    ),
    (
        "missing request data",
        {"features": ["ride_features:fare_per_km_est"], "entities": ENTITY},
        422,
        "'distance_km'",
    ),
    (
        "wrong request data type",
        {
            "features": ["ride_features:fare_per_km_est"],
            "entities": ENTITY,
            "request_data": {"distance_km": ["far"]},
        },
        422,
        "'distance_km'",
    ),
    (
        "too many entities",
        {"features": ["driver_trips:fare_log"], "entities": {"driver_id": list(range(1001))}},
        422,
        "1000",
    ),
    (
        "entities not a map",
        {"features": ["driver_trips:fare_log"], "entities": [1]},
        422,
        "'entities'",
    ),
    (
        "features not a list",
        {"features": "driver_trips:fare_log", "entities": ENTITY},
        422,
        "'features'",
    ),
    (
        "malformed reference",
        {"features": ["fare_log"], "entities": ENTITY},
        422,
        "'fare_log'",
    ),
    (
        "both features and service",
        {
            "features": ["driver_trips:fare_log"],
            "feature_service": "ranking_v1",
            "entities": ENTITY,
        },
        422,
        "feature service",
    ),
    (
        "unknown field",
        {"features": ["driver_trips:fare_log"], "entities": ENTITY, "entity": 1},
        422,
        "'entity'",
    ),
    (
        "full_feature_names not a bool",
        {"features": ["driver_trips:fare_log"], "entities": ENTITY, "full_feature_names": "yes"},
        422,
        "'full_feature_names'",
    ),
    ("not an object", [1, 2], 422, "JSON object"),
]


def check_detail(reply: httpx.Response, status: int, names: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    detail = body["detail"]
    assert isinstance(detail, str) and names in detail, detail
    assert "\n" not in detail and "Traceback" not in reply.text
    return dict(body)


@pytest.mark.parametrize(
    ("body", "status", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_online_requests(served: Served, body: Any, status: int, names: str) -> None:
    check_detail(served.post("/get-online-features", body), status, names)


@pytest.mark.parametrize("path", ["/get-online-features", "/push", "/materialize"])
@pytest.mark.parametrize("raw", [b"{not json", b'{"features": [1,', b"\xff"])
def test_malformed_json_is_400_and_a_missing_body_422(
    served: Served, path: str, raw: bytes
) -> None:
    headers = {"content-type": "application/json"}
    reply = httpx.post(served.url + path, content=raw, headers=headers, timeout=30)
    check_detail(reply, 400, "not valid JSON")
    if path == "/materialize":
        return  # an empty body means the defaults (tests/feast/test_feast_bodies.py)
    missing = httpx.post(served.url + path, content=b"", headers=headers, timeout=30)
    check_detail(missing, 422, "body is missing")


def test_a_push_that_breaks_the_contract_is_422_with_its_report(served: Served) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    reply = served.post(
        "/push",
        {
            "push_source_name": "rider_events",
            "df": {"rider_id": ["a", "b"], "rating": [4.0, 9.5], "event_ts": [now, now]},
        },
    )
    body = check_detail(reply, 422, "rider_stats")
    report = body["report"]
    assert report["status"] == "rejected" and report["rows_in"] == 2
    assert report["rows_written"] == 0 and report["rows_quarantined"] == 2
    assert report["violations"][0]["column"] == "rating"


PUSH_CASES: list[tuple[str, Any, int, str]] = [
    ("missing source name", {"df": {"a": [1]}}, 422, "'push_source_name'"),
    ("bad target", {"push_source_name": "rider_events", "df": {}, "to": "both"}, 422, "'to'"),
    ("df not columns", {"push_source_name": "rider_events", "df": [1, 2]}, 422, "'df'"),
    ("unknown source", {"push_source_name": "nope", "df": {"a": [1]}}, 404, "'nope'"),
    (
        "ragged columns",
        {"push_source_name": "rider_events", "df": {"rider_id": ["a", "b"], "rating": [1.0]}},
        422,
        "rider_events",
    ),
    (
        "naive timestamps",
        {
            "push_source_name": "rider_events",
            "df": {"rider_id": ["a"], "rating": [1.0], "event_ts": ["2026-01-01T00:00:00"]},
        },
        422,
        "'event_ts'",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "names"), [c[1:] for c in PUSH_CASES], ids=[c[0] for c in PUSH_CASES]
)
def test_bad_pushes(served: Served, body: Any, status: int, names: str) -> None:
    check_detail(served.post("/push", body), status, names)


def test_bad_materialize_and_report_requests(served: Served) -> None:
    check_detail(served.post("/materialize", {"views": ["nope"]}), 404, "'nope'")
    check_detail(served.post("/materialize", {"end": "yesterday"}), 422, "'end'")
    check_detail(served.post("/materialize", {"end": "2026-01-01T00:00:00Z", "x": 1}), 422, "'x'")
    get = httpx.get
    check_detail(get(served.url + "/reports/contracts?view=nope", timeout=30), 404, "'nope'")
    check_detail(get(served.url + "/reports/contracts?limit=0", timeout=30), 422, "'limit'")


def test_unknown_paths_and_methods(served: Served) -> None:
    check_detail(httpx.get(served.url + "/nowhere", timeout=30), 404, "/nowhere")
    check_detail(httpx.get(served.url + "/push", timeout=30), 405, "GET")
