"""Rollouts in the registry: one row per rollout of a view version, and every step it took.

A rollout runs (``shadow`` or ``canary``) until it is promoted or aborted; at most one rollout
of a view runs at a time, which :class:`RolloutRows` checks under the project's lock. Changing
the version in force of a view (start moving it back to the baseline, promote moving it to the
candidate) happens in the same transaction as the rollout row, so a reader never sees one
without the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import ConflictError, NotFoundError, RequestError
from featurestore.registry.engine import Database
from featurestore.registry.models import ObjectSpec, StoredObject, canonical_json, spec_hash
from featurestore.registry.tables import object_versions, objects, projects
from featurestore.registry.tables import rollouts as table

__all__ = ["RolloutRecord", "RolloutRows", "keep_candidates", "list_rollouts"]

RUNNING, PROMOTED, ABORTED = "running", "promoted", "aborted"


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout as stored.

    Attributes:
        id: its number (increasing per database).
        view: the feature view rolled out.
        baseline_version: the version in force when it started (served outside the canary).
        candidate_version: the version rolled out.
        stage: ``"shadow"`` or ``"canary"`` (the last stage, once ended).
        fraction: the canary's share of entities (by key hash).
        sample: the share of requests the shadow computes the candidate for.
        status: ``"running"``, ``"promoted"`` or ``"aborted"``.
        started_at, updated_at, ended_at: when it started, last changed, ended (None: running).
        steps: every step, ``{step, fraction, sample, at}`` (step: the stage, or promote/abort), oldest first.
    """

    id: int
    view: str
    baseline_version: int
    candidate_version: int
    stage: str
    fraction: float
    sample: float
    status: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    steps: tuple[Mapping[str, Any], ...]

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def candidate(self) -> int:
        """The candidate version (``candidate_version``)."""
        return self.candidate_version

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "view": self.view,
            "baseline_version": self.baseline_version,
            "candidate_version": self.candidate_version,
            "stage": self.stage,
            "fraction": self.fraction,
            "sample": self.sample,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "steps": [dict(s) for s in self.steps],
        }


def _record(row: sa.Row[Any]) -> RolloutRecord:
    return RolloutRecord(
        id=row.id,
        view=row.view,
        baseline_version=row.baseline_version,
        candidate_version=row.candidate_version,
        stage=row.stage,
        fraction=row.fraction,
        sample=row.sample,
        status=row.status,
        started_at=row.started_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        steps=tuple(json.loads(row.steps)),
    )


def list_rollouts(
    conn: Connection, project: str, view: str | None = None, *, running: bool | None = None
) -> list[RolloutRecord]:
    """``project``'s rollouts read on ``conn``, newest first (of one view; only running or
    only ended ones): :meth:`RolloutRows.list`, and the dry run's read-only connection."""
    query = sa.select(table).where(table.c.project == project)
    if view is not None:
        query = query.where(table.c.view == view)
    if running is not None:
        query = query.where(table.c.status == RUNNING if running else table.c.status != RUNNING)
    return [_record(r) for r in conn.execute(query.order_by(table.c.id.desc()))]


def keep_candidates(
    specs: Sequence[ObjectSpec],
    running: Sequence[RolloutRecord],
    stored: Callable[[str, int], StoredObject],
) -> list[ObjectSpec]:
    """``apply``'s specs with each view whose running rollout's candidate they equal put back
    to its baseline: the candidate stays a candidate until promoted. ``apply`` and
    ``apply --dry-run`` (which reads the registry without opening it) both plan with this.

    Args:
        specs: the specs to apply.
        running: the running rollouts.
        stored: (view, version) -> that stored version of the feature view.

    Raises:
        RequestError: a spec changes a view under rollout to a third definition.
    """
    by_view = {r.view: r for r in running}
    if not by_view:
        return list(specs)
    out = []
    for spec in specs:
        record = by_view.get(spec.name) if spec.kind == "feature_view" else None
        if record is None:
            out.append(spec)
            continue
        baseline = stored(spec.name, record.baseline_version)
        given = spec_hash(canonical_json(spec.spec, what=spec.name))
        if given == baseline.spec_hash:
            out.append(spec)
        elif given == stored(spec.name, record.candidate).spec_hash:
            out.append(ObjectSpec(spec.kind, spec.name, baseline.spec))
        else:
            raise RequestError(
                f"view {spec.name!r} is rolling out version {record.candidate}; promote or "
                "abort the rollout before applying another change to it"
            )
    return out


def _step(name: str, fraction: float, sample: float, at: datetime) -> dict[str, Any]:
    return {"step": name, "fraction": fraction, "sample": sample, "at": at.isoformat()}


