"""What the registry records besides definitions: runs, watermarks, datasets, logs, reports.

Every function works inside a transaction it is given. JSON documents (reports) come back exactly
as they were stored; registry-made dicts (datasets, flushes) carry timezone-aware UTC datetimes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal, NamedTuple, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import ConflictError, NotFoundError, RequestError
from featurestore.registry.tables import (
    datasets,
    ingestion_runs,
    log_flushes,
    materializations,
    projects,
    reports,
    utc,
)

__all__ = [
    "MaterializedState",
    "ReportKind",
    "add_report",
    "begin_ingestion",
    "dump_json",
    "finish_ingestion",
    "get_dataset",
    "ingestion_reports",
    "list_datasets",
    "list_log_flushes",
    "list_reports",
    "materialization_seqs",
    "materialized_seq",
    "materialized_state",
    "materialized_version",
    "record_log_flush",
    "record_materialization",
    "report_history",
    "save_dataset",
    "watermark",
]

ReportKind = Literal["skew", "drift", "performance", "feedback_loop", "rollout"]
REPORT_KINDS: tuple[str, ...] = get_args(ReportKind)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy and similar scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def dump_json(value: Any, *, what: str, allow_nan: bool = True) -> str:
    """``value`` as JSON text (datetimes as ISO 8601 UTC).

    Raises:
        RequestError: ``value`` holds something JSON cannot represent.
    """
    try:
        return json.dumps(value, default=_json_default, allow_nan=allow_nan, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise RequestError(f"{what} cannot be stored as JSON: {exc}") from None


def _limit(query: sa.Select[Any], limit: int | None) -> sa.Select[Any]:
    if limit is None:
        return query
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise RequestError(f"limit must be a non-negative integer or None, got {limit!r}")
    return query.limit(limit)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _when(value: Any, what: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise RequestError(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise RequestError(f"{what} must be a datetime, got {value!r}")
    return utc(value)


def _optional_when(value: Any, what: str) -> datetime | None:
    return None if value is None else _when(value, what)


# -- ingestion runs ------------------------------------------------------------------------------


def begin_ingestion(
    conn: Connection,
    project: str,
    view: str,
    source: str | os.PathLike[str],
    now: datetime,
    owner: str | None = None,
) -> tuple[str, int]:
    """Open a run and give it the project's next ``seq`` (the counter row serialises callers).

    ``owner`` (``host:pid``) lets a later sweep tell a run whose process died from one under way.
    """
    _text(view, "the view of an ingestion run")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise RequestError(f"the source of an ingestion run must be a string, got {source!r}")
    conn.execute(
        projects.update()
        .where(projects.c.project == project)
        .values(ingest_seq=projects.c.ingest_seq + 1)
    )
    seq = conn.execute(
        sa.select(projects.c.ingest_seq).where(projects.c.project == project)
    ).scalar_one()
    run_id = uuid.uuid4().hex
    conn.execute(
        ingestion_runs.insert().values(
            run_id=run_id,
            project=project,
            view=view,
            source=source,
            seq=seq,
            started_at=now,
            owner=owner,
        )
    )
    return run_id, int(seq)


def finish_ingestion(
    conn: Connection, project: str, run_id: str, report: Mapping[str, Any], now: datetime
) -> None:
    """Close a run with its report.

    Raises:
        NotFoundError: no such run in the project.
        ConflictError: the run was already finished.
    """
    if not isinstance(report, Mapping):
        raise RequestError(f"the report of ingestion run {run_id!r} must be a dict")
    text = dump_json(dict(report), what=f"the report of ingestion run {run_id!r}")
    where = (ingestion_runs.c.project == project, ingestion_runs.c.run_id == run_id)
    row = conn.execute(
        sa.select(ingestion_runs.c.finished_at).where(*where).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"ingestion run {run_id!r} is not in project {project!r}")
    if row.finished_at is not None:
        raise ConflictError(f"ingestion run {run_id!r} is already finished")
    conn.execute(ingestion_runs.update().where(*where).values(finished_at=now, report=text))


def ingestion_reports(
    conn: Connection, project: str, view: str | None, limit: int | None
) -> list[dict[str, Any]]:
    """Reports of finished runs, newest (highest ``seq``) first."""
    r = ingestion_runs
    query = sa.select(r.c.report).where(r.c.project == project, r.c.report.is_not(None))
    if view is not None:
        query = query.where(r.c.view == view)
    query = _limit(query.order_by(r.c.seq.desc()), limit)
    return [json.loads(text) for text in conn.execute(query).scalars()]


# -- materialization -----------------------------------------------------------------------------


def watermark(conn: Connection, project: str, view: str) -> datetime | None:
    """The greatest ``end`` recorded for ``view``, or None before its first materialization."""
    m = materializations
    value: datetime | None = conn.execute(
        sa.select(sa.func.max(m.c.end_ts)).where(m.c.project == project, m.c.view == view)
    ).scalar_one()
    # max() loses the column type on SQLite, so the value may come back as text or naive.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return None if value is None else utc(value)


def record_materialization(
    conn: Connection,
    project: str,
    view: str,
    start: datetime | None,
    end: datetime,
    rows: int,
    now: datetime,
    last_seq: int | None = None,
    view_version: int | None = None,
) -> None:
    """Record a run; the watermark is the maximum ``end``, so it never moves back."""
    _text(view, "the view of a materialization")
    start_at, end_at = _optional_when(start, "start"), _when(end, "end")
    if start_at is not None and start_at > end_at:
        raise RequestError(
            f"materialization of {view!r}: start {start_at.isoformat()} is after "
            f"end {end_at.isoformat()}"
        )
    conn.execute(
        materializations.insert().values(
            project=project,
            view=view,
            start_ts=start_at,
            end_ts=end_at,
            rows=_count(rows, "rows"),
            recorded_at=now,
            last_seq=last_seq,
            view_version=view_version,
        )
    )


def materialized_version(conn: Connection, project: str, view: str) -> int | None:
    """The view version of ``view``'s latest materialization (None before the first one, or
    for runs recorded before versions were)."""
    m = materializations
    value = conn.execute(
        sa.select(m.c.view_version)
        .where(m.c.project == project, m.c.view == view)
        .order_by(m.c.id.desc())
        .limit(1)
    ).scalar()
    return None if value is None else int(value)


def materialization_seqs(conn: Connection, project: str, view: str) -> dict[datetime, int]:
    """Each recorded materialization ``end`` of ``view`` and the last ingestion seq it saw."""
    m = materializations
    rows = conn.execute(
        sa.select(m.c.end_ts, m.c.last_seq).where(
            m.c.project == project, m.c.view == view, m.c.last_seq.is_not(None)
        )
    )
    out: dict[datetime, int] = {}
    for end, seq in rows:
        when = utc(datetime.fromisoformat(end) if isinstance(end, str) else end)
        out[when] = max(out.get(when, seq), seq)
    return out


def materialized_seq(conn: Connection, project: str, view: str) -> int | None:
    """The greatest ingestion seq a materialization of ``view`` has seen, or None."""
    m = materializations
    value = conn.execute(
        sa.select(sa.func.max(m.c.last_seq)).where(m.c.project == project, m.c.view == view)
    ).scalar_one()
    return None if value is None else int(value)


class MaterializedState(NamedTuple):
    """Where ``view``'s materializations stand (each None before the first one)."""

    version: int | None  # of the latest run (see materialized_version)
    watermark: datetime | None
    last_seq: int | None


