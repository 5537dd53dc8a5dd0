"""The rota's dated jobs: a reminder before each move and an escalation when one is not done.

Jobs are scheduled (and re-scheduled, idempotently by id) whenever a school
day's plan is announced, and run on the elected leader. Each re-reads its
move, so a move done, reassigned or removed since is left alone; sends carry
idempotency keys, so a job that runs twice (a restart) tells nobody twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from device_registry.models import Device
from scheduler.rota.loading import school_zone
from scheduler.rota.models import MoveRow, RotaMorningRow
from scheduler.rota.planning import plan_day, rota_topic
from scheduler.timetables.repository import pupil_display_name
from telepresence.platform.errors import DomainError
from telepresence.platform.events.notifier import Notice
from telepresence.platform.jobs.runner import JobContext, JobRunner
from telepresence.platform.models import Pupil, School, User

__all__ = [
    "MORNING_TOPIC",
    "cancel_move_jobs",
    "escalate_move",
    "morning_plan",
    "remind_move",
    "schedule_day_jobs",
    "send_morning_rotas",
]

log = structlog.get_logger("classbridge.rota")
OPEN = ("pending", "assigned")
MORNING_TOPIC = "rota-mornings"
"""Morning plans made by the leader's job, for the rota listener to announce."""
REMIND = "scheduler.rota.jobs:remind_move"
ESCALATE = "scheduler.rota.jobs:escalate_move"


async def _describe(db: Any, move: MoveRow) -> tuple[str, School | None, Pupil | None]:
    device = await db.get(Device, move.device_id)
    school = await db.get(School, move.school_id)
    pupil = await db.get(Pupil, move.pupil_id) if move.pupil_id else None
    zone = school_zone(school) if school else None
    due = move.due.astimezone(zone).strftime("%H:%M") if zone else move.due.strftime("%H:%M")
    kind = "Robot" if device is None or device.kind == "robot" else "Tablet"
    name = device.name if device else "device"
    text = f"{kind} '{name}' · from {move.from_room_name} to {move.to_room_name} · by {due}"
    if pupil is not None:
        text += f" · for {pupil_display_name(pupil)}"
    return text, school, pupil


async def remind_move(ctx: JobContext, *, move_id: str) -> bool:
    """Remind the assigned assistant of a move still to do; True when a reminder went out."""
    now = ctx.clock.now()
    async with ctx.database.transaction() as db:
        move = await db.get(MoveRow, move_id)
        if move is None or move.status != "assigned" or move.assistant_id is None:
            return False
        user = await db.get(User, move.assistant_id)
        if user is None:
            return False
        text, _school, _pupil = await _describe(db, move)
        move.reminded_at = move.reminded_at or now
        notice = Notice(
            idempotency_key=f"move-reminder:{move.id}:{user.id}",
            kind="move_reminder",
            subject=f"Soon: {text}",
            body=f"Please move it now: {text}.",
            user_id=user.id,
            email=user.email,
            link="/assistant",
        )
    ctx.events.publish(f"rota:{move.school_id}", {"kind": "reminded", "move": move.id})
    return bool(ctx.notifier and await ctx.notifier.notify(notice))


async def escalate_move(ctx: JobContext, *, move_id: str) -> bool:
    """A move not confirmed in time: mark it escalated and tell the school and the key worker."""
    now = ctx.clock.now()
    async with ctx.database.transaction() as db:
        move = await db.get(MoveRow, move_id)
        if move is None or move.status not in OPEN:
            return False
        text, school, pupil = await _describe(db, move)
        move.status, move.escalated_at = "escalated", now
        move.status_reason = "not confirmed in time"
        key_worker = (
            await db.get(User, pupil.key_worker_id) if pupil and pupil.key_worker_id else None
        )
    notices = []
    body = f"Nobody has confirmed this move and the lesson is about to start: {text}."
    if school is not None and school.contact_email:
        notices.append(
            Notice(
                idempotency_key=f"move-escalation:{move.id}:school",
                kind="move_escalated",
                subject=f"Not done: {text}",
                body=body,
                email=school.contact_email,
            )
        )
    if key_worker is not None:
        notices.append(
            Notice(
                idempotency_key=f"move-escalation:{move.id}:{key_worker.id}",
                kind="move_escalated",
                subject=f"Not done: {text}",
                body=body,
                user_id=key_worker.id,
                email=key_worker.email,
                link=f"/schools/{move.school_id}/rota",
            )
        )
    ctx.events.publish(f"rota:{move.school_id}", {"kind": "escalated", "move": move.id})
    sent = [await ctx.notifier.notify(n) for n in notices] if ctx.notifier else []
    return any(sent)


