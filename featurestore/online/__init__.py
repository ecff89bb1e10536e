"""Online stores: the latest feature values per entity, read by serving in one round trip.

``open_online_store(url, project)`` picks the implementation from the URL:

- ``sqlite:///path/online.db`` (the embedded default; a relative path is relative to the repo),
  ``sqlite:////absolute/path.db`` or ``sqlite:///:memory:``;
- ``redis://host:port/db`` (or ``rediss://``) for a standalone Redis;
- ``redis+cluster://host:port`` for a Redis Cluster (any node).
"""

from __future__ import annotations

import re
from pathlib import Path

from featurestore.errors import ConfigError
from featurestore.online.base import (
    Column,
    LogBuffer,
    OnlineBackend,
    OnlineStore,
    ReadRequest,
    ReadResult,
)
from featurestore.online.encoding import pack_value, unpack_value
from featurestore.online.keys import (
    WINDOW_SUFFIX,
    encode_entity_keys,
    entity_namespace,
    window_record,
)
from featurestore.online.records import Selection

__all__ = [
    "WINDOW_SUFFIX",
    "Column",
    "LogBuffer",
    "OnlineBackend",
    "OnlineStore",
    "ReadRequest",
    "ReadResult",
    "Selection",
    "encode_entity_keys",
    "entity_namespace",
    "open_online_store",
    "pack_value",
    "unpack_value",
    "window_record",
]

# Project names go inside Redis hash tags and key patterns: no braces, globs or separators.
_PROJECT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")


def open_online_store(url: str, project: str, *, repo_path: Path | None = None) -> OnlineBackend:
    """Open the online store a URL names.

    Args:
        url: ``sqlite:///path``, ``redis://host:port/db`` or ``redis+cluster://host:port``.
        project: the project name; every key and row is scoped to it.
        repo_path: the folder a relative SQLite path is resolved against (default: the
            current directory).

    Returns:
        The store. Nothing is contacted yet for Redis, so opening never fails on a server that
        is down; the first call raises ``StoreUnavailableError`` instead.

    Raises:
        ConfigError: an unsupported URL or an invalid project name.
    """
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"The project name {project!r} cannot name online keys: use letters, digits, '_', "
            "'.' and '-'."
        )
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from featurestore.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(_sqlite_path(url, repo_path), project, url=url)
    if scheme in _REDIS_SCHEMES:
        from featurestore.online.redis import RedisOnlineStore

        return RedisOnlineStore(url, project)
    raise ConfigError(
        f"The online_store URL {url!r} is not supported: use sqlite:///path/online.db, "
        "redis://host:port/db or redis+cluster://host:port."
    )


def _sqlite_path(url: str, repo_path: Path | None) -> str | Path:
    rest = url.split("://", 1)[1]
    if rest in ("", "/", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/"):
        raise ConfigError(
            f"The online_store URL {url!r} has a host; write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )
    path = Path(rest[1:])
    if not path.is_absolute():
        path = (repo_path or Path.cwd()) / path
    return path
