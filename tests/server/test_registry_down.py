"""The registry database goes away mid-run: endpoints that need it answer 503 with no
connection details (no URL, host, port, user or database name); serving goes on from the
loaded definitions, and everything answers again once the database is back.

The server reaches the real PostgreSQL through a TCP relay of the test's own on a loopback
port; closing the relay is the database going down (the shared server itself stays up).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import FeatureServer, build_repo, delete_keys, need_redis

from featurestore import FeatureStore
from featurestore.quickstart.sample import sample_end

PG = ("127.0.0.1", 5432)


class Relay:
    """Forwards connections from a loopback port (default: a free one) to PostgreSQL until
    stopped."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(PG, timeout=5)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Close the port and every relayed connection: the database is unreachable."""
        self.open = False
        with contextlib.suppress(OSError):  # wakes the blocked accept(); close() alone does not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.sockets.clear()


@pytest.fixture
def relayed(postgres_url: str, tmp_path: Path) -> Iterator[tuple[FeatureServer, Relay, str]]:
    need_redis()
    relay = Relay()
    url = postgres_url.replace(f"{PG[0]}:{PG[1]}", f"127.0.0.1:{relay.port}")
    project = f"rd{uuid.uuid4().hex[:10]}"
    repo = build_repo(tmp_path / "repo", project)
    config = repo / "featurestore.toml"
    config.write_text(
        config.read_text().replace(
            'registry = "sqlite:///.featurestore/registry.db"', f'registry = "{url}"'
        )
    )
    server = FeatureServer(repo, tmp_path / "server.log")
    store = FeatureStore(repo)
    try:
        store.apply()
        store.ingest("driver_trips")
        store.materialize(end=sample_end())
        store.close()
        server.start()
        yield server, relay, url
    finally:
        server.stop()
        relay.stop()
        delete_keys(project)


def test_registry_down_is_503_without_connection_details(
    relayed: tuple[FeatureServer, Relay, str],
) -> None:
    server, relay, url = relayed
    read = {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}}
    assert httpx.get(server.url + "/reports/contracts", timeout=30).status_code == 200
    rid = httpx.post(server.url + "/get-online-features", json=read, timeout=30).json()
    rid = rid["metadata"]["request_id"]

    relay.stop()
    secrets = ["postgres", "127.0.0.1", str(relay.port), url.rsplit("/", 1)[1], "psycopg"]
    failing = (
        ("GET", "/reports/contracts", None),
        ("GET", "/reports/skew?latest=true", None),
        ("POST", "/feedback", {"request_id": rid, "prediction": 1.0}),
        ("POST", "/materialize", {"views": ["driver_trips"]}),
    )
    for method, path, body in failing:
        reply = httpx.request(method, server.url + path, json=body, timeout=60)
        assert reply.status_code == 503, (path, reply.text)
        detail = reply.json()["detail"]
        assert "registry" in detail and "\n" not in detail
        for secret in secrets:
            assert secret not in reply.text, (path, secret, reply.text)
    served = httpx.post(server.url + "/get-online-features", json=read, timeout=30)
    assert served.status_code == 200, served.text  # the loaded definitions still serve
    # the details go to the server's log only, once: in the request's one error line
    lines = server.log.read_text().splitlines()
    for method, path, _ in failing:
        line = f"503 {method} {path.split('?')[0]}: registry postgresql+psycopg://"
        assert sum(x.startswith(line) for x in lines) == 1, (line, lines)
    assert not [x for x in lines if x.startswith("registry ")], lines

    back = Relay(relay.port)  # the database comes back on the same port
    try:
        deadline = time.monotonic() + 20
        while True:
            reply = httpx.get(server.url + "/reports/contracts", timeout=30)
            if reply.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply.status_code == 200, reply.text
    finally:
        back.stop()
