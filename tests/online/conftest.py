"""One online-store contract suite over SQLite, standalone Redis and a real Redis Cluster.

The cluster is three ``redis-server --cluster-enabled yes`` processes on free loopback ports,
started once per session in a temporary folder and stopped by PID. Without ``redis-server``
the cluster cases are skipped, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from featurestore.online import OnlineStore, encode_entity_keys, open_online_store

BACKENDS = [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis_cluster", marks=pytest.mark.redis),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} and CI=true: the Redis Cluster suite must run", pytrace=False)
        pytest.skip(reason)
    return path


class RedisServer:
    """A redis-server process of our own on a loopback port, stopped by its PID."""

    def __init__(self, folder: Path, port: int, *extra: str) -> None:
        self.folder, self.port, self.extra = folder, port, extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        binary = _need_binary("redis-server")
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "no", "--logfile", "redis.log", *self.extra]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder
        )
        _wait_for(self._answers, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server on port {self.port} exited:\n{log}")
        return b"PONG" in self.cli("PING")

    def stop(self) -> None:
        """Stop the server by PID and reap it."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def cli(self, *args: str) -> bytes:
        """Run one redis-cli command against this server; its output ('' when down)."""
        done = subprocess.run(
            [_need_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return done.stdout


def _wait_for(ready: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    """Three cluster-enabled redis-server processes joined into one cluster (no replicas)."""
    folder = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[RedisServer] = []
    try:
        for _ in range(3):
            port = _free_port()
            node = RedisServer(
                folder / str(port),
                port,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(folder / f"nodes-{port}.conf"),
                # The bus port defaults to port + 10000, which may be taken or out of range.
                "--cluster-port",
                str(_free_port()),
            )
            nodes.append(node)
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        create = ["--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(
            [_need_binary("redis-cli"), *create],
            capture_output=True,
            timeout=60,
            check=True,
        )
        for node in nodes:
            _wait_for(lambda n=node: b"cluster_state:ok" in n.cli("CLUSTER", "INFO"), "cluster")
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
    server = RedisServer(tmp_path / "redis", _free_port())
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
