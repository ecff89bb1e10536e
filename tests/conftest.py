"""Shared fixtures: real services on 127.0.0.1, never mocks.

Redis and PostgreSQL tests need the real servers. On a developer's machine without them the
suites are skipped with the reason printed; with ``CI=true`` a missing service fails the run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from featurestore.quickstart.traffic import stop_server

REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("FEATURESTORE_TEST_REDIS_PORT", "6379"))
PG_HOST, PG_PORT = "127.0.0.1", int(os.environ.get("FEATURESTORE_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _need(service: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    reason = f"{service} is not answering on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} and CI=true: the {service} suite must run in CI", pytrace=False)
    pytest.skip(f"{reason}; start it to run this suite")


@pytest.fixture
def project_name() -> str:
    """A project name unique to one test, so tests sharing one server never collide."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_url(project_name: str) -> Iterator[str]:
    """The URL of the real Redis on 127.0.0.1; keys of the test's project are deleted after."""
    _need("Redis", REDIS_HOST, REDIS_PORT)
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    yield url
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        keys = list(client.scan_iter(match=f"*{project_name}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


@contextlib.contextmanager
def temporary_database(prefix: str = "fs") -> Iterator[str]:
    """A new PostgreSQL database on the real server, dropped when the block ends."""
    _need("PostgreSQL", PG_HOST, PG_PORT)
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the real server, dropped after the test."""
    with temporary_database() as url:
        yield url


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers a test starts itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server (moto's standalone server) on a free loopback port, started
    for the session and stopped by its PID; the URL of its endpoint."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                reason = f"moto_server did not start: {log.read_text()[-500:]}"
                if os.environ.get("CI", "").lower() == "true":
                    pytest.fail(reason, pytrace=False)
                pytest.skip(reason)
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)
