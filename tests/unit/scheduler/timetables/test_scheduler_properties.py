"""Properties of expansion and import that must hold for any timetable."""

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_factories import lesson, school_calendar

from scheduler.timetables.calendar import Closure, SchoolCalendar, Term, WeekCycle, WeekLetter
from scheduler.timetables.imports import ImportProblem, ImportRejected, import_csv
from scheduler.timetables.occurrences import Lesson, expand

DAY = timedelta(days=1)
ZONES = ("Europe/London", "Europe/Dublin", "America/New_York", "Australia/Sydney")


@st.composite
def calendars(draw: st.DrawFn) -> SchoolCalendar:
    start = draw(st.dates(date(2024, 1, 1), date(2026, 12, 31)))
    length = draw(st.integers(1, 200))
    closures = tuple(
        Closure(f"c{n}", first, first + DAY * draw(st.integers(0, 9)))
        for n, first in enumerate(draw(st.lists(st.dates(start, start + DAY * length), max_size=4)))
    )
    reference = start - DAY * start.weekday()
    letters: st.SearchStrategy[WeekLetter] = st.sampled_from(["A", "B"])
    overrides = draw(st.dictionaries(st.dates(start, start + DAY * length), letters, max_size=3))
    return SchoolCalendar(
        timezone=draw(st.sampled_from(ZONES)),
        terms=(Term("t", start, start + DAY * length),),
        closures=closures,
        week_cycle=WeekCycle(reference, overrides),
    )


@st.composite
def lessons(draw: st.DrawFn) -> Lesson:
    start_minute = draw(st.integers(7 * 60, 16 * 60))
    length = draw(st.integers(10, 120))
    end_minute = start_minute + length
    return lesson(
        weekday=draw(st.integers(0, 4)),
        start=time(start_minute // 60, start_minute % 60),
        end=time(end_minute // 60, end_minute % 60),
        week=draw(st.sampled_from([None, "A", "B"])),
    )


@settings(max_examples=150, deadline=None)
@given(calendars(), st.lists(lessons(), min_size=1, max_size=8))
def test_expansion_respects_closures_wall_clock_and_weeks(
    calendar: SchoolCalendar, timetable: list[Lesson]
) -> None:
    term = calendar.terms[0]
    by_key = {x.key: x for x in timetable}  # one lesson per slot, as importers guarantee
    occurrences = expand(by_key.values(), calendar, term.start - DAY * 7, term.end + DAY * 7)
    for occ in occurrences:
        source = by_key[occ.lesson_key]
        assert term.start <= occ.date <= term.end
        assert calendar.closure_on(occ.date) is None
        assert occ.date.weekday() == source.weekday
        assert source.week is None or source.week == calendar.week_of(occ.date) == occ.week
        local = occ.start.astimezone(calendar.zone)
        # School hours never fall in a DST gap in these zones, so wall time is exact.
        assert (local.date(), local.time()) == (occ.date, source.start)
        assert occ.end - occ.start == (
            datetime.combine(occ.date, source.end) - datetime.combine(occ.date, source.start)
        )
    assert occurrences == sorted(occurrences, key=lambda o: (o.start, o.lesson_key))


@settings(max_examples=100, deadline=None)
@given(calendars(), lessons())
def test_every_school_day_of_the_right_week_gets_the_lesson(
    calendar: SchoolCalendar, entry: Lesson
) -> None:
    term = calendar.terms[0]
    got = {o.date for o in expand([entry], calendar, term.start, term.end)}
    expected = {
        term.start + DAY * n
        for n in range((term.end - term.start).days + 1)
        if (day := term.start + DAY * n).weekday() == entry.weekday
        and calendar.is_school_day(day)
        and (entry.week is None or calendar.week_of(day) == entry.week)
    }
    assert got == expected


ROW = st.tuples(
    st.sampled_from(["Mon", "Tue", "Funday", "3", ""]),
    st.sampled_from(["P1", "P2", "P5", "P9", "", "Registration"]),
    st.sampled_from(["Maths", "English", "", "=1+1"]),
    st.sampled_from(["", "A", "B", "C"]),
)


def _row_is_bad(day: str, period: str, subject: str, week: str) -> bool:
    return day in ("Funday", "") or period in ("P9", "") or not subject or week == "C"


def _rows_clash(rows: list[tuple[str, str, str, str]]) -> bool:
    seen = [(day, period, week) for day, period, _, week in rows]
    return any(
        a[:2] == b[:2] and (not a[2] or not b[2] or a[2] == b[2])
        for i, a in enumerate(seen)
        for b in seen[i + 1 :]
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_csv_import_is_all_or_nothing(rows: list[tuple[str, str, str, str]]) -> None:
    data = "Day,Period,Subject,Week\n" + "".join(f"{d},{p},{s},{w}\n" for d, p, s, w in rows)
    should_fail = not rows or any(_row_is_bad(*row) for row in rows) or _rows_clash(rows)
    errors: tuple[ImportProblem, ...] = ()
    lessons: tuple[Lesson, ...] = ()
    try:
        lessons = import_csv(data.encode(), calendar=school_calendar()).lessons
    except ImportRejected as rejection:
        errors = rejection.errors
    assert bool(errors) is should_fail
    assert all(problem.file == "timetable.csv" for problem in errors)
    if not should_fail:
        assert [x.subject for x in lessons] == [s for _, _, s, _ in rows]
    else:
        assert lessons == ()
