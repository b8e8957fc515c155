"""adapted versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:50:00

adapted_version: the models adapted to a population, with its card; tag_adaptation: which adapted version
analyses the sessions with a tag.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapted_version",
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_adapted_version")),
    )
    op.create_index(op.f("ix_adapted_version_tag"), "adapted_version", ["tag"], unique=False)
    op.create_table(
        "tag_adaptation",
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version"],
            ["adapted_version.version"],
            name=op.f("fk_tag_adaptation_version_adapted_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_tag_adaptation")),
    )


def downgrade() -> None:
    op.drop_table("tag_adaptation")
    op.drop_index(op.f("ix_adapted_version_tag"), table_name="adapted_version")
    op.drop_table("adapted_version")
