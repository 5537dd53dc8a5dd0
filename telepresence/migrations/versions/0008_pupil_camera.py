"""pupil camera: the school's allow-setting, the pupil's consent, and each token's grant

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00.000000

All three default to false, so existing schools, pupils and live tokens keep
the pupil's camera off (issue 4: asymmetric by default).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("schools", "allow_pupil_camera"),
    ("pupils", "camera_consent"),
    ("session_tokens", "pupil_camera"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
