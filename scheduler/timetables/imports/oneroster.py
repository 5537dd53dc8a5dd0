"""Import one pupil's timetable from a OneRoster 1.2 CSV bundle (a zip).

OneRoster says which classes a pupil is in but not when they meet, except
through the free-text ``classes.periods`` field. We read each comma-separated
entry of ``periods`` as ``[A:|B:]Day:Period`` (``-`` also separates), e.g.
``Mon:P1``, ``A:Tue:3``, ``B-Fri-Period 5``: the optional week letter, a day
and a bell-time period of the school calendar. The subject is the course
title, the class group the class code, the room ``classes.location``, the
teacher the class's primary teacher enrolment; validity is the intersection of
the class's terms (``academicSessions``) and the pupil's enrolment dates.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from scheduler.timetables.calendar import BellPeriod, SchoolCalendar, WeekLetter, is_week_letter
from scheduler.timetables.imports.common import (
    MAX_FILE_BYTES,
    MAX_LESSONS,
    ImportResult,
    LineLesson,
    ProblemLog,
    decode_text,
    parse_date,
    parse_weekday,
)
from scheduler.timetables.imports.overlaps import find_overlaps
from scheduler.timetables.occurrences import Lesson

__all__ = [
    "MAX_ENTRIES",
    "REQUIRED_FILES",
    "RosterBundle",
    "bundle_lessons",
    "import_oneroster",
    "read_bundle",
]

REQUIRED_FILES = ("manifest.csv", "users.csv", "classes.csv", "courses.csv", "enrollments.csv")
OPTIONAL_FILES = ("academicSessions.csv", "orgs.csv")
MAX_ENTRIES = 64
_PERIOD_ENTRY = re.compile(r"^(?:([AaBb])\s*[:\-]\s*)?([A-Za-z]+|[1-7])\s*[:\-]\s*(.+)$")


@dataclass(frozen=True, slots=True)
class _Row:
    file: str
    line: int
    cells: dict[str, str]

    def get(self, name: str) -> str:
        return (self.cells.get(name) or "").strip()

    @property
    def active(self) -> bool:
        return self.get("status").lower() != "tobedeleted"


def _open_zip(data: bytes, log: ProblemLog) -> dict[str, bytes]:
    """The bundle's CSV files by name, refusing non-zips, zip bombs and missing files."""
    if len(data) > MAX_FILE_BYTES:
        raise log.reject(None, f"bundle is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise log.reject(None, "not a zip file: a OneRoster bundle is a zip of CSV files") from exc
    infos = [info for info in bundle.infolist() if not info.is_dir()]
    if len(infos) > MAX_ENTRIES:
        raise log.reject(None, f"bundle holds more than {MAX_ENTRIES} files")
    wanted = {name.lower(): name for name in REQUIRED_FILES + OPTIONAL_FILES}
    files: dict[str, bytes] = {}
    for info in infos:
        name = wanted.get(info.filename.rsplit("/", 1)[-1].lower())
        if name is None:
            continue
        if info.file_size > MAX_FILE_BYTES:
            raise log.reject(None, f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        try:
            with bundle.open(info) as handle:
                files[name] = handle.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise log.reject(None, f"{name} cannot be read from the zip (truncated?)") from exc
    for name in REQUIRED_FILES:
        if name not in files:
            log.add(None, None, f"bundle has no {name}")
    log.raise_if_any()
    return files


def _rows(name: str, data: bytes, required: Iterable[str], log: ProblemLog) -> list[_Row]:
    """Rows of one bundle CSV with their physical line numbers; logs missing columns."""
    text = decode_text(data, name)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[_Row] = []
    previous_end = reader.line_num
    try:
        header = reader.fieldnames or []
        previous_end = reader.line_num
        for record in reader:
            rows.append(_Row(name, previous_end + 1, dict(record)))
            previous_end = reader.line_num
    except csv.Error as exc:
        log.add(previous_end + 1, None, f"unreadable CSV ({exc})", file=name)
    missing = [column for column in required if column not in header]
    for column in missing:
        log.add(1, None, f"missing column {column!r}", file=name)
    return rows


def _find_pupil(roster: RosterBundle, pupil_id: str, log: ProblemLog) -> _Row:
    matches = sorted(
        {id(row): row for row in roster.users_by_key.get(pupil_id, [])}.values(),
        key=lambda row: row.line,
    )
    if not matches:
        raise log.reject(None, f"no pupil with sourcedId or identifier {pupil_id!r} in users.csv")
    if len(matches) > 1:
        lines = ", ".join(str(row.line) for row in matches)
        raise log.reject(None, f"pupil {pupil_id!r} matches several users (lines {lines})")
    return matches[0]


def _date_or_none(row: _Row, column: str, log: ProblemLog) -> date | None:
    if not row.get(column):
        return None
    try:
        return parse_date(row.get(column))
    except ValueError as exc:
        log.add(row.line, column, str(exc), file=row.file)
        return None


@dataclass(frozen=True, slots=True)
class _Bundle:
    users: dict[str, _Row]
    classes: dict[str, _Row]
    courses: dict[str, _Row]
    sessions: dict[str, _Row]
    enrollments: list[_Row]


def _teachers(bundle: _Bundle) -> dict[str, str]:
    """Each class's teacher's name: its primary teacher enrolment first, else the first one."""
    candidates: dict[str, list[_Row]] = {}
    for row in bundle.enrollments:
        if row.active and row.get("role") == "teacher":
            candidates.setdefault(row.get("classSourcedId"), []).append(row)
    names: dict[str, str] = {}
    for class_id, rows in candidates.items():
        rows.sort(key=lambda row: row.get("primary").lower() != "true")
        user = bundle.users.get(rows[0].get("userSourcedId"))
        if user is not None:
            given, family = user.get("givenName"), user.get("familyName")
            names[class_id] = " ".join(part for part in (given, family) if part)
    return names


def _validity(
    bundle: _Bundle, klass: _Row, enrollment: _Row, log: ProblemLog
) -> tuple[date | None, date | None]:
    starts: list[date] = []
    ends: list[date] = []
    for term_id in filter(None, (t.strip() for t in klass.get("termSourcedIds").split(","))):
        session = bundle.sessions.get(term_id)
        if session is None:
            continue
        starts += filter(None, [_date_or_none(session, "startDate", log)])
        ends += filter(None, [_date_or_none(session, "endDate", log)])
    term_from, term_to = (min(starts) if starts else None), (max(ends) if ends else None)
    begin = _date_or_none(enrollment, "beginDate", log)
    end = _date_or_none(enrollment, "endDate", log)
    valid_from = max(filter(None, (term_from, begin)), default=None)
    valid_to = min(filter(None, (term_to, end)), default=None)
    return valid_from, valid_to


def _slot(entry: str, calendar: SchoolCalendar) -> tuple[WeekLetter | None, int, BellPeriod] | str:
    """(week, weekday, bell period) of one ``periods`` entry, or what is wrong with it."""
    match = _PERIOD_ENTRY.match(entry)
    if match is None:
        return f"period {entry!r} is not [A:|B:]Day:Period, e.g. 'A:Mon:P1'"
    week = match[1].upper() if match[1] else None
    try:
        weekday = parse_weekday(match[2])
    except ValueError as exc:
        return f"in {entry!r}: {exc}"
    period = calendar.period(match[3])
    if period is None:
        return f"in {entry!r}: unknown period {match[3]!r} in the school's bell times"
    if week and calendar.week_cycle is None:
        return f"in {entry!r}: week {week} but the school has no A/B week cycle"
    return (week if is_week_letter(week) else None), weekday, period


def _class_lessons(
    roster: RosterBundle, klass: _Row, enrollment: _Row, calendar: SchoolCalendar, log: ProblemLog
) -> list[Lesson]:
    """One lesson per entry of the class's ``periods`` field."""
    bundle = roster.bundle
    course = bundle.courses.get(klass.get("courseSourcedId"))
    subject = (course.get("title") if course else "") or klass.get("title")
    valid_from, valid_to = _validity(bundle, klass, enrollment, log)
    entries = [e.strip() for e in klass.get("periods").split(",") if e.strip()]
    if not entries:
        log.add(klass.line, "periods", f"class {klass.get('title')!r} has no periods", klass.file)
    lessons: list[Lesson] = []
    for entry in entries:
        slot = _slot(entry, calendar)
        if isinstance(slot, str):
            log.add(klass.line, "periods", slot, klass.file)
            continue
        week, weekday, period = slot
        try:
            lessons.append(
                Lesson(
                    subject=subject,
                    weekday=weekday,
                    start=period.start,
                    end=period.end,
                    class_group=klass.get("classCode") or klass.get("title"),
                    teacher=roster.teachers.get(klass.get("sourcedId"), ""),
                    room=klass.get("location"),
                    week=week,
                    valid_from=valid_from,
                    valid_to=valid_to,
                )
            )
        except ValueError as exc:
            log.add(klass.line, None, str(exc), klass.file)
    return lessons


def _load(files: dict[str, bytes], log: ProblemLog) -> _Bundle:
    def keyed(name: str, required: tuple[str, ...]) -> dict[str, _Row]:
        rows = _rows(name, files[name], required, log) if name in files else []
        return {row.get("sourcedId"): row for row in rows if row.active}

    manifest = _rows("manifest.csv", files["manifest.csv"], ("propertyName", "value"), log)
    version = next(
        (r.get("value") for r in manifest if r.get("propertyName") == "oneroster.version"), ""
    )
    if version not in ("1.2", "1.1"):
        log.add(None, None, f"oneroster.version is {version!r}, expected 1.2", file="manifest.csv")
    enrollment_columns = ("sourcedId", "classSourcedId", "userSourcedId", "role")
    return _Bundle(
        users=keyed("users.csv", ("sourcedId", "identifier", "givenName", "familyName")),
        classes=keyed("classes.csv", ("sourcedId", "title", "courseSourcedId", "periods")),
        courses=keyed("courses.csv", ("sourcedId", "title")),
        sessions=keyed("academicSessions.csv", ("sourcedId", "startDate", "endDate")),
        enrollments=_rows("enrollments.csv", files["enrollments.csv"], enrollment_columns, log),
    )


@dataclass(frozen=True, slots=True)
class RosterBundle:
    """A read and checked OneRoster bundle, indexed so that each pupil costs only their classes.

    Read once with :func:`read_bundle`, then take any number of pupils'
    timetables from it with :func:`bundle_lessons`.
    """

    file_name: str
    bundle: _Bundle
    users_by_key: dict[str, list[_Row]]
    student_enrollments: dict[str, list[_Row]]
    teachers: dict[str, str]
    # A class's lessons are the same for each of its pupils with the same enrolment dates.
    class_lessons: dict[tuple[str, str, str, int], list[Lesson]] = field(default_factory=dict)


def read_bundle(data: bytes, *, file_name: str = "oneroster.zip") -> RosterBundle:
    """Open, decode and check a bundle's files; :class:`ImportRejected` lists every problem."""
    log = ProblemLog(file_name)
    bundle = _load(_open_zip(data, log), log)
    log.raise_if_any()
    users_by_key: dict[str, list[_Row]] = {}
    for row in bundle.users.values():
        for key in {row.get("sourcedId"), row.get("identifier")} - {""}:
            users_by_key.setdefault(key, []).append(row)
    students: dict[str, list[_Row]] = {}
    for row in bundle.enrollments:
        if row.active and row.get("role") == "student":
            students.setdefault(row.get("userSourcedId"), []).append(row)
    return RosterBundle(file_name, bundle, users_by_key, students, _teachers(bundle))


def _shared_class_lessons(
    roster: RosterBundle, klass: _Row, enrollment: _Row, calendar: SchoolCalendar, log: ProblemLog
) -> list[Lesson]:
    """:func:`_class_lessons`, computed once per class, enrolment dates and calendar."""
    key = (klass.get("sourcedId"), enrollment.get("beginDate"), enrollment.get("endDate"))
    cache_key = (*key, id(calendar))
    found = roster.class_lessons.get(cache_key)
    if found is not None:
        return found
    scratch = ProblemLog(log.file)
    lessons = _class_lessons(roster, klass, enrollment, calendar, scratch)
    for problem in scratch.problems:
        log.add(problem.line, problem.field, problem.message, problem.file)
    log.warnings.extend(scratch.warnings)
    if not scratch.problems and not scratch.warnings:
        roster.class_lessons[cache_key] = lessons
    return lessons


def bundle_lessons(
    roster: RosterBundle, *, calendar: SchoolCalendar, pupil_id: str
) -> ImportResult:
    """The timetable of the pupil whose ``sourcedId`` or ``identifier`` is ``pupil_id``.

    All or nothing: returns a lesson per ``periods`` entry of every class the
    pupil is actively enrolled in as a student, or raises
    :class:`ImportRejected` listing every problem with its file and line.
    """
    log = ProblemLog(roster.file_name)
    pupil = _find_pupil(roster, pupil_id, log)
    entries: list[LineLesson] = []
    for enrollment in roster.student_enrollments.get(pupil.get("sourcedId"), []):
        klass = roster.bundle.classes.get(enrollment.get("classSourcedId"))
        if klass is None:
            message = f"class {enrollment.get('classSourcedId')!r} is not in classes.csv"
            log.add(enrollment.line, "classSourcedId", message, enrollment.file)
            continue
        lessons = _shared_class_lessons(roster, klass, enrollment, calendar, log)
        entries += [LineLesson(lesson, klass.line, klass.file) for lesson in lessons]
    if not entries and not log.problems:
        log.add(None, None, f"pupil {pupil_id!r} is enrolled in no class with periods")
    if len(entries) > MAX_LESSONS:
        raise log.reject(None, f"more than {MAX_LESSONS} lessons")
    log.problems.extend(find_overlaps(entries, calendar))
    log.raise_if_any()
    return ImportResult(tuple(e.lesson for e in entries), "oneroster", tuple(log.warnings))


def import_oneroster(
    data: bytes, *, calendar: SchoolCalendar, pupil_id: str, file_name: str = "oneroster.zip"
) -> ImportResult:
    """One pupil's timetable from a bundle: :func:`read_bundle` then :func:`bundle_lessons`."""
    return bundle_lessons(
        read_bundle(data, file_name=file_name), calendar=calendar, pupil_id=pupil_id
    )
