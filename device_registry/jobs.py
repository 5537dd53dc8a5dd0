"""Timed jobs of the device registry (plain importable functions)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from device_registry.hub import fleet_topic
from device_registry.models import Device, TelemetrySample
from telepresence.platform.jobs.runner import JobContext

__all__ = ["mark_silent_devices_offline", "purge_old_telemetry"]


async def mark_silent_devices_offline(ctx: JobContext) -> int:
    """Devices whose last heartbeat is older than the allowed misses go offline.

    This also covers devices whose instance died without closing their rows.
    Returns how many devices were marked.
    """
    settings = ctx.settings
    cutoff = ctx.clock.now() - timedelta(
        seconds=settings.heartbeat_seconds * settings.offline_after_missed
    )
    async with ctx.database.transaction() as session:
        stale = (
            await session.execute(
                select(Device.id, Device.provider_id).where(
                    Device.online.is_(True), Device.last_seen_at < cutoff
                )
            )
        ).all()
        if stale:
            await session.execute(
                update(Device).where(Device.id.in_([d for d, _ in stale])).values(online=False)
            )
    for device_id, provider_id in stale:
        ctx.events.publish(fleet_topic(provider_id), {"device_id": device_id, "online": False})
    return len(stale)


async def purge_old_telemetry(ctx: JobContext) -> int:
    """Delete telemetry past its retention; returns how many rows went."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.telemetry_retention_days)
    async with ctx.database.transaction() as session:
        result = await session.execute(delete(TelemetrySample).where(TelemetrySample.at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
