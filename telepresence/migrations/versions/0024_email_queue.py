"""notifications: emails are queued and sent by a background sender (email_next_at)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:40:00.000000

A notice's email is no longer sent inside ``notify()`` (the request or the job
that told someone): the row is the queue. ``email_next_at`` is when its next
try is due (NULL: nothing more to send); a sender claims a due row by moving
it on (a lease), tries once and records the outcome or the next try, doubling.
Rows still waiting at the upgrade are due at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from telepresence.platform.database import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("email_next_at", UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE notifications SET email_next_at = created_at "
        "WHERE email_status IN ('pending', 'retrying') AND email IS NOT NULL"
    )
    op.create_index("ix_notifications_email_next_at", "notifications", ["email_next_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_email_next_at", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("email_next_at")
