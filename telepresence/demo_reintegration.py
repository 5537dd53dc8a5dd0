"""Demo reintegration plans (part of ``classbridge demo``; adds only what is missing).

Maya (St Aidan's) is in a phased return on Mondays and Wednesdays, with a
review, a contact with the school and its agreed actions, and a shared note;
St Aidan's SENCO can sign in and follow her plan. Leo (Oakfield) has a plan
that has just started (remote lessons only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, User
from telepresence.platform.security.auth import hash_secret
from telepresence.platform.security.identity import Principal, Role
from telepresence.reintegration import services
from telepresence.reintegration.domain import Goal, Phase, Rating
from telepresence.reintegration.home_school import contacts
from telepresence.reintegration.models import SchoolContactLink
from telepresence.reintegration.reviewing import reviews
from telepresence.reintegration.schemas import (
    ActionIn,
    ContactIn,
    NoteIn,
    PhaseIn,
    PlanIn,
    RatingIn,
    ReviewIn,
)

__all__ = ["SCHOOL_CONTACT", "seed_reintegration"]

SCHOOL_CONTACT = ("senco@staidans.example", "demo-school-pass", "Dan Okoro (SENCO)")


def _as_key_worker(user: User) -> Principal:
    return Principal(
        role=Role(user.role),
        subject_id=user.id,
        display_name=user.name,
        provider_id=user.provider_id,
    )


async def seed_reintegration(database: Database, now: datetime) -> None:
    """Plans for Maya and Leo and St Aidan's SENCO, unless they exist already."""
    async with database.transaction() as session:
        maya = await session.scalar(select(Pupil).where(Pupil.pupil_code == "MAYC26"))
        leo = await session.scalar(select(Pupil).where(Pupil.pupil_code == "LEOM59"))
        if maya is None or leo is None or maya.key_worker_id is None:
            return
        worker = await session.get(User, maya.key_worker_id)
        assert worker is not None
        who = _as_key_worker(worker)
        if await services.current_plan(session, maya.id) is None:
            await _maya(session, who, maya, now)
        if await services.current_plan(session, leo.id) is None:
            await services.create_plan(
                session,
                who,
                PlanIn(
                    pupil_id=leo.id,
                    goal=Goal.HOME_SCHOOL,
                    starts_on=now.date(),
                    expected_weeks=16,
                    review_dates=[now.date() + timedelta(weeks=3)],
                ),
                now,
            )
        await _school_contact(session, maya, now)


async def _maya(session: AsyncSession, who: Principal, maya: Pupil, now: datetime) -> None:
    start = now - timedelta(weeks=5)
    plan = await services.create_plan(
        session,
        who,
        PlanIn(
            pupil_id=maya.id,
            goal=Goal.HOME_SCHOOL,
            goal_detail="Back to her Year 8 form at St Aidan's",
            starts_on=start.date(),
            expected_weeks=12,
            review_dates=[(start + timedelta(weeks=w)).date() for w in (3, 7, 11)],
        ),
        start,
    )
    factors = await reviews.factors_of(session, plan.provider_id)
    ratings = {0: Rating.PARTLY, 1: Rating.NOT_YET, 5: Rating.YES, 10: Rating.PARTLY}
    review_day = start + timedelta(weeks=3)
    await reviews.record_review(
        session,
        who,
        plan.id,
        ReviewIn(
            held_on=review_day.date(),
            decisions="Start a phased return: Monday and Wednesday mornings in school.",
            ratings=[RatingIn(factor_id=factors[i].id, rating=r) for i, r in ratings.items()],
        ),
        review_day,
    )
    await services.change_phase(
        session,
        who,
        plan.id,
        PhaseIn(phase=Phase.PHASED_RETURN, school_weekdays=[0, 2]),
        review_day + timedelta(days=1),
    )
    met = start + timedelta(weeks=4)
    await contacts.record_contact(
        session,
        who,
        plan.id,
        ContactIn(
            happened_on=met.date(),
            party="home_school",
            people="Dan Okoro (SENCO), Mrs Chen",
            channel="meeting",
            summary="Agreed a quiet space at break and a buddy for the first weeks.",
            shared=True,
            actions=[
                ActionIn(text="Set up the quiet space in the library", assignee="school"),
                ActionIn(
                    text="Send Maya's one-page profile to her teachers", assignee="key_worker"
                ),
            ],
        ),
        met,
    )
    await services.add_note(
        session,
        who,
        plan.id,
        NoteIn(text="Maya is keen to rejoin the art club on Wednesdays.", shared=True),
        met,
    )


async def _school_contact(session: AsyncSession, maya: Pupil, now: datetime) -> None:
    email, secret, name = SCHOOL_CONTACT
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            name=name,
            role=Role.SCHOOL_CONTACT.value,
            password_hash=await hash_secret(secret),
            provider_id=maya.provider_id,
            school_id=maya.school_id,
            created_at=now,
        )
        session.add(user)
        await session.flush()
    linked = await session.scalar(
        select(SchoolContactLink).where(
            SchoolContactLink.user_id == user.id, SchoolContactLink.pupil_id == maya.id
        )
    )
    if linked is None:
        session.add(
            SchoolContactLink(user_id=user.id, pupil_id=maya.id, invited_by="demo", invited_at=now)
        )
