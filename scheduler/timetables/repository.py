"""Reading and writing the scheduler's tables as domain objects.

Access rules live here too, because every query starts from "which pupil or
school may this caller see": staff see their provider's, a pupil only their
own record, and anything else is reported as not found.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, Protocol

from sqlalchemy import Select, Update, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.timetables.calendar import (
    BellPeriod,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
    WeekLetter,
)
from scheduler.timetables.models import (
    BellPeriodRow,
    ClosureRow,
    LessonRow,
    PeriodCodeRow,
    SchoolCalendarRow,
    TermRow,
    WeekOverrideRow,
)
from scheduler.timetables.occurrences import Lesson
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal, Role
from telepresence.platform.versions import SchoolVersion

__all__ = [
    "LessonColumns",
    "apply_lesson",
    "dated_calendar",
    "get_school",
    "lesson_from_row",
    "load_calendar",
    "load_calendars",
    "load_lessons",
    "lock_pupil",
    "lock_pupils",
    "lock_rows",
    "pupil_display_name",
    "remembered_calendar",
    "save_calendar",
    "save_period_codes",
    "school_with_stamp",
    "visible_pupil",
]


async def visible_pupil(session: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """The pupil if the caller may see them (staff of their provider, or the pupil).

    Raises ``NotFound`` otherwise, so that ids of other providers' pupils leak nothing.
    """
    pupil = await session.get(Pupil, pupil_id)
    if pupil is None:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    _check_visible(who, pupil, pupil_id)
    return pupil


def _check_visible(who: Principal, pupil: Pupil, pupil_id: str) -> None:
    if pupil.provider_id != who.provider_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    if who.role is Role.PUPIL and who.subject_id != pupil.id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")


async def get_school(session: AsyncSession, who: Principal, school_id: str) -> School:
    """A school of the caller's provider; ``NotFound`` otherwise."""
    school = await session.get(School, school_id)
    if school is None or school.provider_id != who.provider_id:
        raise NotFound(f"There is no school {school_id!r}.")
    return school


async def lock_rows(session: AsyncSession, touch: Update, for_update: Select[Any]) -> None:
    """Hold rows until the transaction ends with a no-op ``UPDATE`` (``touch``).

    SQLite has no row locks, and pysqlite only begins a transaction at the first write:
    the no-op UPDATE takes the database's write lock now, so the checks that follow see
    every transaction committed before this one and none can slip in. On PostgreSQL it
    takes the rows' locks and leaves a new row version: a booking made without locks
    (``scheduler.bookings.repository.BOOKING_INSERT``) that read the rows before sees
    they changed and asks again, so locked and lock-free writers exclude each other.
    ``for_update`` (the rows' ``SELECT``) is kept for callers; it is not run.
    """
    del for_update
    await session.execute(touch.execution_options(synchronize_session=False))


async def lock_pupil(session: AsyncSession, pupil_id: str) -> None:
    """Hold the pupil's row until the transaction ends (serialises their bookings, imports)."""
    await lock_rows(
        session,
        update(Pupil).where(Pupil.id == pupil_id).values(active=Pupil.active),
        select(Pupil.id).where(Pupil.id == pupil_id),
    )


class Named(Protocol):
    """A pupil's names: their row, or the plain values of one."""

    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...


def pupil_display_name(pupil: Named) -> str:
    """First name and initial, the only name shown beside someone else's booking."""
    return f"{pupil.first_name} {pupil.last_name[:1]}.".strip()


# Calendars for laying lessons on dates, by (school, its data version, time zone). Any change
# of a school's calendar tables raises the version in its transaction, whoever makes it
# (``telepresence.platform.versions``): a changed calendar has a new key on every instance.
_CALENDARS: OrderedDict[tuple[str, int, str], SchoolCalendar] = OrderedDict()
CALENDAR_CACHE_SIZE = 4096


async def school_with_stamp(
    session: AsyncSession, who: Principal, pupil_id: str, *, lock: bool = False
) -> tuple[Pupil, School, int]:
    """``visible_pupil``, their school and its data version (the calendar's stamp), in one
    round trip.

    With ``lock``, the pupil's row is held until the transaction ends (``lock_pupil``).
    """
    query = (
        select(Pupil, School, func.coalesce(SchoolVersion.version, 0))
        .join(School, School.id == Pupil.school_id)
        .outerjoin(SchoolVersion, SchoolVersion.school_id == School.id)
        .where(Pupil.id == pupil_id)
    )
    if lock:
        await lock_pupil(session, pupil_id)
        query = query.execution_options(populate_existing=True)
    found = (await session.execute(query)).first()
    if found is None:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    pupil, school, stamp = found
    _check_visible(who, pupil, pupil_id)
    return pupil, school, stamp


