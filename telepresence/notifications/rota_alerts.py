"""The rota's alerts as notifications: moves nobody can do, moves not done, changed rotas.

Implements ``scheduler.rota.services.RotaAlerts``. A move nobody can do, or
one an assistant could not do, goes to the school's contact address and to
the pupil's key worker (hospital staff); a changed rota goes to the
assistant. Pupils appear as first name and initial only. Keys name the move
and its version, so announcing the same state again sends nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.domain.moves import BatteryWarning
from scheduler.rota.models import MoveRow
from telepresence.organisation.services import display_name
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events.notifier import Notice, Notifier
from telepresence.platform.models import Pupil, School, User

__all__ = ["NotifyingRotaAlerts"]

Loaded = tuple[School, list[MoveRow], dict[str, str], dict[str, Pupil], dict[str, User]]
"""A school, the moves asked about, device names, pupils and their active key workers."""


def move_line(move: MoveRow, device: str, pupil: Pupil | None, zone: ZoneInfo) -> str:
    """ "Robot 'Robbie' · from S12 to Lab 3 · by 10:05 · for Sam K." in the school's time."""
    by = move.due.astimezone(zone).strftime("%H:%M")
    line = f"Robot '{device}' · from {move.from_room_name} to {move.to_room_name} · by {by}"
    if pupil is not None:
        line += f" · for {display_name(pupil.first_name, pupil.last_name)}"
    return line


def _recipients(
    school: School, pupil: Pupil | None, workers: dict[str, User]
) -> list[tuple[str | None, str | None]]:
    """The pupil's key worker (in the app and by email) and the school's contact address."""
    worker = workers.get(pupil.key_worker_id or "") if pupil else None
    found: list[tuple[str | None, str | None]] = []
    if worker is not None:
        found.append((worker.id, worker.email))
    if school.contact_email:
        found.append((None, school.contact_email))
    return found


