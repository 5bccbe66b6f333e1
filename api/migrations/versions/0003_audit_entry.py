"""The staff audit log: one row per state-changing staff action (who, what, when, where).

No foreign keys on purpose: an entry outlives the household or account it names (the names
it needs are copied into `username` and `detail`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_utc", sa.Float(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entry_ts_utc", "audit_entry", ["ts_utc"])
    op.create_index("ix_audit_entry_deployment_id", "audit_entry", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_deployment_id", table_name="audit_entry")
    op.drop_index("ix_audit_entry_ts_utc", table_name="audit_entry")
    op.drop_table("audit_entry")
