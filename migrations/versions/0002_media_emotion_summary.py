"""media emotion summary

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:17:30.179712
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_emotion_summary",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("n_angry", sa.Integer(), nullable=False),
        sa.Column("sum_angry", sa.Float(), nullable=False),
        sa.Column("n_disgust", sa.Integer(), nullable=False),
        sa.Column("sum_disgust", sa.Float(), nullable=False),
        sa.Column("n_fear", sa.Integer(), nullable=False),
        sa.Column("sum_fear", sa.Float(), nullable=False),
        sa.Column("n_happy", sa.Integer(), nullable=False),
        sa.Column("sum_happy", sa.Float(), nullable=False),
        sa.Column("n_sad", sa.Integer(), nullable=False),
        sa.Column("sum_sad", sa.Float(), nullable=False),
        sa.Column("n_surprise", sa.Integer(), nullable=False),
        sa.Column("sum_surprise", sa.Float(), nullable=False),
        sa.Column("n_neutral", sa.Integer(), nullable=False),
        sa.Column("sum_neutral", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media_file.id"],
            name=op.f("fk_media_emotion_summary_media_id_media_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_media_emotion_summary_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "model", name=op.f("pk_media_emotion_summary")),
    )
    with op.batch_alter_table("media_emotion_summary", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_emotion_summary_session_id"), ["session_id"], unique=False)

    # Backfill from the predictions already stored (same aggregation as repository.summarise_media).
    emotions = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    cols = ", ".join(f"n_{e}, sum_{e}" for e in emotions)
    aggs = ", ".join(f"SUM(CASE WHEN p.label = '{e}' THEN 1 ELSE 0 END), SUM(p.p_{e})" for e in emotions)
    op.execute(
        f"INSERT INTO media_emotion_summary (media_id, model, session_id, faces, {cols}) "
        f"SELECT d.media_id, p.model, d.session_id, COUNT(*), {aggs} "
        "FROM prediction p JOIN face_detection d ON d.id = p.detection_id "
        "GROUP BY d.media_id, p.model, d.session_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("media_emotion_summary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_emotion_summary_session_id"))

    op.drop_table("media_emotion_summary")
