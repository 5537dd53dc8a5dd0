"""The timetable part of ``classbridge demo``: calendars, timetables and Sam's bookings.

Everything goes through the scheduler's real services, as staff would: each
school's calendar is saved with ``put_calendar``, each pupil's timetable is a
CSV export imported with ``import_timetable``, and Sam's bookings are made by
``bulk_book``, so the clash rules apply. Idempotent: a school that has a
calendar, a pupil who has a timetable and Sam with bookings from today on are
left as they are.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings import services as bookings
from scheduler.bookings.models import Booking
from scheduler.timetables import services
from scheduler.timetables.calendar import (
    BellPeriod,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
    monday_of,
)
from scheduler.timetables.models import SchoolCalendarRow, Timetable
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, School, User
from telepresence.platform.security.identity import Principal, Role

__all__ = ["BELLS", "demo_calendar", "demo_timetable_csv", "seed_timetables"]

BELLS = (
    BellPeriod("P1", time(8, 50), time(9, 50)),
    BellPeriod("P2", time(9, 50), time(10, 50)),
    BellPeriod("P3", time(11, 10), time(12, 10)),
    BellPeriod("P4", time(12, 10), time(13, 10)),
    BellPeriod("P5", time(13, 50), time(14, 50)),
    BellPeriod("P6", time(14, 50), time(15, 50)),
)
# Subject -> (teacher, room at Oakfield, room at St Aidan's); rooms are the demo's rooms.
SUBJECTS = {
    "Maths": ("Mr Patel", "M4", "Maths 1"),
    "English": ("Ms Hughes", "E7", "H2"),
    "Science": ("Dr Okoye", "Lab 3", "IT Suite"),
    "Biology": ("Dr Okoye", "S12", "IT Suite"),
    "History": ("Mrs Lewis", "Library", "H5"),
    "Geography": ("Mr Byrne", "Library", "H5"),
    "French": ("Mme Laurent", "E7", "H2"),
    "Computing": ("Mr Singh", "S12", "IT Suite"),
    "RE": ("Ms Cohen", "Library", "H2"),
    "Art": ("Ms Rossi", "E7", "H5"),
    "Music": ("Mr Adams", "M4", "H5"),
}
# Core subjects come round more often, as they do in real timetables.
ROTATION = (
    "Maths", "English", "Science", "History", "Maths", "English", "French",
    "Geography", "Science", "Computing", "English", "Maths", "RE", "Biology",
)  # fmt: skip
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
# The pupil whose tablet the demo shows, and what staff book for the days after today.
DEMO_PUPIL_CODE = "SAMK42"
LATER_SUBJECTS = ("Maths", "English", "Science")
LATER_SCHOOL_DAYS = 3


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _weekday_on_or_before(day: date, weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian; the anonymous "Meeus/Jones/Butcher" algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    return date(year, month, (h + l - 7 * m + 33 * month + 19) % 32)


def _school_day_from(day: date) -> date:
    """``day``, or the Monday after it when it falls on a weekend."""
    return day if day.weekday() < 5 else _weekday_on_or_after(day, 0)


def _school_week(name: str, monday: date) -> Closure:
    return Closure(name, monday, monday + timedelta(days=4))


def demo_calendar(today: date, timezone: str = "Europe/London") -> SchoolCalendar:
    """An English school year around ``today``: three terms, half terms, bank holidays, INSET.

    The year starts in September (from August on, the coming one). Week A is
    the first week of the autumn term; the week after October half term is
    set to A again, as schools often restart the cycle there.
    """
    year = today.year if today.month >= 8 else today.year - 1
    easter_sunday = _easter(year + 1)
    autumn = Term(
        "Autumn",
        _school_day_from(date(year, 9, 3)),
        _weekday_on_or_before(date(year, 12, 19), 4),
    )
    spring = Term(
        "Spring",
        _school_day_from(date(year + 1, 1, 5)),
        easter_sunday - timedelta(days=3),
    )
    summer = Term(
        "Summer",
        easter_sunday + timedelta(days=15),
        _weekday_on_or_before(date(year + 1, 7, 23), 4),
    )
    october = _weekday_on_or_before(date(year, 10, 31), 0)
    closures = (
        Closure("INSET day", autumn.start, autumn.start),
        _school_week("October half term", october),
        _school_week("February half term", monday_of(date(year + 1, 2, 15))),
        Closure("Early May bank holiday", *(2 * (_weekday_on_or_after(date(year + 1, 5, 1), 0),))),
        _school_week("May half term", _weekday_on_or_before(date(year + 1, 5, 31), 0)),
    )
    overrides = {october + timedelta(days=7): "A"}
    return SchoolCalendar(
        timezone=timezone,
        terms=(autumn, spring, summer),
        closures=closures,
        week_cycle=WeekCycle(monday_of(autumn.start), overrides),  # type: ignore[arg-type]
        bell_times=BELLS,
    )


def demo_timetable_csv(index: int, school_slot: int, year_group: str) -> bytes:
    """A pupil's week as a school's CSV export: 25 lessons a week, some alternating A/B.

    ``index`` varies the pupil's free periods and subjects; ``school_slot``
    (0 or 1) picks the rooms of the pupil's school.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Week", "Day", "Period", "Subject", "Class", "Teacher", "Room"])
    form = "".join(ch for ch in year_group if ch.isdigit()) or "7"
    for day_number, day in enumerate(DAYS):
        free = (index + day_number) % len(BELLS)
        for period_number, bell in enumerate(BELLS):
            if period_number == free:
                continue
            if (index + day_number + period_number) % 7 == 0:
                rows = [("A", "Art"), ("B", "Music")]
            else:
                position = index * 5 + day_number * 6 + period_number
                rows = [("", ROTATION[position % len(ROTATION)])]
            for week, subject in rows:
                teacher, *rooms = SUBJECTS[subject]
                group = f"{form}X/{subject[:2]}{1 + index % 3}"
                writer.writerow([week, day, bell.name, subject, group, teacher, rooms[school_slot]])
    return out.getvalue().encode()


