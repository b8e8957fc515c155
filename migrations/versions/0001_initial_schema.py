"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 04:11:04.070678
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("participant", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_session")),
        sa.UniqueConstraint("name", name=op.f("uq_feedback_session_name")),
    )
    with op.batch_alter_table("feedback_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_session_recorded_at"), ["recorded_at"], unique=False)

    op.create_table(
        "analysis_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("detector", sa.String(length=100), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_analysis_run_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_run")),
    )
    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_run_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_tag",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_session_tag_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "tag", name=op.f("pk_session_tag")),
    )
    with op.batch_alter_table("session_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_tag_tag"), ["tag"], unique=False)

    op.create_table(
        "media_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("original_name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("frames_analyzed", sa.Integer(), nullable=True),
        sa.Column("stored_path", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analysis_run.id"], name=op.f("fk_media_file_run_id_analysis_run"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_media_file_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_file")),
        sa.UniqueConstraint("session_id", "sha256", name="uq_media_file_session_sha256"),
    )
    with op.batch_alter_table("media_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_file_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_file_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_file_status"), ["status"], unique=False)

    op.create_table(
        "face_detection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("w", sa.Integer(), nullable=False),
        sa.Column("h", sa.Integer(), nullable=False),
        sa.Column("det_score", sa.Float(), nullable=False),
        sa.Column("track", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f("fk_face_detection_media_id_media_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analysis_run.id"], name=op.f("fk_face_detection_run_id_analysis_run"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_face_detection_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_detection")),
    )
    with op.batch_alter_table("face_detection", schema=None) as batch_op:
        batch_op.create_index("ix_face_detection_media_t", ["media_id", "t_s"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_detection_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_face_detection_session_id"), ["session_id"], unique=False)

    op.create_table(
        "prediction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("detection_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("p_angry", sa.Float(), nullable=False),
        sa.Column("p_disgust", sa.Float(), nullable=False),
        sa.Column("p_fear", sa.Float(), nullable=False),
        sa.Column("p_happy", sa.Float(), nullable=False),
        sa.Column("p_sad", sa.Float(), nullable=False),
        sa.Column("p_surprise", sa.Float(), nullable=False),
        sa.Column("p_neutral", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["face_detection.id"],
            name=op.f("fk_prediction_detection_id_face_detection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction")),
    )
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_detection_model", ["detection_id", "model"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_model"), ["model"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_model"))
        batch_op.drop_index("ix_prediction_detection_model")

    op.drop_table("prediction")
    with op.batch_alter_table("face_detection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_detection_session_id"))
        batch_op.drop_index(batch_op.f("ix_face_detection_run_id"))
        batch_op.drop_index("ix_face_detection_media_t")

    op.drop_table("face_detection")
    with op.batch_alter_table("media_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_file_status"))
        batch_op.drop_index(batch_op.f("ix_media_file_session_id"))
        batch_op.drop_index(batch_op.f("ix_media_file_run_id"))

    op.drop_table("media_file")
    with op.batch_alter_table("session_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_tag_tag"))

    op.drop_table("session_tag")
    with op.batch_alter_table("analysis_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_run_session_id"))

    op.drop_table("analysis_run")
    with op.batch_alter_table("feedback_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_session_recorded_at"))

    op.drop_table("feedback_session")
