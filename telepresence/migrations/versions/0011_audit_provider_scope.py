"""audit log: the acting provider on every entry, so reads stay inside one provider

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 02:20:00.000000

Existing entries take the provider of the user, pupil or device who acted;
an entry whose actor is gone (or the command line) stays without one and is
then shown to nobody.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = (
    "UPDATE audit_log SET provider_id = "
    "(SELECT provider_id FROM {table} WHERE {table}.id = audit_log.actor_id) "
    "WHERE provider_id IS NULL"
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("provider_id", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_audit_log_provider_id"), ["provider_id"], unique=False)
    for table in ("users", "pupils", "devices"):
        op.execute(_BACKFILL.format(table=table))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(batch.f("ix_audit_log_provider_id"))
        batch.drop_column("provider_id")
