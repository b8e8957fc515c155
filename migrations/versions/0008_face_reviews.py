"""face reviews

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:40:00

face_review: the true expression of a face as a person judged it, with the face's time and box, which find it
again after the file is analysed again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("detection_id", sa.Integer(), nullable=True),
        sa.Column("t_s", sa.Float(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in ("x", "y", "w", "h")],
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f("fk_face_review_media_id_media_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_face_review_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_review")),
        sa.UniqueConstraint("detection_id", name="uq_face_review_detection_id"),
    )
    op.create_index(op.f("ix_face_review_media_id"), "face_review", ["media_id"], unique=False)
    op.create_index(op.f("ix_face_review_session_id"), "face_review", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_face_review_session_id"), table_name="face_review")
    op.drop_index(op.f("ix_face_review_media_id"), table_name="face_review")
    op.drop_table("face_review")
