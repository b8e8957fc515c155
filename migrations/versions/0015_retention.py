"""retention rules

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:00:00

retention_rule: after how many days the stored media and face pictures of sessions (all, or those with a
tag) are deleted, and whether their readings go too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_rule",
        sa.Column("tag", sa.String(length=100), nullable=False),  # "" : every session
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("keep_readings", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_retention_rule")),
    )


def downgrade() -> None:
    op.drop_table("retention_rule")
