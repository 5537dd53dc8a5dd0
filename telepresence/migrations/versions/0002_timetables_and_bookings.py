"""Timetables and bookings: school calendars, lessons, unavailability, bookings (issue 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:17:39.163506
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telepresence.platform.database

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "school_bell_periods",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_bell_periods_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_bell_periods")),
    )
    with op.batch_alter_table("school_bell_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_school_bell_periods_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "school_calendars",
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("week_a_monday", sa.Date(), nullable=True),
        sa.Column("school_weekdays", sa.JSON(), nullable=False),
        sa.Column(
            "updated_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_calendars_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_school_calendars")),
    )
    op.create_table(
        "school_closures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_closures_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_closures")),
    )
    with op.batch_alter_table("school_closures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_school_closures_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "school_terms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_terms_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_terms")),
    )
    with op.batch_alter_table("school_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_school_terms_school_id"), ["school_id"], unique=False)

    op.create_table(
        "school_week_overrides",
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("week_monday", sa.Date(), nullable=False),
        sa.Column("week", sa.String(length=1), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_week_overrides_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", "week_monday", name=op.f("pk_school_week_overrides")),
    )
    op.create_table(
        "lessons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("class_group", sa.String(length=100), nullable=False),
        sa.Column("teacher", sa.String(length=200), nullable=False),
        sa.Column("room", sa.String(length=100), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("week", sa.String(length=1), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("excluded_dates", sa.JSON(), nullable=False),
        sa.Column("extra_dates", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["pupils.id"], name=op.f("fk_lessons_pupil_id_pupils"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lessons")),
    )
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.create_index("uq_lessons_pupil_key", ["pupil_id", "key"], unique=True)

    op.create_table(
        "timetables",
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("source_format", sa.String(length=12), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("lesson_count", sa.Integer(), nullable=False),
        sa.Column(
            "imported_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("imported_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_timetables_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pupil_id", name=op.f("pk_timetables")),
    )
    op.create_table(
        "unavailability",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "starts_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "ends_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_unavailability_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unavailability")),
    )
    with op.batch_alter_table("unavailability", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unavailability_pupil_id"), ["pupil_id"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("lesson_key", sa.String(length=40), nullable=False),
        sa.Column("lesson_date", sa.Date(), nullable=False),
        sa.Column(
            "starts_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "ends_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("room", sa.String(length=100), nullable=False),
        sa.Column("classroom_device_id", sa.String(length=32), nullable=False),
        sa.Column("pupil_device_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column(
            "cancelled_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("cancelled_by", sa.String(length=32), nullable=True),
        sa.Column("flagged_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "flagged_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["classroom_device_id"],
            ["devices.id"],
            name=op.f("fk_bookings_classroom_device_id_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["pupil_device_id"], ["devices.id"], name=op.f("fk_bookings_pupil_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_bookings_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_bookings_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bookings_classroom_device_starts",
            ["classroom_device_id", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_bookings_pupil_device_starts", ["pupil_device_id", "starts_at"], unique=False
        )
        batch_op.create_index("ix_bookings_pupil_starts", ["pupil_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_school_id"), ["school_id"], unique=False)
        batch_op.create_index(
            "uq_bookings_live_occurrence",
            ["pupil_id", "lesson_key", "lesson_date"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bookings_live_occurrence",
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.drop_index(batch_op.f("ix_bookings_school_id"))
        batch_op.drop_index("ix_bookings_pupil_starts")
        batch_op.drop_index("ix_bookings_pupil_device_starts")
        batch_op.drop_index("ix_bookings_classroom_device_starts")

    op.drop_table("bookings")
    with op.batch_alter_table("unavailability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unavailability_pupil_id"))

    op.drop_table("unavailability")
    op.drop_table("timetables")
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.drop_index("uq_lessons_pupil_key")

    op.drop_table("lessons")
    op.drop_table("school_week_overrides")
    with op.batch_alter_table("school_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_terms_school_id"))

    op.drop_table("school_terms")
    with op.batch_alter_table("school_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_closures_school_id"))

    op.drop_table("school_closures")
    op.drop_table("school_calendars")
    with op.batch_alter_table("school_bell_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_bell_periods_school_id"))

    op.drop_table("school_bell_periods")
