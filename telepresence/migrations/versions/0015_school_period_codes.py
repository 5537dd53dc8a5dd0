"""timetables: a school's own OneRoster period codes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:10:00.000000

Schools write week, day and period into OneRoster's free-text
``classes.periods`` in their own ways; staff map a school's codes once
(``X1`` -> ``A:Mon:1``) and every later import of that school reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "school_period_codes",
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("meaning", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_period_codes_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", "code", name=op.f("pk_school_period_codes")),
    )


def downgrade() -> None:
    op.drop_table("school_period_codes")
