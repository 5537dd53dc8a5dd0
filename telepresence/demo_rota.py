"""The rota part of ``classbridge demo``: assistants on duty, and today's rota planned.

Idempotent: an assistant who has duty patterns keeps them. Run after the
bookings are seeded, so today's booked lessons already have their moves
when the assistant first opens their page.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from scheduler.rota.loading import school_zone
from scheduler.rota.models import AssistantRotaRow, DutyPatternRow
from scheduler.rota.planning import plan_day
from telepresence.platform.database import Database
from telepresence.platform.models import School, User

__all__ = ["DUTY", "LUNCH", "seed_rota"]

DUTY = (time(8, 0), time(16, 0))
"""Demo assistants work 08:00 to 16:00, Monday to Friday (school time)."""
LUNCH = ("12:15", "12:45")
DAILY_CAP = 12


async def seed_rota(database: Database, now: datetime) -> None:
    """Give every assistant without duty a Monday to Friday pattern, then plan today's rotas.

    ``now`` is aware UTC; "today" is each school's local date.
    """
    async with database.transaction() as session:
        assistants = list(await session.scalars(select(User).where(User.role == "assistant")))
        on_duty = set(await session.scalars(select(DutyPatternRow.user_id).distinct()))
        for user in assistants:
            if user.id in on_duty or user.school_id is None:
                continue
            for weekday in range(5):
                session.add(
                    DutyPatternRow(
                        user_id=user.id,
                        school_id=user.school_id,
                        weekday=weekday,
                        start_time=DUTY[0],
                        end_time=DUTY[1],
                        breaks=[list(LUNCH)],
                        created_at=now,
                    )
                )
            if await session.get(AssistantRotaRow, user.id) is None:
                session.add(AssistantRotaRow(user_id=user.id, max_moves_per_day=DAILY_CAP))
    async with database.transaction() as session:
        for school in list(await session.scalars(select(School))):
            await plan_day(session, school.id, now.astimezone(school_zone(school)).date(), now)
