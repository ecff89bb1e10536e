"""Awaited reads on a standalone Redis: the reader of the server's event loop (the hot path).

The feature server answers on one event loop. A blocking read stops every other request for
the whole round trip; awaited, the loop parses, computes and answers other requests while Redis
works. The reader is a small asyncio protocol over one connection per loop: each read writes
one ``HMGET`` per entity hash at once (packed by hiredis) and waits for as many replies, which
Redis sends back in order, so concurrent requests pipeline on the one connection without a pool
or a lock. hiredis parses the replies; one future per read (not per reply) is resolved when its
last reply has come. redis-py's asyncio client did the same work through its connection pool,
encoder and parser machinery, at several times the CPU per read (``benchmarks/serving_cpu.py``:
``awaiting_costs``).

Why plain ``HMGET``s here and a script call in the blocking reads: redis-py spends about 6 µs
of CPU per command it packs and parses, so the blocking reads send one ``EVALSHA`` whose Lua
loop runs the ``HMGET``s; here a command costs well under a microsecond, and a round trip of
100 pipelined ``HMGET``s took 254 µs against 376 µs for the script call (one uvloop connection,
2,000 reads each), time that a request at concurrency 1 waits for: in
``benchmarks/online_serving.py`` 100x50 at concurrency 1 went from 0.87x to 1.14-1.18x the
floor's throughput with this change alone.

A connection that fails fails every read waiting on it (the server answers 503) and the next
read connects again. Each entity's hash is read by one command, so all views of an entity come
from one instant; a read of several entities may see a materialization in progress between two
of them, as the blocking read may too (a materialization writes in many script calls).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis

__all__ = ["AsyncReader", "RedisReplyError"]


class RedisReplyError(Exception):
    """Redis answered a command with an error."""


class _Read:
    """One read waiting for its replies, which come in the order its commands were sent."""

    __slots__ = ("deadline", "future", "replies", "size")

    def __init__(self, future: asyncio.Future[list[Any]], size: int, deadline: float) -> None:
        self.future = future
        self.replies: list[Any] = []
        self.size = size
        self.deadline = deadline


class _Connection(asyncio.Protocol):
    """One connection: replies complete the waiting reads in the order they were sent.

    A read that gets no answer within ``timeout`` seconds fails with TimeoutError; its replies,
    if they come later, are dropped in their turn, so the reads after it keep theirs. One
    watchdog timer per connection fails them: every read has the same timeout, so deadlines
    follow the order of the reads, and the timer only needs to wake at the oldest pending one.
    It stays armed after that read is answered and, when it wakes, moves on to the oldest read
    then pending, so reads in quick succession arm no timer of their own (``call_later`` and
    ``cancel`` per read cost 2.5-2.8 µs on uvloop, against 0.1 µs for a deadline).
    """

    def __init__(self, timeout: float = 5.0) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[_Read] = collections.deque()
        self.closed = False
        self.timeout = timeout
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting, gets = self.waiting, self.reader.gets
        while waiting:
            reply = gets()
            if reply is False:  # the rest of a reply is still to come
                return
            read = waiting[0]
            read.replies.append(reply)
            if len(read.replies) == read.size:
                waiting.popleft()
                if not read.future.done():  # done: it timed out
                    read.future.set_result(read.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        error = ConnectionError(f"the connection to Redis was lost ({exc or 'closed'})")
        while self.waiting:
            read = self.waiting.popleft()
            if not read.future.done():
                read.future.set_exception(error)

    def send(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]]:
        """Write the commands at once; the future of their replies."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        assert commands, "a read of no commands would wait for the next read's replies"
        deadline = loop.time() + self.timeout
        self.waiting.append(_Read(future, len(commands), deadline))
        if self._watchdog is None:
            self._watchdog = loop.call_at(deadline, self._watch)
        pack = hiredis.pack_command
        self.transport.write(b"".join([pack(command) for command in commands]))
        return future

    def _watch(self) -> None:
        """Fail the reads past their deadline; wake again at the oldest one still pending."""
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for read in self.waiting:
            if read.future.done():  # timed out before: its replies are still to be dropped
                continue
            if read.deadline > now:  # this one and every later one are within their time
                self._watchdog = loop.call_at(read.deadline, self._watch)
                return
            error = TimeoutError(f"Redis did not answer within {self.timeout} s")
            read.future.set_exception(error)


class AsyncReader:
    """Sends batches of commands on one connection per event loop and awaits their replies.

    Args:
        url: the ``redis://`` (or ``rediss://``) URL: host, port, optional user and password,
            database number.
        socket_timeout: seconds to wait for a connection or an answer before the call fails.
    """

    def __init__(self, url: str, socket_timeout: float) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
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
        timeout = self.socket_timeout
        transport, connection = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Connection(timeout), self._host, self._port, ssl=context
            ),
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
            for reply in await connection.send(setup):
                if isinstance(reply, Exception):
                    connection.transport.close()  # type: ignore[union-attr]
                    raise RedisReplyError(str(reply))
        return connection

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """One reply per command, in one round trip.

        Raises:
            ConnectionError, TimeoutError, OSError: the server cannot be reached or does not
                answer in time.
            RedisReplyError: the server answered a command with an error.
        """
        if not commands:  # nothing to send: no connection needed
            return []
        replies = await (await self._connect()).send(commands)
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
