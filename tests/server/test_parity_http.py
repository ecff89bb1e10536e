"""Parity over HTTP, end to end: a real uvicorn, the real Redis, planted skew, feedback, reports.

The server samples what it serves (rate 1.0) into the Redis buffer; the skew report over HTTP
classifies each planted case exactly; feedback is validated (404, 409, 422) and stored once; the
performance and drift reports answer the same numbers as the Python API; the sampling counters
show in /metrics.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import REDIS_HOST, REDIS_PORT, FeatureServer, delete_keys, need_redis
from trip_events import batch

from featurestore import FeatureStore

DEFINITIONS = """
import datetime as dt
from featurestore import Entity, Feature, FeatureService, FeatureView, OnDemandFeatureView
from featurestore import PushSource, RequestSource, col

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource(
    "trip_events",
    schema={"driver_id": int, "fare": float, "event_ts": "datetime", "created_ts": "datetime"},
    timestamp_field="event_ts",
    created_timestamp_field="created_ts",
)
trips = FeatureView("trips", entities=[driver], source=events, ttl=dt.timedelta(days=7),
                    features=[Feature("fare", col("fare"))])
ride = RequestSource("ride", schema={"km": float})
per_km = OnDemandFeatureView("per_km", sources=[trips, ride],
                             features=[Feature("fare_per_km", col("fare") / col("km"))])
svc = FeatureService("svc", features=[trips, per_km])
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[FeatureStore, FeatureServer]]:
    need_redis()
    project = f"par{uuid.uuid4().hex[:10]}"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "featurestore.toml").write_text(
        f'project = "{project}"\nonline_store = "redis://{REDIS_HOST}:{REDIS_PORT}/0"\n'
        "[serving]\nskew_sample_rate = 1.0\n"
    )
    (repo / "features.py").write_text(DEFINITIONS)
    store = FeatureStore(repo)
    store.apply()
    server = FeatureServer(repo, tmp_path / "server.log")
    try:
        yield store, server
    finally:
        server.stop()
        store.close()
        delete_keys(project)


def test_skew_feedback_and_reports_over_http(live: tuple[FeatureStore, FeatureServer]) -> None:
    store, server = live
    now = dt.datetime.now(dt.UTC)
    h = dt.timedelta(hours=1)
    store.push("trip_events", batch([(1, 10.0, now - 3 * h), (3, 30.0, now - 3 * h)]), to="offline")
    store.materialize()
    store.push("trip_events", batch([(4, 40.0, now - 3 * h)]), to="offline")  # never materialized
    server.start()
    # driver 2: pushed over HTTP to the online store only
    pushed = httpx.post(
        server.url + "/push",
        json={
            "push_source_name": "trip_events",
            "df": {
                "driver_id": [2],
                "fare": [20.0],
                "event_ts": [(now - 2 * h).isoformat()],
                "created_ts": [(now - 2 * h).isoformat()],
            },
            "to": "online",
        },
        timeout=30,
    )
    assert pushed.status_code == 200, pushed.text
    answer = httpx.post(
        server.url + "/get-online-features",
        json={
            "feature_service": "svc",
            "entities": {"driver_id": [1, 2, 3, 4]},
            "request_data": {"km": [2.0] * 4},
        },
        timeout=30,
    ).json()
    request_id = answer["metadata"]["request_id"]
    # driver 1: a newer event known before the request, ingested after it, not materialized
    store.push("trip_events", batch([(1, 11.0, now - 2 * h)]), to="offline")

    report = httpx.get(server.url + "/reports/skew", timeout=60).json()
    fare = next(f for f in report["features"] if (f["view"], f["feature"]) == ("trips", "fare"))
    classes = {e["keys"]["driver_id"]: e["class"] for e in fare["examples"]}
    assert classes == {1: "stale", 2: "missing_offline", 4: "missing_online"}
    assert (fare["match"], fare["mismatch"], fare["total"]) == (1, 0, 4)  # driver 3 matches
    latest = httpx.get(server.url + "/reports/skew", params={"latest": "true"}, timeout=30).json()
    assert latest["checked_at"] == report["checked_at"]

    feedback = server.url + "/feedback"
    assert (
        httpx.post(feedback, json={"request_id": request_id, "prediction": 0.7}).status_code == 200
    )
    assert httpx.post(feedback, json={"request_id": request_id, "label": 1}).status_code == 200
    again = httpx.post(feedback, json={"request_id": request_id, "label": 0})
    assert again.status_code == 409 and "already stored" in again.json()["detail"]
    unknown = httpx.post(feedback, json={"request_id": "0" * 32, "label": 1})
    assert unknown.status_code == 404 and "unknown request_id" in unknown.json()["detail"]
    wrong = httpx.post(feedback, json={"request_id": request_id, "label": [1]})
    assert wrong.status_code == 422 and "label" in wrong.json()["detail"]
    assert httpx.post(feedback, json={"request_id": request_id}).status_code == 422
    assert len(store.registry.feedback()) == 1

    performance = httpx.get(
        server.url + "/reports/performance", params={"window": "1d"}, timeout=30
    )
    assert performance.status_code == 200, performance.text
    assert performance.json()["n_feedback"] == 1
    missing = httpx.get(server.url + "/reports/drift", timeout=30)
    assert missing.status_code == 422 and "reference" in missing.json()["detail"]

    metrics = httpx.get(server.url + "/metrics", timeout=30).text
    logged = [
        line
        for line in metrics.splitlines()
        if line.startswith("featurestore_serving_log_samples_logged_total")
    ]
    assert logged and float(logged[0].split()[-1]) >= 4
