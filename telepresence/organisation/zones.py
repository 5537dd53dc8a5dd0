"""Which clock a provider's pages read in: its schools' zone.

Staff pages that are not about one school (the audit log, the inbox, alerts) show
times in the zone of the provider's first school (London when it has none yet), and
name the zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.models import DEFAULT_ZONE, School

__all__ = ["DEFAULT_ZONE", "provider_zone"]


async def provider_zone(session: AsyncSession, provider_id: str | None) -> ZoneInfo:
    """The zone of the provider's first school, or London (also for no provider)."""
    if provider_id is None:
        return ZoneInfo(DEFAULT_ZONE)
    zone = await session.scalar(
        select(School.time_zone)
        .where(School.provider_id == provider_id)
        .order_by(School.created_at)
        .limit(1)
    )
    return ZoneInfo(zone or DEFAULT_ZONE)
