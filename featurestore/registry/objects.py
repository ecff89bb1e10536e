"""Definitions in the registry: diffing specs against what is stored, writing versions, reading.

Every function works inside a transaction it is given; the caller decides when to lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import DefinitionError, NotFoundError
from featurestore.registry.models import ObjectSpec, PlanItem, StoredObject, canonical_json
from featurestore.registry.models import spec_hash as hash_of
from featurestore.registry.tables import object_versions, objects

__all__ = ["Prepared", "diff", "get", "heads", "history", "list_current", "prepare", "write"]

_KIND_MAX, _NAME_MAX = 64, 255

Key = tuple[str, str]


@dataclass(frozen=True)
class Prepared:
    """A validated spec with its canonical JSON and hash, computed once."""

    kind: str
    name: str
    canonical: str
    spec_hash: str


@dataclass(frozen=True)
class Head:
    """The version in force of an object, whether it is currently removed, and the greatest
    version ever stored (greater than the one in force while a rollout runs its candidate)."""

    version: int
    removed: bool
    spec_hash: str
    latest: int = 0


def prepare(specs: Sequence[ObjectSpec]) -> list[Prepared]:
    """Validate specs and compute their canonical JSON.

    Raises:
        DefinitionError: a kind or name is empty or too long, a spec is not a JSON object, or one
            object appears twice.
    """
    seen: set[Key] = set()
    prepared: list[Prepared] = []
    for obj in specs:
        if not isinstance(obj, ObjectSpec):
            raise DefinitionError(f"registry specs must be ObjectSpec values, got {obj!r}")
        _check_text(obj.kind, _KIND_MAX, f"kind {obj.kind!r} of object {obj.name!r}")
        _check_text(obj.name, _NAME_MAX, f"name {obj.name!r} of a {obj.kind}")
        if not isinstance(obj.spec, dict):
            raise DefinitionError(f"the spec of {obj.label} must be a dict, got {obj.spec!r}")
        key = (obj.kind, obj.name)
        if key in seen:
            raise DefinitionError(f"{obj.label} is defined twice; names are unique per kind")
        seen.add(key)
        canonical = canonical_json(obj.spec, what=obj.label)
        prepared.append(Prepared(obj.kind, obj.name, canonical, hash_of(canonical)))
    return prepared


def _check_text(value: object, limit: int, what: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DefinitionError(f"{what} must be a non-empty string of at most {limit} characters")


def heads(conn: Connection, project: str) -> dict[Key, Head]:
    """The newest version of every object the project ever had, removed ones included."""
    v = object_versions
    query = (
        sa.select(
            objects.c.kind, objects.c.name, objects.c.version, objects.c.removed_at, v.c.spec_hash
        )
        .join(
            v,
            sa.and_(
                v.c.project == objects.c.project,
                v.c.kind == objects.c.kind,
                v.c.name == objects.c.name,
                v.c.version == objects.c.version,
            ),
        )
        .where(objects.c.project == project)
    )
    latest = {
        (row.kind, row.name): row.latest
        for row in conn.execute(
            sa.select(v.c.kind, v.c.name, sa.func.max(v.c.version).label("latest"))
            .where(v.c.project == project)
            .group_by(v.c.kind, v.c.name)
        )
    }
    return {
        (row.kind, row.name): Head(
            row.version,
            row.removed_at is not None,
            row.spec_hash,
            latest.get((row.kind, row.name), row.version),
        )
        for row in conn.execute(query)
    }


def diff(prepared: Sequence[Prepared], state: dict[Key, Head], *, partial: bool) -> list[PlanItem]:
    """The plan that turns ``state`` into ``prepared``: given specs in order, then removals."""
    items: list[PlanItem] = []
    for spec in prepared:
        head = state.get((spec.kind, spec.name))
        if head is None:
            items.append(PlanItem(spec.kind, spec.name, "add", None, 1))
        elif head.removed:
            # A re-added object continues its numbering, so an old version number is never reused.
            items.append(PlanItem(spec.kind, spec.name, "add", None, _next(head)))
        elif head.spec_hash == spec.spec_hash:
            items.append(PlanItem(spec.kind, spec.name, "unchanged", head.version, head.version))
        else:
            items.append(PlanItem(spec.kind, spec.name, "change", head.version, _next(head)))
    if not partial:
        given = {(spec.kind, spec.name) for spec in prepared}
        for key in sorted(state.keys() - given):
            head = state[key]
            if not head.removed:
                items.append(PlanItem(key[0], key[1], "remove", head.version, None))
    return items


def _next(head: Head) -> int:
    """A new version's number: never one stored before (a rollout's candidate may be newer
    than the version in force)."""
    return max(head.version, head.latest) + 1


def write(
    conn: Connection,
    project: str,
    items: Sequence[PlanItem],
    prepared: Sequence[Prepared],
    now: datetime,
) -> None:
    """Store a plan computed inside the same locked transaction."""
    by_key = {(p.kind, p.name): p for p in prepared}
    new_versions: list[dict[str, Any]] = []
    for item in items:
        key = objects.c.project == project, objects.c.kind == item.kind, objects.c.name == item.name
        if item.action == "remove":
            conn.execute(objects.update().where(*key).values(removed_at=now))
            continue
        if item.action == "unchanged":
            continue
        spec = by_key[(item.kind, item.name)]
        new_versions.append(
            {
                "project": project,
                "kind": item.kind,
                "name": item.name,
                "version": item.new_version,
                "spec": spec.canonical,
                "spec_hash": spec.spec_hash,
                "created_at": now,
            }
        )
        if item.new_version == 1:
            conn.execute(
                objects.insert().values(
                    project=project, kind=item.kind, name=item.name, version=1, removed_at=None
                )
            )
        else:
            conn.execute(
                objects.update().where(*key).values(version=item.new_version, removed_at=None)
            )
    if new_versions:
        conn.execute(object_versions.insert(), new_versions)


def _stored(row: sa.Row[Any]) -> StoredObject:
    return StoredObject(
        kind=row.kind,
        name=row.name,
        version=row.version,
        spec=json.loads(row.spec),
        spec_hash=row.spec_hash,
        created_at=row.created_at,
    )


def _versions_query(project: str) -> sa.Select[Any]:
    v = object_versions
    return sa.select(
        v.c.kind, v.c.name, v.c.version, v.c.spec, v.c.spec_hash, v.c.created_at
    ).where(v.c.project == project)


def get(conn: Connection, project: str, kind: str, name: str, version: int | None) -> StoredObject:
    """One version of an object (the current one when ``version`` is None).

    Raises:
        NotFoundError: the object is unknown, removed (asked without a version), or has no such
            version.
    """
    head = conn.execute(
        sa.select(objects.c.version, objects.c.removed_at).where(
            objects.c.project == project, objects.c.kind == kind, objects.c.name == name
        )
    ).first()
    label = f"{kind} {name!r}"
    if head is None:
        raise NotFoundError(f"{label} is not in the registry of project {project!r}")
    if version is None:
        if head.removed_at is not None:
            raise NotFoundError(
                f"{label} was removed from project {project!r}; its last version was "
                f"{head.version} (ask for version={head.version} to read it)"
            )
        version = head.version
    v = object_versions
    row = conn.execute(
        _versions_query(project).where(v.c.kind == kind, v.c.name == name, v.c.version == version)
    ).first()
    if row is None:
        raise NotFoundError(
            f"{label} has no version {version} in project {project!r} "
            f"(versions 1 to {head.version})"
        )
    return _stored(row)


def list_current(conn: Connection, project: str, kind: str | None) -> list[StoredObject]:
    """The current version of every object not removed, by kind then name."""
    v = object_versions
    query = (
        _versions_query(project)
        .join(
            objects,
            sa.and_(
                objects.c.project == v.c.project,
                objects.c.kind == v.c.kind,
                objects.c.name == v.c.name,
                objects.c.version == v.c.version,
            ),
        )
        .where(objects.c.removed_at.is_(None))
        .order_by(v.c.kind, v.c.name)
    )
    if kind is not None:
        query = query.where(v.c.kind == kind)
    return [_stored(row) for row in conn.execute(query)]


def history(conn: Connection, project: str, kind: str, name: str) -> list[StoredObject]:
    """Every version of an object, oldest first (removals leave their versions in place).

    Raises:
        NotFoundError: the object never existed in the project.
    """
    v = object_versions
    rows = conn.execute(
        _versions_query(project).where(v.c.kind == kind, v.c.name == name).order_by(v.c.version)
    ).all()
    if not rows:
        raise NotFoundError(f"{kind} {name!r} is not in the registry of project {project!r}")
    return [_stored(row) for row in rows]
