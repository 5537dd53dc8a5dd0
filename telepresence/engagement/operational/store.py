"""Operational alerts in the ``engagement_alerts`` table: open once per pupil, rule and subject,
clear when the cause has gone (``sync``, from the engagement minute job).

They reach the same people as the disengagement alerts (the pupil's key worker
and the provider's coordinators), through the same inbox, alert page, API and
daily digest; the rota's own notices still go out as before, so no second
notice is sent for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from telepresence.engagement.disengagement.alerts import SYSTEM, recipients_for
from telepresence.engagement.models import AlertRecipientRow, AlertRow
from telepresence.engagement.operational import rules
from telepresence.engagement.operational.rules import OpsDraft, OpsRule
from telepresence.platform.models import Pupil, School, zone_of

__all__ = [
    "QUIET_AFTER_HAND",
    "Synced",
    "clear",
    "device_link",
    "move_draft",
    "move_link",
    "open_alert",
    "sync",
]

QUIET_AFTER_HAND = timedelta(hours=24)
"""An operational alert resolved by hand is not opened again for the same subject this long."""


@dataclass(slots=True)
class Synced:
    """What one ``sync`` did."""

    opened: int = 0
    cleared: int = 0


async def open_alert(
    db: AsyncSession,
    pupil_id: str,
    draft: OpsDraft,
    now: datetime,
    *,
    link: tuple[str, str] | None = None,
) -> AlertRow | None:
    """Open the alert unless one is open for the pupil, rule and subject (or was resolved by
    hand lately); its recipients are the pupil's key worker and the provider's coordinators.
    ``link``: the page of what it is about and the words of the link to it (the alert
    page shows it)."""
    same = (
        AlertRow.pupil_id == pupil_id,
        AlertRow.rule == draft.rule.value,
        AlertRow.subject_key == draft.subject_key,
    )
    if await db.scalar(select(AlertRow.id).where(*same, AlertRow.status != "resolved")):
        return None
    quiet = select(AlertRow.id).where(
        *same,
        AlertRow.status == "resolved",
        AlertRow.resolved_by != SYSTEM,
        AlertRow.resolved_at > now - QUIET_AFTER_HAND,
    )
    if await db.scalar(quiet.limit(1)):
        return None
    pupil = await db.get(Pupil, pupil_id)
    if pupil is None:
        return None
    alert = AlertRow(
        pupil_id=pupil_id,
        provider_id=pupil.provider_id,
        rule=draft.rule.value,
        subject_key=draft.subject_key,
        status="open",
        summary=draft.summary[:300],
        figures=draft.figures | ({"link": link[0], "link_text": link[1]} if link else {}),
        opened_at=now,
        note="",
    )
    try:
        async with db.begin_nested():
            db.add(alert)
    except IntegrityError:  # opened meanwhile by another door: one open alert is the point
        return None
    users = await recipients_for(db, pupil)
    db.add_all(AlertRecipientRow(alert_id=alert.id, user_id=u.id) for u in users)
    return alert


def clear(alert: AlertRow, now: datetime, why: str) -> None:
    """Resolve an alert whose cause has gone (``resolved_by`` = system, the reason noted)."""
    alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, SYSTEM
    alert.note = (alert.note + "\n" if alert.note else "") + f"Cleared: {why}."


def _zone(school: School | None) -> ZoneInfo:
    return zone_of(school)


async def move_draft(
    db: AsyncSession, move: MoveRow, *, failed: str | None = None
) -> OpsDraft | None:
    """The alert of a move not done, in the school's local time; None if it is not (yet)
    escalated or failed. ``failed``: the reason the rota escalates with when nobody else
    can do it (the move itself stays pending, in case someone turns up)."""
    school = await db.get(School, move.school_id)
    device = await db.get(Device, move.device_id)
    booking = await db.get(Booking, move.booking_id)
    zone = _zone(school)
    by = move.due.astimezone(zone).strftime("%H:%M")
    line = f"'{device.name if device else '?'}' from {move.from_room_name} to "
    line += f"{move.to_room_name} by {by}"
    lesson = (
        f"{booking.subject} at {booking.starts_at.astimezone(zone):%H:%M}"
        if booking is not None
        else "the lesson"
    )
    status = "failed" if failed and move.status != "done" else move.status
    return rules.move_not_done(move.id, status, failed or move.status_reason, line, lesson)


def move_link(move: MoveRow) -> tuple[str, str]:
    """The rota page of the move's day."""
    return (
        f"/schools/{move.school_id}/rota?date={move.local_date.isoformat()}",
        "Open that day's rota",
    )


def device_link(device_id: str) -> tuple[str, str]:
    """The robot's page."""
    return f"/devices/{device_id}", "Open the robot's page"


async def _open_of(db: AsyncSession, rule: OpsRule) -> list[AlertRow]:
    return list(
        await db.scalars(
            select(AlertRow).where(
                AlertRow.rule == rule.value,
                AlertRow.status != "resolved",
                AlertRow.subject_key != "",
            )
        )
    )


def _subject_id(alert: AlertRow) -> str:
    return alert.subject_key.partition(":")[2]


def _when(figures: dict[str, object], key: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(figures[key]))
    except (KeyError, ValueError):
        return None


