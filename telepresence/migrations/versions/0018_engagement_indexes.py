"""engagement: moves found by their booking; what each outcome was computed from

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 04:20:00.000000

Each lesson's outcome looks up the move that should have brought its robot
("Missed: robot not moved"); without an index on ``rota_moves.booking_id``
the nightly recompute scanned every move of the term once per 500 lessons
(bench/term_report.py: 3.2 s of a 31 s recompute for 2,000 pupils).
``engagement_outcomes.source`` says what an outcome was computed from, so
the nightly recompute takes only the lessons whose timeline, booking or
move changed since (a late event), not the whole fortnight.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_rota_moves_booking_id", "rota_moves", ["booking_id"])
    with op.batch_alter_table("engagement_outcomes") as batch:
        batch.add_column(sa.Column("source", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("engagement_outcomes") as batch:
        batch.drop_column("source")
    op.drop_index("ix_rota_moves_booking_id", table_name="rota_moves")
