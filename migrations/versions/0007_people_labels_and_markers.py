"""people labels and markers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00

person_label: a name for a person seen (one name on two people merges them), with the time span and mean
box that find the person again after the file is analysed again. marker: a point or a segment on a media
file's timeline.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _owners(table: str) -> list:
    return [
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f(f"fk_{table}_media_id_media_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f(f"fk_{table}_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "person_label",
        sa.Column("id", sa.Integer(), nullable=False),
        *_owners("person_label"),
        sa.Column("person", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        *[sa.Column(c, sa.Float(), nullable=False) for c in ("t_first", "t_last", "x", "y", "w", "h")],
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_label")),
        sa.UniqueConstraint("media_id", "person", name="uq_person_label_media_person"),
    )
    op.create_index(op.f("ix_person_label_media_id"), "person_label", ["media_id"], unique=False)
    op.create_index(op.f("ix_person_label_session_id"), "person_label", ["session_id"], unique=False)
    op.create_table(
        "marker",
        sa.Column("id", sa.Integer(), nullable=False),
        *_owners("marker"),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marker")),
    )
    op.create_index(op.f("ix_marker_media_id"), "marker", ["media_id"], unique=False)
    op.create_index(op.f("ix_marker_session_id"), "marker", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_marker_session_id"), table_name="marker")
    op.drop_index(op.f("ix_marker_media_id"), table_name="marker")
    op.drop_table("marker")
    op.drop_index(op.f("ix_person_label_session_id"), table_name="person_label")
    op.drop_index(op.f("ix_person_label_media_id"), table_name="person_label")
    op.drop_table("person_label")
