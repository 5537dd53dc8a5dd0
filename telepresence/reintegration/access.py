"""Who may see and change which plan.

Staff of the plan's provider read every plan; only the plan's key worker
changes it. A school contact sees a plan only for a pupil they were invited
for, of their own school, while that pupil is on roll; anything else is "not
found", so a contact cannot learn that another school's pupil exists.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Forbidden, NotFound
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.reintegration.models import PlanRow, SchoolContactLink

__all__ = [
    "KEY_WORKERS",
    "READERS",
    "contact_pupil_ids",
    "is_contact",
    "pupil_for_staff",
    "readable_plan",
    "require_key_worker",
    "visible_pupil",
]

READERS = [*STAFF, Role.SCHOOL_CONTACT]
KEY_WORKERS = [Role.HOSPITAL_STAFF, Role.ADMIN]
OFF_ROLL = "Your account works only while a pupil you were invited for is on the roll."


def is_contact(who: Principal) -> bool:
    """Whether the caller is a home school's contact."""
    return who.role is Role.SCHOOL_CONTACT


async def contact_pupil_ids(session: AsyncSession, who: Principal) -> list[str]:
    """The pupils a school contact may see: invited for, of their school, on roll.

    Raises ``Forbidden`` when the contact was invited but none of their pupils
    is on roll any more: the account then works no longer.
    """
    rows = (
        await session.execute(
            select(Pupil.id, Pupil.active, Pupil.school_id)
            .join(SchoolContactLink, SchoolContactLink.pupil_id == Pupil.id)
            .where(SchoolContactLink.user_id == who.subject_id)
        )
    ).all()
    visible = [pid for pid, active, school in rows if active and school == who.school_id and school]
    if rows and not visible:
        raise Forbidden(OFF_ROLL)
    return visible


async def visible_pupil(session: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """A pupil the caller may see reintegration of; ``NotFound`` otherwise."""
    pupil = await session.get(Pupil, pupil_id)
    if pupil is None or pupil.provider_id != who.provider_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    if is_contact(who) and pupil.id not in await contact_pupil_ids(session, who):
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    return pupil


async def pupil_for_staff(session: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """A pupil of the caller's provider (staff only); ``NotFound`` otherwise."""
    pupil = await session.get(Pupil, pupil_id)
    if pupil is None or pupil.provider_id != who.provider_id or not who.is_staff:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    return pupil


async def readable_plan(session: AsyncSession, who: Principal, plan_id: str) -> PlanRow:
    """A plan the caller may read; ``NotFound`` otherwise (never says whose it is)."""
    plan = await session.get(PlanRow, plan_id)
    if plan is None or plan.provider_id != who.provider_id:
        raise NotFound(f"There is no plan {plan_id!r}.")
    if is_contact(who) and plan.pupil_id not in await contact_pupil_ids(session, who):
        raise NotFound(f"There is no plan {plan_id!r}.")
    if not is_contact(who) and not who.is_staff:
        raise NotFound(f"There is no plan {plan_id!r}.")
    return plan


async def require_key_worker(session: AsyncSession, who: Principal, plan_id: str) -> PlanRow:
    """The plan, when the caller is its key worker; ``Forbidden`` for other staff."""
    plan = await readable_plan(session, who, plan_id)
    if plan.key_worker_id != who.subject_id:
        raise Forbidden("Only the pupil's key worker may change this plan.")
    return plan
