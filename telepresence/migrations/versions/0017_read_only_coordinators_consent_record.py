"""coordinators read only unless the provider allows; who gave a pupil's camera consent and when

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:10:00.000000

``providers.coordinators_may_change`` defaults to false: coordinators read, and
record no consent and pin no move, until an administrator allows it (issue 16).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "coordinators_may_change", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.add_column(sa.Column("camera_consent_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("camera_consent_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.drop_column("camera_consent_on")
        batch_op.drop_column("camera_consent_by")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("coordinators_may_change")
