"""Round trips, outages and URLs: what serving relies on beyond the store contract."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from online_helpers import rows
from redis.connection import AbstractConnection
from redis_servers import RedisServer, free_port, wait_for

from featurestore.errors import ConfigError, StoreUnavailableError
from featurestore.online import OnlineStore, ReadRequest, encode_entity_keys, open_online_store
from featurestore.online.redis import RedisOnlineStore


class WireLog:
    """Every send and every reply read by any redis-py connection, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def round_trips(self) -> int:
        """Send phases: a send that follows a read (or starts the log) begins a round trip.

        Sends to several cluster nodes before any reply is read count as one round trip: the
        requests are on the wire together and their answers come back in parallel.
        """
        trips, reading = 0, True
        for kind, _ in self.events:
            if kind == "send" and reading:
                trips += 1
            reading = kind == "read"
        return trips


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[WireLog]:
    """Record the wire activity of every redis-py connection (the server is untouched)."""
    log = WireLog()
    send, read = AbstractConnection.send_packed_command, AbstractConnection.read_response

    def logged_send(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        log.events.append(("send", id(self)))
        return send(self, *args, **kwargs)

    def logged_read(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        log.events.append(("read", id(self)))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", logged_send)
    monkeypatch.setattr(AbstractConnection, "read_response", logged_read)
    yield log


class CommandStats:
    """Calls per command summed over servers (INFO commandstats), from connections of its own.

    The connections stay open, so their set-up commands fall before the first snapshot.
    """

    def __init__(self, servers: list[RedisServer]) -> None:
        self.clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in servers]

    def snapshot(self) -> dict[str, int]:
        """Calls per command so far, INFO itself excluded."""
        totals: dict[str, int] = {}
        for client in self.clients:
            for name, stat in client.info("commandstats").items():
                if name != "cmdstat_info":
                    totals[name] = totals.get(name, 0) + int(stat["calls"])
        return totals

    def close(self) -> None:
        """Close the connections."""
        for client in self.clients:
            client.close()


@pytest.mark.redis
@pytest.mark.parametrize("mode", ["standalone", "cluster"])
def test_a_read_of_100_entities_by_3_views_is_one_round_trip(
    mode: str, request: pytest.FixtureRequest, project_name: str, wire: WireLog
) -> None:
    """One round trip for 100 entities x 3 views, and only reads.

    Counted on the client: every ``send_packed_command`` and ``read_response`` of every redis-py
    connection, in order; a round trip is a send phase (sends before the replies are read). The
    read must be one send phase (one pipeline; in a cluster, one write per node before any
    reply). Counted on the server (private servers, so no other test's traffic is included):
    ``INFO commandstats`` deltas show the work was 100 HMGETs (the three views of an entity
    share one hash), nothing else: serving writes nothing. On a standalone server they run in
    one script call (one EVALSHA); a cluster gets them one by one, each on its node.
    """
    if mode == "standalone":
        servers = [request.getfixturevalue("own_redis")]
        url = f"redis://127.0.0.1:{servers[0].port}/0"
    else:
        servers = request.getfixturevalue("redis_cluster")
        url = f"redis+cluster://127.0.0.1:{servers[0].port}"
    store = open_online_store(url, project_name)
    stats = CommandStats(servers)
    try:
        stats.snapshot()
        keys = encode_entity_keys(project_name, "driver", {"driver_id": list(range(100))})
        for view in ("a", "b", "c"):
            store.write(view, rows(keys[::2], {"x": [1.0] * 50, "n": list(range(50))}))
        reads = [ReadRequest(view, keys, ["x", "n"]) for view in ("a", "b", "c")]
        store.read(reads)  # warm up: connections to every node are open and set up
        before = stats.snapshot()
        wire.events.clear()
        results = store.read(reads)
        assert wire.round_trips() == 1, wire.events
        after = stats.snapshot()
    finally:
        store.close()
        stats.close()
    delta = {name: after[name] - before.get(name, 0) for name in after}
    scripts = {"cmdstat_evalsha": 1} if mode == "standalone" else {}
    assert {name: n for name, n in delta.items() if n} == {"cmdstat_hmget": 100, **scripts}
    assert [r.found.count(True) for r in results] == [50, 50, 50]


@pytest.mark.redis
def test_a_down_redis_is_reported_and_the_store_recovers(
    own_redis: RedisServer, project_name: str
) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    store = open_online_store(url, project_name)
    keys = encode_entity_keys(project_name, "driver", {"driver_id": [1]})
    frame = rows(keys, {"x": [1]})
    try:
        store.write("v", frame)
        store.log_append([b"a"], maxlen=10)
        own_redis.stop()
        for call in (
            store.ping,
            lambda: store.read([ReadRequest("v", keys, ["x"])]),
            lambda: store.write("v", frame),
            lambda: store.log_claim(1, "c"),
            store.log_claims,
        ):
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{own_redis.port}"):
                call()
            assert time.monotonic() - started < 2.0
        own_redis.start()  # empty, and without the scripts: they must be loaded again
        assert store.read([ReadRequest("v", keys, ["x"])])[0].found == [False]
        assert store.write("v", frame) == 1
        assert store.log_append([b"b"], maxlen=10) == 0
        assert store.log_claim(5, "c") == [b"b"]
        assert store.read([ReadRequest("v", keys, ["x"])])[0].values == {"x": [1]}
    finally:
        store.close()


@pytest.mark.parametrize(
    "url", ["redis://user:secret@127.0.0.1:{port}/0", "redis+cluster://127.0.0.1:{port}"]
)
def test_an_unreachable_redis_raises_store_unavailable_without_the_password(url: str) -> None:
    store = open_online_store(url.format(port=free_port()), "p")
    with pytest.raises(StoreUnavailableError) as caught:
        store.ping()
    assert "secret" not in str(caught.value) and "redis" in str(caught.value)
    assert caught.value.status_code == 503
    store.close()


def test_relative_sqlite_paths_resolve_against_the_repo(tmp_path: Path) -> None:
    store = open_online_store("sqlite:///.featurestore/online.db", "p", repo_path=tmp_path)
    store.ping()
    store.close()
    assert (tmp_path / ".featurestore" / "online.db").is_file()


def test_an_in_memory_sqlite_store_is_shared_by_threads() -> None:
    store = open_online_store("sqlite:///:memory:", "p")
    keys = encode_entity_keys("p", "e", {"id": [1]})
    writer = threading.Thread(target=store.write, args=("v", rows(keys, {"x": [7]})))
    writer.start()
    writer.join()
    assert store.read([ReadRequest("v", keys, ["x"])])[0].values == {"x": [7]}
    store.close()


def test_an_unusable_sqlite_path_raises_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreUnavailableError, match=r"dir\.db"):
        open_online_store(f"sqlite:///{tmp_path / 'dir.db'}", "p")


