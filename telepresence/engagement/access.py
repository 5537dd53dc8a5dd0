"""Who may see whose engagement: coordinators and admins their provider's pupils, hospital
staff the pupils they are key worker of, assistants none (refused by the routes' roles)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement.figures import Scope
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal, Role

__all__ = ["READERS", "narrowed", "visible_pupil", "visible_pupil_ids"]

READERS = (Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF)


async def visible_pupil_ids(db: AsyncSession, who: Principal) -> frozenset[str] | None:
    """The pupils the caller may see; None: every pupil of their provider."""
    if who.role is Role.HOSPITAL_STAFF:
        rows = await db.scalars(
            select(Pupil.id).where(
                Pupil.provider_id == who.provider_id, Pupil.key_worker_id == who.subject_id
            )
        )
        return frozenset(rows)
    if who.role in (Role.ADMIN, Role.COORDINATOR):
        return None
    return frozenset()


async def visible_pupil(db: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """The pupil, if the caller may see their engagement; ``NotFound`` otherwise (no leak)."""
    pupil = await db.get(Pupil, pupil_id)
    allowed = await visible_pupil_ids(db, who) if pupil is not None else frozenset()
    if pupil is None or pupil.provider_id != who.provider_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    if allowed is not None and pupil.id not in allowed:
        raise NotFound(f"There is no pupil {pupil_id!r} among yours.")
    return pupil


async def narrowed(db: AsyncSession, who: Principal, scope: Scope) -> Scope:
    """``scope`` narrowed to the pupils the caller may see."""
    allowed = await visible_pupil_ids(db, who)
    if allowed is None:
        return scope
    pupils = allowed if scope.pupil_ids is None else allowed & scope.pupil_ids
    return Scope(scope.provider_id, scope.first, scope.last, frozenset(pupils), scope.school_id)
