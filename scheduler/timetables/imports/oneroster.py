"""Import one pupil's timetable from a OneRoster 1.2 CSV bundle (a zip).

OneRoster says which classes a pupil is in but not when they meet, except
through the free-text ``classes.periods`` field: each comma-separated entry is
a period code read by :mod:`period_codes` (``Mon:1``, ``A:Mon:1``, ``MonA:1``,
``Mon-1A``, ``1``..., or the school's own codes as staff mapped them). Bell
times come from the school calendar, or from a ``period,start,end`` CSV in the
bundle. The subject is the class title as the pupil knows it ("Maths 9X1"),
else the course title; the class group the class code, the room
``classes.location``, the teacher the class's primary teacher enrolment;
validity is the intersection of the class's terms (``academicSessions``) and
the pupil's enrolment dates. A class without periods (a tutor group) gives no
lessons and a note.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from scheduler.timetables.calendar import BellPeriod, CalendarError, SchoolCalendar
from scheduler.timetables.imports.common import (
    MAX_FILE_BYTES,
    MAX_LESSONS,
    ImportResult,
    LineLesson,
    ProblemLog,
    decode_text,
    parse_clock,
    parse_date,
)
from scheduler.timetables.imports.overlaps import find_overlaps
from scheduler.timetables.imports.period_codes import describe_slot, read_code
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
MAX_UNZIPPED_BYTES = 5 * MAX_FILE_BYTES  # the five required files at their largest
BELL_COLUMNS = ("period", "start", "end")


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
    unzipped = 0
    for info in infos:
        base = info.filename.rsplit("/", 1)[-1]
        # Any other CSV may be the school's bell times (period,start,end).
        name = wanted.get(base.lower(), base if base.lower().endswith(".csv") else None)
        if name is None:
            continue
        if info.file_size > MAX_FILE_BYTES:
            raise log.reject(None, f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        # Many files each under the limit are a zip bomb too (zipfile reads no more than declared).
        unzipped += info.file_size
        if unzipped > MAX_UNZIPPED_BYTES:
            mb = MAX_UNZIPPED_BYTES // (1024 * 1024)
            raise log.reject(None, f"bundle unzips to larger than {mb} MB")
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
    bells: tuple[BellPeriod, ...] = ()


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


def _class_lessons(
    roster: RosterBundle, klass: _Row, enrollment: _Row, calendar: SchoolCalendar, log: ProblemLog
) -> list[Lesson]:
    """One lesson per entry of the class's ``periods`` field (per day for a daily code)."""
    bundle = roster.bundle
    course = bundle.courses.get(klass.get("courseSourcedId"))
    subject = klass.get("title") or (course.get("title") if course else "")
    valid_from, valid_to = _validity(bundle, klass, enrollment, log)
    entries = [e.strip() for e in klass.get("periods").split(",") if e.strip()]
    if not entries:
        log.note(
            klass.line,
            "periods",
            f"{klass.file}: class {klass.get('title')!r} has no periods (a tutor group?): "
            "no lessons from it",
        )
    lessons: list[Lesson] = []
    for entry in entries:
        slot, _mapped = read_code(entry, calendar, calendar.period_codes)
        if isinstance(slot, str):
            log.add(klass.line, "periods", slot, klass.file)
            continue
        for weekday in slot.weekdays:
            try:
                lessons.append(
                    Lesson(
                        subject=subject,
                        weekday=weekday,
                        start=slot.period.start,
                        end=slot.period.end,
                        class_group=klass.get("classCode") or klass.get("title"),
                        teacher=roster.teachers.get(klass.get("sourcedId"), ""),
                        room=klass.get("location"),
                        week=slot.week,
                        valid_from=valid_from,
                        valid_to=valid_to,
                    )
                )
            except ValueError as exc:
                log.add(klass.line, None, str(exc), klass.file)
    return lessons


def _bells(files: dict[str, bytes], log: ProblemLog) -> tuple[BellPeriod, ...]:
    """The bell times of the first extra CSV headed ``period,start,end``, if any."""
    for name in sorted(set(files) - set(REQUIRED_FILES + OPTIONAL_FILES)):
        header = files[name].removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        columns = [c.strip().lower() for c in header.decode("utf-8", "replace").split(",")]
        if tuple(columns[:3]) != BELL_COLUMNS:
            continue
        bells: list[BellPeriod] = []
        for row in _rows(name, files[name], BELL_COLUMNS, log):
            try:
                bells.append(
                    BellPeriod(row.get("period"), parse_clock(row.get("start")),
                               parse_clock(row.get("end")))
                )  # fmt: skip
            except (ValueError, CalendarError) as exc:
                log.add(row.line, None, str(exc), name)
        try:
            SchoolCalendar(bell_times=tuple(bells))
        except CalendarError as exc:
            log.add(None, None, str(exc), name)
        return tuple(bells)
    return ()


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
        bells=_bells(files, log),
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
    # The school calendar with the bundle's own bell times, per calendar given.
    with_bells: dict[int, tuple[SchoolCalendar, SchoolCalendar]] = field(default_factory=dict)

    def calendar_for(self, calendar: SchoolCalendar) -> SchoolCalendar:
        """``calendar``, with the bundle's bell times in place of its own when it has some."""
        if not self.bundle.bells:
            return calendar
        known = self.with_bells.get(id(calendar))
        if known is None or known[0] is not calendar:
            known = (calendar, replace(calendar, bell_times=self.bundle.bells))
            self.with_bells[id(calendar)] = known
        return known[1]


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
    calendar = roster.calendar_for(calendar)
    pupil = _find_pupil(roster, pupil_id, log)
    entries: list[LineLesson] = []
    codes: dict[str, str] = {}
    for enrollment in roster.student_enrollments.get(pupil.get("sourcedId"), []):
        klass = roster.bundle.classes.get(enrollment.get("classSourcedId"))
        if klass is None:
            message = f"class {enrollment.get('classSourcedId')!r} is not in classes.csv"
            log.add(enrollment.line, "classSourcedId", message, enrollment.file)
            continue
        lessons = _shared_class_lessons(roster, klass, enrollment, calendar, log)
        entries += [LineLesson(lesson, klass.line, klass.file) for lesson in lessons]
        codes |= _code_meanings(klass, calendar)
    if not entries and not log.problems:
        log.add(None, None, f"pupil {pupil_id!r} is enrolled in no class with periods")
    if len(entries) > MAX_LESSONS:
        raise log.reject(None, f"more than {MAX_LESSONS} lessons")
    log.problems.extend(find_overlaps(entries, calendar))
    log.raise_if_any()
    return ImportResult(
        tuple(e.lesson for e in entries),
        "oneroster",
        tuple(log.warnings),
        tuple(sorted(codes.items())),
    )


def _code_meanings(klass: _Row, calendar: SchoolCalendar) -> dict[str, str]:
    """Each period code of the class and what it was read as, for the preview."""
    meanings: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in klass.get("periods").split(","))):
        slot, mapped = read_code(entry, calendar, calendar.period_codes)
        if not isinstance(slot, str):
            meanings[entry] = describe_slot(slot) + (" (the school's code)" if mapped else "")
    return meanings


def import_oneroster(
    data: bytes, *, calendar: SchoolCalendar, pupil_id: str, file_name: str = "oneroster.zip"
) -> ImportResult:
    """One pupil's timetable from a bundle: :func:`read_bundle` then :func:`bundle_lessons`."""
    return bundle_lessons(
        read_bundle(data, file_name=file_name), calendar=calendar, pupil_id=pupil_id
    )