@pytest.mark.parametrize(
    ("url", "project", "message"),
    [
        ("memcached://x", "p", "not supported"),
        ("online.db", "p", "not supported"),
        ("sqlite://host/x.db", "p", "has a host"),
        ("sqlite:///x.db", "bad{name}", "project name"),
        ("redis://127.0.0.1:6379", "", "project name"),
    ],
)
def test_bad_urls_and_projects_are_config_errors(url: str, project: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_online_store(url, project)


def test_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    sqlite_store = open_online_store(f"sqlite:///{tmp_path / 'x.db'}", "p")
    redis_store = open_online_store("redis://127.0.0.1:1/0", "p")
    assert isinstance(sqlite_store, OnlineStore) and isinstance(redis_store, OnlineStore)
    sqlite_store.close()
    redis_store.close()


@pytest.mark.redis
def test_a_cluster_node_restart_is_reported_then_recovered(
    redis_cluster: list[RedisServer], redis_cluster_url: str, project_name: str
) -> None:
    store = open_online_store(redis_cluster_url, project_name)
    keys = encode_entity_keys(project_name, "driver", {"driver_id": list(range(50))})
    reads = [ReadRequest("v", keys, ["x"])]
    try:
        store.write("v", rows(keys, {"x": list(range(50))}))
        victim = redis_cluster[-1]
        victim.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="redis\\+cluster://"):
            store.read(reads)
        assert time.monotonic() - started < 5.0
        victim.start()  # same port and nodes.conf: it takes its slots back, but empty
        for node in redis_cluster:
            wait_for(lambda n=node: b"cluster_state:ok" in n.cli("CLUSTER", "INFO"), "cluster")
        (result,) = store.read(reads)
        assert 0 < result.found.count(True) < 50
        assert store.write("v", rows(keys, {"x": list(range(50))})) == 50 - result.found.count(True)
        assert store.read(reads)[0].values["x"] == list(range(50))
    finally:
        store.close()


