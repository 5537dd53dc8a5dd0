"""engagement: the dashboard's scan of the outcomes reads one covering index

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:05:00.000000

``figures.breakdown`` groups a provider's outcomes by pupil, week, school and
device. With an index in that order that includes the summed columns,
PostgreSQL groups straight from the index (index-only scan, presorted)
instead of a parallel sequential scan and a sort that spilled to disk
(bench/term_report.py, 150,000 outcomes: 386 ms -> 166 ms for the query).
SQLite has no INCLUDE: there it is a plain index on the five columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDED = ["lesson_date", "outcome", "present_seconds", "booked_seconds", "subject"]


def upgrade() -> None:
    op.create_index(
        "ix_engagement_outcomes_provider_rollup",
        "engagement_outcomes",
        ["provider_id", "pupil_id", "week_monday", "school_id", "device_id"],
        postgresql_include=INCLUDED,
    )


def downgrade() -> None:
    op.drop_index("ix_engagement_outcomes_provider_rollup", table_name="engagement_outcomes")
