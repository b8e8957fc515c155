"""login failures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:30:00

login_failure: wrong dashboard passwords per client address, so that the throttle holds across dashboard
processes and restarts (it was kept in a cache that a client could clear).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    op.create_index(op.f("ix_login_failure_client"), "login_failure", ["client"], unique=False)
    op.create_index(op.f("ix_login_failure_at"), "login_failure", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failure_at"), table_name="login_failure")
    op.drop_index(op.f("ix_login_failure_client"), table_name="login_failure")
    op.drop_table("login_failure")
