"""Each robot's learned battery drain: the job that learns it and the planner's lookup.

Every few hours the leader looks at the last ``LOOKBACK`` of every active
robot's telemetry during its booked lessons and stores what
``scheduler.rota.domain.drain.learned_drain`` makes of it; a robot with too little
evidence keeps (or gets) no row and is planned with the default rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import structlog
from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device, TelemetrySample
from scheduler.bookings.models import Booking
from scheduler.rota.domain.drain import Reading, learned_drain
from scheduler.rota.models import RotaDrainRow
from telepresence.platform.jobs.runner import JobContext

__all__ = ["LOOKBACK", "drain_rates", "learn_drain_rates"]

log = structlog.get_logger("classbridge.rota")
LOOKBACK = timedelta(days=14)


async def learn_drain_rates(ctx: JobContext) -> int:
    """Learn every active robot's drain from its recent lessons; how many robots have one."""
    now = ctx.clock.now()
    since = now - LOOKBACK
    async with ctx.database.transaction() as session:
        robots = list(
            await session.scalars(
                select(Device.id).where(Device.kind == "robot", Device.lifecycle == "active")
            )
        )
        learned = 0
        for device_id in robots:
            lessons = [
                (start, end)
                for start, end in await session.execute(
                    select(Booking.starts_at, Booking.ends_at).where(
                        Booking.classroom_device_id == device_id,
                        Booking.status == "booked",
                        Booking.starts_at >= since,
                        Booking.ends_at <= now,
                    )
                )
            ]
            readings = [
                Reading(at, float(pct or 0), charging)  # never null: see the query
                for at, pct, charging in await session.execute(
                    select(
                        TelemetrySample.at, TelemetrySample.battery_pct, TelemetrySample.charging
                    )
                    .join(
                        Booking,
                        and_(
                            Booking.classroom_device_id == TelemetrySample.device_id,
                            TelemetrySample.at >= Booking.starts_at,
                            TelemetrySample.at <= Booking.ends_at,
                        ),
                    )
                    .where(
                        TelemetrySample.device_id == device_id,
                        TelemetrySample.at >= since,
                        TelemetrySample.battery_pct.is_not(None),
                        Booking.status == "booked",
                    )
                    .order_by(TelemetrySample.at)
                )
            ]
            drain = learned_drain(readings, lessons)
            row = await session.get(RotaDrainRow, device_id)
            if drain is None:
                if row is not None:
                    await session.delete(row)
                continue
            learned += 1
            if row is None:
                row = RotaDrainRow(device_id=device_id)
                session.add(row)
            row.pct_per_hour, row.hours, row.learned_at = drain.pct_per_hour, drain.hours, now
        await session.execute(delete(RotaDrainRow).where(RotaDrainRow.device_id.not_in(robots)))
    log.info("rota.drain_learned", robots=len(robots), learned=learned)
    return learned


async def drain_rates(session: AsyncSession, device_ids: Iterable[str]) -> dict[str, float]:
    """The learned drain (% an hour in a lesson) of those devices that have one."""
    ids = list(device_ids)
    if not ids:
        return {}
    rows = await session.scalars(select(RotaDrainRow).where(RotaDrainRow.device_id.in_(ids)))
    return {row.device_id: row.pct_per_hour for row in rows}
