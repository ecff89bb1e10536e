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
from featurestore.registry.rollouts import keep_candidates, list_rollouts
from featurestore.registry.tables import object_versions
from featurestore.registry.tables import objects as objects_table
from featurestore.registry.tables import rollouts as rollouts_table

__all__ = ["dry_plan"]


def dry_plan(url: str, project: str, specs: Sequence[ObjectSpec], *, partial: bool) -> Plan:
    """What ``FeatureStore.apply`` would do with ``specs`` (the registry's ``apply``, after
    :func:`~featurestore.registry.rollouts.keep_candidates`), read-only.

    Raises:
        DefinitionError: a spec is invalid or an object is given twice.
        RequestError: a spec changes a view under rollout to a third definition.
        RegistryError: the database cannot be reached or read.
    """
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite" and (
        _is_memory(parsed) or not Path(parsed.database or "").expanduser().is_file()
    ):
        return _plan(specs, {}, partial)
    database = Database(url)
    try:
        with database.transaction() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if not {objects_table.name, object_versions.name} <= tables:
                return _plan(specs, {}, partial)
            if rollouts_table.name in tables:
                specs = keep_candidates(
                    specs,
                    list_rollouts(conn, project, running=True),
                    lambda view, version: objects.get(conn, project, "feature_view", view, version),
                )
            return _plan(specs, objects.heads(conn, project), partial)
    finally:
        database.close()


def _plan(
    specs: Sequence[ObjectSpec], heads: dict[objects.Key, objects.Head], partial: bool
) -> Plan:
    items = objects.diff(objects.prepare(specs), heads, partial=partial)
    return Plan(tuple(items), applied=False)
