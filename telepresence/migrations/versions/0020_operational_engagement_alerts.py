"""operational engagement alerts: one open per pupil, rule and subject (a move, a device, a day)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 04:45:00.000000

``engagement_alerts.subject_key`` names what an operational alert is about
(``move:<id>``, ``device:<id>``, ``day:<date>``; empty for the disengagement
rules), and the "one open alert" index takes it in (issue 11).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status != 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("engagement_alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_key", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.drop_index("uq_engagement_alerts_open", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index(
            "uq_engagement_alerts_open",
            ["pupil_id", "rule", "subject_key"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    # Several operational alerts of one pupil and rule may be open: the older index allows one.
    op.execute(
        "UPDATE engagement_alerts SET status = 'resolved' "
        "WHERE subject_key != '' AND status != 'resolved'"
    )
    with op.batch_alter_table("engagement_alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_engagement_alerts_open", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index(
            "uq_engagement_alerts_open",
            ["pupil_id", "rule"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.drop_column("subject_key")
