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
