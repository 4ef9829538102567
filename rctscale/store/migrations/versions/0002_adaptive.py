"""Adaptive administrations: the CAT flag, its rules and the item calibrations on the administration.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter tables in place; Alembic copies the table there, while
    # PostgreSQL gets plain ALTER TABLE ... ADD COLUMN. Existing administrations are not adaptive.
    with op.batch_alter_table("administrations") as batch:
        batch.add_column(sa.Column("adaptive", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("cat_rules", sa.Text, nullable=True))
        batch.add_column(sa.Column("calibration", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("administrations") as batch:
        batch.drop_column("calibration")
        batch.drop_column("cat_rules")
        batch.drop_column("adaptive")
