"""person roles

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:00:00

person_label.role: who a person seen is to the study (participant, other, excluded), set by a user; a row may
now hold a role without a name, so its label may be empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person_label") as batch:  # SQLite changes a column by copying the table
        batch.add_column(sa.Column("role", sa.String(length=12), nullable=True))
        batch.alter_column("label", existing_type=sa.String(length=200), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM person_label WHERE label IS NULL")
    with op.batch_alter_table("person_label") as batch:
        batch.alter_column("label", existing_type=sa.String(length=200), nullable=False)
        batch.drop_column("role")