def materialized_state(conn: Connection, project: str, view: str) -> MaterializedState:
    """What an incremental materialization of ``view`` starts from."""
    return MaterializedState(
        materialized_version(conn, project, view),
        watermark(conn, project, view),
        materialized_seq(conn, project, view),
    )


# -- saved training frames -----------------------------------------------------------------------


def save_dataset(
    conn: Connection,
    project: str,
    name: str,
    values: dict[str, Any],
    *,
    overwrite: bool,
    now: datetime,
) -> None:
    """Store a training frame's lineage; ``values`` holds path, spine_hash, feature_refs, rows."""
    _text(name, "a dataset name")
    refs = values["feature_refs"]
    if not isinstance(refs, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in refs.items()
    ):
        raise RequestError(
            f"feature_refs of dataset {name!r} must map feature refs to view versions (int)"
        )
    row = {
        "path": _text(str(values["path"]), f"the path of dataset {name!r}"),
        "spine_hash": _text(values["spine_hash"], f"the spine_hash of dataset {name!r}"),
        "feature_refs": json.dumps(dict(refs), sort_keys=True),
        "rows": _count(values["rows"], f"rows of dataset {name!r}"),
        "created_at": now,
        "lineage": None
        if values.get("lineage") is None
        else dump_json(values["lineage"], what=f"the lineage of dataset {name!r}"),
    }
    where = (datasets.c.project == project, datasets.c.name == name)
    exists = conn.execute(sa.select(datasets.c.id).where(*where).with_for_update()).first()
    if exists is None:
        conn.execute(datasets.insert().values(project=project, name=name, **row))
    elif overwrite:
        conn.execute(datasets.update().where(*where).values(**row))
    else:
        raise ConflictError(
            f"dataset {name!r} already exists in project {project!r}; pass overwrite=True "
            "to replace it"
        )