class RolloutRows:
    """The rollouts of one project (``Registry.rollouts``).

    Args:
        db: the registry database.
        project: the project.
        notify: called with ``("rollout", record.to_dict() | {"action": ...})`` after each
            committed change (alerts listen).
    """

    def __init__(
        self, db: Database, project: str, notify: Callable[[str, Mapping[str, Any]], None]
    ) -> None:
        self._db = db
        self._project = project
        self._notify = notify

    def _lock(self, conn: Connection) -> None:
        conn.execute(
            sa.select(projects.c.project)
            .where(projects.c.project == self._project)
            .with_for_update()
        )

    def _query(self) -> sa.Select[Any]:
        return sa.select(table).where(table.c.project == self._project)

    def list(self, view: str | None = None, *, running: bool | None = None) -> list[RolloutRecord]:
        """Rollouts, newest first (of one view; only running or only ended ones)."""
        with self._db.transaction() as conn:
            return list_rollouts(conn, self._project, view, running=running)

    def get(self, rollout_id: int) -> RolloutRecord:
        """One rollout by id.

        Raises:
            NotFoundError: no such rollout.
        """
        with self._db.transaction() as conn:
            row = conn.execute(self._query().where(table.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id} in project {self._project!r}")
        return _record(row)

    def running(self, view: str) -> RolloutRecord:
        """The running rollout of ``view``.

        Raises:
            NotFoundError: none runs.
        """
        found = self.list(view, running=True)
        if not found:
            raise NotFoundError(f"no rollout of view {view!r} is running")
        return found[0]

    def start(
        self,
        view: str,
        *,
        baseline: int,
        candidate: int,
        stage: str,
        fraction: float,
        sample: float,
        now: datetime,
    ) -> RolloutRecord:
        """Start a rollout, or move the running one of ``view`` (same candidate) to ``stage``.

        The view's version in force becomes ``baseline`` in the same transaction.

        Raises:
            ConflictError: another candidate of ``view`` is already rolling out.
        """
        with self._db.transaction(write=True) as conn:
            self._lock(conn)
            row = conn.execute(
                self._query().where(table.c.view == view, table.c.status == RUNNING)
            ).first()
            if row is not None and row.candidate_version != candidate:
                raise ConflictError(
                    f"view {view!r} is already rolling out version {row.candidate_version}; "
                    "promote or abort it first"
                )
            _set_in_force(conn, self._project, view, baseline)
            step = _step(stage, fraction, sample, now)
            if row is None:
                inserted = conn.execute(
                    table.insert().values(
                        project=self._project,
                        view=view,
                        baseline_version=baseline,
                        candidate_version=candidate,
                        stage=stage,
                        fraction=fraction,
                        sample=sample,
                        status=RUNNING,
                        started_at=now,
                        updated_at=now,
                        ended_at=None,
                        steps=json.dumps([step]),
                    )
                ).inserted_primary_key
                assert inserted is not None
                rollout_id = inserted[0]
            else:
                rollout_id = row.id
                conn.execute(
                    table.update()
                    .where(table.c.id == row.id)
                    .values(
                        stage=stage,
                        fraction=fraction,
                        sample=sample,
                        updated_at=now,
                        steps=json.dumps([*json.loads(row.steps), step]),
                    )
                )
        record = self.get(int(rollout_id))
        self._notify("rollout", record.to_dict() | {"action": stage})
        return record

    def end(self, view: str, *, promote: bool, now: datetime) -> RolloutRecord:
        """Promote (the candidate becomes the version in force) or abort (the baseline stays)
        the running rollout of ``view``.

        Raises:
            NotFoundError: none runs.
        """
        action = PROMOTED if promote else ABORTED
        with self._db.transaction(write=True) as conn:
            self._lock(conn)
            row = conn.execute(
                self._query().where(table.c.view == view, table.c.status == RUNNING)
            ).first()
            if row is None:
                raise NotFoundError(f"no rollout of view {view!r} is running")
            version = row.candidate_version if promote else row.baseline_version
            _set_in_force(conn, self._project, view, version)
            conn.execute(
                table.update()
                .where(table.c.id == row.id)
                .values(
                    status=action,
                    updated_at=now,
                    ended_at=now,
                    steps=json.dumps(
                        [*json.loads(row.steps), _step(action, row.fraction, row.sample, now)]
                    ),
                )
            )
        record = self.get(int(row.id))
        self._notify("rollout", record.to_dict() | {"action": action})
        return record


def _set_in_force(conn: Connection, project: str, view: str, version: int) -> None:
    """Make ``version`` (a stored version) the version in force of feature view ``view``."""
    exists = conn.execute(
        sa.select(object_versions.c.version).where(
            object_versions.c.project == project,
            object_versions.c.kind == "feature_view",
            object_versions.c.name == view,
            object_versions.c.version == version,
        )
    ).first()
    if exists is None:
        raise NotFoundError(f"feature view {view!r} has no version {version}")
    conn.execute(
        objects.update()
        .where(
            objects.c.project == project,
            objects.c.kind == "feature_view",
            objects.c.name == view,
        )
        .values(version=version)
    )


def now_utc() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)
