"""One online-store contract suite over SQLite, standalone Redis and a real Redis Cluster.

The cluster is three ``redis-server --cluster-enabled yes`` processes on free loopback ports,
started once per session in a temporary folder and stopped by PID. Without ``redis-server``
the cluster cases are skipped, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_servers import RedisServer, free_port, need_binary, wait_for

from featurestore.online import OnlineStore, encode_entity_keys, open_online_store

BACKENDS = [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis),
]


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    """Three cluster-enabled redis-server processes joined into one cluster (no replicas)."""
    folder = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[RedisServer] = []
    try:
        for _ in range(3):
            port = free_port()
            node = RedisServer(
                folder / str(port),
                port,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(folder / f"nodes-{port}.conf"),
                # The bus port defaults to port + 10000, which may be taken or out of range.
                "--cluster-port",
                str(free_port()),
            )
            nodes.append(node)
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        create = ["--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(
            [need_binary("redis-cli"), *create],
            capture_output=True,
            timeout=60,
            check=True,
        )
        for node in nodes:
            wait_for(lambda n=node: b"cluster_state:ok" in n.cli("CLUSTER", "INFO"), "cluster")
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: list[RedisServer]) -> str:
    """The ``redis+cluster://`` URL of the session's cluster (any node will do)."""
    return f"redis+cluster://127.0.0.1:{redis_cluster[0].port}"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A standalone redis-server only this test uses (so it may stop and restart it)."""
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'online.db'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def store(store_url: str, project_name: str) -> Iterator[OnlineStore]:
    """An online store of each backend, scoped to a project unique to the test."""
    opened = open_online_store(store_url, project_name)
    yield opened
    opened.close()


@pytest.fixture
def keys(project_name: str) -> Callable[..., list[str]]:
    """Entity keys of the test's project: ``keys(1, 2, entity="driver")``."""

    def make(*ids: Any, entity: str = "driver") -> list[str]:
        return encode_entity_keys(project_name, entity, {f"{entity}_id": list(ids)})

    return make
