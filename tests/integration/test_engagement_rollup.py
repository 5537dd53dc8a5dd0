"""The engagement rollups stay the GROUP BY of the outcomes after every write to them: the
two-minute job, the nightly recompute after late events and a lesson moved to another week,
a booking deleted (the trigger), a pupil deleted; and the migration's backfill and trigger."""

from __future__ import annotations

import random
from datetime import timedelta
from importlib import import_module

from factories import add_device
from integration.engagement_helpers import (
    event,
    past_lesson,
    past_weekdays,
    rollup_differences,
    week_shares,
)
from sqlalchemy import delete, func, select, text, update

from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.engagement.figures import (
    Scope,
    breakdown,
    counts_by,
    subject_counts,
    with_trend,
)
from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.models import OutcomeRow, SubjectWeekRow, WeeklyRow
from telepresence.engagement.rollup import ROLLUPS, TRIGGER
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import Pupil
from telepresence.sessions.models import LessonSession

SUBJECTS = ("Maths", "English", "Art", "Science")


async def _random_term(database, org, seed: int = 11, weeks: int = 5):
    """Lessons of two pupils over ``weeks`` school weeks, random-ish but repeatable: several a
    day, some cancelled, some with a failed move, present for random spans (or not at all)."""
    rng = random.Random(seed)
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    async with database.transaction() as db:
        other = Pupil(
            provider_id=org.provider_id,
            school_id=org.school_id,
            first_name="Ola",
            last_name="Other",
            pupil_code="OLAO11",
            created_at=org.pupil.created_at,
        )
        db.add(other)
        await db.flush()
        other_id = other.id
    other_robot = await add_device(database, org, serial="ROBOT-0002", pupil_id=other_id)
    days = past_weekdays(weeks * 5)
    bookings = []
    for day in days:
        for pupil_id, device_id in ((org.pupil.id, robot.id), (other_id, other_robot.id)):
            for hour in rng.sample(range(9, 16), rng.randint(0, 3)):
                cancelled = rng.random() < 0.1
                start = rng.randint(0, 30)
                present = [] if rng.random() < 0.25 else [(start, rng.randint(start + 1, 60))]
                bookings.append(
                    await past_lesson(
                        database,
                        org,
                        device_id,
                        day,
                        present=[] if cancelled else present,
                        subject=rng.choice(SUBJECTS),
                        status="cancelled" if cancelled else "booked",
                        cancel_reason="too unwell today" if cancelled else None,
                        failed_move=not cancelled and not present and rng.random() < 0.5,
                        pupil_id=pupil_id,
                        hour=hour,
                    )
                )
    return bookings, days, other_id


async def _rows(database, model) -> int:
    async with database.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_jobs_keep_the_rollups_the_sums_of_the_outcomes(client, org, clock):
    database = client.app[DATABASE]
    context = client.app[JOBS].context
    bookings, days, _ = await _random_term(database, org)
    assert await compute_finished_outcomes(context) == len(bookings)
    assert await rollup_differences(database) == []
    assert 0 < await _rows(database, WeeklyRow) <= 2 * 6  # two pupils, five or six weeks
    assert 0 < await _rows(database, SubjectWeekRow) <= len(SUBJECTS) * 6

    # Late events for a few lessons (the pupil was there after all), and a lesson moved to
    # another week: the nightly recompute changes their outcomes and both weeks' rollups.
    async with database.transaction() as db:
        missed = list(
            await db.scalars(
                select(OutcomeRow.booking_id)
                .where(OutcomeRow.outcome == "missed", OutcomeRow.lesson_date >= days[-8])
                .limit(3)  # in the nightly's fortnight
            )
        )
        assert missed
        for booking_id in missed:
            booking = await db.get(Booking, booking_id)
            session = LessonSession(
                booking_id=booking_id,
                pupil_id=booking.pupil_id,
                robot_id=booking.classroom_device_id,
                status="ended",
                opens_at=booking.starts_at,
                closes_at=booking.ends_at,
                created_at=booking.starts_at,
            )
            db.add(session)
            await db.flush()
            db.add(event(session.id, booking.starts_at, "joined"))
            db.add(event(session.id, booking.ends_at, "left"))
    weekly_before = await _weekly(database)
    clock.advance(timedelta(days=1))
    assert await nightly_engagement(context, force=True) is True
    assert await rollup_differences(database) == []
    assert await _weekly(database) != weekly_before
    async with database.sessions() as db:
        assert [
            await db.scalar(select(OutcomeRow.outcome).where(OutcomeRow.booking_id == b))
            for b in missed
        ] == ["attended"] * len(missed)

    # The last lesson moved back a week (alone: its old week is recomputed only because the
    # upsert remembers where the outcome was).
    async with database.transaction() as db:
        moved = await db.get(Booking, bookings[-1])
        assert moved is not None
        week_before = moved.lesson_date - timedelta(days=7)
        moved.lesson_date = week_before
        moved.starts_at -= timedelta(days=7)
        moved.ends_at -= timedelta(days=7)
    clock.advance(timedelta(days=1))
    assert await nightly_engagement(context, force=True) is True
    assert await rollup_differences(database) == []
    async with database.sessions() as db:
        row = await db.get(OutcomeRow, bookings[-1])
        assert row is not None
        assert row.lesson_date == week_before


