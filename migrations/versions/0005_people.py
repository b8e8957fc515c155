"""people: one row per person seen (face track or photo face) and model; people per job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def upgrade() -> None:
    op.create_table(
        "media_person",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("t_first", sa.Float(), nullable=False),
        sa.Column("t_last", sa.Float(), nullable=False),
        sa.Column("top_label", sa.String(length=10), nullable=False),
        *[sa.Column(f"mean_{e}", sa.Float(), nullable=False) for e in EMOTIONS],
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_file.id"], name=op.f("fk_media_person_media_id_media_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["feedback_session.id"],
            name=op.f("fk_media_person_session_id_feedback_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "person", "model", name=op.f("pk_media_person")),
    )
    op.create_index(op.f("ix_media_person_session_id"), "media_person", ["session_id"], unique=False)
    with op.batch_alter_table("analysis_job") as batch:
        batch.add_column(sa.Column("people", sa.Integer(), nullable=True))
    # Backfill from the predictions already stored (same aggregation as repository.summarise_people):
    # one person per track in a video, per face in a photo (no track: minus the detection id).
    means = ", ".join(f"AVG(p.p_{e})" for e in EMOTIONS)
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT d.media_id, COALESCE(d.track, -d.id) AS person, p.model, d.session_id, COUNT(*), MIN(d.t_s), "
                f"MAX(d.t_s), {means} FROM prediction p JOIN face_detection d ON d.id = p.detection_id "
                "GROUP BY d.media_id, COALESCE(d.track, -d.id), p.model, d.session_id"
            )
        )
        .all()
    )
    table = sa.table(
        "media_person",
        *[
            sa.column(c)
            for c in (
                "media_id",
                "person",
                "model",
                "session_id",
                "readings",
                "t_first",
                "t_last",
                "top_label",
                *[f"mean_{e}" for e in EMOTIONS],
            )
        ],
    )
    values = [
        dict(
            zip(("media_id", "person", "model", "session_id", "readings", "t_first", "t_last"), r[:7]),
            top_label=EMOTIONS[max(range(7), key=lambda i: r[7 + i])],
            **{f"mean_{e}": r[7 + i] for i, e in enumerate(EMOTIONS)},
        )
        for r in rows
    ]
    if values:
        op.bulk_insert(table, values)


def downgrade() -> None:
    with op.batch_alter_table("analysis_job") as batch:
        batch.drop_column("people")
    op.drop_index(op.f("ix_media_person_session_id"), table_name="media_person")
    op.drop_table("media_person")
