"""One served sample repo shared by the server tests: built once, served by a real uvicorn.

The repo is the quickstart sample (driver trips, an on-demand view, a service) plus a pushed
rider view with a one-hour ttl; its online store is the real Redis on 127.0.0.1:6379 under a
project name of its own, whose keys are deleted at the end.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import LIVE_DEFINITIONS, FeatureServer, Served

from featurestore import FeatureStore
from featurestore.quickstart.sample import sample_end, write_sample_repo

REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("FEATURESTORE_TEST_REDIS_PORT", "6379"))


def _need_redis() -> None:
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1.0).close()
    except OSError:
        reason = f"Redis is not answering on {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} and CI=true", pytrace=False)
        pytest.skip(reason)


def build_repo(folder: Path, project: str) -> Path:
    """The sample repo plus the rider view, with its online store on the shared Redis."""
    repo = write_sample_repo(folder, project=project)
    config = repo / "featurestore.toml"
    config.write_text(
        config.read_text().replace(
            'online_store = "sqlite:///.featurestore/online.db"',
            f'online_store = "redis://{REDIS_HOST}:{REDIS_PORT}/0"',
        )
    )
    (repo / "live.py").write_text(LIVE_DEFINITIONS)
    return repo


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The sample repo applied, ingested, materialized at ``sample_end()`` and served."""
    _need_redis()
    project = f"srv{uuid.uuid4().hex[:10]}"
    folder = tmp_path_factory.mktemp("served")
    repo = build_repo(folder / "repo", project)
    store = FeatureStore(repo)
    store.apply()
    store.ingest("driver_trips")
    end = sample_end()
    store.materialize(end=end)
    server = FeatureServer(
        repo, folder / "server.log", {"FEATURESTORE_SERVER_REFRESH_SECONDS": "0.5"}
    ).start()
    try:
        yield Served(repo, store, server, end)
    finally:
        server.stop()
        store.close()
        _delete_keys(project)


def _delete_keys(project: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        keys = list(client.scan_iter(match=f"*{project}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()
