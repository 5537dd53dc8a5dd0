"""Use cases of the plan itself: create, change, move between phases, notes, history, rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Conflict, Forbidden, InvalidInput
from telepresence.platform.models import Pupil, User
from telepresence.platform.security.identity import Principal, Role
from telepresence.reintegration.access import (
    contact_pupil_ids,
    is_contact,
    pupil_for_staff,
    require_key_worker,
)
from telepresence.reintegration.domain import (
    Goal,
    Outcome,
    Phase,
    SchoolDays,
    check_phase_change,
)
from telepresence.reintegration.models import NoteRow, PlanEvent, PlanRow, ProviderRules
from telepresence.reintegration.schemas import NoteIn, PhaseIn, PlanIn, PlanOut, PlanPatch, RulesIn

__all__ = [
    "add_event",
    "add_note",
    "change_phase",
    "create_plan",
    "current_plan",
    "history",
    "list_plans",
    "notes_of",
    "plan_out",
    "rules_of",
    "set_rules",
    "update_plan",
]

PHASE_LABELS = {
    Phase.REMOTE_ONLY: "Remote lessons only",
    Phase.PHASED_RETURN: "Phased return",
    Phase.BACK_IN_SCHOOL: "Back in school",
    Phase.AFTER_CARE: "After-care",
    Phase.CLOSED: "Closed",
}


def add_event(
    session: AsyncSession,
    plan: PlanRow,
    who: Principal,
    kind: str,
    summary: str,
    now: datetime,
    *,
    reason: str = "",
    details: dict[str, object] | None = None,
    shared: bool = False,
) -> None:
    """Put one change on the plan's history (same transaction as the change)."""
    session.add(
        PlanEvent(
            plan_id=plan.id,
            at=now,
            actor_id=who.subject_id,
            actor_name=who.display_name,
            kind=kind,
            summary=summary[:500],
            reason=reason,
            details=details or {},
            shared=shared,
        )
    )


async def plan_out(session: AsyncSession, plan: PlanRow) -> PlanOut:
    """The API view of a plan (names only: nothing medical is stored on a plan)."""
    pupil = await session.get(Pupil, plan.pupil_id)
    worker = await session.get(User, plan.key_worker_id)
    name = f"{pupil.first_name} {pupil.last_name[:1]}." if pupil else ""
    return PlanOut(
        id=plan.id,
        pupil_id=plan.pupil_id,
        pupil_name=name,
        school_id=plan.school_id,
        key_worker_id=plan.key_worker_id,
        key_worker_name=worker.name if worker else "",
        goal=Goal(plan.goal),
        goal_detail=plan.goal_detail,
        starts_on=plan.starts_on,
        expected_weeks=plan.expected_weeks,
        expected_end=plan.starts_on + timedelta(weeks=plan.expected_weeks),
        review_dates=sorted(datetime.fromisoformat(d).date() for d in plan.review_dates),
        phase=Phase(plan.phase),
        school_weekdays=list(plan.school_weekdays),
        school_lessons=list(plan.school_lessons),
        outcome=Outcome(plan.outcome) if plan.outcome else None,
        closed_at=plan.closed_at,
    )


async def current_plan(session: AsyncSession, pupil_id: str) -> PlanRow | None:
    """The pupil's open plan, or else their latest closed one (None without any)."""
    plans = list(
        await session.scalars(
            select(PlanRow).where(PlanRow.pupil_id == pupil_id).order_by(PlanRow.created_at.desc())
        )
    )
    open_plans = [p for p in plans if p.phase != Phase.CLOSED]
    found = open_plans or plans
    return found[0] if found else None


async def list_plans(session: AsyncSession, who: Principal) -> list[PlanRow]:
    """Plans the caller may read: the provider's (staff) or their own pupils' (school contact)."""
    query = select(PlanRow).where(PlanRow.provider_id == who.provider_id)
    if is_contact(who):
        query = query.where(PlanRow.pupil_id.in_(await contact_pupil_ids(session, who)))
    return list(await session.scalars(query.order_by(PlanRow.created_at.desc())))


async def create_plan(
    session: AsyncSession, who: Principal, data: PlanIn, now: datetime
) -> PlanRow:
    """A plan for a pupil who has none open, owned by the pupil's key worker.

    Only the key worker (or an administrator on their behalf) creates it;
    raises ``Conflict`` when an open plan exists, ``InvalidInput`` without a
    key worker.
    """
    pupil = await pupil_for_staff(session, who, data.pupil_id)
    if pupil.key_worker_id is None:
        raise InvalidInput("Choose the pupil's key worker first: the key worker owns the plan.")
    if who.role is not Role.ADMIN and pupil.key_worker_id != who.subject_id:
        raise Forbidden("Only the pupil's key worker may start their reintegration plan.")
    if not pupil.active:
        raise Conflict("The pupil is not on roll.")
    existing = await current_plan(session, pupil.id)
    if existing is not None and existing.phase != Phase.CLOSED:
        raise Conflict("This pupil already has an open reintegration plan.")
    plan = PlanRow(
        provider_id=pupil.provider_id,
        pupil_id=pupil.id,
        school_id=pupil.school_id,
        key_worker_id=pupil.key_worker_id,
        goal=data.goal.value,
        goal_detail=data.goal_detail,
        starts_on=data.starts_on,
        expected_weeks=data.expected_weeks,
        review_dates=sorted({d.isoformat() for d in data.review_dates}),
        phase=Phase.REMOTE_ONLY.value,
        school_weekdays=[],
        school_lessons=[],
        created_at=now,
    )
    session.add(plan)
    await session.flush()
    add_event(session, plan, who, "plan", "Plan started: remote lessons only", now, shared=True)
    return plan