async def _staff(session: AsyncSession) -> Principal:
    user = await session.scalar(select(User).where(User.email == "teacher@riverside.example"))
    if user is None:
        raise LookupError("the demo's hospital staff account is missing")
    return Principal(Role.HOSPITAL_STAFF, user.id, user.name, provider_id=user.provider_id)


async def _seed_calendars(database: Database, now: datetime) -> None:
    async with database.transaction() as session:
        who = await _staff(session)
        schools = await session.scalars(select(School).where(School.provider_id == who.provider_id))
        for school in schools:
            if await session.get(SchoolCalendarRow, school.id) is not None:
                continue
            today = now.astimezone(ZoneInfo(school.time_zone)).date()
            calendar = demo_calendar(today, school.time_zone)
            await services.put_calendar(session, who, school.id, calendar, now)


async def _seed_lessons(database: Database, now: datetime, pupil_codes: list[str]) -> None:
    async with database.transaction() as session:
        who = await _staff(session)
        schools = {
            school.id: slot
            for slot, school in enumerate(
                await session.scalars(
                    select(School)
                    .where(School.provider_id == who.provider_id)
                    .order_by(School.name)
                )
            )
        }
        for index, code in enumerate(pupil_codes):
            pupil = await session.scalar(select(Pupil).where(Pupil.pupil_code == code))
            if pupil is None or await session.get(Timetable, pupil.id) is not None:
                continue
            data = demo_timetable_csv(index, schools.get(pupil.school_id, 0) % 2, pupil.year_group)
            await services.import_timetable(
                session,
                who,
                pupil.id,
                data,
                fmt="csv",
                file_name=f"{code.lower()}-timetable.csv",
                roster_id=None,
                dry_run=False,
                now=now,
            )


async def _seed_bookings(database: Database, now: datetime) -> None:
    async with database.transaction() as session:
        who = await _staff(session)
        pupil = await session.scalar(select(Pupil).where(Pupil.pupil_code == DEMO_PUPIL_CODE))
        if pupil is None:
            return
        _school, calendar = await services.get_calendar(session, who, pupil.school_id)
        today = now.astimezone(calendar.zone).date()
        existing = await session.scalar(
            select(Booking.id).where(Booking.pupil_id == pupil.id, Booking.lesson_date >= today)
        )
        if existing is not None:
            return
        later: list[date] = []
        day = today
        while len(later) < LATER_SCHOOL_DAYS and (day - today).days < 60:
            day += timedelta(days=1)
            if calendar.is_school_day(day):
                later.append(day)
        plans: list[tuple[tuple[str, ...], date, date]] = [((), today, today)]
        if later:
            plans.append((LATER_SUBJECTS, later[0], later[-1]))
        for subjects, first, last in plans:
            await bookings.bulk_book(
                session,
                who,
                pupil.id,
                subjects=subjects,
                from_date=first,
                to_date=last,
                classroom_device_id=None,
                pupil_device_id=None,
                now=now,
            )


async def seed_timetables(database: Database, now: datetime, pupil_codes: list[str]) -> None:
    """Seed calendars, the pupils' timetables and Sam's bookings where they are missing.

    ``now`` is aware UTC; bookings start at today's lessons still to come.
    """
    await _seed_calendars(database, now)
    await _seed_lessons(database, now, pupil_codes)
    await _seed_bookings(database, now)
