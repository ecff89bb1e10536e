"""A plan against a registry that may not exist yet, writing nothing anywhere.

Opening a :class:`~featurestore.registry.Registry` migrates its schema and records the project;
``apply --dry-run`` must do neither (nor create a SQLite file or its folder). A database that
lacks the tables, or a SQLite file that does not exist, holds no definitions: everything is
planned as an addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from featurestore.registry import objects
from featurestore.registry.engine import Database, _is_memory, _parse_url
from featurestore.registry.models import ObjectSpec, Plan
from featurestore.registry.tables import object_versions
from featurestore.registry.tables import objects as objects_table

__all__ = ["dry_plan"]


def dry_plan(url: str, project: str, specs: Sequence[ObjectSpec], *, partial: bool) -> Plan:
    """What ``Registry(url, project).apply(specs, partial=partial)`` would do, read-only.

    Raises:
        DefinitionError: a spec is invalid or an object is given twice.
        RegistryError: the database cannot be reached or read.
    """
    prepared = objects.prepare(specs)
    return Plan(tuple(objects.diff(prepared, _heads(url, project), partial=partial)), applied=False)


def _heads(url: str, project: str) -> dict[objects.Key, objects.Head]:
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        _is_memory(parsed) or not Path(parsed.database or "").expanduser().is_file()
    ):
        return {}
    database = Database(url)
    try:
        with database.transaction() as conn:
            tables = {objects_table.name, object_versions.name}
            if not tables <= set(sa.inspect(conn).get_table_names()):
                return {}
            return objects.heads(conn, project)
    finally:
        database.close()
