"""Which changes a role may make beyond what its routes admit: coordinators read.

A coordinator checks usage and engagement; recording a pupil's consent or pinning
a move by hand is a change, allowed to them only where the provider turned
``coordinators_may_change`` on (an administrator's choice on the Staff page).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Forbidden
from telepresence.platform.models import Provider
from telepresence.platform.security.identity import Principal, Role

__all__ = ["check_may_change", "may_change"]


async def may_change(session: AsyncSession, who: Principal) -> bool:
    """Whether ``who`` may make the changes coordinators make only with the provider's leave."""
    if who.role is not Role.COORDINATOR:
        return True
    provider = await session.get(Provider, who.provider_id) if who.provider_id else None
    return bool(provider and provider.coordinators_may_change)


async def check_may_change(session: AsyncSession, who: Principal, what: str) -> None:
    """Raise ``Forbidden`` naming ``what`` (e.g. "record consent") unless ``may_change``."""
    if not await may_change(session, who):
        raise Forbidden(
            f"Coordinators here can read but not {what}; "
            "an administrator can allow it on the Staff page, or ask hospital school staff."
        )
