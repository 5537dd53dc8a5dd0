"""rota: each robot's battery drain in lessons, learned from its telemetry

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 18:15:00.000000

One row per robot with enough lesson readings; a robot without one is
planned with the default rate, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telepresence.platform.database

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rota_drain_rates",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("pct_per_hour", sa.Float(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column(
            "learned_at", telepresence.platform.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_rota_drain_rates_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_rota_drain_rates")),
    )


def downgrade() -> None:
    op.drop_table("rota_drain_rates")
