"""devices: a serial is unique within its provider, not across the server

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 04:15:00.000000

A server-wide unique serial let one provider learn, by registering it, that
another provider has a device with that serial (an existence oracle across
providers). Each provider's serials stay unique among themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_devices_serial", type_="unique")
        batch_op.create_index("uq_devices_provider_serial", ["provider_id", "serial"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("uq_devices_provider_serial")
        batch_op.create_unique_constraint("uq_devices_serial", ["serial"])