async def schedule_day_jobs(jobs: JobRunner, school_id: str, day: date) -> int:
    """(Re)schedule the reminders and escalations of a school day's open moves.

    Returns how many jobs were scheduled. A move that is no longer assigned
    loses its reminder; one that is done loses both (the jobs also check).
    """
    settings, now = jobs.context.settings, jobs.context.clock.now()
    remind = timedelta(minutes=settings.rota_reminder_minutes)
    escalate = timedelta(minutes=settings.rota_escalation_minutes)
    async with jobs.context.database.sessions() as db:
        moves = list(
            await db.scalars(
                select(MoveRow).where(MoveRow.school_id == school_id, MoveRow.local_date == day)
            )
        )
    scheduled = 0
    for move in moves:
        reminder, escalation = f"move-reminder:{move.id}", f"move-escalation:{move.id}"
        if move.status == "assigned" and move.departs_at and move.reminded_at is None:
            await jobs.schedule_once(
                reminder, REMIND, _not_before(move.departs_at - remind, now), {"move_id": move.id}
            )
            scheduled += 1
        else:
            await jobs.cancel(reminder)
        if move.status in OPEN:
            await jobs.schedule_once(
                escalation, ESCALATE, _not_before(move.due - escalate, now), {"move_id": move.id}
            )
            scheduled += 1
        else:
            await jobs.cancel(escalation)
    return scheduled


async def cancel_move_jobs(jobs: JobRunner, move_id: str) -> None:
    """A move confirmed done needs neither its reminder nor its escalation."""
    await jobs.cancel(f"move-reminder:{move_id}")
    await jobs.cancel(f"move-escalation:{move_id}")


def _not_before(at: datetime, now: datetime) -> datetime:
    return max(at, now)


MORNING_FROM = time(7, 0)
MORNING_UNTIL = time(10, 0)


async def morning_plan(ctx: JobContext, school_id: str, day: date) -> bool:
    """Re-plan a school's today once, with the robots' morning battery readings.

    Recorded in ``rota_mornings`` so later runs skip it; the outcome goes to
    the school's pages and, on ``MORNING_TOPIC``, to the rota listener, which
    raises its alerts and schedules its reminders. True when it planned now.
    """
    now = ctx.clock.now()
    try:
        async with ctx.database.transaction() as db:
            if await db.get(RotaMorningRow, (school_id, day)) is not None:
                return False
            outcome = await plan_day(db, school_id, day, now)
            db.add(RotaMorningRow(school_id=school_id, local_date=day, planned_at=now))
    except (SQLAlchemyError, DomainError) as exc:  # another instance did it, or it is gone
        log.warning("rota.morning_plan_failed", school_id=school_id, error=str(exc))
        return False
    event = outcome.event()
    ctx.events.publish(rota_topic(school_id), event)
    ctx.events.publish(MORNING_TOPIC, {**event, "school_id": school_id})
    return True


async def send_morning_rotas(ctx: JobContext) -> int:
    """Each assistant's moves for today, once a day, between 07:00 and 10:00 school time.

    Runs every few minutes on the leader. The first run of a school's morning
    re-plans its day (``morning_plan``: the battery rule uses the readings of
    the morning) before the messages are written. The idempotency key per
    school, day and assistant makes every later run a no-op. Returns how many
    were sent.
    """
    now, sent = ctx.clock.now(), 0
    async with ctx.database.sessions() as db:
        schools = list(await db.scalars(select(School)))
    mornings = [
        (school, local)
        for school in schools
        if MORNING_FROM <= (local := now.astimezone(school_zone(school))).time() < MORNING_UNTIL
    ]
    for school, local in mornings:
        await morning_plan(ctx, school.id, local.date())
    async with ctx.database.sessions() as db:
        todays: list[tuple[User, list[str], str]] = []
        for school, local in mornings:
            moves = list(
                await db.scalars(
                    select(MoveRow)
                    .where(
                        MoveRow.school_id == school.id,
                        MoveRow.local_date == local.date(),
                        MoveRow.assistant_id.is_not(None),
                        MoveRow.status == "assigned",
                    )
                    .order_by(MoveRow.due)
                )
            )
            by_assistant: dict[str, list[str]] = {}
            for move in moves:
                text, _school, _pupil = await _describe(db, move)
                by_assistant.setdefault(str(move.assistant_id), []).append(text)
            for user_id, lines in by_assistant.items():
                user = await db.get(User, user_id)
                if user is not None:
                    todays.append((user, lines, f"{school.id}:{local.date().isoformat()}"))
    for user, lines, key in todays:
        notice = Notice(
            idempotency_key=f"morning-rota:{key}:{user.id}",
            kind="morning_rota",
            subject=f"Today's moves ({len(lines)})",
            body="\n".join(lines),
            user_id=user.id,
            email=user.email,
            link="/assistant",
        )
        sent += bool(ctx.notifier and await ctx.notifier.notify(notice))
    return sent
