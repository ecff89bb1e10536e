"""The Redis online store: standalone (``redis://``) and Redis Cluster (``redis+cluster://``).

Layout (``<key>`` from :func:`~featurestore.online.encode_entity_keys`):

- ``fs:{<project>:<entity>:<typed key>}``: a hash per entity, one field per view holding the
  record (header + msgpack body, see :mod:`featurestore.online.records`). All views of an
  entity share the hash, so a read is one ``HMGET`` per entity and, in a cluster, one slot;
- ``fsl:{<project>}``: the serving-log stream.

Writes go through a Lua script (``EVALSHA``, loaded once, reloaded after a server restart)
that replaces a field only when the new header is greater, in batches of many keys per call
(one slot per call in a cluster) and pipelines of a few thousand rows. ``redis`` is imported
only when a Redis store is opened.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from featurestore.online._cluster import Command, run_batch
from featurestore.online._redis_async import AsyncReader, RedisReplyError
from featurestore.online.base import (
    OnlineBackend,
    ReadRequest,
    ReadResult,
    unavailable,
)
from featurestore.online.records import HEADER_LENGTH, decode_records, encode_rows

__all__ = ["RedisOnlineStore"]

# KEYS: entity hashes; ARGV[1]: the view; ARGV[i + 1]: the record for KEYS[i].
# Headers are compared as 8-hex-digit numbers, so the result does not depend on the server's
# string collation.
_WRITE = f"""
local function newer(new, old)
  for i = 1, {HEADER_LENGTH}, 8 do
    local j = math.min(i + 7, {HEADER_LENGTH})
    local a = tonumber(string.sub(new, i, j), 16)
    local b = tonumber(string.sub(old, i, j), 16)
    if a ~= b then return a > b end
  end
  return false
end
local field, written = ARGV[1], 0
for i, key in ipairs(KEYS) do
  local record = ARGV[i + 1]
  local old = redis.call('HGET', key, field)
  if not old or newer(record, old) then
    redis.call('HSET', key, field, record)
    written = written + 1
  end
end
return written
"""

# KEYS[1]: the log stream; ARGV[1]: capacity; the rest: entries. Drops what does not fit.
_LOG_APPEND = """
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local n = #ARGV - 1
local take = math.max(0, math.min(room, n))
for i = 2, take + 1 do redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
return n - take
"""

# KEYS[1]: the log stream, KEYS[2]: the claim's stream, KEYS[3]: the set of claims; ARGV[1]: how
# many to take, ARGV[2]: the claim. Atomic, so two flushes never claim one entry.
_LOG_CLAIM = """
local items = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
local out = {}
for i, item in ipairs(items) do
  out[i] = item[2][2]
  redis.call('XADD', KEYS[2], '*', 'e', item[2][2])
  redis.call('XDEL', KEYS[1], item[1])
end
if #out > 0 then redis.call('SADD', KEYS[3], ARGV[2]) end
return out
"""

# KEYS[1]: the claim's stream, KEYS[2]: the set of claims; ARGV[1]: the claim.
_LOG_RELEASE = """
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 0
"""

# KEYS: entity hashes; ARGV: the fields (views) to read from each. One array per key.
#: the views to read from some entity hashes: one script call
Call = tuple[tuple[str, ...], list[str]]


def _script_commands(sha: str, calls: Sequence[Call]) -> list[tuple[Any, ...]]:
    """The blocking reads' command for each call: ``EVALSHA`` of the read script (KEYS: the
    hashes, ARGV: the views), or a plain ``HMGET`` for a call of one hash (a single-entity
    request, the most common: Redis answers it without entering Lua, about 10 µs sooner), whose
    reply is that one hash's values (:func:`_answers` reads it so)."""
    return [
        ("HMGET", keys[0], *views) if len(keys) == 1 else ("EVALSHA", sha, len(keys), *keys, *views)
        for views, keys in calls
    ]


