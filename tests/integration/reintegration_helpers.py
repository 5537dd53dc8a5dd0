"""Test data for reintegration: a second school, contacts of each school, a plan, a school day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from factories import PASSWORD, Org, add_user, cheap_hash

from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, School
from telepresence.reintegration.models import SchoolContactLink


@dataclass
class Cast:
    """Everyone the reintegration tests sign in as, beyond the org's own."""

    other_school_id: str
    other_pupil_id: str
    emails: dict[str, str]


async def add_cast(database: Database, org: Org) -> Cast:
    """A second school with its own pupil; a second member of staff; a contact of each school."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        school = School(provider_id=org.provider_id, name="Other Academy", created_at=now)
        session.add(school)
        await session.flush()
        other = Pupil(
            provider_id=org.provider_id,
            school_id=school.id,
            first_name="Ola",
            last_name="Nowak",
            pupil_code="OLAN42",
            pin_hash=cheap_hash("1234"),
            key_worker_id=org.users["hospital_staff"].id,
            created_at=now,
        )
        session.add(other)
        colleague = await add_user(
            session, "hospital_staff", org.provider_id, email="colleague@test.example"
        )
        mine = await add_user(
            session, "school_contact", org.provider_id, org.school_id, email="senco@test.example"
        )
        theirs = await add_user(
            session, "school_contact", org.provider_id, school.id, email="senco@other.example"
        )
        await session.flush()
        session.add_all(
            [
                SchoolContactLink(
                    user_id=mine.id, pupil_id=org.pupil.id, invited_by="t", invited_at=now
                ),
                SchoolContactLink(
                    user_id=theirs.id, pupil_id=other.id, invited_by="t", invited_at=now
                ),
            ]
        )
    return Cast(
        other_school_id=school.id,
        other_pupil_id=other.id,
        emails={
            "colleague": colleague.email,
            "contact": mine.email,
            "other_contact": theirs.email,
        },
    )


def next_school_day(after: date, *, skip: int = 0) -> date:
    """The first Monday-to-Friday day after ``after`` (then ``skip`` more of them)."""
    day = after + timedelta(days=1)
    while day.weekday() >= 5 or skip:
        if day.weekday() < 5:
            skip -= 1
        day += timedelta(days=1)
    return day


def plan_body(org: Org, **extra: Any) -> dict[str, Any]:
    """A valid new plan for the org's pupil, started today, reviewed in two and six weeks."""
    today = datetime.now(UTC).date()
    return {
        "pupil_id": org.pupil.id,
        "goal": "home_school",
        "starts_on": today.isoformat(),
        "expected_weeks": 12,
        "review_dates": [(today + timedelta(weeks=w)).isoformat() for w in (2, 6)],
    } | extra


__all__ = ["PASSWORD", "Cast", "add_cast", "next_school_day", "plan_body"]
