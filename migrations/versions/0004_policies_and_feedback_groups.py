"""Retraining-policy decisions get a log; feedback rows get an optional group ("control").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fs_policy_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(255), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("evaluated_at", TS, nullable=False),
        sa.Column("retrain", sa.Boolean, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index(
        "ix_fs_policy_decisions_policy",
        "fs_policy_decisions",
        ["project", "policy", "evaluated_at"],
    )
    with op.batch_alter_table("fs_feedback") as batch:
        batch.add_column(sa.Column("group_name", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fs_feedback") as batch:
        batch.drop_column("group_name")
    op.drop_index("ix_fs_policy_decisions_policy", table_name="fs_policy_decisions")
    op.drop_table("fs_policy_decisions")
