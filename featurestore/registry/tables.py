"""The registry's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` must match them.

Every table carries ``project``: one database can hold many projects. JSON payloads are stored as
text (canonical for specs) so SQLite and PostgreSQL return byte-identical documents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "VERSION_TABLE",
    "UTCDateTime",
    "alert_deliveries",
    "batch_files",
    "datasets",
    "feedback",
    "ingestion_runs",
    "log_flushes",
    "materializations",
    "metadata",
    "object_versions",
    "objects",
    "policy_decisions",
    "projects",
    "reports",
    "rollouts",
    "utc",
    "view_layouts",
]

VERSION_TABLE = "fs_alembic_version"
"""Alembic's version table; named so it cannot collide with another app's in a shared database."""

NAME = 255


def utc(value: datetime) -> datetime:
    """``value`` as timezone-aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that goes in as any datetime and always comes out timezone-aware UTC.

    SQLite has no time zones: values are stored as naive UTC there and get their ``tzinfo`` back
    on the way out. PostgreSQL stores ``timestamptz`` and answers in the session's zone, which is
    converted back to UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return utc(value)


metadata = sa.MetaData()


def _project() -> sa.Column[str]:
    return sa.Column("project", sa.String(NAME), nullable=False)


projects = sa.Table(
    "fs_projects",
    metadata,
    sa.Column("project", sa.String(NAME), primary_key=True),
    # The source of ingestion ``seq`` numbers; its row is also the lock that serialises apply.
    sa.Column("ingest_seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

objects = sa.Table(
    "fs_objects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("project", "kind", "name", name="uq_fs_objects_key"),
)

object_versions = sa.Table(
    "fs_object_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("spec_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("project", "kind", "name", "version", name="uq_fs_object_versions_key"),
)

ingestion_runs = sa.Table(
    "fs_ingestion_runs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    _project(),
    sa.Column("view", sa.String(NAME), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("report", sa.Text, nullable=True),
    # the order in which batches became visible (null: not committed); lineage records the last seen
    sa.Column("commit_seq", sa.BigInteger, nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=True),
    sa.Column("owner", sa.String(255), nullable=True),  # host:pid of the ingesting process
    sa.UniqueConstraint("project", "seq", name="uq_fs_ingestion_runs_seq"),
    sa.Index("ix_fs_ingestion_runs_view", "project", "view"),
)

materializations = sa.Table(
    "fs_materializations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("view", sa.String(NAME), nullable=False),
    sa.Column("start_ts", UTCDateTime, nullable=True),
    sa.Column("end_ts", UTCDateTime, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=True),
    sa.Column("view_version", sa.Integer, nullable=True),
    sa.Index("ix_fs_materializations_view", "project", "view"),
)

#: the manifest: every file of a committed batch, relative to the project's offline root
batch_files = sa.Table(
    "fs_batch_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("view", sa.String(NAME), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "rows" | "quarantine"
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("bucket", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Index("ix_fs_batch_files_view", "project", "view", "kind"),
    sa.Index("ix_fs_batch_files_run", "run_id"),
)

#: a view's offline layout, fixed by its first ingestion: how many key buckets its rows use
view_layouts = sa.Table(
    "fs_view_layouts",
    metadata,
    _project(),
    sa.Column("view", sa.String(NAME), nullable=False),
    sa.Column("buckets", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("project", "view", name="pk_fs_view_layouts"),
)

datasets = sa.Table(
    "fs_datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("spine_hash", sa.String(128), nullable=False),
    sa.Column("feature_refs", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lineage", sa.Text, nullable=True),
    sa.UniqueConstraint("project", "name", name="uq_fs_datasets_name"),
)

log_flushes = sa.Table(
    "fs_log_flushes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("first_ts", UTCDateTime, nullable=True),
    sa.Column("last_ts", UTCDateTime, nullable=True),
    sa.Column("flushed_at", UTCDateTime, nullable=False),
    sa.Index("ix_fs_log_flushes_project", "project"),
)

reports = sa.Table(
    "fs_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_fs_reports_kind", "project", "kind"),
)

feedback = sa.Table(
    "fs_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("request_id", sa.String(NAME), nullable=False),
    # JSON text, so a label keeps its type (1, 1.0, "1", true) whatever the backend.
    sa.Column("prediction", sa.Text, nullable=True),
    sa.Column("label", sa.Text, nullable=True),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # "control" marks traffic served without the model (feedback-loop reports compare it).
    sa.Column("group_name", sa.String(64), nullable=True),
    sa.UniqueConstraint("project", "request_id", name="uq_fs_feedback_request"),
    sa.Index("ix_fs_feedback_timestamp", "project", "timestamp"),
)

policy_decisions = sa.Table(
    "fs_policy_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("policy", sa.String(NAME), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    # the time the decision is about (``evaluate_policies(now=...)``), not when it was written
    sa.Column("evaluated_at", UTCDateTime, nullable=False),
    sa.Column("retrain", sa.Boolean, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_fs_policy_decisions_policy", "project", "policy", "evaluated_at"),
)

alert_deliveries = sa.Table(
    "fs_alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    # pending -> sending (claimed by one worker until claimed_until) -> delivered | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Index("ix_fs_alert_deliveries_due", "project", "status", "next_attempt_at"),
)

rollouts = sa.Table(
    "fs_rollouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _project(),
    sa.Column("view", sa.String(NAME), nullable=False),
    sa.Column("baseline_version", sa.Integer, nullable=False),
    sa.Column("candidate_version", sa.Integer, nullable=False),
    # "shadow" | "canary" while running; the stage it ended in afterwards
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("fraction", sa.Float, nullable=False),
    sa.Column("sample", sa.Float, nullable=False),
    # "running" -> "promoted" | "aborted"
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    # JSON list of {step, fraction, sample, at}: every step, for the report and the UI
    sa.Column("steps", sa.Text, nullable=False),
    sa.Index("ix_fs_rollouts_view", "project", "view", "status"),
)
