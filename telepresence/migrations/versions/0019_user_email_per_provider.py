"""users: an email address is unique within its provider, not across the server

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:40:00.000000

A server-wide unique address let one provider's administrator learn, by
creating an account, that another provider has a person with that address
(an existence oracle across providers). Sign-in by address alone checks the
password against each account with that address.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_email", type_="unique")
        batch_op.create_index("uq_users_provider_email", ["provider_id", "email"], unique=True)
        batch_op.create_index("ix_users_email", ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_email")
        batch_op.drop_index("uq_users_provider_email")
        batch_op.create_unique_constraint("uq_users_email", ["email"])
