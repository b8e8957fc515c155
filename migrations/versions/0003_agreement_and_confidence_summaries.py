"""agreement and confidence summaries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:40:30.287150
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_confidence_bin",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media_file.id"],
            name=op.f("fk_media_confidence_bin_media_id_media_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_media_confidence_bin_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "model", "bin", name=op.f("pk_media_confidence_bin")),
    )
    with op.batch_alter_table("media_confidence_bin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_confidence_bin_session_id"), ["session_id"], unique=False)

    op.create_table(
        "media_label_pair",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("label_a", sa.String(length=10), nullable=False),
        sa.Column("label_b", sa.String(length=10), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f("fk_media_label_pair_media_id_media_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_media_label_pair_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "label_a", "label_b", name=op.f("pk_media_label_pair")),
    )
    with op.batch_alter_table("media_label_pair", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_label_pair_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_model"))

    # Backfill from the predictions already stored (same aggregation as repository.summarise_media).
    op.execute(
        "INSERT INTO media_label_pair (media_id, label_a, label_b, session_id, faces) "
        "SELECT d.media_id, a.label, b.label, d.session_id, COUNT(*) FROM face_detection d "
        "JOIN prediction a ON a.detection_id = d.id AND a.model = 'resnet50' "
        "JOIN prediction b ON b.detection_id = d.id AND b.model = 'vgg16' "
        "GROUP BY d.media_id, a.label, b.label, d.session_id"
    )
    floor = (
        "CAST(FLOOR(p.confidence * 20) AS INTEGER)"
        if op.get_bind().dialect.name != "sqlite"
        else "CAST(p.confidence * 20 AS INTEGER)"
    )
    bin_ = f"CASE WHEN {floor} >= 19 THEN 19 ELSE {floor} END"
    op.execute(
        "INSERT INTO media_confidence_bin (media_id, model, bin, session_id, faces) "
        f"SELECT d.media_id, p.model, {bin_}, d.session_id, COUNT(*) "
        "FROM prediction p JOIN face_detection d ON d.id = p.detection_id "
        f"GROUP BY d.media_id, p.model, {bin_}, d.session_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prediction_model"), ["model"], unique=False)

    with op.batch_alter_table("media_label_pair", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_label_pair_session_id"))

    op.drop_table("media_label_pair")
    with op.batch_alter_table("media_confidence_bin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_confidence_bin_session_id"))

    op.drop_table("media_confidence_bin")
