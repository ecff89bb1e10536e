"""The manifest: which offline files belong to committed batches.

A batch's files are written first and listed here afterwards, in the same transaction that closes
its run (``commit_ingestion``). Readers take their file lists from here only, so a file of a run
that never committed (a crash, a ``kill -9``) is invisible; :func:`run_states` tells a sweep which
run folders may go. Every commit takes the next number of the project's counter
(``commit_seq``): a saved training frame records the last one it saw and is reproduced from
exactly those batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import ConflictError, NotFoundError
from featurestore.registry.records import dump_json
from featurestore.registry.tables import batch_files, ingestion_runs, projects, view_layouts

__all__ = [
    "DATA_STATUSES",
    "BatchFile",
    "FileEntry",
    "RunState",
    "commit_ingestion",
    "committed_files",
    "find_duplicate",
    "last_commit",
    "run_states",
    "view_buckets",
]

#: statuses of runs whose rows are visible (a duplicate of one of these is skipped)
DATA_STATUSES = ("ok", "quarantined", "warned")


@dataclass(frozen=True)
class BatchFile:
    """One file of a batch.

    Attributes:
        path: relative to the project's offline root (``views/<view>/run-.../...parquet``).
        kind: ``"rows"`` (validated source rows) or ``"quarantine"``.
        rows: its row count.
        bucket: the key bucket its rows belong to (0 when the view is not bucketed).
        commit_seq: the commit that made it visible (set when read back).
    """

    path: str
    kind: str
    rows: int
    bucket: int = 0
    run_id: str = ""
    commit_seq: int = 0


class FileEntry(Protocol):
    """What a commit lists of a file (the offline store's ``StoredFile`` is one)."""

    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def rows(self) -> int: ...
    @property
    def bucket(self) -> int: ...


@dataclass(frozen=True)
class RunState:
    """What a sweep needs to know about a run folder's run."""

    committed: bool
    finished: bool
    owner: str | None
    started_at: datetime
    source: str


def _next_seq(conn: Connection, project: str) -> int:
    # The UPDATE takes the project row's lock on PostgreSQL (SQLite holds its write lock already),
    # so commits are serialised and commit numbers follow commit order.
    conn.execute(
        projects.update()
        .where(projects.c.project == project)
        .values(ingest_seq=projects.c.ingest_seq + 1)
    )
    return int(
        conn.execute(
            sa.select(projects.c.ingest_seq).where(projects.c.project == project)
        ).scalar_one()
    )


def find_duplicate(conn: Connection, project: str, view: str, content_hash: str) -> str | None:
    """The run id of a committed batch of ``view`` whose rows are visible and whose content
    hash is ``content_hash``, or None."""
    r = ingestion_runs
    rows = conn.execute(
        sa.select(r.c.run_id, r.c.report)
        .where(
            r.c.project == project,
            r.c.view == view,
            r.c.content_hash == content_hash,
            r.c.commit_seq.is_not(None),
        )
        .order_by(r.c.commit_seq)
    )
    for run_id, report in rows:
        if report and json.loads(report).get("status") in DATA_STATUSES:
            return str(run_id)
    return None


def commit_ingestion(
    conn: Connection,
    project: str,
    run_id: str,
    report: Mapping[str, Any],
    files: Sequence[FileEntry],
    *,
    content_hash: str | None,
    check_duplicate: bool,
    now: datetime,
) -> str | None:
    """Make a batch visible: list its files and close its run, in the caller's transaction.

    Args:
        check_duplicate: first look for a committed batch of the same view with the same content;
            if there is one, nothing is written and its run id is returned.

    Returns:
        None when committed, else the run id of the batch this one duplicates.

    Raises:
        NotFoundError: no such run.
        ConflictError: the run is already finished.
    """
    commit = _next_seq(conn, project)  # first: it serialises concurrent commits
    where = (ingestion_runs.c.project == project, ingestion_runs.c.run_id == run_id)
    row = conn.execute(
        sa.select(ingestion_runs.c.view, ingestion_runs.c.finished_at).where(*where)
    ).first()
    if row is None:
        raise NotFoundError(f"ingestion run {run_id!r} is not in project {project!r}")
    if row.finished_at is not None:
        raise ConflictError(f"ingestion run {run_id!r} is already finished")
    if check_duplicate and content_hash is not None:
        earlier = find_duplicate(conn, project, row.view, content_hash)
        if earlier is not None:
            return earlier
    if files:
        conn.execute(
            batch_files.insert(),
            [
                {
                    "project": project,
                    "view": row.view,
                    "run_id": run_id,
                    "kind": f.kind,
                    "path": f.path,
                    "bucket": f.bucket,
                    "rows": f.rows,
                }
                for f in files
            ],
        )
    text = dump_json(dict(report), what=f"the report of ingestion run {run_id!r}")
    conn.execute(
        ingestion_runs.update()
        .where(*where)
        .values(finished_at=now, report=text, commit_seq=commit, content_hash=content_hash)
    )
    return None


def committed_files(
    conn: Connection, project: str, view: str, kind: str, upto: int | None = None
) -> tuple[list[BatchFile], int]:
    """The files of ``view``'s committed batches (oldest commit first) and the project's last
    commit number, read in one transaction (a consistent snapshot).

    Args:
        upto: only batches committed at or before this commit number (a saved frame's snapshot).
    """
    f, r = batch_files, ingestion_runs
    query = (
        sa.select(f.c.path, f.c.kind, f.c.rows, f.c.bucket, f.c.run_id, r.c.commit_seq)
        .join(r, r.c.run_id == f.c.run_id)
        .where(f.c.project == project, f.c.view == view, f.c.kind == kind)
        .order_by(r.c.commit_seq, f.c.id)
    )
    if upto is not None:
        query = query.where(r.c.commit_seq <= upto)
    files = [
        BatchFile(
            path=row.path,
            kind=row.kind,
            rows=int(row.rows),
            bucket=int(row.bucket),
            run_id=row.run_id,
            commit_seq=int(row.commit_seq),
        )
        for row in conn.execute(query)
    ]
    return files, last_commit(conn, project)


def last_commit(conn: Connection, project: str) -> int:
    """The greatest commit number of the project (0 before the first commit)."""
    r = ingestion_runs
    value = conn.execute(
        sa.select(sa.func.max(r.c.commit_seq)).where(r.c.project == project)
    ).scalar_one()
    return int(value or 0)


def run_states(conn: Connection, project: str, run_ids: Iterable[str]) -> dict[str, RunState]:
    """The state of each known run among ``run_ids`` (unknown ids are left out)."""
    ids = list(run_ids)
    r = ingestion_runs
    out: dict[str, RunState] = {}
    for offset in range(0, len(ids), 500):
        query = sa.select(
            r.c.run_id, r.c.commit_seq, r.c.finished_at, r.c.owner, r.c.started_at, r.c.source
        )
        query = query.where(r.c.project == project, r.c.run_id.in_(ids[offset : offset + 500]))
        for row in conn.execute(query):
            out[row.run_id] = RunState(
                committed=row.commit_seq is not None,
                finished=row.finished_at is not None,
                owner=row.owner,
                started_at=row.started_at,
                source=row.source,
            )
    return out


def view_buckets(
    conn: Connection, project: str, view: str, default: int | None, now: datetime
) -> int:
    """The number of key buckets of ``view``'s offline rows.

    The first call with a ``default`` (the first ingestion) records it; later calls get the
    recorded number whatever they pass, so a view's layout never changes under its files. A view
    with committed files but no record was written before buckets existed: one bucket. Without a
    record and without ``default``, 1 (a view with no rows yet).
    """
    query = sa.select(view_layouts.c.buckets).where(
        view_layouts.c.project == project, view_layouts.c.view == view
    )
    found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return int(found)
    if default is None:
        return 1
    legacy = conn.execute(
        sa.select(batch_files.c.id)
        .where(batch_files.c.project == project, batch_files.c.view == view)
        .limit(1)
    ).first()
    buckets = 1 if legacy is not None else int(default)
    conn.execute(
        view_layouts.insert().values(project=project, view=view, buckets=buckets, created_at=now)
    )
    return buckets
