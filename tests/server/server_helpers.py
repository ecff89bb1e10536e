"""Helpers of the server tests: the processes they start (uvicorn, redis-server) and the
served sample repo: the quickstart sample (driver trips, an on-demand view, a service) plus a
pushed rider view with a one-hour ttl, its online store on the real Redis under a project name of
its own whose keys are deleted at the end.

Each binds 127.0.0.1 on a free port and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from featurestore import FeatureStore
from featurestore.quickstart.sample import sample_end, write_sample_repo
from featurestore.quickstart.traffic import stop_server

LIVE_DEFINITIONS = '''\
"""A pushed view with a short ttl, to see every status over HTTP."""

from datetime import timedelta

import pandera.polars as pa

from featurestore import Entity, Feature, FeatureView, PushSource, col


class RiderContract(pa.DataFrameModel):
    rider_id: str
    rating: float = pa.Field(ge=0, le=5, nullable=True)


rider = Entity("rider", join_keys=["rider_id"], value_type=str)
rider_events = PushSource(
    "rider_events",
    schema={"rider_id": str, "rating": float, "event_ts": "datetime"},
    timestamp_field="event_ts",
)
rider_stats = FeatureView(
    "rider_stats",
    entities=[rider],
    source=rider_events,
    contract=RiderContract,
    on_violation="reject",
    ttl=timedelta(hours=1),
    features=[Feature("rating", col("rating")), Feature("rating_x2", col("rating") * 2)],
)
'''


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``ready`` until it is true; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout} s")
        time.sleep(0.05)


def http_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    """Whether a server process answers ``url`` (any status); RuntimeError with the end of its
    log if it has exited."""
    if process.poll() is not None:
        raise RuntimeError(f"the server exited:\n{log.read_text()[-3000:]}")
    try:
        httpx.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


class FeatureServer:
    """``uvicorn featurestore.server.app:app_from_env`` on a free port, for one repo.

    Args:
        repo: the feature repo folder.
        log: where the server's output goes.
        env: extra environment (``FEATURESTORE_*`` overrides).
    """

    def __init__(self, repo: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.repo, self.log = repo, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FEATURESTORE_REPO": str(repo), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FeatureServer:
        args = [sys.executable, "-m", "uvicorn", "featurestore.server.app:app_from_env"]
        args += ["--factory", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--log-level", "warning", "--no-access-log"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=self.env, stdout=out, stderr=out)
        wait_for(self._answers, f"feature server on port {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        return http_ready(self.process, self.url + "/health", self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop_server(self.process)
            self.process = None


class RedisServer:
    """A redis-server of the test's own on a fixed port (restartable on the same port)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("redis-server is not installed and CI=true", pytrace=False)
            pytest.skip("redis-server is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, f"redis-server on port {self.port}", timeout=15)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_server(self.process)
            self.process = None


@dataclass
class Served:
    """The shared served repo."""

    repo: Path
    store: FeatureStore
    server: FeatureServer
    end: dt.datetime

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, body: object, **kwargs: object) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30, **kwargs)  # type: ignore[arg-type]


REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("FEATURESTORE_TEST_REDIS_PORT", "6379"))


def need_redis() -> None:
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


@contextlib.contextmanager
def serve_new_repo(folder: Path) -> Iterator[Served]:
    """A fresh sample repo (its own project) applied, ingested, materialized and served."""
    need_redis()
    project = f"srv{uuid.uuid4().hex[:10]}"
    repo = build_repo(folder / "repo", project)
    store = FeatureStore(repo)
    server = FeatureServer(
        repo, folder / "server.log", {"FEATURESTORE_SERVER_REFRESH_SECONDS": "0.5"}
    )
    try:
        store.apply()
        store.ingest("driver_trips")
        end = sample_end()
        store.materialize(end=end)
        server.start()
        yield Served(repo, store, server, end)
    finally:
        server.stop()
        store.close()
        delete_keys(project)


def delete_keys(project: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        keys = list(client.scan_iter(match=f"*{project}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()
