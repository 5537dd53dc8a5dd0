"""Converting between the scheduler's domain and database objects and its API schemas."""

from __future__ import annotations

from scheduler.timetables import services
from scheduler.timetables.calendar import (
    BellPeriod,
    CalendarError,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
)
from scheduler.timetables.occurrences import Lesson
from scheduler.timetables.schemas import (
    CalendarIn,
    CalendarOut,
    DatedSpanIn,
    ImportOut,
    ImportProblemOut,
    LessonChangeOut,
    LessonOut,
)
from telepresence.platform.errors import InvalidInput

__all__ = [
    "EXTENSIONS",
    "calendar_in",
    "calendar_out",
    "import_out",
    "lesson_out",
    "problem_dict",
]


def lesson_out(lesson: Lesson, lesson_id: str | None = None) -> LessonOut:
    """The API view of a lesson."""
    return LessonOut(
        lesson_id=lesson_id,
        lesson_key=lesson.key,
        subject=lesson.subject,
        class_group=lesson.class_group,
        teacher=lesson.teacher,
        room=lesson.room,
        weekday=lesson.weekday,
        start_local=f"{lesson.start:%H:%M}",
        end_local=f"{lesson.end:%H:%M}",
        week=lesson.week,
        interval=lesson.interval,
        valid_from=lesson.valid_from,
        valid_to=lesson.valid_to,
    )


def calendar_in(body: CalendarIn, timezone: str) -> SchoolCalendar:
    """The domain calendar of a request body; ``InvalidInput`` if inconsistent."""
    try:
        cycle = None
        if body.week_cycle is not None:
            overrides = {o.date: o.week for o in body.week_cycle.overrides}
            cycle = WeekCycle(body.week_cycle.week_a_monday, overrides)
        return SchoolCalendar(
            timezone=timezone,
            terms=tuple(Term(t.name, t.start, t.end) for t in body.terms),
            closures=tuple(Closure(c.name, c.start, c.end) for c in body.closures),
            week_cycle=cycle,
            bell_times=tuple(BellPeriod(b.name, b.start, b.end) for b in body.bell_times),
            school_weekdays=frozenset(body.school_weekdays),
        )
    except CalendarError as exc:
        raise InvalidInput(
            f"The calendar is inconsistent: {exc}.", errors=[{"field": "body", "message": str(exc)}]
        ) from exc


def calendar_out(school_id: str, cal: SchoolCalendar, flagged: int = 0) -> CalendarOut:
    """The API view of a school calendar."""
    cycle = cal.week_cycle
    return CalendarOut.model_validate(
        {
            "school_id": school_id,
            "timezone": cal.timezone,
            "terms": [DatedSpanIn(name=t.name, start=t.start, end=t.end) for t in cal.terms],
            "closures": [DatedSpanIn(name=c.name, start=c.start, end=c.end) for c in cal.closures],
            "week_cycle": None
            if cycle is None
            else {
                "week_a_monday": cycle.reference_monday,
                "overrides": [{"date": d, "week": w} for d, w in sorted(cycle.overrides.items())],
            },
            "bell_times": [
                {"name": b.name, "start": b.start, "end": b.end} for b in cal.bell_times
            ],
            "school_weekdays": sorted(cal.school_weekdays),
            "flagged_bookings": flagged,
        }
    )


def import_out(outcome: services.ImportOutcome) -> ImportOut:
    """The API view of what an import did (or would do)."""
    diff = outcome.diff
    return ImportOut(
        dry_run=outcome.dry_run,
        source_format=outcome.source_format,
        added=[lesson_out(lsn) for lsn in diff.added],
        changed=[
            LessonChangeOut(
                lesson_key=c.new.key,
                fields=list(c.fields),
                before=lesson_out(c.old),
                after=lesson_out(c.new),
            )
            for c in diff.changed
        ],
        removed=[lesson_out(lsn) for lsn in diff.removed],
        unchanged=len(diff.unchanged),
        warnings=[ImportProblemOut(**problem_dict(w)) for w in outcome.warnings],
        flagged_bookings=outcome.flagged,
        period_codes=dict(outcome.period_codes),
    )


EXTENSIONS = {"ical": "ics", "csv": "csv", "oneroster": "zip"}


def problem_dict(problem: object) -> dict[str, object]:
    """An ``ImportProblem`` as a problem+json ``errors`` entry."""
    return {name: getattr(problem, name) for name in ("file", "line", "field", "message")}
