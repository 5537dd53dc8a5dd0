"""Where operational alerts are raised: the rota's alert hooks and "too unwell today".

``EngagementRotaAlerts`` wraps the rota's notifying hooks (which still tell
the school and the key worker as before) and also opens an engagement alert
for a move nobody could do and for a robot the rota warns will not last a
lesson. ``EngagementUnwell`` opens the pupil's "too unwell today" alert in the
transaction that cancels their lessons (installed as ``app[PUPIL_UNWELL]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.domain.moves import BatteryWarning
from scheduler.rota.models import MoveRow
from scheduler.rota.services import RotaAlerts
from telepresence.engagement.operational import rules
from telepresence.engagement.operational.store import (
    device_link,
    move_draft,
    move_link,
    open_alert,
)
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, School, zone_of

__all__ = ["EngagementRotaAlerts", "EngagementUnwell"]

log = structlog.get_logger("classbridge.engagement")


class EngagementRotaAlerts:
    """The rota's hooks: the inner ones first (their notices), then the engagement alerts."""

    def __init__(self, inner: RotaAlerts, database: Database, clock: Clock) -> None:
        self.inner = inner
        self.database = database
        self.clock = clock

    async def unassignable(self, school_id: str, move_ids: Sequence[str]) -> None:
        """Planning news (the day may still change): notices only; an escalation, later,
        opens the alert if the move is still not done."""
        await self.inner.unassignable(school_id, move_ids)

    async def rota_changed(self, school_id: str, assistant_ids: Sequence[str]) -> None:
        """Assistants' news only."""
        await self.inner.rota_changed(school_id, assistant_ids)

    async def failed(self, school_id: str, move_id: str, reason: str) -> None:
        """Nobody could do the move: the notices, then the pupil's alert."""
        await self.inner.failed(school_id, move_id, reason)
        try:
            async with self.database.transaction() as db:
                move = await db.get(MoveRow, move_id)
                if move is None or move.pupil_id is None or move.school_id != school_id:
                    return
                draft = await move_draft(db, move, failed=reason)
                if draft is not None:
                    now = self.clock.now()
                    await open_alert(db, move.pupil_id, draft, now, link=move_link(move))
        except SQLAlchemyError as exc:  # the notices went; the minute job retries the alert
            log.warning("engagement.ops_alert_failed", move_id=move_id, error=str(exc))

    async def battery_low(self, school_id: str, warnings: Sequence[BatteryWarning]) -> None:
        """Robots that will not last a lesson: the notices, then each pupil's alert."""
        await self.inner.battery_low(school_id, warnings)
        try:
            async with self.database.transaction() as db:
                school = await db.get(School, school_id)
                zone = zone_of(school)
                by_id = {w.booking_id: w for w in warnings}
                bookings = await db.scalars(select(Booking).where(Booking.id.in_(list(by_id))))
                for booking in bookings:
                    warning = by_id[booking.id]
                    device = await db.get(Device, warning.device_id)
                    at = booking.starts_at.astimezone(zone)
                    draft = rules.battery_low(
                        warning.device_id,
                        device.name if device else "?",
                        warning.projected_pct,
                        f"{booking.subject} at {at:%H:%M}",
                        booking.ends_at,
                    )
                    link = device_link(warning.device_id)
                    await open_alert(db, booking.pupil_id, draft, self.clock.now(), link=link)
        except SQLAlchemyError as exc:
            log.warning("engagement.ops_alert_failed", school_id=school_id, error=str(exc))


class EngagementUnwell:
    """Opens the pupil's "too unwell today" alert (cleared by the minute job once the pupil's
    local day is over)."""

    async def said_unwell(
        self, session: AsyncSession, pupil_id: str, cancelled: Sequence[str], now: datetime
    ) -> None:
        """In the caller's transaction, after the lessons were cancelled."""
        pupil = await session.get(Pupil, pupil_id)
        if pupil is None:
            return
        school = await session.get(School, pupil.school_id)
        zone = zone_of(school)
        today = now.astimezone(zone).date()
        until = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        lessons = list(
            await session.scalars(
                select(Booking).where(Booking.id.in_(list(cancelled))).order_by(Booking.starts_at)
            )
        )
        lines = [f"{b.starts_at.astimezone(zone):%H:%M} {b.subject}" for b in lessons]
        draft = rules.unwell_today(today, until, lines)
        link = (f"/pupils/{pupil_id}/unavailability", "Open the pupil's unavailability")
        await open_alert(session, pupil_id, draft, now, link=link)
