"""Materialization runs remember the last ingestion seq they saw.

Rows ingested after a run but stamped with an old event time (a backfill without created
timestamps) are then still picked up by the next incremental run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fs_materializations") as batch:
        batch.add_column(sa.Column("last_seq", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fs_materializations") as batch:
        batch.drop_column("last_seq")
