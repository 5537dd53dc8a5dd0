"""The contacts log and the actions agreed at each contact."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from telepresence.platform.security.identity import Principal
from telepresence.reintegration.access import is_contact, readable_plan
from telepresence.reintegration.domain import Phase
from telepresence.reintegration.models import ActionRow, ContactRow, PlanRow
from telepresence.reintegration.schemas import ActionOut, ContactIn, ContactOut
from telepresence.reintegration.services import add_event

__all__ = [
    "action_out",
    "actions_of",
    "contact_out",
    "contacts_of",
    "last_school_contact",
    "record_contact",
    "tick_action",
]

CHANNELS = {"meeting": "meeting", "call": "call", "email": "email", "visit": "visit"}
PARTIES = {"home_school": "the home school", "parent_carer": "parents/carers"}


async def record_contact(
    session: AsyncSession, who: Principal, plan_id: str, data: ContactIn, now: datetime
) -> ContactRow:
    """A contact recorded by the key worker or the home school's contact, with its actions.

    A school contact's records are always shared (they wrote them). Raises
    ``Forbidden`` for other staff, ``InvalidInput`` for a date in the future.
    """
    plan = await readable_plan(session, who, plan_id)
    if not is_contact(who) and plan.key_worker_id != who.subject_id:
        raise Forbidden(
            "Only the pupil's key worker or the home school's contact records contacts."
        )
    if plan.phase == Phase.CLOSED:
        raise Conflict("This plan is closed.")
    if data.happened_on > now.date():
        raise InvalidInput(
            "A contact is recorded once it has happened (not in the future).",
            errors=[{"field": "happened_on", "message": "in the future"}],
        )
    shared = data.shared or is_contact(who)
    contact = ContactRow(
        plan_id=plan.id,
        happened_on=data.happened_on,
        party=data.party,
        people=data.people,
        channel=data.channel,
        summary=data.summary,
        shared=shared,
        recorded_by=who.subject_id,
        recorded_role=who.role.value,
        recorded_at=now,
    )
    session.add(contact)
    await session.flush()
    session.add_all(
        ActionRow(
            plan_id=plan.id,
            contact_id=contact.id,
            position=n,
            text=a.text,
            assignee=a.assignee,
            due_on=a.due_on,
        )
        for n, a in enumerate(data.actions)
    )
    summary = (
        f"{CHANNELS[data.channel].capitalize()} with {PARTIES[data.party]} ({data.people})"
        f" on {data.happened_on:%d %b %Y}; {len(data.actions)} action(s) agreed"
    )
    add_event(
        session,
        plan,
        who,
        "contact",
        summary,
        now,
        details={"contact_id": contact.id},
        shared=shared,
    )
    return contact


async def contacts_of(
    session: AsyncSession, plan: PlanRow, *, shared_only: bool
) -> list[ContactRow]:
    """The plan's contacts, newest first (only shared ones for the home school)."""
    query = select(ContactRow).where(ContactRow.plan_id == plan.id)
    if shared_only:
        query = query.where(ContactRow.shared.is_(True))
    query = query.order_by(ContactRow.happened_on.desc(), ContactRow.recorded_at.desc())
    return list(await session.scalars(query))


async def actions_of(
    session: AsyncSession, plan: PlanRow, *, shared_only: bool, open_only: bool = False
) -> list[ActionRow]:
    """Agreed actions, open first; for the home school only those of shared contacts."""
    query = select(ActionRow).join(ContactRow).where(ActionRow.plan_id == plan.id)
    if shared_only:
        query = query.where(ContactRow.shared.is_(True))
    if open_only:
        query = query.where(ActionRow.done_at.is_(None))
    rows = list(
        await session.scalars(
            query.order_by(ContactRow.happened_on, ContactRow.recorded_at, ActionRow.position)
        )
    )
    return sorted(rows, key=lambda a: a.done_at is not None)


def action_out(action: ActionRow) -> ActionOut:
    """The API view of an action."""
    return ActionOut(
        id=action.id,
        contact_id=action.contact_id,
        text=action.text,
        assignee=action.assignee,
        due_on=action.due_on,
        done_at=action.done_at,
    )


def contact_out(contact: ContactRow, actions: list[ActionRow]) -> ContactOut:
    """The API view of a contact with its actions."""
    return ContactOut(
        id=contact.id,
        happened_on=contact.happened_on,
        party=contact.party,
        people=contact.people,
        channel=contact.channel,
        summary=contact.summary,
        shared=contact.shared,
        recorded_role=contact.recorded_role,
        actions=[action_out(a) for a in actions if a.contact_id == contact.id],
    )


async def tick_action(
    session: AsyncSession, who: Principal, action_id: str, now: datetime
) -> ActionRow:
    """Mark an action done; only the person it was assigned to may.

    The key worker ticks ``key_worker`` actions; the home school's contact
    ticks ``school`` actions (of shared contacts). Raises ``Forbidden`` for
    anyone else, ``Conflict`` when already done.
    """
    action = await session.get(ActionRow, action_id)
    if action is None:
        raise NotFound(f"There is no action {action_id!r}.")
    plan = await readable_plan(session, who, action.plan_id)
    contact = await session.get(ContactRow, action.contact_id)
    if is_contact(who) and (contact is None or not contact.shared):
        raise NotFound(f"There is no action {action_id!r}.")
    mine = (action.assignee == "school" and is_contact(who)) or (
        action.assignee == "key_worker" and plan.key_worker_id == who.subject_id
    )
    if not mine:
        raise Forbidden("Only the person this action was assigned to can tick it off.")
    if action.done_at is not None:
        raise Conflict("This action is already done.")
    action.done_at = now
    action.done_by = who.subject_id
    add_event(
        session,
        plan,
        who,
        "contact",
        f"Action done: {action.text}",
        now,
        details={"action_id": action.id},
        shared=contact is not None and contact.shared,
    )
    return action


async def last_school_contact(session: AsyncSession, plan_id: str) -> date | None:
    """The date of the plan's latest contact with the home school (None without any)."""
    found: date | None = await session.scalar(
        select(func.max(ContactRow.happened_on)).where(
            ContactRow.plan_id == plan_id, ContactRow.party == "home_school"
        )
    )
    return found