def _dataset(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name,
        "path": row.path,
        "spine_hash": row.spine_hash,
        "feature_refs": json.loads(row.feature_refs),
        "rows": int(row.rows),
        "created_at": row.created_at,
        "lineage": json.loads(row.lineage) if row.lineage else None,
    }


def _datasets_query(project: str) -> sa.Select[Any]:
    d = datasets
    return sa.select(
        d.c.name, d.c.path, d.c.spine_hash, d.c.feature_refs, d.c.rows, d.c.created_at, d.c.lineage
    ).where(d.c.project == project)


def get_dataset(conn: Connection, project: str, name: str) -> dict[str, Any]:
    """One saved training frame's lineage.

    Raises:
        NotFoundError: no dataset of that name.
    """
    row = conn.execute(_datasets_query(project).where(datasets.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"dataset {name!r} is not saved in project {project!r}")
    return _dataset(row)


def list_datasets(conn: Connection, project: str) -> list[dict[str, Any]]:
    """Every saved training frame's lineage, by name."""
    return [_dataset(r) for r in conn.execute(_datasets_query(project).order_by(datasets.c.name))]


# -- serving-log flushes and reports ---------------------------------------------------------------


def record_log_flush(
    conn: Connection,
    project: str,
    path: str,
    rows: int,
    first_ts: Any,
    last_ts: Any,
    now: datetime,
) -> None:
    """Record one flush of the serving log to the offline store (once per file: a flush that
    died after recording it writes the same file again)."""
    known = sa.select(log_flushes.c.path).where(
        log_flushes.c.project == project, log_flushes.c.path == str(path)
    )
    if conn.execute(known).first() is not None:
        return
    conn.execute(
        log_flushes.insert().values(
            project=project,
            path=_text(str(path), "the path of a serving-log flush"),
            rows=_count(rows, "rows of a serving-log flush"),
            first_ts=_optional_when(first_ts, "first_ts"),
            last_ts=_optional_when(last_ts, "last_ts"),
            flushed_at=now,
        )
    )


def list_log_flushes(conn: Connection, project: str) -> list[dict[str, Any]]:
    """Every serving-log flush, oldest first (the order the log was written)."""
    f = log_flushes
    query = (
        sa.select(f.c.path, f.c.rows, f.c.first_ts, f.c.last_ts, f.c.flushed_at)
        .where(f.c.project == project)
        .order_by(f.c.id)
    )
    return [
        {
            "path": r.path,
            "rows": int(r.rows),
            "first_ts": r.first_ts,
            "last_ts": r.last_ts,
            "flushed_at": r.flushed_at,
        }
        for r in conn.execute(query)
    ]


def _report_kind(kind: str) -> str:
    if kind not in REPORT_KINDS:
        raise RequestError(f"report kind {kind!r} is unknown; use one of {', '.join(REPORT_KINDS)}")
    return kind


def add_report(
    conn: Connection, project: str, kind: str, report: Mapping[str, Any], now: datetime
) -> int:
    """Store a skew, drift or performance report; returns its id."""
    _report_kind(kind)
    if not isinstance(report, Mapping):
        raise RequestError(f"a {kind} report must be a dict, got {type(report).__name__}")
    text = dump_json(dict(report), what=f"the {kind} report")
    new_id = conn.execute(
        reports.insert()
        .values(project=project, kind=kind, report=text, created_at=now)
        .returning(reports.c.id)
    ).scalar_one()
    return int(new_id)


def list_reports(
    conn: Connection, project: str, kind: str, limit: int | None
) -> list[dict[str, Any]]:
    """Reports of one kind, newest first."""
    r = reports
    query = sa.select(r.c.report).where(r.c.project == project, r.c.kind == _report_kind(kind))
    query = _limit(query.order_by(r.c.id.desc()), limit)
    return [json.loads(text) for text in conn.execute(query).scalars()]


def report_history(
    conn: Connection, project: str, kind: str, limit: int | None
) -> list[dict[str, Any]]:
    """Reports of one kind with their id and recording time, newest first."""
    r = reports
    query = sa.select(r.c.id, r.c.created_at, r.c.report).where(
        r.c.project == project, r.c.kind == _report_kind(kind)
    )
    query = _limit(query.order_by(r.c.id.desc()), limit)
    return [
        {"id": int(row.id), "recorded_at": row.created_at, "report": json.loads(row.report)}
        for row in conn.execute(query)
    ]
