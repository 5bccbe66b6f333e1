"""Updates over Wi-Fi: the firmware versions staff published (archive, SHA-256, Ed25519
signature) and the version each meter was last asked to run.

Revision ID: 0004_firmware
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_firmware"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firmware_release",
        sa.Column("version", sa.String(length=24), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "meter_update",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=24), nullable=False),
        sa.Column("requested_utc", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("meter_id"),
    )


def downgrade() -> None:
    op.drop_table("meter_update")
    op.drop_table("firmware_release")
