"""figures.breakdown and services.pupil_report (one scan) give the same figures as
counts_by per grouping (one scan each)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import add_device, add_user
from integration.engagement_helpers import past_lesson, past_weekdays, week_shares
from sqlalchemy import func, select

from telepresence.engagement import services
from telepresence.engagement.figures import (
    Scope,
    breakdown,
    counts_by,
    with_trend,
)
from telepresence.engagement.jobs import compute_finished_outcomes
from telepresence.engagement.models import OutcomeRow as Out
from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.security.identity import Principal, Role


def _plain(counts):
    return sorted(
        (
            c.key,
            c.booked,
            c.joined,
            c.attended,
            c.partial,
            c.missed,
            c.cancelled,
            c.present_seconds,
            c.booked_seconds,
            c.trend,
        )
        for c in counts
    )


async def _a_term(client, org):
    """Six weeks of a pupil's lessons in three subjects (some cancelled), outcomes computed;
    returns the robot and the days."""
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    days = past_weekdays(30)
    spans = [[(0, 60)], [(0, 20)], [], [(5, 55)], [(0, 30), (35, 60)]]
    for i, day in enumerate(days):
        status = "cancelled" if i % 7 == 6 else "booked"
        await past_lesson(
            database,
            org,
            robot.id,
            day,
            present=spans[i % len(spans)] if status == "booked" else [],
            subject=("Maths", "English", "Art")[i % 3],
            status=status,
            cancel_reason="too unwell today" if status == "cancelled" else None,
        )
    await compute_finished_outcomes(client.app[JOBS].context)
    return robot, days


async def test_breakdown_equals_one_query_per_grouping(client, org, clock):
    database = client.app[DATABASE]
    robot, days = await _a_term(client, org)
    # A range starting mid-week: the weeks before it feed only the trend.
    first = days[12] if days[12].weekday() != 0 else days[13]
    scope = Scope(org.provider_id, first, days[-1])
    async with database.sessions() as db:
        figures = await breakdown(db, scope)
        wide = Scope(org.provider_id, first - timedelta(days=first.weekday(), weeks=4), days[-1])
        weeks = with_trend(await counts_by(db, wide, Out.pupil_id, Out.week_monday))
        assert figures.weeks == week_shares(weeks)
        assert _plain(figures.pupils) == _plain(await counts_by(db, scope, Out.pupil_id))
        assert _plain(figures.schools) == _plain(await counts_by(db, scope, Out.school_id))
        assert _plain(figures.devices) == _plain(await counts_by(db, scope, Out.device_id))
        assert _plain(figures.mondays) == _plain(await counts_by(db, scope, Out.week_monday))
        [provider] = await counts_by(db, scope, Out.provider_id)
        assert _plain([figures.provider])[0][1:] == _plain([provider])[0][1:]
        assert figures.provider.booked > 0
        assert figures.provider.cancelled > 0
        assert any(t is not None for weeks in figures.weeks.values() for _, t in weeks.values())
        used = await db.scalar(
            select(func.max(Out.lesson_date)).where(
                Out.present_seconds > 0, Out.lesson_date >= first, Out.lesson_date <= days[-1]
            )
        )
        assert figures.last_used == {robot.id: used}


async def test_a_pupils_report_equals_one_query_per_grouping(client, org, clock):
    """The pupil's page, the API and the CSV all read ``pupil_report``: its weeks, subjects,
    total and lessons against counts_by per grouping and the outcomes themselves."""
    database = client.app[DATABASE]
    robot, days = await _a_term(client, org)
    # A subject taught only before the range: in the weeks' trend, not among the subjects.
    await past_lesson(database, org, robot.id, days[1], present=[(0, 60)], subject="Zoology")
    await compute_finished_outcomes(client.app[JOBS].context)
    first = days[12] if days[12].weekday() != 0 else days[13]
    ids = frozenset({org.pupil.id})
    scope = Scope(org.provider_id, first, days[-1], ids)
    who = Principal(Role.COORDINATOR, org.users["coordinator"].id, "C", provider_id=org.provider_id)
    async with database.sessions() as db:
        figures, lessons = await services.pupil_report(db, who, org.pupil.id, first, days[-1])
        wide = Scope(
            org.provider_id, first - timedelta(days=first.weekday(), weeks=4), days[-1], ids
        )
        all_weeks = with_trend(await counts_by(db, wide, Out.pupil_id, Out.week_monday))
        expected_subjects = await counts_by(db, scope, Out.subject)
        [expected_total] = await counts_by(db, scope, Out.pupil_id)
        expected_lessons = (
            await db.scalars(
                select(Out.booking_id)
                .where(Out.pupil_id == org.pupil.id, Out.lesson_date >= first)
                .order_by(Out.starts_at)
            )
        ).all()
    expected_weeks = [w for w in all_weeks if w.key[1] >= first - timedelta(days=first.weekday())]
    assert [w.key for w in figures.weeks] == [w.key[1].isoformat() for w in expected_weeks]
    assert figures.weeks == [services.counts_out(w, w.key[1].isoformat()) for w in expected_weeks]
    assert any(w.trend is not None for w in figures.weeks)
    # Same order as the database's ORDER BY subject, same counts.
    assert figures.subjects == [services.counts_out(s) for s in expected_subjects]
    assert "Zoology" not in {s.key for s in figures.subjects}
    assert figures.total == services.counts_out(expected_total, "total")
    assert [r.booking_id for r in lessons] == list(expected_lessons)
    assert len(lessons) == len([d for d in days if d >= first])
    assert [services.outcome_out(r).description for r in lessons[:3]]


async def test_a_pupils_report_checks_who_asks_in_its_one_query(client, org, clock):
    """services.pupil_report looks the pupil up in the same query as their outcomes: the key
    worker sees them, as the coordinator does; another key worker, an assistant, another
    provider and an unknown pupil are not found; no outcomes is an empty report."""
    database = client.app[DATABASE]
    _, days = await _a_term(client, org)
    staff = org.users["hospital_staff"]
    async with database.transaction() as db:
        other_staff = await add_user(db, "hospital_staff", org.provider_id, email="o@test.example")
    coordinator = Principal(
        Role.COORDINATOR, org.users["coordinator"].id, "C", provider_id=org.provider_id
    )
    first = days[7]
    async with database.sessions() as db:
        expected = await services.pupil_report(db, coordinator, org.pupil.id, first, days[-1])
        key_worker = Principal(Role.HOSPITAL_STAFF, staff.id, "K", provider_id=org.provider_id)
        assert (
            await services.pupil_report(db, key_worker, org.pupil.id, first, days[-1]) == expected
        )
        for who, pupil_id in (
            (Principal(Role.HOSPITAL_STAFF, other_staff.id, "O", provider_id=org.provider_id),
             org.pupil.id),
            (Principal(Role.ASSISTANT, org.users["assistant"].id, "A",
                       provider_id=org.provider_id), org.pupil.id),
            (Principal(Role.ADMIN, org.users["other_admin"].id, "X",
                       provider_id=org.other_provider_id), org.pupil.id),
            (coordinator, "no-such-pupil"),
        ):  # fmt: skip
            with pytest.raises(NotFound):
                await services.pupil_report(db, who, pupil_id, first, days[-1])
        before = days[0] - timedelta(days=90)
        empty, lessons = await services.pupil_report(
            db, coordinator, org.pupil.id, before, before + timedelta(days=6)
        )
    assert lessons == []
    assert (empty.weeks, empty.subjects, empty.total.booked) == ([], [], 0)
    assert empty.name == "Sam Kowalski"
