"""The registry's first schema: objects and their versions, runs, datasets, logs, reports, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 255
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _project() -> sa.Column[str]:
    return sa.Column("project", sa.String(NAME), nullable=False)


def upgrade() -> None:
    op.create_table(
        "fs_projects",
        sa.Column("project", sa.String(NAME), primary_key=True),
        sa.Column("ingest_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "fs_objects",
        _id(),
        _project(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("removed_at", TS, nullable=True),
        sa.UniqueConstraint("project", "kind", "name", name="uq_fs_objects_key"),
    )
    op.create_table(
        "fs_object_versions",
        _id(),
        _project(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("project", "kind", "name", "version", name="uq_fs_object_versions_key"),
    )
    op.create_table(
        "fs_ingestion_runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        _project(),
        sa.Column("view", sa.String(NAME), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.UniqueConstraint("project", "seq", name="uq_fs_ingestion_runs_seq"),
    )
    op.create_index("ix_fs_ingestion_runs_view", "fs_ingestion_runs", ["project", "view"])
    op.create_table(
        "fs_materializations",
        _id(),
        _project(),
        sa.Column("view", sa.String(NAME), nullable=False),
        sa.Column("start_ts", TS, nullable=True),
        sa.Column("end_ts", TS, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_fs_materializations_view", "fs_materializations", ["project", "view"])
    op.create_table(
        "fs_datasets",
        _id(),
        _project(),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("spine_hash", sa.String(128), nullable=False),
        sa.Column("feature_refs", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("project", "name", name="uq_fs_datasets_name"),
    )
    op.create_table(
        "fs_log_flushes",
        _id(),
        _project(),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("first_ts", TS, nullable=True),
        sa.Column("last_ts", TS, nullable=True),
        sa.Column("flushed_at", TS, nullable=False),
    )
    op.create_index("ix_fs_log_flushes_project", "fs_log_flushes", ["project"])
    op.create_table(
        "fs_reports",
        _id(),
        _project(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_fs_reports_kind", "fs_reports", ["project", "kind"])
    op.create_table(
        "fs_feedback",
        _id(),
        _project(),
        sa.Column("request_id", sa.String(NAME), nullable=False),
        sa.Column("prediction", sa.Text, nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("timestamp", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("project", "request_id", name="uq_fs_feedback_request"),
    )
    op.create_index("ix_fs_feedback_timestamp", "fs_feedback", ["project", "timestamp"])


def downgrade() -> None:
    for index, table in (
        ("ix_fs_feedback_timestamp", "fs_feedback"),
        ("ix_fs_reports_kind", "fs_reports"),
        ("ix_fs_log_flushes_project", "fs_log_flushes"),
        ("ix_fs_materializations_view", "fs_materializations"),
        ("ix_fs_ingestion_runs_view", "fs_ingestion_runs"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "fs_feedback",
        "fs_reports",
        "fs_log_flushes",
        "fs_datasets",
        "fs_materializations",
        "fs_ingestion_runs",
        "fs_object_versions",
        "fs_objects",
        "fs_projects",
    ):
        op.drop_table(table)
