"""scheduler: dated jobs point at the rota's new home (scheduler/rota/)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:10:00.000000

The scheduler was split into sub-packages (timetables, bookings, rota). A
dated job row names an importable function by its dotted path, so reminders,
escalations and morning rotas already scheduled must be renamed with it, or
they would fail to load on the first leader after the upgrade. Data only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "scheduler.rota_jobs:": "scheduler.rota.jobs:",
    "scheduler.rota_battery:": "scheduler.rota.battery:",
    "scheduler.rota_retention:": "scheduler.rota.retention:",
    "scheduler.rota_listener:": "scheduler.rota.listener:",
}


def _rename(old: str, new: str) -> None:
    jobs = sa.table("scheduled_jobs", sa.column("func", sa.String))
    op.execute(
        jobs.update()
        .where(jobs.c.func.like(f"{old}%"))
        .values(func=sa.func.replace(jobs.c.func, old, new))
    )


def upgrade() -> None:
    for old, new in RENAMED.items():
        _rename(old, new)


def downgrade() -> None:
    for old, new in RENAMED.items():
        _rename(new, old)
