"""The online store goes down: 503 with a clear detail; it comes back: 200, no server restart."""

from __future__ import annotations

import time

import httpx
import pytest
from server_helpers import FeatureServer, RedisServer, Served


def test_503_while_the_online_store_is_down_then_recovers(
    served: Served, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("outage")
    redis_server = RedisServer(folder / "redis").start()
    server = FeatureServer(
        served.repo, folder / "server.log", {"FEATURESTORE_ONLINE_STORE": redis_server.url}
    )
    body = {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}}
    try:
        server.start()
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}
        first = httpx.post(server.url + "/get-online-features", json=body, timeout=30)
        assert first.status_code == 200, first.text
        assert first.json()["results"][1]["statuses"] == ["NOT_FOUND"]  # nothing materialized here

        redis_server.stop()
        down = httpx.post(server.url + "/get-online-features", json=body, timeout=30)
        assert down.status_code == 503, down.text
        detail = down.json()["detail"]
        assert "online store" in detail and "unavailable" in detail and "\n" not in detail
        health = httpx.get(server.url + "/health", timeout=30)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"

        redis_server.start()
        deadline = time.monotonic() + 10
        while True:
            back = httpx.post(server.url + "/get-online-features", json=body, timeout=30)
            if back.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert back.status_code == 200, back.text
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}
        metrics = httpx.get(server.url + "/metrics").text
        assert 'featurestore_errors_total{error="StoreUnavailableError"}' in metrics
        errors = next(
            line
            for line in metrics.splitlines()
            if line.startswith("featurestore_online_store_errors_total ")
        )
        assert float(errors.split()[1]) >= 2
    finally:
        server.stop()
        redis_server.stop()
