"""Use cases of the rota's settings: duty patterns, absences, walking times, calendar links.

Bad input is refused whole with ``InvalidInput`` naming the field at fault
(``patterns.1.start``), and nothing is changed.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.rota.models import (
    AbsenceRow,
    AssistantRotaRow,
    DutyPatternRow,
    FeedTokenRow,
    WalkingOverrideRow,
    WalkingRuleRow,
)
from scheduler.rota.schemas import AbsenceIn, BreakIn, DutyIn, DutyPatternIn, WalkingIn
from telepresence.platform.errors import Gone, InvalidInput, NotFound
from telepresence.platform.models import Room, School, User
from telepresence.platform.security.identity import Principal, Role, hash_token

__all__ = [
    "MAX_ABSENCE_DAYS",
    "add_absence",
    "assistant_of",
    "check_duty",
    "feed_owner",
    "get_duty",
    "list_absences",
    "new_feed",
    "put_duty",
    "put_walking",
    "revoke_feeds",
    "school_bases",
    "set_base_room",
]

MAX_ABSENCE_DAYS = 366


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}; nothing was changed.", errors=[{"field": field, "message": message}]
    )


async def assistant_of(session: AsyncSession, who: Principal, user_id: str) -> User:
    """An assistant the caller may manage: staff of the provider, or the assistant themself.

    Raises ``NotFound`` for anyone else (ids of other people leak nothing).
    """
    user = await session.get(User, user_id)
    if user is None or user.role != "assistant" or user.provider_id != who.provider_id:
        raise NotFound(f"There is no assistant {user_id!r}.")
    if not who.is_staff and who.subject_id != user.id:
        raise NotFound(f"There is no assistant {user_id!r}.")
    return user


def check_duty(patterns: list[DutyPatternIn]) -> None:
    """Refuse a stretch ending before it starts, breaks outside it, or overlapping stretches."""
    for i, p in enumerate(patterns):
        if p.end <= p.start:
            raise _invalid(f"patterns.{i}.end", "ends before it starts")
        last = p.start
        for j, b in sorted(enumerate(p.breaks), key=lambda x: x[1].start):
            if b.end <= b.start:
                raise _invalid(f"patterns.{i}.breaks.{j}.end", "the break ends before it starts")
            if b.start < last or b.end > p.end:
                raise _invalid(
                    f"patterns.{i}.breaks.{j}.start",
                    "breaks must lie inside the duty and not overlap",
                )
            last = b.end
    for i, p in enumerate(patterns):
        for k in range(i):
            q = patterns[k]
            if q.weekday == p.weekday and p.start < q.end and q.start < p.end:
                raise _invalid(f"patterns.{i}.start", f"overlaps patterns.{k} on the same weekday")


async def put_duty(session: AsyncSession, user: User, body: DutyIn, now: datetime) -> None:
    """Replace the assistant's duty patterns, cap and phone (validated first)."""
    check_duty(body.patterns)
    if user.school_id is None:
        raise _invalid("user_id", "the assistant has no school")
    await session.execute(delete(DutyPatternRow).where(DutyPatternRow.user_id == user.id))
    for p in body.patterns:
        session.add(
            DutyPatternRow(
                user_id=user.id,
                school_id=user.school_id,
                weekday=p.weekday,
                start_time=p.start,
                end_time=p.end,
                breaks=[[f"{b.start:%H:%M}", f"{b.end:%H:%M}"] for b in p.breaks],
                created_at=now,
            )
        )
    settings = await session.get(AssistantRotaRow, user.id)
    if settings is None:
        settings = AssistantRotaRow(user_id=user.id)
        session.add(settings)
    settings.max_moves_per_day, settings.phone = body.max_moves_per_day, body.phone
    await session.flush()


async def get_duty(
    session: AsyncSession, user: User
) -> tuple[list[DutyPatternIn], AssistantRotaRow | None]:
    """The assistant's patterns by weekday and start, and their settings row."""
    rows = await session.scalars(
        select(DutyPatternRow)
        .where(DutyPatternRow.user_id == user.id)
        .order_by(DutyPatternRow.weekday, DutyPatternRow.start_time)
    )
    patterns = [
        DutyPatternIn(
            weekday=r.weekday,
            start=r.start_time,
            end=r.end_time,
            breaks=[
                BreakIn(start=time.fromisoformat(a), end=time.fromisoformat(b)) for a, b in r.breaks
            ],
        )
        for r in rows
    ]
    return patterns, await session.get(AssistantRotaRow, user.id)