_READ = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HMGET', key, unpack(ARGV)) end
return out
"""

_KEYS_PER_CALL = 200  # keys per EVALSHA: short enough not to stall the server
_ROWS_PER_PIPELINE = 4000
_SCAN_COUNT = 1000


class RedisOnlineStore(OnlineBackend):
    """An :class:`~featurestore.online.OnlineStore` on Redis or Redis Cluster.

    Args:
        url: ``redis://[user:password@]host:port/db`` (also ``rediss://``) or
            ``redis+cluster://host:port`` (any node of the cluster).
        project: the project whose keys this store reads and writes.
        socket_timeout: seconds to wait for an answer before the store counts as down.
    """

    def __init__(self, url: str, project: str, *, socket_timeout: float = 5.0) -> None:
        self.url = url
        self.project = project
        scheme, rest = url.split("://", 1)
        self._cluster = scheme.endswith("+cluster")
        self._client_url = f"{scheme.removesuffix('+cluster')}://{rest}"
        self._socket_timeout = socket_timeout
        self._client_obj: Any = None
        self._client_lock = threading.Lock()
        self._shas: dict[str, str] = {}
        self._async: AsyncReader | None = None
        self._log_key = f"fsl:{{{project}}}"
        self._claims_key = f"{self._log_key}:claims"  # the claims a flush has not released

    # -- connection -------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        # Built lazily: a cluster client connects when built, and a store opened while the
        # server is down must work once it is back.
        client = self._client_obj
        if client is None:
            with self._client_lock:
                if self._client_obj is None:
                    self._client_obj = self._connect()
                client = self._client_obj
        return client

    def _connect(self) -> Any:
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        # One quick retry: enough to reconnect transparently after a server restart, short
        # enough that a down server gives a 503 at once instead of after seconds of backoff.
        options: dict[str, Any] = {
            "socket_connect_timeout": min(2.0, self._socket_timeout),
            "socket_timeout": self._socket_timeout,
            "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        }
        with self._guard():
            if self._cluster:
                from redis.cluster import RedisCluster

                return RedisCluster.from_url(self._client_url, **options)
            return redis.Redis.from_url(self._client_url, **options)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        import redis
        from redis.exceptions import RedisClusterException

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            raise unavailable(self.url, error) from error
        except (redis.RedisError, RedisClusterException) as error:
            if self._cluster:
                # A failed-over or resharded cluster answers with errors until the topology is
                # read again; start afresh on the next call.
                self.close()
            raise unavailable(self.url, error) from error

    def _execute(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``(routing key, arguments)`` commands in one round trip; errors come back inline.

        Must run inside :meth:`_guard`.
        """
        if not commands:
            return []
        if self._cluster:
            return run_batch(self._client, commands)
        pipe = self._client.pipeline(transaction=False)
        for _, args in commands:
            pipe.execute_command(*args)
        return list(pipe.execute(raise_on_error=False))

    def _execute_or_raise(self, commands: Sequence[Command]) -> list[Any]:
        with self._guard():
            results = self._execute(commands)
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def _sha(self, name: str, source: str, *, reload: bool = False) -> str:
        if reload or name not in self._shas:
            self._shas[name] = self._client.script_load(source)
        return self._shas[name]

    def _run_script(self, name: str, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        from redis.exceptions import NoScriptError

        with self._guard():
            try:
                return self._client.evalsha(self._sha(name, source), len(keys), *keys, *args)
            except NoScriptError:  # the server restarted and lost its script cache
                sha = self._sha(name, source, reload=True)
                return self._client.evalsha(sha, len(keys), *keys, *args)

    # -- feature rows -----------------------------------------------------------------------

    def write(self, view: str, rows: pl.DataFrame) -> int:
        """See :meth:`OnlineStore.write`."""
        encoded = encode_rows(view, rows)
        records = [
            header.encode("ascii") + body
            for header, body in zip(encoded.headers, encoded.bodies, strict=True)
        ]
        calls = self._write_calls(encoded.keys, records)
        written = 0
        batch: list[tuple[list[str], list[bytes]]] = []
        size = 0
        for keys, values in calls:
            batch.append((keys, values))
            size += len(keys)
            if size >= _ROWS_PER_PIPELINE:
                written += self._run_write_batch(view, batch)
                batch, size = [], 0
        if batch:
            written += self._run_write_batch(view, batch)
        return written

    def _write_calls(
        self, keys: list[str], records: list[bytes]
    ) -> Iterator[tuple[list[str], list[bytes]]]:
        """Group rows into script calls: any keys on one server, one slot's keys in a cluster."""
        if self._cluster:
            from redis.crc import key_slot

            by_slot: dict[int, list[int]] = defaultdict(list)
            for position, key in enumerate(keys):
                by_slot[key_slot(key.encode())].append(position)
            groups: Iterator[list[int]] = iter(by_slot.values())
        else:
            groups = iter([list(range(len(keys)))])
        for group in groups:
            for start in range(0, len(group), _KEYS_PER_CALL):
                chunk = group[start : start + _KEYS_PER_CALL]
                yield [keys[i] for i in chunk], [records[i] for i in chunk]

    def _run_write_batch(self, view: str, batch: list[tuple[list[str], list[bytes]]]) -> int:
        from redis.exceptions import NoScriptError

        def calls(sha: str, part: list[tuple[list[str], list[bytes]]]) -> list[Command]:
            return [(k[0], ("EVALSHA", sha, len(k), *k, view, *v)) for k, v in part]

        with self._guard():
            results = self._execute(calls(self._sha("write", _WRITE), batch))
            refused = [
                c for c, r in zip(batch, results, strict=True) if isinstance(r, NoScriptError)
            ]
            if refused:
                # A restarted node lost its script cache: load the script again and redo only
                # the calls it refused.
                results = [r for r in results if not isinstance(r, NoScriptError)]
                results += self._execute(calls(self._sha("write", _WRITE, reload=True), refused))
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return sum(results)

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """See :meth:`OnlineStore.read`: one round trip, one ``HMGET`` per distinct entity.

        On a standalone server the ``HMGET``s run inside a script, one ``EVALSHA`` per set of
        views (and per 200 keys): redis-py spends about 6 µs of CPU on each command it packs
        and parses, so a 100-entity pipeline cost 0.7 ms where one script call costs 0.16 ms.
        A single entity is one plain ``HMGET`` (see ``_script_commands``). A cluster gets one
        ``HMGET`` per entity, each sent to its node, as a script may only touch keys of one
        slot. :meth:`aread` pipelines plain ``HMGET``s, which cost it far less.
        """
        fields = _fields(requests)
        if self._cluster:
            commands: list[Command] = [(k, ("HMGET", k, *v)) for k, v in fields.items()]
            answers = dict(zip(fields, self._execute_or_raise(commands), strict=True))
            return _results(requests, fields, answers)
        calls = _calls(fields)
        return _results(requests, fields, _answers(calls, self._read_calls(calls)))

    async def aread(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """:meth:`read` for a server's event loop: it awaits the round trip, so other requests
        go on meanwhile. A cluster is read as by :meth:`read` (blocking)."""
        if self._cluster:
            return self.read(requests)
        if self._async is None:
            self._async = AsyncReader(self._client_url, self._socket_timeout)
        fields = _fields(requests)
        try:  # one HMGET per hash, pipelined (see featurestore.online._redis_async)
            replies = await self._async.run([("HMGET", k, *v) for k, v in fields.items()])
        except (RedisReplyError, OSError) as error:
            raise unavailable(self.url, error) from error
        return _results(requests, fields, dict(zip(fields, replies, strict=True)))

    async def aclose(self) -> None:
        """Close the connections :meth:`aread` opened on the running loop."""
        if self._async is not None:
            await self._async.aclose()

    def _read_calls(self, calls: list[Call]) -> list[Any]:
        from redis.exceptions import NoScriptError

        def run(sha: str) -> list[Any]:
            commands = _script_commands(sha, calls)
            if len(commands) == 1:  # no pipeline for one command: less to pack and parse
                return [self._client.execute_command(*commands[0])]
            pipe = self._client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())

        with self._guard():
            try:
                return run(self._sha("read", _READ))
            except NoScriptError:  # the server restarted and lost its script cache
                return run(self._sha("read", _READ, reload=True))

    def delete_view(self, view: str) -> int:
        """See :meth:`OnlineStore.delete_view` (scans this project's entity hashes)."""
        return self._on_every_entity("HDEL", view)

    def count(self, view: str) -> int:
        """See :meth:`OnlineStore.count` (scans this project's entity hashes)."""
        return self._on_every_entity("HEXISTS", view)

    def _on_every_entity(self, command: str, view: str) -> int:
        """Run ``command key view`` on every entity hash of the project; the sum of the replies."""
        total = 0
        with self._guard():
            pattern = f"fs:{{{self.project}:*"
            keys = self._client.scan_iter(match=pattern, count=_SCAN_COUNT, _type="hash")
            for chunk in _chunks(keys, _SCAN_COUNT):
                texts = [key.decode() for key in chunk]
                total += sum(self._execute_or_raise([(k, (command, k, view)) for k in texts]))
        return total

    # -- bookkeeping ------------------------------------------------------------------------

    def ping(self) -> None:
        """See :meth:`OnlineStore.ping`."""
        with self._guard():
            self._client.ping()

    def close(self) -> None:
        """See :meth:`OnlineStore.close`."""
        self._async = None  # its connections close with the event loop they belong to
        client, self._client_obj = self._client_obj, None
        if client is None:
            return
        if self._cluster:
            # RedisCluster.from_url gives each node a pool its close() leaves open.
            for node in client.get_nodes():
                if node.redis_connection is not None:
                    node.redis_connection.connection_pool.disconnect()
        client.close()

    def log_append(self, entries: Sequence[bytes], *, maxlen: int) -> int:
        """See :meth:`OnlineStore.log_append`; when full, the newest entries are dropped."""
        if not entries:
            return 0
        return int(self._run_script("log_append", _LOG_APPEND, [self._log_key], [maxlen, *entries]))

    def log_claim(self, max_entries: int, claim: str) -> list[bytes]:
        """See :meth:`LogBuffer.log_claim`: the entries move to a stream of the claim's own
        (the same hash tag as the log, so one slot in a cluster)."""
        keys = [self._log_key, self._claim_key(claim), self._claims_key]
        return list(self._run_script("log_claim", _LOG_CLAIM, keys, [max_entries, claim]))

    def log_claims(self) -> list[tuple[str, list[bytes]]]:
        """See :meth:`LogBuffer.log_claims`."""
        with self._guard():
            claims = sorted(c.decode() for c in self._client.smembers(self._claims_key))
            streams = [self._client.xrange(self._claim_key(claim)) for claim in claims]
        return [
            (claim, [fields[b"e"] for _, fields in items])
            for claim, items in zip(claims, streams, strict=True)
        ]

    def log_release(self, claim: str) -> None:
        """See :meth:`LogBuffer.log_release`."""
        keys = [self._claim_key(claim), self._claims_key]
        self._run_script("log_release", _LOG_RELEASE, keys, [claim])

    def _claim_key(self, claim: str) -> str:
        return f"{self._log_key}:claim:{claim}"


def _fields(requests: Sequence[ReadRequest]) -> dict[str, tuple[str, ...]]:
    """Entity key -> the views to read from its hash."""
    if len(requests) == 1:  # one view, the usual request: no merging of fields
        return dict.fromkeys(requests[0].entity_keys, (requests[0].view,))
    merged: dict[str, dict[str, None]] = defaultdict(dict)
    for request in requests:
        for key in request.entity_keys:
            merged[key][request.view] = None
    return {key: tuple(views) for key, views in merged.items()}


def _calls(fields: dict[str, tuple[str, ...]]) -> list[Call]:
    """One script call per set of views and per 200 keys."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key, views in fields.items():
        groups[views].append(key)
    return [
        (views, keys[i : i + _KEYS_PER_CALL])
        for views, keys in groups.items()
        for i in range(0, len(keys), _KEYS_PER_CALL)
    ]


def _answers(calls: list[Call], replies: Sequence[Any]) -> dict[str, list[bytes | None]]:
    """Hash key -> its views' records, from the replies to ``_script_commands(calls)``."""
    answers: dict[str, list[bytes | None]] = {}
    for (_, keys), reply in zip(calls, replies, strict=True):
        if len(keys) == 1:  # a plain HMGET: the values of its one hash
            answers[keys[0]] = reply
        else:
            answers.update(zip(keys, reply, strict=True))
    return answers


def _results(
    requests: Sequence[ReadRequest],
    fields: dict[str, tuple[str, ...]],
    answers: dict[str, list[bytes | None]],
) -> list[ReadResult]:
    if len(requests) == 1:
        keys = requests[0].entity_keys
        return [decode_records(requests[0], [answers[key][0] for key in keys])]
    stored: dict[tuple[str, str], bytes | None] = {}
    for key, views in fields.items():
        for view, value in zip(views, answers[key], strict=True):
            stored[key, view] = value
    return [
        decode_records(request, [stored[key, request.view] for key in request.entity_keys])
        for request in requests
    ]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
