"""An index for the comparison's similar households: household (deployment_id, profile).

The comparison page looks up the households of a deployment with the same profile
(api/comparison.py); without it that is a scan of every household. Written in batch form
(render_as_batch), like every revision: on SQLite, an ALTER that SQLite cannot do in place
becomes a copy of the table, which api/db.py runs with foreign keys off so that nothing
cascades.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household") as batch_op:
        batch_op.create_index("ix_household_profile", ["deployment_id", "profile"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("household") as batch_op:
        batch_op.drop_index("ix_household_profile")
