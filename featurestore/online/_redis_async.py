"""Script reads on a standalone Redis: the commands (shared with the blocking reads) and an
awaiting reader for an event loop (the server's hot path).

The feature server answers on one event loop. A blocking read stops every other request for
the whole round trip; awaited, the loop parses, computes and answers other requests while Redis
works. The reader is a small asyncio protocol over one connection per loop: each read writes
its ``EVALSHA`` commands (packed by hiredis) and waits for as many replies, which Redis sends
back in order, so concurrent requests pipeline on the one connection without a pool or a lock.
hiredis parses the replies. redis-py's asyncio client did the same work through its connection
pool, encoder and parser machinery, at several times the CPU per read
(``benchmarks/serving_cpu.py``: ``awaiting_costs``).

A connection that fails fails every read waiting on it (the server answers 503) and the next
read connects again; a server restarted without the script cache gets the script again.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis

__all__ = ["AsyncScriptReader", "Call", "RedisReplyError", "script_commands"]

#: the views to read from some entity hashes: one script call
Call = tuple[tuple[str, ...], list[str]]


def script_commands(sha: str, calls: Sequence[Call]) -> list[tuple[Any, ...]]:
    """The ``EVALSHA`` command of each call (KEYS: the hashes, ARGV: the views); the blocking
    and the awaited reads send the same.

    A call of one hash (a single-entity request, the most common) is a plain ``HMGET`` instead:
    Redis answers it without entering Lua, about 10 µs sooner per round trip here, and its
    reply is that one hash's values (``RedisOnlineStore`` reads it so)."""
    return [
        ("HMGET", keys[0], *views) if len(keys) == 1 else ("EVALSHA", sha, len(keys), *keys, *views)
        for views, keys in calls
    ]


class RedisReplyError(Exception):
    """Redis answered a command with an error."""


class _Connection(asyncio.Protocol):
    """One connection: replies resolve the waiting futures in the order commands were sent."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting, gets = self.waiting, self.reader.gets
        while waiting:
            reply = gets()
            if reply is False:  # the rest of a reply is still to come
                return
            future = waiting.popleft()
            if not future.done():  # done: it timed out
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = ConnectionError(f"the connection to Redis was lost ({exc or 'closed'})")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def send(self, commands: Sequence[tuple[Any, ...]]) -> list[asyncio.Future[Any]]:
        """Write the commands at once; one future per reply."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        self.waiting.extend(futures)
        pack = hiredis.pack_command
        self.transport.write(b"".join([pack(command) for command in commands]))
        return futures


class AsyncScriptReader:
    """Runs one read script with ``EVALSHA`` (loading it again after a server restart).

    Args:
        url: the ``redis://`` (or ``rediss://``) URL: host, port, optional user and password,
            database number.
        socket_timeout: seconds to wait for a connection or an answer before the call fails.
        script: the Lua source; KEYS are entity hashes, ARGV the fields read from each.
    """

    def __init__(self, url: str, socket_timeout: float, script: str) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
        self.script = script
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._db = int(parts.path.strip("/") or 0)
        self._ssl = parts.scheme == "rediss"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._sha: str | None = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = self._connection
        if connection is not None and not connection.closed and self._loop is loop:
            return connection
        if self._connecting is not None and self._loop is loop:
            # another request of this loop is connecting: share its connection
            return await asyncio.shield(self._connecting)
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            connection = await self._open(loop)
        except BaseException as error:
            self._connecting.set_exception(error)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            self._connecting = None
            raise
        self._connection = connection
        self._connecting.set_result(connection)
        self._connecting = None
        return connection

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        context = ssl.create_default_context() if self._ssl else None
        transport, connection = await asyncio.wait_for(
            loop.create_connection(_Connection, self._host, self._port, ssl=context),
            min(2.0, self.socket_timeout),
        )
        # uvloop may call connection_made only after create_connection returns
        connection.transport = transport
        setup: list[tuple[Any, ...]] = []
        if self._password is not None:
            auth = ("AUTH", self._user, self._password) if self._user else ("AUTH", self._password)
            setup.append(auth)
        if self._db:
            setup.append(("SELECT", self._db))
        if setup:
            for reply in await self._replies(connection, setup):
                if isinstance(reply, Exception):
                    connection.transport.close()  # type: ignore[union-attr]
                    raise RedisReplyError(str(reply))
        return connection

    async def _replies(
        self, connection: _Connection, commands: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        futures = connection.send(commands)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.socket_timeout, _expire, futures, self.socket_timeout)
        try:
            if len(futures) == 1:
                return [await futures[0]]
            return list(await asyncio.gather(*futures))
        finally:
            timer.cancel()

    async def run(self, calls: Sequence[Call]) -> list[Any]:
        """One reply per ``(fields, keys)`` call, in one round trip.

        Raises:
            ConnectionError, TimeoutError, OSError: the server cannot be reached or does not
                answer in time.
            RedisReplyError: the server answered with an error.
        """
        connection = await self._connect()
        if self._sha is None:
            (sha,) = await self._replies(connection, [("SCRIPT", "LOAD", self.script)])
            self._sha = _text(sha)
        replies = await self._replies(connection, script_commands(self._sha, calls))
        if any(isinstance(r, Exception) and str(r).startswith("NOSCRIPT") for r in replies):
            # the server restarted and lost its script cache
            (sha,) = await self._replies(connection, [("SCRIPT", "LOAD", self.script)])
            self._sha = _text(sha)
            replies = await self._replies(connection, script_commands(self._sha, calls))
        for reply in replies:
            if isinstance(reply, Exception):
                raise RedisReplyError(str(reply))
        return replies

    async def aclose(self) -> None:
        """Close the connection of the running loop (a server's shutdown)."""
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.close()
        self._loop = None


def _expire(futures: Sequence[asyncio.Future[Any]], seconds: float) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(TimeoutError(f"Redis did not answer within {seconds} s"))


def _text(reply: Any) -> str:
    if isinstance(reply, Exception):
        raise RedisReplyError(str(reply))
    return reply.decode() if isinstance(reply, bytes) else str(reply)
