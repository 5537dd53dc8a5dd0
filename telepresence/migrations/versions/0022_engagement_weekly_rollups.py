"""engagement: the outcomes summed per pupil-week and per school-week-subject (rollups)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 07:15:00.000000

``engagement_weekly`` (per pupil, school week, school and robot) and
``engagement_subject_weeks`` (per school, week and subject) hold the sums the
dashboard reads instead of a term of outcomes (``engagement.rollup``). Both are
backfilled here from ``engagement_outcomes``. The outcome upsert recomputes
the weeks it touched; the trigger ``trg_engagement_outcomes_rollup``
recomputes the week of an outcome deleted (a booking or pupil deleted
cascades to its outcomes). The SQL is frozen here as
``engagement.rollup.trigger_ddl`` gave it on the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = "trg_engagement_outcomes_rollup"
FUNCTION = "engagement_outcomes_rollup"
SUMS = (
    "sum(CASE WHEN (outcome != 'cancelled') THEN 1 ELSE 0 END),"
    " sum(CASE WHEN (present_seconds > 0) THEN 1 ELSE 0 END),"
    " sum(CASE WHEN (outcome = 'attended') THEN 1 ELSE 0 END),"
    " sum(CASE WHEN (outcome = 'partial') THEN 1 ELSE 0 END),"
    " sum(CASE WHEN (outcome = 'missed') THEN 1 ELSE 0 END),"
    " sum(CASE WHEN (outcome = 'cancelled') THEN 1 ELSE 0 END),"
    " sum(present_seconds),"
    " sum(CASE WHEN (outcome != 'cancelled') THEN booked_seconds ELSE 0 END),"
    " min(lesson_date), max(lesson_date)"
)
SUMMED = (
    "booked, joined, attended, partial, missed, cancelled, present_seconds, booked_seconds,"
    " first_lesson, last_lesson"
)
WEEKLY = (
    "INSERT INTO engagement_weekly (pupil_id, week_monday, school_id, device_id, provider_id,"  # noqa: S608
    f" {SUMMED}, last_present)"
    f" SELECT pupil_id, week_monday, school_id, device_id, provider_id, {SUMS},"
    " max(CASE WHEN (present_seconds > 0) THEN lesson_date END)"
    " FROM engagement_outcomes {where}"
    " GROUP BY pupil_id, week_monday, school_id, device_id, provider_id"
)
SUBJECTS = (
    "INSERT INTO engagement_subject_weeks (school_id, week_monday, subject, provider_id,"  # noqa: S608
    f" {SUMMED}) SELECT school_id, week_monday, subject, provider_id, {SUMS}"
    " FROM engagement_outcomes {where} GROUP BY school_id, week_monday, subject, provider_id"
)
RECOMPUTE_OLD = [
    "DELETE FROM engagement_weekly WHERE pupil_id = OLD.pupil_id AND week_monday = OLD.week_monday",
    WEEKLY.format(where="WHERE pupil_id = OLD.pupil_id AND week_monday = OLD.week_monday"),
    "DELETE FROM engagement_subject_weeks WHERE school_id = OLD.school_id"
    " AND week_monday = OLD.week_monday",
    SUBJECTS.format(where="WHERE school_id = OLD.school_id AND week_monday = OLD.week_monday"),
]


def _sums() -> list[sa.Column[Any]]:
    counts = ["booked", "joined", "attended", "partial", "missed", "cancelled"]
    return [
        *[sa.Column(name, sa.Integer(), nullable=False) for name in counts],
        sa.Column("present_seconds", sa.Integer(), nullable=False),
        sa.Column("booked_seconds", sa.Integer(), nullable=False),
        sa.Column("first_lesson", sa.Date(), nullable=False),
        sa.Column("last_lesson", sa.Date(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "engagement_weekly",
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("week_monday", sa.Date(), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("last_present", sa.Date(), nullable=True),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "pupil_id", "week_monday", "school_id", "device_id", name=op.f("pk_engagement_weekly")
        ),
    )
    op.create_index(
        "ix_engagement_weekly_provider_week", "engagement_weekly", ["provider_id", "week_monday"]
    )
    op.create_table(
        "engagement_subject_weeks",
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("week_monday", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "school_id", "week_monday", "subject", name=op.f("pk_engagement_subject_weeks")
        ),
    )
    op.create_index(
        "ix_engagement_subject_weeks_provider_week",
        "engagement_subject_weeks",
        ["provider_id", "week_monday"],
    )
    op.execute(WEEKLY.format(where=""))
    op.execute(SUBJECTS.format(where=""))
    body = ";\n    ".join(RECOMPUTE_OLD)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n    {body};\n    RETURN NULL;\nEND $$"
        )
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW"
            f" EXECUTE FUNCTION {FUNCTION}()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW\n"
            f"BEGIN\n    {body};\nEND"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON engagement_outcomes")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    op.drop_index(
        "ix_engagement_subject_weeks_provider_week", table_name="engagement_subject_weeks"
    )
    op.drop_table("engagement_subject_weeks")
    op.drop_index("ix_engagement_weekly_provider_week", table_name="engagement_weekly")
    op.drop_table("engagement_weekly")