async def add_absence(
    session: AsyncSession, who: Principal, user: User, body: AbsenceIn, now: datetime
) -> AbsenceRow:
    """Record days away (validated: in order, at most a year)."""
    if body.end_date < body.start_date:
        raise _invalid("end_date", "before start_date")
    if (body.end_date - body.start_date).days >= MAX_ABSENCE_DAYS:
        raise _invalid("end_date", f"at most {MAX_ABSENCE_DAYS} days at a time")
    if user.school_id is None:
        raise _invalid("user_id", "the assistant has no school")
    row = AbsenceRow(
        user_id=user.id,
        school_id=user.school_id,
        start_date=body.start_date,
        end_date=body.end_date,
        reason=body.reason,
        created_at=now,
        created_by=who.subject_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_absences(session: AsyncSession, user: User, since: date) -> list[AbsenceRow]:
    """The assistant's absences ending on or after ``since``, earliest first."""
    return list(
        await session.scalars(
            select(AbsenceRow)
            .where(AbsenceRow.user_id == user.id, AbsenceRow.end_date >= since)
            .order_by(AbsenceRow.start_date)
        )
    )


async def put_walking(
    session: AsyncSession, who: Principal, school_id: str, body: WalkingIn, now: datetime
) -> School:
    """Replace the school's walking rule and overrides; unknown rooms are refused (422)."""
    school = await session.get(School, school_id)
    if school is None or school.provider_id != who.provider_id:
        raise NotFound(f"There is no school {school_id!r}.")
    rooms = set(await session.scalars(select(Room.id).where(Room.school_id == school.id)))
    pairs: dict[tuple[str, str], int] = {}
    for i, o in enumerate(body.overrides):
        for name in ("room_a_id", "room_b_id"):
            if getattr(o, name) not in rooms:
                raise _invalid(f"overrides.{i}.{name}", "not a room of this school")
        if o.room_a_id == o.room_b_id:
            raise _invalid(f"overrides.{i}.room_b_id", "the same room as room_a_id")
        a, b = sorted((o.room_a_id, o.room_b_id))
        pairs[(a, b)] = int(timedelta(minutes=o.minutes).total_seconds())
    rule = await session.get(WalkingRuleRow, school.id)
    if rule is None:
        rule = WalkingRuleRow(school_id=school.id)
        session.add(rule)
    rule.same_floor_s = int(body.same_floor_minutes * 60)
    rule.same_building_s = int(body.same_building_minutes * 60)
    rule.other_building_s = int(body.other_building_minutes * 60)
    rule.updated_at = now
    await session.execute(
        delete(WalkingOverrideRow).where(WalkingOverrideRow.school_id == school.id)
    )
    for (a, b), seconds in pairs.items():
        session.add(
            WalkingOverrideRow(school_id=school.id, room_a_id=a, room_b_id=b, seconds=seconds)
        )
    await session.flush()
    return school


async def new_feed(session: AsyncSession, user: User, now: datetime) -> str:
    """A new secret feed token for the assistant (earlier ones are revoked); shown once."""
    await revoke_feeds(session, user, now)
    token = secrets.token_urlsafe(32)
    session.add(FeedTokenRow(user_id=user.id, token_hash=hash_token(token), created_at=now))
    await session.flush()
    return token


async def revoke_feeds(session: AsyncSession, user: User, now: datetime) -> int:
    """Revoke every live feed token of the assistant; how many there were."""
    result = await session.execute(
        update(FeedTokenRow)
        .where(FeedTokenRow.user_id == user.id, FeedTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def feed_owner(session: AsyncSession, token: str) -> User:
    """The assistant a feed token belongs to; ``NotFound`` (unknown) or ``Gone`` (revoked)."""
    row = await session.scalar(
        select(FeedTokenRow).where(FeedTokenRow.token_hash == hash_token(token))
    )
    if row is None:
        raise NotFound("There is no calendar feed at this address.")
    if row.revoked_at is not None:
        raise Gone("This calendar link was revoked; get a new one from your rota page.")
    user = await session.get(User, row.user_id)
    if user is None or not user.active or user.role != Role.ASSISTANT.value:
        raise Gone("This calendar link no longer works.")
    return user


async def set_base_room(session: AsyncSession, user: User, room_id: str | None) -> Room | None:
    """Set the room the assistant starts their duty from (``None``: unknown); the room.

    Raises ``InvalidInput`` (``room_id``) for a room that is not of the assistant's school.
    """
    room = None
    if room_id is not None:
        room = await session.get(Room, room_id)
        if room is None or room.school_id != user.school_id:
            raise _invalid("room_id", "not a room of the assistant's school")
    settings = await session.get(AssistantRotaRow, user.id)
    if settings is None:
        settings = AssistantRotaRow(user_id=user.id)
        session.add(settings)
    settings.base_room_id = room.id if room else None
    await session.flush()
    return room


async def school_bases(session: AsyncSession, school_id: str) -> tuple[list[Room], dict[str, str]]:
    """The school's rooms by name, and its assistants' base rooms (user id → room id)."""
    rooms = list(
        await session.scalars(select(Room).where(Room.school_id == school_id).order_by(Room.name))
    )
    rows = await session.execute(
        select(AssistantRotaRow.user_id, AssistantRotaRow.base_room_id)
        .join(User, User.id == AssistantRotaRow.user_id)
        .where(User.school_id == school_id, AssistantRotaRow.base_room_id.is_not(None))
    )
    return rooms, {user_id: room_id for user_id, room_id in rows if room_id}
