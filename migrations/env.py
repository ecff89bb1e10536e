"""Alembic environment of the registry schema.

``Registry`` runs ``upgrade head`` itself, handing over a connection that is already inside its
(locked) transaction through ``config.attributes["connection"]``. The Alembic command line works
too: ``alembic -c /dev/null -x url=sqlite:///registry.db upgrade head`` with
``script_location`` pointing here, or ``sqlalchemy.url`` set in an ini file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from featurestore.registry.tables import VERSION_TABLE, metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the registry URL: alembic -x url=... or sqlalchemy.url")
    return url


def run_offline() -> None:
    """Write the migration SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(), target_metadata=metadata, version_table=VERSION_TABLE, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the given connection, or through a new one to the given URL."""
    given = config.attributes.get("connection")
    if given is not None:
        context.configure(connection=given, target_metadata=metadata, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(_url())
    try:
        with engine.connect() as conn:
            context.configure(
                connection=conn, target_metadata=metadata, version_table=VERSION_TABLE
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
