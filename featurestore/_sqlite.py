"""SQLite details shared by the embedded registry and the embedded online store."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["use_wal"]


def use_wal(dbapi_connection: Any, patience: float = 30.0) -> None:
    """Switch a SQLite database to WAL, waiting out other processes doing the same.

    The mode is stored in the file, so only the first connection ever changes it; switching needs
    an exclusive lock, and SQLite answers "database is locked" at once (not after its busy
    timeout) when another process holds one, e.g. while migrating a fresh registry.
    """
    import sqlite3

    deadline = time.monotonic() + patience
    while True:
        try:
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