async def update_plan(
    session: AsyncSession, who: Principal, plan_id: str, data: PlanPatch, now: datetime
) -> PlanRow:
    """Change goal, duration or review dates (key worker; not on a closed plan)."""
    plan = await require_key_worker(session, who, plan_id)
    if plan.phase == Phase.CLOSED:
        raise Conflict("This plan is closed.")
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change.")
    before: dict[str, object] = {}
    for name, given in changes.items():
        before[name] = getattr(plan, name)
        value = given
        if name == "review_dates":
            value = sorted({d.isoformat() for d in data.review_dates or []})
        elif name == "goal":
            value = Goal(given).value
        setattr(plan, name, value)
    after = {k: getattr(plan, k) for k in changes}
    summary = "Plan changed: " + ", ".join(k.replace("_", " ") for k in changes)
    add_event(session, plan, who, "plan", summary, now, details={"before": before, "after": after})
    return plan


async def change_phase(
    session: AsyncSession, who: Principal, plan_id: str, data: PhaseIn, now: datetime
) -> PlanRow:
    """Move the plan to another phase by the rules of ``domain.check_phase_change``."""
    plan = await require_key_worker(session, who, plan_id)
    days = SchoolDays(frozenset(data.school_weekdays), frozenset(data.school_lessons))
    change = check_phase_change(
        Phase(plan.phase),
        data.phase,
        reason=data.reason,
        outcome=data.outcome,
        school_days=days if data.phase is Phase.PHASED_RETURN else None,
    )
    plan.phase = change.to_phase.value
    plan.school_weekdays = sorted(days.weekdays) if change.school_days else []
    plan.school_lessons = sorted(days.lessons) if change.school_days else []
    if change.outcome is not None:
        plan.outcome = change.outcome.value
        plan.closed_at = now
    summary = f"{PHASE_LABELS[change.from_phase]} → {PHASE_LABELS[change.to_phase]}"
    details: dict[str, object] = {"from": change.from_phase.value, "to": change.to_phase.value}
    if change.school_days:
        details |= {"weekdays": plan.school_weekdays, "lessons": plan.school_lessons}
    if change.outcome:
        details["outcome"] = change.outcome.value
    add_event(
        session,
        plan,
        who,
        "phase",
        summary,
        now,
        reason=change.reason,
        details=details,
        shared=True,
    )
    return plan


async def history(session: AsyncSession, plan: PlanRow, *, shared_only: bool) -> list[PlanEvent]:
    """The plan's history, oldest first (only what is shared, for the home school)."""
    query = select(PlanEvent).where(PlanEvent.plan_id == plan.id)
    if shared_only:
        query = query.where(PlanEvent.shared.is_(True))
    return list(await session.scalars(query.order_by(PlanEvent.at, PlanEvent.id)))


async def add_note(
    session: AsyncSession, who: Principal, plan_id: str, data: NoteIn, now: datetime
) -> NoteRow:
    """A note by the key worker, internal or shared with the home school."""
    plan = await require_key_worker(session, who, plan_id)
    note = NoteRow(
        plan_id=plan.id,
        at=now,
        author_id=who.subject_id,
        author_name=who.display_name,
        text=data.text,
        shared=data.shared,
    )
    session.add(note)
    await session.flush()
    return note


async def notes_of(session: AsyncSession, plan: PlanRow, *, shared_only: bool) -> list[NoteRow]:
    """The plan's notes, newest first (shared ones only, for the home school)."""
    query = select(NoteRow).where(NoteRow.plan_id == plan.id)
    if shared_only:
        query = query.where(NoteRow.shared.is_(True))
    return list(await session.scalars(query.order_by(NoteRow.at.desc())))


async def rules_of(session: AsyncSession, provider_id: str) -> ProviderRules:
    """The provider's alert settings (the defaults when never set; not added to the session)."""
    rules = await session.get(ProviderRules, provider_id)
    return rules or ProviderRules(provider_id=provider_id, no_contact_days=21, review_remind_days=3)


async def set_rules(session: AsyncSession, who: Principal, data: RulesIn) -> ProviderRules:
    """Replace the caller's provider's alert settings."""
    assert who.provider_id is not None
    rules = await session.get(ProviderRules, who.provider_id)
    if rules is None:
        rules = ProviderRules(provider_id=who.provider_id)
        session.add(rules)
    rules.no_contact_days = data.no_contact_days
    rules.review_remind_days = data.review_remind_days
    await session.flush()
    return rules
