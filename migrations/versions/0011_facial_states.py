"""facial states

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:45:00

face_detection: head orientation (yaw, pitch, roll), gaze, looking, eyes and mouth opening, brow height and why
they are missing, for every face reading. Readings analysed before stay valid with the columns empty; analysing
a file again fills them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FLOATS = ("yaw", "pitch", "roll", "gaze_yaw", "gaze_pitch", "eyes_open", "mouth_open", "brow_height")


def upgrade() -> None:
    # plain ADD COLUMNs (nullable, no default): instant on SQLite and PostgreSQL however many readings there are
    for name in FLOATS:
        op.add_column("face_detection", sa.Column(name, sa.Float(), nullable=True))
    op.add_column("face_detection", sa.Column("looking", sa.Boolean(), nullable=True))
    op.add_column("face_detection", sa.Column("states_missing", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_detection") as batch:
        for name in ("states_missing", "looking", *reversed(FLOATS)):
            batch.drop_column(name)