async def dated_calendar(session: AsyncSession, school: School, stamp: int) -> SchoolCalendar:
    """The school's calendar for laying lessons on dates (occurrences, booking rules).

    Kept in memory under the school's data version ``stamp`` (``school_with_stamp``), read
    before the calendar is (so the calendar read is never older than it); without the
    school's period codes, which only imports read (``load_calendar``).
    """
    key = (school.id, stamp, school.time_zone)
    found = _CALENDARS.get(key)
    if found is not None:
        _CALENDARS.move_to_end(key)
        return found
    calendar, _ = await _read_calendar(session, school, codes=False)
    _CALENDARS[key] = calendar
    while len(_CALENDARS) > CALENDAR_CACHE_SIZE:
        _CALENDARS.popitem(last=False)
    return calendar


def remembered_calendar(school_id: str, stamp: int, time_zone: str) -> SchoolCalendar | None:
    """``dated_calendar``'s copy of the school's calendar under ``stamp``, if it has one."""
    key = (school_id, stamp, time_zone)
    found = _CALENDARS.get(key)
    if found is not None:
        _CALENDARS.move_to_end(key)
    return found


async def load_calendar(session: AsyncSession, school: School) -> SchoolCalendar:
    """The school's calendar; with none entered, every weekday counts as a school day."""
    calendar, _ = await _read_calendar(session, school, codes=True)
    return calendar


async def _read_calendar(
    session: AsyncSession, school: School, *, codes: bool
) -> tuple[SchoolCalendar, datetime | None]:
    settings = await session.get(SchoolCalendarRow, school.id, populate_existing=True)
    terms = await session.scalars(
        select(TermRow).where(TermRow.school_id == school.id).order_by(TermRow.start_date)
    )
    closures = await session.scalars(
        select(ClosureRow).where(ClosureRow.school_id == school.id).order_by(ClosureRow.start_date)
    )
    bells = await session.scalars(
        select(BellPeriodRow)
        .where(BellPeriodRow.school_id == school.id)
        .order_by(BellPeriodRow.position)
    )
    cycle = None
    if settings is not None and settings.week_a_monday is not None:
        overrides = await session.scalars(
            select(WeekOverrideRow).where(WeekOverrideRow.school_id == school.id)
        )
        letters: dict[date, WeekLetter] = {
            o.week_monday: "A" if o.week == "A" else "B" for o in overrides
        }
        cycle = WeekCycle(settings.week_a_monday, letters)
    code_rows = (
        await session.scalars(
            select(PeriodCodeRow)
            .where(PeriodCodeRow.school_id == school.id)
            .order_by(PeriodCodeRow.code)
        )
        if codes
        else ()
    )
    calendar = SchoolCalendar(
        timezone=school.time_zone,
        terms=tuple(Term(t.name, t.start_date, t.end_date) for t in terms),
        closures=tuple(Closure(c.name, c.start_date, c.end_date) for c in closures),
        week_cycle=cycle,
        bell_times=tuple(BellPeriod(b.name, b.start_time, b.end_time) for b in bells),
        school_weekdays=frozenset(settings.school_weekdays if settings else range(5)),
        period_codes=tuple((c.code, c.meaning) for c in code_rows),
    )
    return calendar, settings.updated_at if settings is not None else None


async def load_calendars(
    session: AsyncSession, schools: Sequence[School]
) -> dict[str, SchoolCalendar]:
    """Several schools' calendars in one query per table (the same as ``load_calendar`` of
    each): a provider's dashboard or nightly job reads dozens of schools."""
    ids = [s.id for s in schools]
    if not ids:
        return {}

    async def rows_of(model: Any, *order: Any) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in await session.scalars(
            select(model).where(model.school_id.in_(ids)).order_by(*order)
        ):
            grouped[row.school_id].append(row)
        return grouped

    settings = {r.school_id: r for r in await session.scalars(
        select(SchoolCalendarRow).where(SchoolCalendarRow.school_id.in_(ids))
    )}  # fmt: skip
    terms = await rows_of(TermRow, TermRow.start_date)
    closures = await rows_of(ClosureRow, ClosureRow.start_date)
    bells = await rows_of(BellPeriodRow, BellPeriodRow.position)
    overrides = await rows_of(WeekOverrideRow, WeekOverrideRow.week_monday)
    codes = await rows_of(PeriodCodeRow, PeriodCodeRow.code)
    out = {}
    for school in schools:
        row = settings.get(school.id)
        cycle = None
        if row is not None and row.week_a_monday is not None:
            letters: dict[date, WeekLetter] = {
                o.week_monday: "A" if o.week == "A" else "B" for o in overrides[school.id]
            }
            cycle = WeekCycle(row.week_a_monday, letters)
        out[school.id] = SchoolCalendar(
            timezone=school.time_zone,
            terms=tuple(Term(t.name, t.start_date, t.end_date) for t in terms[school.id]),
            closures=tuple(Closure(c.name, c.start_date, c.end_date) for c in closures[school.id]),
            week_cycle=cycle,
            bell_times=tuple(
                BellPeriod(b.name, b.start_time, b.end_time) for b in bells[school.id]
            ),
            school_weekdays=frozenset(row.school_weekdays if row else range(5)),
            period_codes=tuple((c.code, c.meaning) for c in codes[school.id]),
        )
    return out