@pytest.mark.redis
def test_a_stale_cluster_slot_map_is_refreshed(redis_cluster_url: str, project_name: str) -> None:
    """A MOVED reply (here: a slot map pointing at the wrong node) is followed, not raised."""
    from redis.crc import key_slot

    store = open_online_store(redis_cluster_url, project_name)
    keys = encode_entity_keys(project_name, "driver", {"driver_id": [1]})
    try:
        store.ping()
        client = store._client  # type: ignore[attr-defined]
        slot = key_slot(keys[0].encode())
        right = client.nodes_manager.slots_cache[slot][0]
        wrong = next(n for n in client.get_primaries() if n.name != right.name)
        client.nodes_manager.slots_cache[slot] = [wrong]
        assert store.write("v", rows(keys, {"x": [1]})) == 1
        assert client.nodes_manager.slots_cache[slot][0].name == right.name
        client.nodes_manager.slots_cache[slot] = [wrong]
        assert store.read([ReadRequest("v", keys, ["x"])])[0].values == {"x": [1]}
    finally:
        store.close()


@pytest.mark.redis
def test_asynchronous_reads_equal_blocking_reads_and_survive_a_restart(
    own_redis: RedisServer, project_name: str
) -> None:
    """``aread`` (the server's) answers as ``read`` does (a single entity, many, none, several
    views), reconnects after a restart, and reports a down server as unavailable."""
    store = open_online_store(f"redis://127.0.0.1:{own_redis.port}/0", project_name)
    assert isinstance(store, RedisOnlineStore)
    keys = encode_entity_keys(project_name, "driver", {"driver_id": list(range(450))})
    store.write("a", rows(keys[::2], {"x": [1.5] * 225}))
    store.write("b", rows(keys[:10], {"n": list(range(10))}))
    reads = [ReadRequest("a", [*keys, keys[0]], ["x"]), ReadRequest("b", keys[:20], ["n", "m"])]

    async def scenario() -> None:
        assert await store.aread(reads) == store.read(reads)
        assert await store.aread(reads[:1]) == store.read(reads[:1])
        single = [ReadRequest("a", keys[:1], ["x"]), ReadRequest("b", keys[:1], ["n"])]
        assert await store.aread(single) == store.read(single)
        nothing = [ReadRequest("a", [], ["x"])]
        assert await asyncio.wait_for(store.aread(nothing), 2) == store.read(nothing)
        own_redis.stop()
        with pytest.raises(StoreUnavailableError):
            await store.aread(reads)
        own_redis.start()  # empty, without the script
        store.write("a", rows(keys[:1], {"x": [2.5]}))
        (result,) = await store.aread([ReadRequest("a", keys[:2], ["x"])])
        assert result.values == {"x": [2.5, None]}

    _run_then_close(store, scenario)


@pytest.mark.redis
def test_awaited_reads_that_get_no_answer_time_out_and_later_reads_get_their_own_replies(
    own_redis: RedisServer, project_name: str
) -> None:
    """A paused Redis (``CLIENT PAUSE``) answers no read: each awaited read fails once its own
    timeout is over (the second one too, armed while the first was waiting); when Redis comes
    back, the replies owed to the failed reads are dropped, not handed to the next read."""
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    store = RedisOnlineStore(url, project_name, socket_timeout=0.3)
    keys = encode_entity_keys(project_name, "driver", {"driver_id": [1, 2, 3]})
    store.write("a", rows(keys, {"x": [1.0, 2.0, 3.0]}))
    admin = redis.Redis.from_url(url)

    async def read(i: int) -> Any:
        (result,) = await store.aread([ReadRequest("a", keys[i : i + 1], ["x"])])
        return result.values["x"]

    async def scenario() -> None:
        assert await read(0) == [1.0]
        admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        started = time.monotonic()
        first = asyncio.ensure_future(read(0))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(read(1))
        with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.3 s"):
            await asyncio.wait_for(first, 3)
        assert 0.25 < time.monotonic() - started < 1.0
        with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.3 s"):
            await asyncio.wait_for(second, 3)
        assert 0.35 < time.monotonic() - started < 1.1
        admin.execute_command("CLIENT", "UNPAUSE")
        assert await read(2) == [3.0]  # not the 1.0 or 2.0 owed to the failed reads
        assert await read(1) == [2.0]

    try:
        _run_then_close(store, scenario)
    finally:
        admin.close()


def _run_then_close(store: RedisOnlineStore, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` on a new event loop, then close the store's awaited and blocking
    connections."""

    async def run() -> None:
        try:
            await scenario()
        finally:
            await store.aclose()

    try:
        asyncio.run(run())
    finally:
        store.close()
