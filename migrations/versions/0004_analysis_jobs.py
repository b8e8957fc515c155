"""analysis jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:23:13.180071
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("keep", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("faces", sa.Integer(), nullable=True),
        sa.Column("media_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f("fk_analysis_job_media_id_media_file"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_analysis_job_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_job")),
    )
    with op.batch_alter_table("analysis_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_job_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_analysis_job_media_id"), ["media_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analysis_job_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analysis_job_status"), ["status"], unique=False)

    # 2 GB uploads overflow a 32-bit INTEGER. SQLite's INTEGER is 64-bit: nothing to do there (and a batch
    # rebuild of media_file would cascade-delete its detections).
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "media_file", "bytes", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "media_file", "bytes", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
        )

    with op.batch_alter_table("analysis_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_job_status"))
        batch_op.drop_index(batch_op.f("ix_analysis_job_session_id"))
        batch_op.drop_index(batch_op.f("ix_analysis_job_media_id"))
        batch_op.drop_index(batch_op.f("ix_analysis_job_created_at"))

    op.drop_table("analysis_job")
