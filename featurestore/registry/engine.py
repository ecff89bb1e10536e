"""Connecting to the registry database: engines, transactions, error translation, migrations.

SQLite and PostgreSQL must behave alike. On SQLite, SQLAlchemy emits ``BEGIN`` itself
(``BEGIN IMMEDIATE`` for writes) so a write transaction holds the database lock from its first
statement, the way ``SELECT ... FOR UPDATE`` holds the project row on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.pool import StaticPool

from featurestore._sqlite import use_wal
from featurestore.errors import (
    ConfigError,
    ConflictError,
    FeatureStoreError,
    RegistryError,
    RegistryUnavailableError,
)
from featurestore.registry.tables import VERSION_TABLE

__all__ = ["Database", "migrations_dir"]

_WRITE = "featurestore_write"
# Any fixed 64-bit key: every featurestore process serialises its migrations on it.
_MIGRATION_LOCK_KEY = 0x6673_7265_6769_7374
# Alembic installs its migration context in module globals: one migration per process at a time.
_MIGRATION_THREAD_LOCK = threading.Lock()


def migrations_dir() -> Path:
    """The Alembic script directory: ``migrations/`` at the top of the repository.

    A copy packaged as ``featurestore/migrations`` (how a wheel would ship it) wins when present.
    """
    package = Path(__file__).resolve().parents[1]
    packaged = package / "migrations"
    return packaged if (packaged / "env.py").is_file() else package.parent / "migrations"


@cache
def _script_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(migrations_dir())).get_current_head()
    if head is None:
        raise RegistryError(f"no registry migrations found in {migrations_dir()}")
    return head


@cache
def _known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory(str(migrations_dir())).walk_revisions())


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"registry URL {url!r} is not a database URL; use sqlite:///path/registry.db "
            "or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        # psycopg 3 is the driver featurestore ships with; bare postgresql:// means psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"registry URL {parsed.render_as_string(hide_password=True)!r} uses "
            f"{parsed.get_backend_name()!r}; the registry supports sqlite and postgresql"
        )
    return parsed


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _create_engine(url: URL) -> Engine:
    shown = url.render_as_string(hide_password=True)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30.0}
        if _is_memory(url):
            # One shared connection, or every pooled connection would see its own empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif url.database:
            folder = Path(url.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(
                    f"registry {shown} cannot be used: its folder {folder} cannot be created "
                    f"({exc.strerror or exc})"
                ) from None
    else:
        kwargs.update(pool_pre_ping=True, connect_args={"connect_timeout": 10})
    try:
        engine = sa.create_engine(url, **kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"the driver for registry {shown!r} is not installed ({exc.name}); "
            "run: pip install 'featurestore[postgres]'"
        ) from None
    if url.get_backend_name() == "sqlite":
        _take_over_sqlite_transactions(engine, wal=not _is_memory(url))
    return engine


def _take_over_sqlite_transactions(engine: Engine, *, wal: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            # Readers then never block the writer, nor the writer the readers.
            use_wal(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus the rules for using it: one transaction per call, errors translated.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``).
    """

    def __init__(self, url: str) -> None:
        self.url = _parse_url(url)
        self.shown_url = self.url.render_as_string(hide_password=True)
        self.engine = _create_engine(self.url)
        self.is_postgres = self.url.get_backend_name() == "postgresql"

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction, committed when the block ends without an error.

        Args:
            write: take the write lock at the start (SQLite ``BEGIN IMMEDIATE``), so two
                writers queue instead of failing when the second one upgrades its lock.

        Raises:
            ConflictError: a unique constraint refused a concurrent or repeated write.
            RegistryUnavailableError: the database cannot be reached (or is locked).
            RegistryError: the database cannot be read or written, or lacks a table or column
                this featurestore uses.
        """
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except FeatureStoreError:
            raise
        except sa.exc.IntegrityError as exc:
            raise ConflictError(
                f"a concurrent change to registry {self.shown_url} won: {_first_line(exc)}"
            ) from None
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            if _damaged(exc):
                raise RegistryError(
                    f"registry {self.shown_url} does not have the tables this featurestore "
                    f"uses (damaged, or changed by hand): {_first_line(exc)}"
                ) from None
            raise RegistryUnavailableError(
                f"registry {self.shown_url} cannot be used: {_first_line(exc)}"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise RegistryError(
                f"registry {self.shown_url} cannot be used: {_first_line(exc)}"
            ) from None

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (``alembic upgrade head``).

        Safe when several processes open a fresh database at once: on PostgreSQL they queue on an
        advisory lock, on SQLite on the database write lock, and each migrates inside that one
        transaction, so the later ones find the schema current.
        """
        head = _script_head()
        if self._revision() == head:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        with _MIGRATION_THREAD_LOCK, self.transaction(write=True) as conn:
            if self.is_postgres:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = conn
            current = self._revision(conn)
            if current is not None and current not in _known_revisions():
                raise RegistryError(
                    f"registry {self.shown_url} has schema revision {current!r}, newer than this "
                    f"featurestore knows (head {head!r}); upgrade featurestore"
                )
            command.upgrade(config, "head")

    def _revision(self, conn: Connection | None = None) -> str | None:
        from alembic.runtime.migration import MigrationContext

        if conn is None:
            with self.transaction() as own:
                return self._revision(own)
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


#: SQLite reports a missing table or column as an OperationalError, as it does a locked or
#: unreachable file; those are a damaged schema (500), not a registry that does not answer (503)
_SCHEMA_ERRORS = ("no such table", "no such column", "has no column named")


def _damaged(exc: sa.exc.SQLAlchemyError) -> bool:
    return _first_line(exc).startswith(_SCHEMA_ERRORS)


def _first_line(exc: sa.exc.SQLAlchemyError) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip()
    return detail.splitlines()[0] if detail else type(exc).__name__
