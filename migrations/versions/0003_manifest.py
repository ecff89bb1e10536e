"""The registry is the manifest: committed batches list their files; runs remember their content.

- ``fs_batch_files``: every file of a committed batch (rows or quarantine), relative to the
  project's offline root. Readers read only these, so files of a run that never committed
  (a crash, a ``kill -9``) are invisible and get swept.
- ``fs_ingestion_runs`` gains ``commit_seq`` (the order batches became visible; a saved training
  frame records the last one it saw, so it can be reproduced), ``content_hash`` (duplicates are
  skipped) and ``owner`` (host:pid, so a sweep knows a run whose process is gone).
- ``fs_materializations`` gains ``view_version`` (a run under a newer version rewrites everything).
- ``fs_datasets`` gains ``lineage`` (how to recompute a saved training frame exactly).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fs_batch_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("view", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("bucket", sa.Integer, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_fs_batch_files_view", "fs_batch_files", ["project", "view", "kind"])
    op.create_index("ix_fs_batch_files_run", "fs_batch_files", ["run_id"])
    with op.batch_alter_table("fs_ingestion_runs") as batch:
        batch.add_column(sa.Column("commit_seq", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
    with op.batch_alter_table("fs_materializations") as batch:
        batch.add_column(sa.Column("view_version", sa.Integer, nullable=True))
    with op.batch_alter_table("fs_datasets") as batch:
        batch.add_column(sa.Column("lineage", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fs_datasets") as batch:
        batch.drop_column("lineage")
    with op.batch_alter_table("fs_materializations") as batch:
        batch.drop_column("view_version")
    with op.batch_alter_table("fs_ingestion_runs") as batch:
        batch.drop_column("owner")
        batch.drop_column("content_hash")
        batch.drop_column("commit_seq")
    op.drop_index("ix_fs_batch_files_run", table_name="fs_batch_files")
    op.drop_index("ix_fs_batch_files_view", table_name="fs_batch_files")
    op.drop_table("fs_batch_files")
