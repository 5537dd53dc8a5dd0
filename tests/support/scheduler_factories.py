"""Small factories for scheduler unit tests (a school calendar, lessons, OneRoster zips)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, time
from pathlib import Path

from scheduler.timetables.calendar import BellPeriod, Closure, SchoolCalendar, Term, WeekCycle
from scheduler.timetables.occurrences import Lesson

FIXTURES = Path(__file__).parents[1] / "unit" / "scheduler" / "timetables" / "fixtures"

BELLS = (
    BellPeriod("Registration", time(8, 40), time(8, 50)),
    BellPeriod("P1", time(8, 50), time(9, 40)),
    BellPeriod("P2", time(9, 40), time(10, 30)),
    BellPeriod("P3", time(10, 50), time(11, 40)),
    BellPeriod("P4", time(11, 40), time(12, 30)),
    BellPeriod("P5", time(13, 20), time(14, 10)),
    BellPeriod("P6", time(14, 10), time(15, 0)),
)
SPRING_START = date(2025, 1, 6)  # a Monday, week A
SPRING_END = date(2025, 4, 4)
HALF_TERM = Closure("February half term", date(2025, 2, 17), date(2025, 2, 21))
CLOCKS_GO_FORWARD = date(2025, 3, 30)


def school_calendar(
    *, cycle: bool = True, overrides: dict[date, str] | None = None
) -> SchoolCalendar:
    """Spring term 2025 in London with a half term, an INSET day and A/B weeks."""
    return SchoolCalendar(
        terms=(Term("Spring 2025", SPRING_START, SPRING_END),),
        closures=(HALF_TERM, Closure("INSET", date(2025, 3, 3), date(2025, 3, 3))),
        week_cycle=WeekCycle(SPRING_START, overrides or {}) if cycle else None,  # type: ignore[arg-type]
        bell_times=BELLS,
    )


def lesson(**overrides: object) -> Lesson:
    """A Monday P1 maths lesson, every week, with any field overridden."""
    fields: dict[str, object] = {
        "subject": "Maths",
        "weekday": 0,
        "start": time(8, 50),
        "end": time(9, 40),
        "class_group": "9X/Ma1",
        "teacher": "Mr R Patel",
        "room": "M12",
    }
    fields.update(overrides)
    return Lesson(**fields)  # type: ignore[arg-type]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


_COURSES = {"ma": "Mathematics", "en": "English", "sc": "Science", "fr": "French"}


def oneroster_files(
    *, periods: dict[str, str] | None = None, titles: dict[str, str] | None = None
) -> dict[str, bytes]:
    """The CSV files of a small OneRoster 1.2 bundle: pupil p-17 in three classes.

    A class's title is its course's title unless ``titles`` gives one.
    """
    periods = periods or {"c-ma": "A:Mon:P1,B:Mon:P2", "c-en": "Tue:P3", "c-sc": "Wed:P5"}
    titles = titles or {}
    classes = [
        ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
         "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
         "subjects", "subjectCodes", "periods"],
    ] + [
        [cid, "", "", titles.get(cid, _COURSES.get(cid[2:], cid)), "09", f"co-{cid[2:]}",
         f"9X/{cid[2:].title()}1", "scheduled", f"Room {cid[2:].upper()}", "org-1", "t-spring",
         "", "", value]
        for cid, value in periods.items()
    ]  # fmt: skip
    return {
        "manifest.csv": _csv([
            ["propertyName", "value"], ["manifest.version", "1.0"],
            ["oneroster.version", "1.2"], ["file.classes", "bulk"], ["file.users", "bulk"],
        ]),
        "orgs.csv": _csv([
            ["sourcedId", "status", "name", "type"], ["org-1", "", "Hill School", "school"],
        ]),
        "users.csv": _csv([
            ["sourcedId", "status", "enabledUser", "username", "identifier", "givenName",
             "familyName"],
            ["p-17", "", "true", "amira.k", "UPN-A123", "Amira", "K"],
            ["p-18", "", "true", "noah.b", "UPN-B456", "Noah", "B"],
            ["t-1", "", "true", "rpatel", "T1", "Rahul", "Patel"],
            ["t-2", "", "true", "jokafor", "T2", "Joy", "Okafor"],
        ]),
        "classes.csv": _csv(classes),
        "courses.csv": _csv([
            ["sourcedId", "status", "title", "courseCode"],
            ["co-ma", "", "Mathematics", "MA"], ["co-en", "", "English", "EN"],
            ["co-sc", "", "Science", "SC"], ["co-fr", "", "French", "FR"],
        ]),
        "academicSessions.csv": _csv([
            ["sourcedId", "status", "title", "type", "startDate", "endDate", "schoolYear"],
            ["t-spring", "", "Spring 2025", "term", "2025-01-06", "2025-04-04", "2025"],
        ]),
        "enrollments.csv": _csv([
            ["sourcedId", "status", "classSourcedId", "schoolSourcedId", "userSourcedId", "role",
             "primary", "beginDate", "endDate"],
            *[[f"e-{c}", "", c, "org-1", "p-17", "student", "false", "", ""] for c in periods],
            ["e-t1", "", "c-ma", "org-1", "t-1", "teacher", "true", "", ""],
            ["e-t2", "", "c-en", "org-1", "t-2", "teacher", "true", "", ""],
            ["e-other", "", "c-fr", "org-1", "p-18", "student", "false", "", ""],
        ]),
    }  # fmt: skip


def zip_bundle(files: dict[str, bytes]) -> bytes:
    """Zip the given files like a SIS export does."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return out.getvalue()


def calendar_payload(*, cycle: bool = True) -> dict[str, object]:
    """``school_calendar()`` as the JSON body of ``PUT /api/schools/{id}/calendar``."""
    cal = school_calendar(cycle=cycle)
    return {
        "terms": [{"name": t.name, "start": str(t.start), "end": str(t.end)} for t in cal.terms],
        "closures": [
            {"name": c.name, "start": str(c.start), "end": str(c.end)} for c in cal.closures
        ],
        "week_cycle": {"week_a_monday": str(SPRING_START), "overrides": []} if cycle else None,
        "bell_times": [
            {"name": b.name, "start": f"{b.start:%H:%M}", "end": f"{b.end:%H:%M}"}
            for b in cal.bell_times
        ],
    }
