"""Benchmark: serving speed with a shadow rollout sampling 1% of entities, against no rollout.

Two stores open the same repo and the same redis-server of our own: one built its serving state
before the rollout started (no rollout), the other after (a shadow of a new version of the
50-feature view, ``sample=0.01``: for 1% of entities, serving also reads and computes the
candidate in the same round trip and logs it). Each serves ``POST /get-online-features``
through its ASGI app with the fast path, as uvicorn would call it, no network client; entity ids
cycle over the 10,000 materialized ones, so the shadow's sampled entities come up at their rate.

The two take turns (round-robin, a batch each per round), so a slow spell of this shared
machine hits both alike; each figure is the median over the rounds of requests per second
(wall clock); ``ratio`` is shadow / no rollout of those medians and ``paired_ratio`` the median
of the rounds' own ratios (the target: at least 0.95).

Prints one JSON line. Run: ``.venv/bin/python benchmarks/rollout_shadow.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import online_serving  # the shared repo and Redis set-up
import serving_cpu  # one ASGI request

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "21"))
ENTITIES = 10_000


def bodies(entities: int, count: int) -> list[bytes]:
    """``count`` request bodies of ``entities`` consecutive ids each, cycling over the ids."""
    refs = [f"v50:f{i}" for i in range(50)]
    out = []
    for n in range(count):
        ids = [(n * entities + i) % ENTITIES for i in range(entities)]
        out.append(orjson.dumps({"features": refs, "entities": {"user_id": ids}}))
    return out


async def rates(apps: dict[str, Any], entities: int) -> dict[str, float]:
    """Median requests per second of each app over ``ROUNDS`` interleaved rounds, and the
    median of the rounds' ratios (each round's pair ran back to back)."""
    batch = 300 if entities == 1 else 40
    calls: dict[str, list[Callable[[], Awaitable[None]]]] = {
        name: [serving_cpu.asgi_post(app, body) for body in bodies(entities, batch)]
        for name, app in apps.items()
    }
    for each in calls.values():  # warm up: plans, memos, connections
        for call in each:
            await call()
    seen: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(ROUNDS):
        for name, each in calls.items():
            start = time.perf_counter()
            for call in each:
                await call()
            seen[name].append(len(each) / (time.perf_counter() - start))
    out = {name: round(statistics.median(values), 1) for name, values in seen.items()}
    first, second = seen.values()
    pairs = [b / a for a, b in zip(first, second, strict=True)]
    out["paired_ratio"] = round(statistics.median(pairs), 3)
    return out


async def measure(plain: Any, shadow: Any, entities: int) -> dict[str, Any]:
    from featurestore.server import create_app

    apps = {"no_rollout": create_app(plain), "shadow_1pct": create_app(shadow)}
    figures: dict[str, Any] = dict(await rates(apps, entities))
    figures["ratio"] = round(figures["shadow_1pct"] / figures["no_rollout"], 3)
    for store in (plain, shadow):
        await store.online.aclose()
    return figures


def main() -> None:
    from featurestore import Feature, FeatureStore, FeatureView, col

    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        folder = Path(tmp)
        with online_serving.redis_server(folder) as redis_url:
            store, end = online_serving.build_repo(folder, redis_url, ENTITIES)
            store.materialize(end=end)
            plain = FeatureStore(folder)
            assert not plain.state.rollouts  # built now, before the rollout: kept as it is
            view = store.get_feature_view("v50")
            changed = [Feature("f0", col("f0") * 2), *view.features[1:]]
            store.apply(
                [FeatureView("v50", entities=view.entities, source=view.source, features=changed)]
            )
            store.start_rollout("v50", version=2, stage="shadow", sample=0.01)
            shadow = FeatureStore(folder)
            assert shadow.state.rollouts["v50"].sample == 0.01
            figures: dict[str, Any] = {
                "unit": f"requests/s, median of {ROUNDS} interleaved rounds (ASGI fast path)",
                "rollout": "shadow of v50 version 2, sample 0.01",
            }
            for entities in (1, 100):
                figures[f"{entities}x50"] = asyncio.run(measure(plain, shadow, entities))
            shadow.flush_serving_log()
            figures["shadow_rows_logged"] = shadow.serving_log(shadow=True).height
            for each in (plain, shadow, store):
                each.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
