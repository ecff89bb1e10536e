"""The embedded online store: one SQLite file in WAL mode, no server needed.

Rows live in one table keyed by (project, view, entity key). A write is a conditional upsert
(``ON CONFLICT ... DO UPDATE ... WHERE`` the new header is greater), so an older row never
replaces a newer one, whatever the order writers commit in. Each thread gets its own
connection, which WAL lets read while another writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from featurestore._sqlite import use_wal
from featurestore.online.base import (
    OnlineBackend,
    ReadRequest,
    ReadResult,
    unavailable,
)
from featurestore.online.records import decode_records, encode_rows

__all__ = ["SQLiteOnlineStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fs_online_rows (
    project TEXT NOT NULL, view TEXT NOT NULL, entity_key TEXT NOT NULL,
    version TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (project, view, entity_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fs_serving_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, entry BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fs_serving_log_by_project ON fs_serving_log (project, id);
CREATE TABLE IF NOT EXISTS fs_serving_log_claims (
    project TEXT NOT NULL, claim TEXT NOT NULL, id INTEGER NOT NULL, entry BLOB NOT NULL,
    PRIMARY KEY (project, claim, id)
) WITHOUT ROWID;
"""

_UPSERT = """
INSERT INTO fs_online_rows (project, view, entity_key, version, body) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project, view, entity_key) DO UPDATE
SET version = excluded.version, body = excluded.body
WHERE excluded.version > fs_online_rows.version
"""

# One statement for every (view, key) pair of a read; json_each avoids SQLite's parameter limit.
_READ = """
SELECT r.view, r.entity_key, r.version, r.body
FROM (SELECT DISTINCT value ->> 0 AS view, value ->> 1 AS entity_key FROM json_each(?)) AS wanted
JOIN fs_online_rows AS r
  ON r.project = ? AND r.view = wanted.view AND r.entity_key = wanted.entity_key
"""


class SQLiteOnlineStore(OnlineBackend):
    """An :class:`~featurestore.online.OnlineStore` in a SQLite file.

    Args:
        path: the database file (created with its folder), or ``":memory:"`` for a store that
            lives as long as this object (shared by its threads).
        project: the project whose rows this store reads and writes.
        url: the URL shown in error messages (defaults to ``sqlite:///<path>``).
    """

    def __init__(self, path: str | Path, project: str, *, url: str | None = None) -> None:
        self.project = project
        self.url = url or f"sqlite:///{path}"
        self._memory = str(path) == ":memory:"
        if self._memory:
            # A named shared-cache memory database, so every thread's connection sees it; the
            # anchor connection keeps it alive.
            self._target = f"file:fs_{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._target = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        with self._guard():
            self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise unavailable(self.url, RuntimeError("the store was closed"))
            connection = sqlite3.connect(
                self._target,
                uri=self._memory,
                timeout=30.0,
                isolation_level=None,  # explicit BEGIN/COMMIT below
                check_same_thread=False,  # so close() may run on any thread
            )
            if not self._memory:
                use_wal(connection)
                connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise unavailable(self.url, error) from error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard():
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def write(self, view: str, rows: pl.DataFrame) -> int:
        """See :meth:`OnlineStore.write`."""
        encoded = encode_rows(view, rows)
        params = (
            (self.project, view, key, header, body)
            for key, header, body in zip(encoded.keys, encoded.headers, encoded.bodies, strict=True)
        )
        with self._transaction() as connection:
            cursor = connection.executemany(_UPSERT, params)
            return max(cursor.rowcount, 0)

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """See :meth:`OnlineStore.read`."""
        wanted = json.dumps([[r.view, key] for r in requests for key in r.entity_keys])
        with self._guard():
            stored = {
                (view, key): version.encode("ascii") + body
                for view, key, version, body in self._connection().execute(
                    _READ, (wanted, self.project)
                )
            }
        return [
            decode_records(r, [stored.get((r.view, key)) for key in r.entity_keys])
            for r in requests
        ]

    def delete_view(self, view: str) -> int:
        """See :meth:`OnlineStore.delete_view`."""
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM fs_online_rows WHERE project = ? AND view = ?", (self.project, view)
            )
            return int(cursor.rowcount)

    def count(self, view: str) -> int:
        """See :meth:`OnlineStore.count`."""
        with self._guard():
            (rows,) = (
                self._connection()
                .execute(
                    "SELECT count(*) FROM fs_online_rows WHERE project = ? AND view = ?",
                    (self.project, view),
                )
                .fetchone()
            )
        return int(rows)

    def ping(self) -> None:
        """See :meth:`OnlineStore.ping`."""
        with self._guard():
            self._connection().execute("SELECT 1").fetchone()

    def close(self) -> None:
        """See :meth:`OnlineStore.close`."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def log_append(self, entries: Sequence[bytes], *, maxlen: int) -> int:
        """See :meth:`OnlineStore.log_append`; when full, the newest entries are dropped."""
        if not entries:
            return 0
        with self._transaction() as connection:
            (size,) = connection.execute(
                "SELECT count(*) FROM fs_serving_log WHERE project = ?", (self.project,)
            ).fetchone()
            room: int = max(0, min(maxlen - int(size), len(entries)))
            connection.executemany(
                "INSERT INTO fs_serving_log (project, entry) VALUES (?, ?)",
                ((self.project, entry) for entry in entries[:room]),
            )
        return len(entries) - room

    def log_claim(self, max_entries: int, claim: str) -> list[bytes]:
        """See :meth:`LogBuffer.log_claim`: one transaction moves the rows to the claims."""
        with self._transaction() as connection:
            taken = connection.execute(
                "SELECT id, entry FROM fs_serving_log WHERE project = ? ORDER BY id LIMIT ?",
                (self.project, max_entries),
            ).fetchall()
            if taken:
                connection.executemany(
                    "INSERT INTO fs_serving_log_claims (project, claim, id, entry) "
                    "VALUES (?, ?, ?, ?)",
                    ((self.project, claim, row_id, entry) for row_id, entry in taken),
                )
                connection.execute(
                    "DELETE FROM fs_serving_log WHERE project = ? AND id <= ?",
                    (self.project, taken[-1][0]),
                )
        return [bytes(entry) for _, entry in taken]

    def log_claims(self) -> list[tuple[str, list[bytes]]]:
        """See :meth:`LogBuffer.log_claims`."""
        with self._transaction() as connection:
            rows = connection.execute(
                "SELECT claim, entry FROM fs_serving_log_claims WHERE project = ? "
                "ORDER BY claim, id",
                (self.project,),
            ).fetchall()
        claims: dict[str, list[bytes]] = {}
        for claim, entry in rows:
            claims.setdefault(claim, []).append(bytes(entry))
        return list(claims.items())

    def log_release(self, claim: str) -> None:
        """See :meth:`LogBuffer.log_release`."""
        with self._transaction() as connection:
            connection.execute(
                "DELETE FROM fs_serving_log_claims WHERE project = ? AND claim = ?",
                (self.project, claim),
            )