async def _open_moves(db: AsyncSession, now: datetime, done: Synced) -> None:
    """Moves escalated or failed around today, each once (any alert of the move counts)."""
    schools = list(await db.scalars(select(School.id)))  # so the (school, date) index serves
    moves = list(
        await db.scalars(
            select(MoveRow).where(
                MoveRow.school_id.in_(schools),
                MoveRow.status.in_(sorted(rules.NOT_DONE)),
                MoveRow.pupil_id.is_not(None),
                MoveRow.local_date.between(
                    (now - timedelta(days=1)).date(), (now + timedelta(days=1)).date()
                ),
            )
        )
    )
    if not moves:
        return
    known = set(
        await db.scalars(
            select(AlertRow.subject_key).where(
                AlertRow.rule == OpsRule.MOVE_NOT_DONE.value,
                AlertRow.subject_key.in_([f"move:{m.id}" for m in moves]),
            )
        )
    )
    for move in moves:
        if f"move:{move.id}" in known or move.pupil_id is None:
            continue
        draft = await move_draft(db, move)
        if draft is not None and await open_alert(
            db, move.pupil_id, draft, now, link=move_link(move)
        ):
            done.opened += 1


async def _clear_moves(db: AsyncSession, now: datetime, done: Synced) -> None:
    alerts = await _open_of(db, OpsRule.MOVE_NOT_DONE)
    if not alerts:
        return
    ids = [_subject_id(a) for a in alerts]
    status = dict(
        (await db.execute(select(MoveRow.id, MoveRow.status).where(MoveRow.id.in_(ids)))).all()
    )
    for alert in alerts:
        now_status = status.get(_subject_id(alert))
        if rules.move_cleared(now_status):
            clear(alert, now, "the move was done" if now_status else "the move is no longer needed")
            done.cleared += 1


async def _open_offline(db: AsyncSession, now: datetime, done: Synced) -> None:
    """Active robots offline with a booked lesson starting within ``DEVICE_LEAD``: the
    offline robots first (a fleet), then their bookings by the (robot, start) index."""
    offline = {
        d.id: d
        for d in await db.scalars(
            select(Device).where(Device.online.is_(False), Device.lifecycle == "active")
        )
    }
    if not offline:
        return
    bookings = await db.scalars(
        select(Booking)
        .where(
            Booking.classroom_device_id.in_(sorted(offline)),
            Booking.starts_at > now,
            Booking.starts_at <= now + rules.DEVICE_LEAD,
            Booking.status == "booked",
        )
        .order_by(Booking.starts_at)
    )
    rows = [(b, offline[b.classroom_device_id]) for b in bookings]
    schools: dict[str, School | None] = {}
    for booking, device in rows:
        if booking.school_id not in schools:
            schools[booking.school_id] = await db.get(School, booking.school_id)
        at = booking.starts_at.astimezone(_zone(schools[booking.school_id]))
        draft = rules.device_offline(
            device.id,
            device.name,
            device.online,
            device.lifecycle,
            f"{booking.subject} at {at:%H:%M}",
            booking.starts_at,
        )
        if draft is not None and await open_alert(
            db, booking.pupil_id, draft, now, link=device_link(device.id)
        ):
            done.opened += 1


async def _clear_devices(db: AsyncSession, now: datetime, done: Synced) -> None:
    offline = await _open_of(db, OpsRule.DEVICE_OFFLINE)
    low = await _open_of(db, OpsRule.DEVICE_BATTERY_LOW)
    ids = {_subject_id(a) for a in [*offline, *low]}
    if not ids:
        return
    devices = {d.id: d for d in await db.scalars(select(Device).where(Device.id.in_(ids)))}
    for alert in offline:
        device = devices.get(_subject_id(alert))
        online, lifecycle = (device.online, device.lifecycle) if device else (None, None)
        if rules.offline_cleared(online, lifecycle):
            clear(alert, now, "the robot is back online" if online else "the robot is out of use")
            done.cleared += 1
    for alert in low:
        device = devices.get(_subject_id(alert))
        ends = _when(alert.figures, "lesson_ends_at")
        pct, charging = (device.battery_pct, device.charging) if device else (None, None)
        if rules.battery_cleared(pct, charging, ends, now):
            on = charging or (pct is not None and pct >= rules.BATTERY_OK_PCT)
            clear(alert, now, "the robot is charging or charged" if on else "the lesson is over")
            done.cleared += 1


async def _clear_unwell(db: AsyncSession, now: datetime, done: Synced) -> None:
    for alert in await _open_of(db, OpsRule.UNWELL_TODAY):
        if rules.unwell_cleared(_when(alert.figures, "day_ends_at"), now):
            clear(alert, now, "the day is over")
            done.cleared += 1


async def sync(db: AsyncSession, now: datetime) -> Synced:
    """Open what only time reveals (escalated moves, robots still offline as their lesson
    nears) and clear operational alerts whose cause has gone."""
    done = Synced()
    await _open_moves(db, now, done)
    await _clear_moves(db, now, done)
    await _open_offline(db, now, done)
    await _clear_devices(db, now, done)
    await _clear_unwell(db, now, done)
    return done
