"""label pairs name their models

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00

media_label_pair held (ResNet50 label, VGG16 label) counts, assuming exactly two models; it now names the two
models of each pair (every pair of the product's models is kept). It is a summary of the predictions, so it
is rebuilt from them rather than altered in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BACKFILL = (
    "INSERT INTO media_label_pair (media_id, model_a, model_b, label_a, label_b, session_id, faces) "
    "SELECT d.media_id, a.model, b.model, a.label, b.label, d.session_id, COUNT(*) FROM face_detection d "
    "JOIN prediction a ON a.detection_id = d.id JOIN prediction b ON b.detection_id = d.id "
    "WHERE a.model = 'resnet50' AND b.model = 'vgg16' "
    "GROUP BY d.media_id, a.model, b.model, a.label, b.label, d.session_id"
)


def _create(with_models: bool) -> None:
    models = [sa.Column("model_a", sa.String(20), nullable=False), sa.Column("model_b", sa.String(20), nullable=False)]
    op.create_table(
        "media_label_pair",
        sa.Column("media_id", sa.Integer(), nullable=False),
        *(models if with_models else []),
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
        sa.PrimaryKeyConstraint(
            "media_id",
            *(["model_a", "model_b"] if with_models else []),
            "label_a",
            "label_b",
            name=op.f("pk_media_label_pair"),
        ),
    )
    with op.batch_alter_table("media_label_pair", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_label_pair_session_id"), ["session_id"], unique=False)


def upgrade() -> None:
    op.drop_table("media_label_pair")
    _create(with_models=True)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("media_label_pair")
    _create(with_models=False)
    op.execute(
        "INSERT INTO media_label_pair (media_id, label_a, label_b, session_id, faces) "
        "SELECT d.media_id, a.label, b.label, d.session_id, COUNT(*) FROM face_detection d "
        "JOIN prediction a ON a.detection_id = d.id AND a.model = 'resnet50' "
        "JOIN prediction b ON b.detection_id = d.id AND b.model = 'vgg16' "
        "GROUP BY d.media_id, a.label, b.label, d.session_id"
    )
