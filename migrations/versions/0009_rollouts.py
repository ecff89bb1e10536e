"""Rollouts of a new view version (shadow -> canary -> promoted or aborted).

``fs_rollouts`` holds one row per rollout: the view, the version in force when it started
(baseline) and the candidate, the current stage with its canary fraction and shadow sample, its
status and every step taken. At most one rollout of a view runs at a time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fs_rollouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("view", sa.String(255), nullable=False),
        sa.Column("baseline_version", sa.Integer, nullable=False),
        sa.Column("candidate_version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("fraction", sa.Float, nullable=False),
        sa.Column("sample", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("steps", sa.Text, nullable=False),
    )
    op.create_index("ix_fs_rollouts_view", "fs_rollouts", ["project", "view", "status"])


def downgrade() -> None:
    op.drop_index("ix_fs_rollouts_view", table_name="fs_rollouts")
    op.drop_table("fs_rollouts")
