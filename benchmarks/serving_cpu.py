"""Benchmark: CPU per online request in-process, where the serving path spends it.

The HTTP benchmark (``online_serving.py``) measures throughput under a load generator; this one
isolates the server's own CPU per request (``time.process_time``, so waiting on Redis does not
count), for one request at a time through the ASGI app, no network client:

- ``fast_path`` / ``fastapi_route``: our app with the fast path on and off (the same answers);
- ``floor``: the minimal FastAPI + pipelined ``HMGET`` endpoint of ``online_serving.py``;
- ``store_blocking`` / ``store_awaited``: ``FeatureStore.get_online_features`` against
  ``get_online_features_async`` (the server's), without HTTP;
- ``sample_log``: sampling an answer into the serving log (``Monitor.log_served`` at the
  default rate 0.01; 50 different answers in turn, so the entities sampled vary as in serving).

Data: 10,000 entities materialized into a redis-server of our own; single-entity and 100-entity
requests of the 50-feature view. Each figure is the best of 7 repeats, in µs per request; the variants take turns in each
repeat.

Prints one JSON line. Run: ``.venv/bin/python benchmarks/serving_cpu.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import online_serving  # the shared repo, Redis and floor set-up

REPEATS = 7


async def cpu_per_call(calls: dict[str, Callable[[], Awaitable[Any]]], n: int) -> dict[str, float]:
    """Best-of-``REPEATS`` CPU seconds per call of each variant, in µs.

    The variants take turns within each repeat, so a slow spell of this shared machine hits
    them alike rather than whichever ran then.
    """
    for call in calls.values():
        for _ in range(max(10, n // 10)):
            await call()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(REPEATS):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(n):
                await call()
            best[name] = min(best[name], (time.process_time() - start) / n)
    return {name: round(seconds * 1e6, 1) for name, seconds in best.items()}


def asgi_post(app: Any, body: bytes) -> Callable[[], Awaitable[None]]:
    """One ``POST /get-online-features`` through ``app``, as uvicorn would call it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/get-online-features",
        "raw_path": b"/get-online-features",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def call() -> None:
        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app({**scope, "state": {}}, receive, send)
        if status != [200]:
            raise RuntimeError(f"the app answered {status}")

    return call


async def measure(store: Any, entities: int) -> dict[str, float]:
    from featurestore.server import create_app

    refs = [f"v50:f{i}" for i in range(50)]
    ids = {"user_id": list(range(entities))}
    body = orjson.dumps({"features": refs, "entities": ids})
    n = 2000 if entities == 1 else 200
    fast, route = create_app(store), create_app(store, fast_path=False)
    for app in (fast, route):
        app.state.watcher.check()

    async def blocking() -> None:
        store.get_online_features(refs, entities=ids)

    async def awaited() -> None:
        await store.get_online_features_async(refs, entities=ids)

    rng = np.random.default_rng(entities)
    answers = [
        store.get_online_features(
            refs, entities={"user_id": rng.integers(0, 10_000, entities).tolist()}
        )
        for _ in range(50)
    ]
    turn = itertools.cycle(answers)

    async def sample_log() -> None:
        store.monitor.log_served(next(turn), store.state)

    figures = await cpu_per_call(
        {
            "fast_path": asgi_post(fast, body),
            "fastapi_route": asgi_post(route, body),
            "floor": asgi_post(online_serving.floor_app(), body),
            "store_blocking": blocking,
            "store_awaited": awaited,
            "sample_log": sample_log,
        },
        n,
    )
    await store.online.aclose()
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        folder = Path(tmp)
        with online_serving.redis_server(folder) as redis_url:
            store, end = online_serving.build_repo(folder, redis_url, 10_000)
            store.materialize(end=end)
            os.environ |= {"BENCH_REDIS_URL": redis_url, "BENCH_PROJECT": store.project}
            figures: dict[str, Any] = {"unit": "CPU µs per request (best of 7, interleaved)"}
            for entities in (1, 100):
                figures[f"{entities}x50"] = asyncio.run(measure(store, entities))
            for key in ("1x50", "100x50"):
                f = figures[key]
                f["fast_path_saves"] = round(f["fastapi_route"] - f["fast_path"], 1)
                f["awaiting_costs"] = round(f["store_awaited"] - f["store_blocking"], 1)
            store.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
