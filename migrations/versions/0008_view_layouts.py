"""A view's offline layout is fixed when it is first ingested: its number of key buckets.

``fs_view_layouts`` holds one row per (project, view), written by the first ingestion that
stores rows of the view; every later batch and every reader uses that number, whatever
``[offline] buckets`` says by then. A view with committed files and no row here was written
before buckets existed: it has one bucket.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fs_view_layouts",
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("view", sa.String(255), nullable=False),
        sa.Column("buckets", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "view", name="pk_fs_view_layouts"),
    )


def downgrade() -> None:
    op.drop_table("fs_view_layouts")
