"""Script reads on a standalone Redis: the commands (shared with the blocking reads) and an
awaiting reader for an event loop (the server's hot path).

The feature server answers on one event loop. A blocking read stops every other request for
the whole round trip; awaited, the loop parses, computes and answers other requests while
Redis works. redis-py's asyncio client is bound to the loop it first ran on, so a reader keeps
one client per loop (tests run several loops in one process; a server runs one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

__all__ = ["AsyncScriptReader", "Call", "script_commands"]

#: the views to read from some entity hashes: one script call
Call = tuple[tuple[str, ...], list[str]]


def script_commands(sha: str, calls: Sequence[Call]) -> list[tuple[Any, ...]]:
    """The ``EVALSHA`` command of each call (KEYS: the hashes, ARGV: the views); the blocking
    and the awaited reads send the same."""
    return [("EVALSHA", sha, len(keys), *keys, *views) for views, keys in calls]


class AsyncScriptReader:
    """Runs one read script with ``EVALSHA`` (loading it again after a server restart).

    Args:
        url: the ``redis://`` URL.
        socket_timeout: seconds to wait for an answer before the call fails.
        script: the Lua source; KEYS are entity hashes, ARGV the fields read from each.
    """

    def __init__(self, url: str, socket_timeout: float, script: str) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
        self.script = script
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._sha: str | None = None

    def _client_for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff

            # As the blocking client: one quick retry, so a restarted server is reconnected
            # to at once and a down one answers 503 at once.
            self._client = redis.asyncio.Redis.from_url(
                self.url,
                socket_connect_timeout=min(2.0, self.socket_timeout),
                socket_timeout=self.socket_timeout,
                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            )
            self._loop = loop
        return self._client

    async def run(self, calls: Sequence[Call]) -> list[Any]:
        """One reply per ``(fields, keys)`` call, in one round trip.

        Raises:
            redis.RedisError, OSError: the server cannot answer.
        """
        from redis.exceptions import NoScriptError

        client = self._client_for_loop()
        if self._sha is None:
            self._sha = await client.script_load(self.script)
        try:
            return await self._send(client, calls)
        except NoScriptError:  # the server restarted and lost its script cache
            self._sha = await client.script_load(self.script)
            return await self._send(client, calls)

    async def _send(self, client: Any, calls: Sequence[Call]) -> list[Any]:
        assert self._sha is not None
        commands = script_commands(self._sha, calls)
        if len(commands) == 1:
            return [await client.execute_command(*commands[0])]
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute())

    async def aclose(self) -> None:
        """Close the client of the running loop (a server's shutdown)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
        self._loop = None
