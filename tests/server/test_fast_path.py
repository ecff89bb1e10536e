"""The fast path answers ``POST /get-online-features`` exactly as the FastAPI route does.

Both apps run in-process over httpx's ASGI transport against the shared served repo (real
Redis); only the request id differs between two answers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from server_helpers import Served

from featurestore import FeatureStore
from featurestore.server import create_app

TOKEN = "fast-path-reader-0123"
BODIES: list[Any] = [
    {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1, 2, 99999]}},
    {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}, "extra": 1},
    {"features": ["driver_trips:nope"], "entities": {"driver_id": [1]}},
    {"features": ["driver_trips:fare_log"], "entities": {"rider_id": [1]}},
    {"features": ["driver_trips:fare_log"], "entities": {"driver_id": ["x"]}},
    {"features": ["driver_trips:fare_log"], "entities": {"driver_id": list(range(5000))}},
    {"feature_service": "nope", "entities": {"driver_id": [1]}},
    b"{not json",
    b"",
    [1, 2],
]


def ask(app: Any, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """The app's answer, on one event loop that then closes the store's connections."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://fs") as client:
                return await client.post("/get-online-features", content=content, headers=headers)
        finally:
            await app.state.store.online.aclose()

    reply = asyncio.run(call())
    answer = reply.json()
    if isinstance(answer, dict) and "metadata" in answer:
        answer["metadata"].pop("request_id")
    return reply.status_code, answer, reply.headers.get("www-authenticate", "")


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_fast_path_answers_as_the_route_does(served: Served, body: Any) -> None:
    fast, slow = create_app(served.store), create_app(served.store, fast_path=False)
    answer = ask(fast, body)
    assert answer == ask(slow, body)
    assert answer[0] in (200, 400, 404, 422)


@pytest.mark.parametrize(
    "headers",
    [None, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}"}],
    ids=["none", "wrong", "reader"],
)
def test_fast_path_checks_tokens_as_the_route_does(
    served: Served, headers: dict[str, str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_SERVING_TOKENS", f'[{{token = "{TOKEN}", scopes = ["read"]}}]')
    store = FeatureStore(served.repo)
    try:
        fast, slow = create_app(store), create_app(store, fast_path=False)
        answer = ask(fast, BODIES[0], headers)
        assert answer == ask(slow, BODIES[0], headers)
        assert answer[0] == (200 if headers and TOKEN in headers["Authorization"] else 401)
    finally:
        store.close()


def test_other_methods_still_reach_fastapi(served: Served) -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(served.store))
        async with httpx.AsyncClient(transport=transport, base_url="http://fs") as client:
            return await client.get("/get-online-features")

    reply = asyncio.run(call())
    assert reply.status_code == 405
    assert "not allowed" in reply.json()["detail"]


def test_answers_are_sampled_after_they_are_sent(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path sends an answer, then samples it: while the next request waits on its
    read, within a few milliseconds when none comes, and at the latest when the log is
    flushed."""
    store = FeatureStore(served.repo)
    sampled: list[str] = []
    monkeypatch.setattr(
        store.monitor, "log_served", lambda response, state: sampled.append(response.request_id)
    )
    monkeypatch.setattr("featurestore.monitoring.flush_serving_log", lambda *args: 0)
    app = create_app(store)

    async def call() -> tuple[list[str], list[str], list[str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fs") as client:
            ids = []
            for _ in range(2):
                reply = await client.post("/get-online-features", json=BODIES[0])
                ids.append(reply.json()["metadata"]["request_id"])
                at_answer = list(sampled)
                await asyncio.sleep(0.05)  # no request comes meanwhile
            await client.post("/get-online-features", json=BODIES[0])
        await store.online.aclose()
        return ids, at_answer, list(sampled)

    async def again() -> None:  # the first loop closed with its timer pending
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fs") as client:
            await client.post("/get-online-features", json=BODIES[0])
            await asyncio.sleep(0.05)
        await store.online.aclose()

    try:
        ids, at_answer, before_flush = asyncio.run(call())
        assert at_answer == ids[:1]  # the second answer was not sampled when it was received
        assert before_flush == ids  # the third still waits
        assert store.monitor.has_deferred
        store.flush_serving_log()
        assert len(sampled) == 3 and not store.monitor.has_deferred
        asyncio.run(again())
        assert len(sampled) == 4 and not store.monitor.has_deferred
    finally:
        store.close()