async def _weekly(database) -> list[tuple[object, ...]]:
    async with database.sessions() as db:
        return sorted(tuple(r) for r in await db.execute(select(WeeklyRow.__table__)))


async def test_a_booking_or_pupil_deleted_takes_its_outcomes_out_of_the_rollups(client, org, clock):
    database = client.app[DATABASE]
    bookings, days, other_id = await _random_term(database, org, seed=5, weeks=3)
    await compute_finished_outcomes(client.app[JOBS].context)
    before = await _weekly(database)
    async with database.transaction() as db:  # cascades to its outcome: the trigger
        await db.execute(delete(Booking).where(Booking.id.in_(bookings[:4])))
    assert await rollup_differences(database) == []
    assert await _weekly(database) != before
    # Every booking of a week deleted: its rows go (no empty rows are left behind).
    async with database.transaction() as db:
        first_week = days[0] - timedelta(days=days[0].weekday())
        await db.execute(
            delete(Booking).where(Booking.lesson_date < first_week + timedelta(days=7))
        )
    assert await rollup_differences(database) == []
    assert first_week not in {row[1] for row in await _weekly(database)}
    async with database.transaction() as db:  # a pupil deleted cascades to everything
        await db.execute(update(Device).where(Device.pupil_id == other_id).values(pupil_id=None))
        await db.execute(delete(Pupil).where(Pupil.id == other_id))
    assert await rollup_differences(database) == []
    assert other_id not in {row[0] for row in await _weekly(database)}


async def test_the_migrations_backfill_and_trigger_give_the_same_rollups(client, org, clock):
    """Migration 0022's frozen SQL (backfill, trigger) against the rollups' own."""
    database = client.app[DATABASE]
    migration = import_module("telepresence.migrations.versions.0022_engagement_weekly_rollups")
    bookings, _, _ = await _random_term(database, org, seed=7, weeks=2)
    await compute_finished_outcomes(client.app[JOBS].context)
    expected = await _weekly(database)
    postgres = database.dialect == "postgresql"
    async with database.transaction() as db:
        await db.execute(
            text(f"DROP TRIGGER {TRIGGER}" + (" ON engagement_outcomes" if postgres else ""))
        )
        for rollup in ROLLUPS:
            await db.execute(delete(rollup.table))
        await db.execute(text(migration.WEEKLY.format(where="")))
        await db.execute(text(migration.SUBJECTS.format(where="")))
        body = ";\n".join(migration.RECOMPUTE_OLD)
        if postgres:
            await db.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {migration.FUNCTION}() RETURNS trigger"
                    f" LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"
                )
            )
            await db.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW"
                    f" EXECUTE FUNCTION {migration.FUNCTION}()"
                )
            )
        else:
            await db.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW"
                    f" BEGIN {body}; END"
                )
            )
    assert await _weekly(database) == expected
    assert await rollup_differences(database) == []
    async with database.transaction() as db:
        await db.execute(delete(Booking).where(Booking.id.in_(bookings[:3])))
        await db.execute(update(Booking).where(Booking.id == bookings[3]).values(room="S13"))
    assert await rollup_differences(database) == []


# ------------------------------------------------------------- readers: rollup = raw outcomes


def _plain(counts):
    return sorted(
        (c.key, c.booked, c.joined, c.attended, c.partial, c.missed, c.cancelled,
         c.present_seconds, c.booked_seconds, c.trend)
        for c in counts
    )  # fmt: skip


