"""reintegration: plans and their history, readiness factors, reviews, contacts, actions, visits

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:16:15.112746

New tables only (telepresence/reintegration/models.py); nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telepresence.platform.database

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reintegration_factors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("group", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_reintegration_factors_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_factors")),
    )
    with op.batch_alter_table("reintegration_factors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_factors_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "reintegration_rules",
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("no_contact_days", sa.Integer(), nullable=False),
        sa.Column("review_remind_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_reintegration_rules_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_reintegration_rules")),
    )
    op.create_table(
        "reintegration_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "expires_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "used_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reintegration_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reintegration_invitations_token_hash")),
    )
    op.create_table(
        "reintegration_visit_feeds",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reintegration_visit_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_reintegration_visit_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reintegration_visit_feeds_token_hash")),
    )
    op.create_table(
        "reintegration_plans",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column("key_worker_id", sa.String(length=32), nullable=False),
        sa.Column("goal", sa.String(length=20), nullable=False),
        sa.Column("goal_detail", sa.String(length=300), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("expected_weeks", sa.Integer(), nullable=False),
        sa.Column("review_dates", sa.JSON(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("school_weekdays", sa.JSON(), nullable=False),
        sa.Column("school_lessons", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column(
            "created_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "closed_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["key_worker_id"], ["users.id"], name=op.f("fk_reintegration_plans_key_worker_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_reintegration_plans_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_reintegration_plans_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_reintegration_plans_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_plans")),
    )
    with op.batch_alter_table("reintegration_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_plans_key_worker_id"), ["key_worker_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reintegration_plans_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index("ix_reintegration_plans_pupil", ["pupil_id", "phase"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reintegration_plans_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "reintegration_school_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("pupil_id", sa.String(length=32), nullable=False),
        sa.Column("invited_by", sa.String(length=32), nullable=False),
        sa.Column(
            "invited_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_reintegration_school_contacts_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reintegration_school_contacts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_school_contacts")),
        sa.UniqueConstraint("user_id", "pupil_id", name="uq_school_contact_pupil"),
    )
    with op.batch_alter_table("reintegration_school_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_school_contacts_pupil_id"), ["pupil_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reintegration_school_contacts_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "reintegration_contacts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("people", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_role", sa.String(length=20), nullable=False),
        sa.Column(
            "recorded_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_contacts_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_contacts")),
    )
    with op.batch_alter_table("reintegration_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reintegration_contacts_plan", ["plan_id", "happened_on"], unique=False
        )

    op.create_table(
        "reintegration_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_events_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_events")),
    )
    with op.batch_alter_table("reintegration_events", schema=None) as batch_op:
        batch_op.create_index("ix_reintegration_events_plan_at", ["plan_id", "at"], unique=False)

    op.create_table(
        "reintegration_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_notes_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_notes")),
    )
    with op.batch_alter_table("reintegration_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_notes_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "reintegration_reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column(
            "recorded_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_reviews_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_reviews")),
    )
    with op.batch_alter_table("reintegration_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reintegration_reviews_plan", ["plan_id", "held_on"], unique=False)

    op.create_table(
        "reintegration_visits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("key_worker_id", sa.String(length=32), nullable=False),
        sa.Column("school_id", sa.String(length=32), nullable=False),
        sa.Column(
            "starts_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "ends_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_worker_id"],
            ["users.id"],
            name=op.f("fk_reintegration_visits_key_worker_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_visits_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_reintegration_visits_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_visits")),
    )
    with op.batch_alter_table("reintegration_visits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_visits_key_worker_id"), ["key_worker_id"], unique=False
        )
        batch_op.create_index(
            "ix_reintegration_visits_plan", ["plan_id", "starts_at"], unique=False
        )

    op.create_table(
        "reintegration_actions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("assignee", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column(
            "done_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("done_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["reintegration_contacts.id"],
            name=op.f("fk_reintegration_actions_contact_id_reintegration_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["reintegration_plans.id"],
            name=op.f("fk_reintegration_actions_plan_id_reintegration_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_actions")),
    )
    with op.batch_alter_table("reintegration_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reintegration_actions_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "reintegration_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_id", sa.String(length=32), nullable=False),
        sa.Column("factor_id", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["factor_id"],
            ["reintegration_factors.id"],
            name=op.f("fk_reintegration_ratings_factor_id_reintegration_factors"),
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reintegration_reviews.id"],
            name=op.f("fk_reintegration_ratings_review_id_reintegration_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reintegration_ratings")),
        sa.UniqueConstraint("review_id", "factor_id", name="uq_rating_factor"),
    )


def downgrade() -> None:
    op.drop_table("reintegration_ratings")
    with op.batch_alter_table("reintegration_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reintegration_actions_plan_id"))

    op.drop_table("reintegration_actions")
    with op.batch_alter_table("reintegration_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_reintegration_visits_plan")
        batch_op.drop_index(batch_op.f("ix_reintegration_visits_key_worker_id"))

    op.drop_table("reintegration_visits")
    with op.batch_alter_table("reintegration_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reintegration_reviews_plan")

    op.drop_table("reintegration_reviews")
    with op.batch_alter_table("reintegration_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reintegration_notes_plan_id"))

    op.drop_table("reintegration_notes")
    with op.batch_alter_table("reintegration_events", schema=None) as batch_op:
        batch_op.drop_index("ix_reintegration_events_plan_at")

    op.drop_table("reintegration_events")
    with op.batch_alter_table("reintegration_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_reintegration_contacts_plan")

    op.drop_table("reintegration_contacts")
    with op.batch_alter_table("reintegration_school_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reintegration_school_contacts_user_id"))
        batch_op.drop_index(batch_op.f("ix_reintegration_school_contacts_pupil_id"))

    op.drop_table("reintegration_school_contacts")
    with op.batch_alter_table("reintegration_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reintegration_plans_school_id"))
        batch_op.drop_index("ix_reintegration_plans_pupil")
        batch_op.drop_index(batch_op.f("ix_reintegration_plans_provider_id"))
        batch_op.drop_index(batch_op.f("ix_reintegration_plans_key_worker_id"))

    op.drop_table("reintegration_plans")
    op.drop_table("reintegration_visit_feeds")
    op.drop_table("reintegration_invitations")
    op.drop_table("reintegration_rules")
    with op.batch_alter_table("reintegration_factors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reintegration_factors_provider_id"))

    op.drop_table("reintegration_factors")
