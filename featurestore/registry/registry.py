"""``Registry``: the one entry point to the registry database for one project."""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from featurestore.errors import ConfigError, ConflictError
from featurestore.registry import alerts, manifest, objects, records
from featurestore.registry import decisions as decision_rows
from featurestore.registry import feedback as feedback_rows
from featurestore.registry.engine import Database
from featurestore.registry.manifest import BatchFile, FileEntry, RunState
from featurestore.registry.models import ObjectSpec, Plan, StoredObject
from featurestore.registry.records import ReportKind
from featurestore.registry.rollouts import RolloutRows
from featurestore.registry.tables import projects

__all__ = ["Listener", "Registry"]

logger = logging.getLogger("featurestore.registry")

Listener = Callable[[str, Mapping[str, Any]], None]
"""Called as ``listener(kind, record)`` after a report (``"skew"``, ``"drift"``,
``"performance"``), a finished ingestion run (``"ingestion"``), a retraining-policy decision
(``"policy_decision"``) or a rollout step (``"rollout"``) is committed."""


def _now() -> datetime:
    return datetime.now(UTC)


class Registry:
    """Definitions, runs and reports of one project, in SQLite or PostgreSQL.

    Opening a registry creates or upgrades its schema (Alembic ``upgrade head``). Every method is
    one transaction; database failures raise ``RegistryError`` naming the URL (never a password).
    Timestamps come back timezone-aware UTC; naive timestamps given to it are taken as UTC.

    Args:
        url: ``sqlite:///path/registry.db`` (the parent folder is created), ``sqlite://`` (in
            memory), or ``postgresql+psycopg://user@host/db``.
        project: the project name; one database can hold many projects.

    Raises:
        ConfigError: the URL or project name is invalid, or the database driver is missing.
        RegistryError: the database cannot be reached or migrated.
    """

    def __init__(self, url: str, project: str) -> None:
        if not isinstance(project, str) or not project.strip() or len(project) > 255:
            raise ConfigError(f"project name {project!r} must be a non-empty string (<= 255 chars)")
        self.project = project
        self._listeners: list[Listener] = []
        self._db = Database(url)
        try:
            self._db.upgrade()
            self._ensure_project()
        except BaseException:
            self._db.close()
            raise

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self._db.shown_url

    def __repr__(self) -> str:
        return f"Registry({self.url!r}, project={self.project!r})"

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections. The registry cannot be used afterwards."""
        self._db.close()

    def add_listener(self, listener: Listener) -> None:
        """Have ``listener`` told of every report and finished ingestion run recorded from now
        on (alerts use it). It runs after the commit, in the recording thread; whatever it
        raises is logged, never passed to the caller: the record is already stored."""
        self._listeners.append(listener)

    def _notify(self, kind: str, record: Mapping[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener(kind, record)
            except Exception:
                logger.exception("a registry listener failed on a %s record", kind)

    @property
    def rollouts(self) -> RolloutRows:
        """Rollouts of view versions (:mod:`featurestore.registry.rollouts`); each change is
        told to the listeners as a ``"rollout"`` record."""
        return RolloutRows(self._db, self.project, self._notify)

    def _ensure_project(self) -> None:
        insert = pg_insert if self._db.is_postgres else sqlite_insert
        statement = insert(projects).values(project=self.project, ingest_seq=0, created_at=_now())
        with self._db.transaction(write=True) as conn:
            conn.execute(statement.on_conflict_do_nothing(index_elements=["project"]))

    # -- definitions -------------------------------------------------------------------------------

    def plan(self, specs: Sequence[ObjectSpec], *, partial: bool = False) -> Plan:
        """What ``apply(specs, partial=partial)`` would do, without writing anything.

        Args:
            specs: the complete set of definitions (or a subset with ``partial=True``).
            partial: never plan removals of objects missing from ``specs``.

        Returns:
            A ``Plan`` with ``applied=False``.

        Raises:
            DefinitionError: a spec is invalid or an object is given twice.
        """
        prepared = objects.prepare(specs)
        with self._db.transaction() as conn:
            items = objects.diff(prepared, objects.heads(conn, self.project), partial=partial)
        return Plan(tuple(items), applied=False)

    def apply(
        self, specs: Sequence[ObjectSpec], *, partial: bool = False, dry_run: bool = False
    ) -> Plan:
        """Make the registry hold ``specs``, in one transaction.

        A changed spec gets version n+1 (older versions stay); an identical one changes nothing.
        Without ``partial``, current objects missing from ``specs`` are removed (softly: their
        history stays, and re-adding one continues its numbering). Concurrent applies queue on the
        project's lock and each plans against the state the previous one left.

        Args:
            specs: the definitions.
            partial: never remove objects missing from ``specs``.
            dry_run: only plan (same as ``plan``).

        Returns:
            The plan, with ``applied=True`` unless ``dry_run``.

        Raises:
            DefinitionError: a spec is invalid or an object is given twice.
            ConflictError: a concurrent writer broke a uniqueness rule (nothing was written).
        """
        if dry_run:
            return self.plan(specs, partial=partial)
        prepared = objects.prepare(specs)
        with self._db.transaction(write=True) as conn:
            conn.execute(
                sa.select(projects.c.project)
                .where(projects.c.project == self.project)
                .with_for_update()
            )
            items = objects.diff(prepared, objects.heads(conn, self.project), partial=partial)
            objects.write(conn, self.project, items, prepared, _now())
        return Plan(tuple(items), applied=True)

    def get(self, kind: str, name: str, version: int | None = None) -> StoredObject:
        """One version of an object; the current one by default.

        Raises:
            NotFoundError: the object is unknown, was removed (and no version was asked), or has
                no such version.
        """
        with self._db.transaction() as conn:
            return objects.get(conn, self.project, kind, name, version)

    def list(self, kind: str | None = None) -> builtins.list[StoredObject]:
        """The current version of every object not removed (of one kind if given)."""
        with self._db.transaction() as conn:
            return objects.list_current(conn, self.project, kind)

    def history(self, kind: str, name: str) -> builtins.list[StoredObject]:
        """Every version of an object, oldest first, removed ones included.

        Raises:
            NotFoundError: the object never existed.
        """
        with self._db.transaction() as conn:
            return objects.history(conn, self.project, kind, name)

    # -- ingestion runs ----------------------------------------------------------------------------

    def begin_ingestion(
        self, view: str, source: str | os.PathLike[str], *, owner: str | None = None
    ) -> tuple[str, int]:
        """Open an ingestion run.

        Args:
            view: the view ingested into.
            source: where the rows come from (a path, a query, ``"push:<source>"``...).
            owner: ``host:pid`` of the ingesting process (a sweep knows a dead run by it).

        Returns:
            ``(run_id, seq)``: a UUID4 hex id, and a number strictly greater than every earlier
            run's in the project (rows ingested later sort after rows ingested earlier).
        """
        with self._db.transaction(write=True) as conn:
            return records.begin_ingestion(conn, self.project, view, source, _now(), owner)

    def finish_ingestion(self, run_id: str, report: Mapping[str, Any]) -> None:
        """Close a run with its report (``IngestReport.to_dict()``, JSON-ready).

        Raises:
            NotFoundError: no such run.
            ConflictError: the run is already finished.
        """
        with self._db.transaction(write=True) as conn:
            records.finish_ingestion(conn, self.project, run_id, report, _now())
        self._notify("ingestion", report)

    def commit_ingestion(
        self,
        run_id: str,
        report: Mapping[str, Any],
        files: Sequence[FileEntry],
        *,
        content_hash: str | None = None,
        check_duplicate: bool = False,
    ) -> str | None:
        """Make a batch visible: list its files and close its run, in one transaction.

        Args:
            check_duplicate: skip the commit when a committed batch of the same view has the same
                ``content_hash`` (checked inside the transaction, so two racing ingests of one
                file cannot both commit).

        Returns:
            None when committed, else the run id of the batch this one duplicates (the run is
            then still open: close it with ``finish_ingestion``).
        """
        with self._db.transaction(write=True) as conn:
            duplicate = manifest.commit_ingestion(
                conn,
                self.project,
                run_id,
                report,
                files,
                content_hash=content_hash,
                check_duplicate=check_duplicate,
                now=_now(),
            )
        if duplicate is None:
            self._notify("ingestion", report)
        return duplicate

    def find_duplicate(self, view: str, content_hash: str) -> str | None:
        """The run id of a committed, visible batch of ``view`` with this content, or None."""
        with self._db.transaction() as conn:
            return manifest.find_duplicate(conn, self.project, view, content_hash)

    def committed_files(
        self, view: str, kind: str = "rows", *, upto: int | None = None
    ) -> tuple[builtins.list[BatchFile], int]:
        """Files of ``view``'s committed batches and the project's last commit number, read as
        one snapshot; ``upto`` keeps batches committed at or before that number."""
        with self._db.transaction() as conn:
            return manifest.committed_files(conn, self.project, view, kind, upto)

    def view_buckets(self, view: str, default: int | None = None) -> int:
        """How many key buckets ``view``'s offline rows use; the first call with ``default``
        (the view's first ingestion) fixes it (see ``manifest.view_buckets``)."""
        try:
            with self._db.transaction(write=default is not None) as conn:
                return manifest.view_buckets(conn, self.project, view, default, _now())
        except ConflictError:  # another process fixed it first: take its number
            with self._db.transaction() as conn:
                return manifest.view_buckets(conn, self.project, view, None, _now())

    def last_commit(self) -> int:
        """The project's last commit number (0 before any batch committed)."""
        with self._db.transaction() as conn:
            return manifest.last_commit(conn, self.project)

    def run_states(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        """Commit state, owner and start time of the known runs among ``run_ids``."""
        with self._db.transaction() as conn:
            return manifest.run_states(conn, self.project, run_ids)

    def ingestion_reports(
        self, view: str | None = None, limit: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Reports of finished ingestion runs, newest first, exactly as they were given."""
        with self._db.transaction() as conn:
            return records.ingestion_reports(conn, self.project, view, limit)

    # -- materialization ---------------------------------------------------------------------------

    def watermark(self, view: str) -> datetime | None:
        """How far ``view`` is materialized: the greatest recorded ``end``, or None."""
        with self._db.transaction() as conn:
            return records.watermark(conn, self.project, view)

    def materialization_seqs(self, view: str) -> dict[datetime, int]:
        """Each materialization end of ``view`` and the last ingestion seq that run saw.

        The skew check uses it to recompute a windowed aggregate exactly as that run did.
        """
        with self._db.transaction() as conn:
            return records.materialization_seqs(conn, self.project, view)

    def materialized_seq(self, view: str) -> int | None:
        """The greatest ingestion seq (run number) a materialization of ``view`` has seen."""
        with self._db.transaction() as conn:
            return records.materialized_seq(conn, self.project, view)

    def materialized_version(self, view: str) -> int | None:
        """The view version the latest materialization of ``view`` computed with, or None."""
        with self._db.transaction() as conn:
            return records.materialized_version(conn, self.project, view)

    def materialized_state(self, view: str) -> records.MaterializedState:
        """``view``'s materialized version, watermark and greatest seen seq, read together."""
        with self._db.transaction() as conn:
            return records.materialized_state(conn, self.project, view)

    def record_materialization(
        self,
        view: str,
        start: datetime | None,
        end: datetime,
        rows: int,
        *,
        last_seq: int | None = None,
        view_version: int | None = None,
    ) -> None:
        """Record a materialization run; the watermark only ever moves forward.

        ``last_seq`` is the greatest ingestion run seq the run saw, so a later incremental run
        can pick up rows ingested since, whatever their timestamps.

        Raises:
            RequestError: ``start`` is after ``end`` or ``rows`` is negative.
        """
        with self._db.transaction(write=True) as conn:
            records.record_materialization(
                conn, self.project, view, start, end, rows, _now(), last_seq, view_version
            )

    # -- saved training frames ---------------------------------------------------------------------

    def save_dataset(
        self,
        name: str,
        *,
        path: str,
        spine_hash: str,
        feature_refs: Mapping[str, int],
        rows: int,
        overwrite: bool = False,
        lineage: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a saved training frame and its lineage.

        Args:
            name: the dataset name (unique in the project).
            path: where the frame is stored.
            spine_hash: the hash of the spine it was built from.
            feature_refs: ``{"view:feature": view_version}`` for every feature in it.
            rows: its row count.
            overwrite: replace a dataset of the same name instead of refusing.
            lineage: how to recompute it (features, versions, snapshot, options; JSON-ready).

        Raises:
            ConflictError: the name is taken and ``overwrite`` is False.
        """
        values = {
            "path": path,
            "spine_hash": spine_hash,
            "feature_refs": feature_refs,
            "rows": rows,
            "lineage": None if lineage is None else dict(lineage),
        }
        with self._db.transaction(write=True) as conn:
            records.save_dataset(conn, self.project, name, values, overwrite=overwrite, now=_now())

    def get_dataset(self, name: str) -> dict[str, Any]:
        """``{name, path, spine_hash, feature_refs, rows, created_at, lineage}`` of a saved frame.

        Raises:
            NotFoundError: no dataset of that name.
        """
        with self._db.transaction() as conn:
            return records.get_dataset(conn, self.project, name)

    def list_datasets(self) -> builtins.list[dict[str, Any]]:
        """Every saved training frame (shaped like ``get_dataset``), by name."""
        with self._db.transaction() as conn:
            return records.list_datasets(conn, self.project)

    # -- serving log, reports, feedback ------------------------------------------------------------

    def record_log_flush(
        self, path: str, rows: int, first_ts: datetime | None, last_ts: datetime | None
    ) -> None:
        """Record one flush of the serving log (``first_ts``/``last_ts``: its time span)."""
        with self._db.transaction(write=True) as conn:
            records.record_log_flush(conn, self.project, path, rows, first_ts, last_ts, _now())

    def log_flushes(self) -> builtins.list[dict[str, Any]]:
        """``{path, rows, first_ts, last_ts, flushed_at}`` of every flush, oldest first."""
        with self._db.transaction() as conn:
            return records.list_log_flushes(conn, self.project)

    def add_report(self, kind: ReportKind, report: Mapping[str, Any]) -> int:
        """Store a ``"skew"``, ``"drift"``, ``"performance"`` or ``"feedback_loop"`` report (its ``to_dict()``).

        Returns:
            The report's id (increasing in the order reports are added).
        """
        with self._db.transaction(write=True) as conn:
            report_id = records.add_report(conn, self.project, kind, report, _now())
        self._notify(kind, report)
        return report_id

    def reports(self, kind: ReportKind, limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """Reports of one kind, newest first, exactly as they were given."""
        with self._db.transaction() as conn:
            return records.list_reports(conn, self.project, kind, limit)

    def report_history(
        self, kind: ReportKind, limit: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Reports of one kind, newest first, as ``{id, recorded_at, report}`` (for charts over
        time: a drift report carries no time of its own)."""
        with self._db.transaction() as conn:
            return records.report_history(conn, self.project, kind, limit)

    def add_feedback(
        self, rows: Sequence[Mapping[str, Any]], *, max_future: timedelta | None = None
    ) -> int:
        """Store feedback rows ``{request_id, prediction?, label?, timestamp?, group?}``, all or none.

        Args:
            rows: the rows.
            max_future: refuse timestamps later than now plus this.

        Returns:
            The number of rows stored.

        Raises:
            RequestError: a row is malformed.
            ConflictError: a request id is repeated in ``rows`` or already has feedback.
        """
        now = _now()
        latest = None if max_future is None else now + max_future
        with self._db.transaction(write=True) as conn:
            return feedback_rows.add_feedback(conn, self.project, rows, now, latest)

    def feedback(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Feedback rows with ``since <= timestamp < until``, oldest first.

        Returns:
            A list of ``{request_id, prediction, label, timestamp, group}`` dicts; prediction and
            label keep their JSON type, timestamp is timezone-aware UTC.
        """
        with self._db.transaction() as conn:
            return feedback_rows.list_feedback(conn, self.project, since, until)

    def first_prediction_at(self, since: datetime) -> datetime | None:
        """When the first prediction at or after ``since`` was made (the control group aside)."""
        with self._db.transaction() as conn:
            return feedback_rows.first_prediction_at(conn, self.project, since)

    # -- retraining-policy decisions ---------------------------------------------------------------

    def record_decision(
        self,
        policy: str,
        at: datetime,
        decide: Callable[[datetime | None], Mapping[str, Any]],
    ) -> Mapping[str, Any]:
        """Decide and record one evaluation of ``policy`` at ``at``, in one locked transaction.

        ``decide`` gets the time ``policy`` last decided to retrain (at or before ``at``; None if
        never) and returns the decision (``policy``, ``policy_version``, ``evaluated_at``,
        ``retrain`` and anything else JSON-ready). Decisions of one project queue on its lock, so
        two servers evaluating at once never both see "no retrain yet" and both fire.

        Returns:
            What ``decide`` returned.
        """
        with self._db.transaction(write=True) as conn:
            conn.execute(
                sa.select(projects.c.project)
                .where(projects.c.project == self.project)
                .with_for_update()
            )
            decision = decide(decision_rows.last_retrain(conn, self.project, policy, at))
            decision_rows.add_decision(conn, self.project, decision, _now())
        self._notify("policy_decision", decision)
        return decision

    def decisions(
        self,
        policy: str | None = None,
        *,
        retrain: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Recorded policy decisions, newest first, exactly as they were recorded.

        Args:
            policy: only this policy's.
            retrain: only those that did (True) or did not (False) decide to retrain.
            since: only those evaluated at or after.
            until: only those evaluated before.
            limit: at most this many.
        """
        with self._db.transaction() as conn:
            return decision_rows.list_decisions(
                conn,
                self.project,
                policy=policy,
                retrain=retrain,
                since=since,
                until=until,
                limit=limit,
            )

    # -- alert deliveries ----------------------------------------------------------------------------

    def enqueue_alerts(self, rows: Sequence[Mapping[str, Any]]) -> builtins.list[int]:
        """Add alert deliveries ``{event, url, payload}``, due now; returns their ids."""
        with self._db.transaction(write=True) as conn:
            return alerts.enqueue(conn, self.project, rows, _now())

    def claim_alerts(self, *, lease: timedelta, limit: int = 20) -> builtins.list[dict[str, Any]]:
        """Claim due deliveries for one worker for ``lease`` (``{id, event, url, payload,
        attempts}``); two workers never hold the same one."""
        with self._db.transaction(write=True) as conn:
            return alerts.claim(conn, self.project, _now(), lease, limit, self._db.is_postgres)

    def record_alert_attempt(
        self,
        delivery: int,
        *,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record one attempt of a delivery: delivered, to retry at ``retry_at``, or failed."""
        with self._db.transaction(write=True) as conn:
            alerts.record_attempt(
                conn,
                self.project,
                delivery,
                now=_now(),
                delivered=delivered,
                status_code=status_code,
                error=error,
                retry_at=retry_at,
            )

    def alert_deliveries(
        self, status: str | None = None, limit: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every alert delivery (of one status), newest first: ``{id, event, url, status,
        attempts, last_status, last_error, created_at, next_attempt_at, delivered_at, payload}``."""
        with self._db.transaction() as conn:
            return alerts.list_deliveries(conn, self.project, status, limit)
