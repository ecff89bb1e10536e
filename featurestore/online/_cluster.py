"""One round trip over a Redis Cluster for a batch of single-slot commands.

redis-py's ``ClusterPipeline`` spends about 100 µs of Python per command working out where it
goes; for our commands that is just the slot of one known key. ``run_batch`` writes each node
its commands, then reads every reply (so all nodes work in parallel: one round trip), and hands
whatever went wrong (a moved slot, a restarted node) to ``ClusterPipeline``, which follows
redirections, refreshes the slot map and reconnects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["run_batch"]

#: A command: the key that routes it, then the full argument list (``("HMGET", key, ...)``).
Command = tuple[str, tuple[Any, ...]]


def run_batch(client: Any, commands: Sequence[Command]) -> list[Any]:
    """Run commands on a ``redis.cluster.RedisCluster``; replies (or errors) in command order.

    Args:
        client: the cluster client (its slot map and connection pools are used).
        commands: ``(routing key, arguments)`` pairs; every key of one command shares a slot.

    Returns:
        One raw reply per command; an error reply is returned as its exception, not raised.

    Raises:
        redis.exceptions.RedisError: the cluster cannot be reached, even after the fallback.
    """
    from redis.exceptions import (
        AskError,
        ClusterDownError,
        ConnectionError,
        SlotNotCoveredError,
        TimeoutError,
        TryAgainError,
    )

    results: list[Any] = [None] * len(commands)
    try:
        _send_then_read(client, commands, results)
    except (ConnectionError, TimeoutError, SlotNotCoveredError):
        return _fallback(client, commands, range(len(commands)), results)
    # MovedError is an AskError: the slot map is stale or a slot is migrating.
    redo = [i for i, r in enumerate(results) if isinstance(r, AskError | TryAgainError)]
    redo += [i for i, r in enumerate(results) if isinstance(r, ClusterDownError)]
    if redo:
        client.nodes_manager.initialize()
        _fallback(client, commands, sorted(redo), results)
    return results


def _send_then_read(client: Any, commands: Sequence[Command], results: list[Any]) -> None:
    from redis.crc import key_slot
    from redis.exceptions import ResponseError

    slot_map = client.nodes_manager
    by_node: dict[str, tuple[Any, list[int]]] = {}
    for position, (key, _) in enumerate(commands):
        node = slot_map.get_node_from_slot(key_slot(key.encode()))
        by_node.setdefault(node.name, (node, []))[1].append(position)
    taken: list[tuple[Any, Any, list[int]]] = []
    read = 0
    try:
        for node, positions in by_node.values():
            pool = client.get_redis_connection(node).connection_pool
            connection = pool.get_connection()
            taken.append((pool, connection, positions))
            connection.send_packed_command(
                connection.pack_commands([commands[i][1] for i in positions])
            )
        for _, connection, positions in taken:
            for i in positions:
                try:
                    results[i] = connection.read_response()
                except ResponseError as error:
                    results[i] = error
            read += 1
    finally:
        for index, (pool, connection, _) in enumerate(taken):
            if index >= read:
                # Replies left unread would be read by the next user of this connection.
                connection.disconnect()
            pool.release(connection)


def _fallback(
    client: Any, commands: Sequence[Command], positions: Sequence[int], results: list[Any]
) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for i in positions:
        pipe.execute_command(*commands[i][1])
    for i, result in zip(positions, pipe.execute(raise_on_error=False), strict=True):
        results[i] = result
    return results