async def _raw_breakdown(db, scope: Scope):
    """What ``breakdown`` must give, from the outcomes alone (one query per grouping)."""
    wide = Scope(
        scope.provider_id,
        scope.first - timedelta(days=scope.first.weekday(), weeks=4),
        scope.last,
        scope.pupil_ids,
        scope.school_id,
    )
    used = (
        select(OutcomeRow.device_id, func.max(OutcomeRow.lesson_date))
        .where(*scope.where(), OutcomeRow.present_seconds > 0)
        .group_by(OutcomeRow.device_id)
    )
    total = await counts_by(db, scope)
    return (
        week_shares(
            with_trend(await counts_by(db, wide, OutcomeRow.pupil_id, OutcomeRow.week_monday))
        ),
        _plain(await counts_by(db, scope, OutcomeRow.pupil_id)),
        _plain(await counts_by(db, scope, OutcomeRow.school_id)),
        _plain(await counts_by(db, scope, OutcomeRow.device_id)),
        _plain(await counts_by(db, scope, OutcomeRow.week_monday)),
        _plain(total)[0][1:],
        dict((await db.execute(used)).all()),
    )


def _of(figures):
    return (
        figures.weeks,
        _plain(figures.pupils),
        _plain(figures.schools),
        _plain(figures.devices),
        _plain(figures.mondays),
        _plain([figures.provider])[0][1:],
        figures.last_used,
    )


def _ranges(days):
    """Whole weeks, ranges starting or ending mid-week (or both, within one week), one day,
    a weekend's edge, the whole term, a range before any lesson."""
    mondays = [d for d in days if d.weekday() == 0]
    out = [
        (days[0], days[-1]),
        (mondays[1], mondays[-1] - timedelta(days=1)),  # whole weeks, Monday to Sunday
        (mondays[1] + timedelta(days=2), days[-1]),  # from a Wednesday
        (mondays[0], mondays[2] + timedelta(days=1)),  # to a Tuesday
        (mondays[1] + timedelta(days=1), mondays[1] + timedelta(days=3)),  # inside one week
        (days[7], days[7]),
        (mondays[2] - timedelta(days=1), mondays[3] - timedelta(days=2)),  # Sunday to Saturday
        (days[0] - timedelta(days=60), days[0] - timedelta(days=30)),
    ]
    rng = random.Random(3)
    for _ in range(4):
        a, b = sorted(rng.sample(days, 2))
        out.append((a, b))
    return out


async def _assert_readers_equal_raw(database, org, days, other_id):
    async with database.sessions() as db:
        for first, last in _ranges(days):
            for pupils, school in (
                (None, None),
                (None, org.school_id),
                (frozenset({other_id}), None),
                (frozenset({org.pupil.id, other_id}), org.school_id),
            ):
                scope = Scope(org.provider_id, first, last, pupils, school)
                label = (first, last, pupils, school)
                assert _of(await breakdown(db, scope)) == await _raw_breakdown(db, scope), label
                subjects = await subject_counts(db, scope)
                expected = await counts_by(db, scope, OutcomeRow.subject)
                assert _plain(subjects) == _plain(expected), label
                assert [s.key for s in subjects] == sorted(s.key for s in expected)


async def test_the_dashboards_figures_from_the_rollups_equal_those_of_the_outcomes(
    client, org, clock
):
    database = client.app[DATABASE]
    context = client.app[JOBS].context
    bookings, days, other_id = await _random_term(database, org, seed=23)
    await compute_finished_outcomes(context)
    await _assert_readers_equal_raw(database, org, days, other_id)
    # After late events recomputed, and a booking deleted.
    async with database.transaction() as db:
        missed = await db.scalar(
            select(OutcomeRow.booking_id)
            .where(OutcomeRow.outcome == "missed", OutcomeRow.lesson_date >= days[-8])
            .limit(1)
        )
        booking = await db.get(Booking, missed)
        session = LessonSession(
            booking_id=missed,
            pupil_id=booking.pupil_id,
            robot_id=booking.classroom_device_id,
            status="ended",
            opens_at=booking.starts_at,
            closes_at=booking.ends_at,
            created_at=booking.starts_at,
        )
        db.add(session)
        await db.flush()
        db.add(event(session.id, booking.starts_at, "joined"))
        db.add(event(session.id, booking.ends_at - timedelta(minutes=20), "left"))
        await db.execute(delete(Booking).where(Booking.id.in_(bookings[5:9])))
    clock.advance(timedelta(days=1))
    assert await nightly_engagement(context, force=True) is True
    async with database.sessions() as db:
        assert (
            await db.scalar(select(OutcomeRow.outcome).where(OutcomeRow.booking_id == missed))
            == "partial"
        )
    await _assert_readers_equal_raw(database, org, days, other_id)