class NotifyingRotaAlerts:
    """Tells people about the rota through the service's ``Notifier``."""

    def __init__(self, database: Database, notifier: Notifier, clock: Clock) -> None:
        self.database = database
        self.notifier = notifier
        self.clock = clock

    async def unassignable(self, school_id: str, move_ids: Sequence[str]) -> None:
        """Moves nobody can do: the school's contact and the pupils' key workers."""
        await self._escalate(school_id, move_ids, kind="move_unassignable", reason=None)

    async def failed(self, school_id: str, move_id: str, reason: str) -> None:
        """An assistant could not do a move: the same people, with the reason given."""
        await self._escalate(school_id, [move_id], kind="move_failed", reason=reason)

    async def rota_changed(self, school_id: str, assistant_ids: Sequence[str]) -> None:
        """Each of these assistants: their rota changed (the page says what)."""
        # One notice per change: two changes within the same second are two notices.
        at = self.clock.now().isoformat(timespec="microseconds")
        async with self.database.sessions() as session:
            users = (await session.scalars(select(User).where(User.id.in_(assistant_ids)))).all()
        for user in users:
            await self.notifier.notify(
                Notice(
                    idempotency_key=f"rota-changed:{school_id}:{user.id}:{at}",
                    kind="rota_changed",
                    subject="Your robot moves have changed",
                    body="Your moves for today have changed: open the rota to see what is new.",
                    user_id=user.id,
                    email=user.email if user.active else None,
                    link="/assistant",
                )
            )

    async def battery_low(self, school_id: str, warnings: Sequence[BatteryWarning]) -> None:
        """A robot will not last a lesson and no break is long enough to charge it first.

        Once per lesson, to the pupil's key worker and the school's contact, so
        that someone charges or swaps the robot before the pupil loses the class.
        """
        async with self.database.sessions() as session:
            school = await session.get(School, school_id)
            by_id = {w.booking_id: w for w in warnings}
            bookings = (
                await session.scalars(select(Booking).where(Booking.id.in_(list(by_id))))
            ).all()
            devices = {
                d.id: d.name
                for d in await session.scalars(
                    select(Device).where(Device.id.in_({w.device_id for w in warnings}))
                )
            }
            pupils = {
                p.id: p
                for p in await session.scalars(
                    select(Pupil).where(Pupil.id.in_({b.pupil_id for b in bookings}))
                )
            }
            workers = {
                u.id: u
                for u in await session.scalars(
                    select(User).where(
                        User.id.in_({p.key_worker_id for p in pupils.values() if p.key_worker_id}),
                        User.active.is_(True),
                    )
                )
            }
        if school is None:
            return
        zone = ZoneInfo(school.time_zone)
        for booking in bookings:
            warning = by_id[booking.id]
            pupil = pupils.get(booking.pupil_id)
            robot = devices.get(warning.device_id, "?")
            starts = booking.starts_at.astimezone(zone).strftime("%H:%M")
            who = f" for {display_name(pupil.first_name, pupil.last_name)}" if pupil else ""
            body = (
                f"Robot '{robot}' may run out of battery during {booking.subject} at {starts}"
                f"{who} (about {max(warning.projected_pct, 0):.0f}% left by its end), and no "
                "break before it is long enough to charge it. Charge or swap it before then."
            )
            for user_id, email in _recipients(school, pupil, workers):
                await self.notifier.notify(
                    Notice(
                        idempotency_key=f"battery-low:{booking.id}:{user_id or email}",
                        kind="battery_low",
                        subject=f"Robot '{robot}' may not last {booking.subject}",
                        body=body,
                        user_id=user_id,
                        email=email,
                        link=f"/schools/{school_id}/rota?date={booking.lesson_date.isoformat()}",
                    )
                )

    async def _escalate(
        self, school_id: str, move_ids: Sequence[str], *, kind: str, reason: str | None
    ) -> None:
        found = await self._load(school_id, move_ids)
        if found is None:
            return
        school, moves, devices, pupils, workers = found
        zone = ZoneInfo(school.time_zone)
        for move in moves:
            pupil = pupils.get(move.pupil_id or "")
            line = move_line(move, devices.get(move.device_id, "?"), pupil, zone)
            why = reason or move.status_reason or "nobody on duty can get there in time"
            subject = (
                "Nobody can do this robot move" if reason is None else "A robot move was not done"
            )
            body = f"{line}\n{'Why' if reason is None else 'Reason given'}: {why}"
            for user_id, email in _recipients(school, pupil, workers):
                await self.notifier.notify(
                    Notice(
                        idempotency_key=f"{kind}:{move.id}:v{move.version}:{user_id or email}",
                        kind=kind,
                        subject=subject,
                        body=body,
                        user_id=user_id,
                        email=email,
                        link=f"/schools/{school_id}/rota?date={move.local_date.isoformat()}",
                    )
                )

    async def _load(self, school_id: str, move_ids: Sequence[str]) -> Loaded | None:
        async with self.database.sessions() as session:
            school = await session.get(School, school_id)
            moves = (
                await session.scalars(
                    select(MoveRow).where(MoveRow.id.in_(move_ids), MoveRow.school_id == school_id)
                )
            ).all()
            devices = {
                d.id: d.name
                for d in await session.scalars(
                    select(Device).where(Device.id.in_({m.device_id for m in moves}))
                )
            }
            pupil_ids = {m.pupil_id for m in moves if m.pupil_id}
            pupils = {
                p.id: p for p in await session.scalars(select(Pupil).where(Pupil.id.in_(pupil_ids)))
            }
            worker_ids = {p.key_worker_id for p in pupils.values() if p.key_worker_id}
            workers = {
                u.id: u
                for u in await session.scalars(
                    select(User).where(User.id.in_(worker_ids), User.active.is_(True))
                )
            }
        if school is None:
            return None
        return school, list(moves), devices, pupils, workers