async def save_period_codes(
    session: AsyncSession, school_id: str, codes: tuple[tuple[str, str], ...]
) -> None:
    """Replace the school's own period codes (code in lower case, meaning)."""
    await session.execute(delete(PeriodCodeRow).where(PeriodCodeRow.school_id == school_id))
    session.add_all(PeriodCodeRow(school_id=school_id, code=c, meaning=m) for c, m in codes)
    await session.flush()


async def save_calendar(
    session: AsyncSession, school_id: str, calendar: SchoolCalendar, *, by: str, now: datetime
) -> None:
    """Replace the school's terms, closures, A/B weeks and bells with ``calendar``'s."""
    for table in (TermRow, ClosureRow, BellPeriodRow, WeekOverrideRow):
        await session.execute(delete(table).where(table.school_id == school_id))
    settings = await session.get(SchoolCalendarRow, school_id)
    if settings is None:
        settings = SchoolCalendarRow(school_id=school_id)
        session.add(settings)
    cycle = calendar.week_cycle
    settings.week_a_monday = cycle.reference_monday if cycle else None
    settings.school_weekdays = sorted(calendar.school_weekdays)
    settings.updated_at = now
    settings.updated_by = by
    session.add_all(
        TermRow(school_id=school_id, name=t.name, start_date=t.start, end_date=t.end)
        for t in calendar.terms
    )
    session.add_all(
        ClosureRow(school_id=school_id, name=c.name, start_date=c.start, end_date=c.end)
        for c in calendar.closures
    )
    session.add_all(
        BellPeriodRow(
            school_id=school_id, position=i, name=b.name, start_time=b.start, end_time=b.end
        )
        for i, b in enumerate(calendar.bell_times)
    )
    if cycle is not None:
        session.add_all(
            WeekOverrideRow(school_id=school_id, week_monday=monday, week=letter)
            for monday, letter in cycle.overrides.items()
        )
    await session.flush()


# ``lessons.week`` holds "A", "B", NULL (every week) or this: every other week counted
# from the week of ``valid_from`` (an iCalendar INTERVAL=2), which needs no A/B cycle.
FORTNIGHT_FROM_FIRST = "2"


def stored_week(lesson: Lesson) -> str | None:
    """What ``lessons.week`` holds for ``lesson``."""
    return FORTNIGHT_FROM_FIRST if lesson.interval == 2 else lesson.week


class LessonColumns(Protocol):
    """The stored columns of a lesson: its row, or the plain values of one."""

    @property
    def subject(self) -> str: ...
    @property
    def weekday(self) -> int: ...
    @property
    def start_time(self) -> time: ...
    @property
    def end_time(self) -> time: ...
    @property
    def class_group(self) -> str: ...
    @property
    def teacher(self) -> str: ...
    @property
    def room(self) -> str: ...
    @property
    def week(self) -> str | None: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_to(self) -> date | None: ...
    @property
    def excluded_dates(self) -> list[str]: ...
    @property
    def extra_dates(self) -> list[str]: ...


def lesson_from_row(row: LessonColumns) -> Lesson:
    """The domain lesson stored in ``row``."""
    return Lesson(
        subject=row.subject,
        weekday=row.weekday,
        start=row.start_time,
        end=row.end_time,
        class_group=row.class_group,
        teacher=row.teacher,
        room=row.room,
        week="A" if row.week == "A" else "B" if row.week == "B" else None,
        interval=2 if row.week == FORTNIGHT_FROM_FIRST else 1,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        excluded_dates=frozenset(date.fromisoformat(d) for d in row.excluded_dates),
        extra_dates=frozenset(date.fromisoformat(d) for d in row.extra_dates),
    )


def apply_lesson(row: LessonRow, lesson: Lesson) -> None:
    """Write every field of ``lesson`` (and its key) into ``row``."""
    row.key = lesson.key
    row.subject = lesson.subject
    row.weekday = lesson.weekday
    row.start_time = lesson.start
    row.end_time = lesson.end
    row.class_group = lesson.class_group
    row.teacher = lesson.teacher
    row.room = lesson.room
    row.week = stored_week(lesson)
    row.valid_from = lesson.valid_from
    row.valid_to = lesson.valid_to
    row.excluded_dates = sorted(d.isoformat() for d in lesson.excluded_dates)
    row.extra_dates = sorted(d.isoformat() for d in lesson.extra_dates)


async def load_lessons(session: AsyncSession, pupil_id: str) -> list[LessonRow]:
    """The pupil's lesson rows, by key."""
    rows = await session.scalars(
        select(LessonRow).where(LessonRow.pupil_id == pupil_id).order_by(LessonRow.key)
    )
    return list(rows)


async def lock_pupils(session: AsyncSession, pupil_ids: list[str]) -> None:
    """:func:`lock_pupil` for many pupils in a few statements (ids in chunks of 1,000)."""
    for start in range(0, len(pupil_ids), 1000):
        chunk = pupil_ids[start : start + 1000]
        await lock_rows(
            session,
            update(Pupil).where(Pupil.id.in_(chunk)).values(active=Pupil.active),
            select(Pupil.id).where(Pupil.id.in_(chunk)),
        )
