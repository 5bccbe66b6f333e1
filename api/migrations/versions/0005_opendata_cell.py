"""The open-data ledger: every figure an open-data export published, repeated as it was by
later exports (no differencing between two exports; see api/opendata.py).

Revision ID: 0005
Revises: 0004_firmware
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_firmware"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_cell",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.String(length=5), nullable=False),
        sa.Column("period_start_utc", sa.Integer(), nullable=False),
        sa.Column("grp", sa.String(length=80), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.Column("published_utc", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployment.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("deployment_id", "resolution", "period_start_utc", "grp"),
    )


def downgrade() -> None:
    op.drop_table("opendata_cell")
