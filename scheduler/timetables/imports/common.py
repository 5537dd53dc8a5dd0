"""What every timetable importer shares: problems, limits, decoding and cell parsers.

All pure: bytes in, values or :class:`ImportRejected` out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from scheduler.timetables.calendar import WeekLetter
from scheduler.timetables.occurrences import Lesson

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LESSONS",
    "MAX_PROBLEMS",
    "ImportProblem",
    "ImportRejected",
    "ImportResult",
    "LineLesson",
    "ProblemLog",
    "decode_text",
    "escape_for_csv",
    "keep_known_fields",
    "parse_clock",
    "parse_date",
    "parse_week",
    "parse_weekday",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_LESSONS = 5_000
MAX_PROBLEMS = 200  # past this a file is not a timetable; the list would only drown the reader


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One thing wrong with an uploaded file; ``line`` is 1-based, ``None`` for the whole file."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, line {self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ImportRejected(Exception):
    """The file was refused as a whole; ``errors`` lists every problem found, in file order."""

    def __init__(self, errors: Sequence[ImportProblem]) -> None:
        self.errors = tuple(errors)
        first = str(self.errors[0]) if self.errors else "rejected"
        more = f" (and {len(self.errors) - 1} more problems)" if len(self.errors) > 1 else ""
        super().__init__(f"{first}{more}")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A fully validated timetable; ``warnings`` lists things skipped or interpreted.

    ``period_codes``: for OneRoster, each period code met and how it was read.
    ``absent_fields``: optional lesson fields the file has no column for (a
    CSV without ``room``): a re-import keeps what is known of them.
    """

    lessons: tuple[Lesson, ...]
    source_format: str
    warnings: tuple[ImportProblem, ...] = ()
    period_codes: tuple[tuple[str, str], ...] = ()
    absent_fields: frozenset[str] = frozenset()


_FIELD_WORDS = {"class_group": "class", "teacher": "teacher", "room": "room"}


def keep_known_fields(
    result: ImportResult, known: Iterable[Lesson], file_name: str
) -> ImportResult:
    """``result`` with the fields its file does not carry taken from the known lessons.

    A lesson already known by its key keeps its room (teacher, class) when
    the file has no such column, instead of the re-import blanking it; a note
    says so. Returns ``result`` itself when the file carries every field.
    """
    if not result.absent_fields:
        return result
    by_key = {lesson.key: lesson for lesson in known}
    kept = 0
    lessons: list[Lesson] = []
    for lesson in result.lessons:
        old = by_key.get(lesson.key)
        if old is None:
            lessons.append(lesson)
            continue
        values = {name: getattr(old, name) for name in result.absent_fields}
        kept += any(values.values())
        lessons.append(replace(lesson, **values))
    names = " or ".join(_FIELD_WORDS[name] for name in sorted(result.absent_fields))
    note = ImportProblem(
        file_name,
        1,
        None,
        f"the file has no {names} column: what is known of it is kept "
        f"({kept} lesson{'s' if kept != 1 else ''}); new lessons have none",
    )
    return replace(result, lessons=tuple(lessons), warnings=(*result.warnings, note))


@dataclass(frozen=True, slots=True)
class LineLesson:
    """A lesson with the line (and file) it came from, for error messages."""

    lesson: Lesson
    line: int | None
    file: str


@dataclass(slots=True)
class ProblemLog:
    """Collects problems (and warnings) for one import so that all are reported at once."""

    file: str
    problems: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)

    def add(self, line: int | None, field_name: str | None, message: str, file: str = "") -> None:
        """Record a problem that will reject the import."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(file or self.file, line, field_name, message))

    def note(self, line: int | None, field_name: str | None, message: str) -> None:
        """Record something skipped or interpreted that does not reject the import."""
        self.warnings.append(ImportProblem(self.file, line, field_name, message))

    def reject(
        self, line: int | None, message: str, field_name: str | None = None
    ) -> ImportRejected:
        """Add a final problem and return the exception to raise with everything so far."""
        self.add(line, field_name, message)
        return ImportRejected(self.problems)

    def raise_if_any(self) -> None:
        """Raise :class:`ImportRejected` listing every problem, if there is any."""
        if self.problems:
            raise ImportRejected(sorted(self.problems, key=_problem_order))


def _problem_order(problem: ImportProblem) -> tuple[str, int]:
    return (problem.file, -1 if problem.line is None else problem.line)


_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive (an .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls?)",
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}
_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html|head|body|table|meta)\b", re.IGNORECASE)


def decode_text(data: bytes, file: str) -> str:
    """Decode an uploaded text file as UTF-8 (a BOM is allowed) or raise :class:`ImportRejected`.

    Refuses empty and oversized files, binary files under a text name, HTML
    pages saved as CSV/ICS and bytes that are not UTF-8 (naming the line).
    """
    log = ProblemLog(file)
    if len(data) > MAX_FILE_BYTES:
        raise log.reject(None, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise log.reject(None, "file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise log.reject(None, "file is UTF-16; save it as UTF-8")
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise log.reject(1, f"file is {what}, not a text export (renamed?)")
    if b"\x00" in data:
        raise log.reject(data[: data.index(b"\x00")].count(b"\n") + 1, "file contains binary data")
    if _HTML_START.match(data.removeprefix(b"\xef\xbb\xbf")):
        raise log.reject(1, "file is a web page (HTML), not an export; download the file itself")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise log.reject(line, "text is not UTF-8; export or save the file as UTF-8") from exc


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_for_csv(value: str) -> str:
    """Return ``value`` safe to put in a spreadsheet cell (OWASP CSV injection advice).

    A value starting with ``= + - @``, tab or carriage return gets a leading
    apostrophe so that spreadsheets show it as text instead of running it.
    Imports keep such values verbatim; exports must pass every cell through this.
    """
    return f"'{value}" if value.startswith(_FORMULA_START) else value


_DAYS = {
    "mon": 0, "monday": 0, "mo": 0,
    "tue": 1, "tues": 1, "tuesday": 1, "tu": 1,
    "wed": 2, "weds": 2, "wednesday": 2, "we": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "th": 3,
    "fri": 4, "friday": 4, "fr": 4,
    "sat": 5, "saturday": 5, "sa": 5,
    "sun": 6, "sunday": 6, "su": 6,
}  # fmt: skip


def parse_weekday(text: str) -> int:
    """Weekday 0 (Monday) .. 6 from ``Mon``/``Monday``/``MO`` or ISO ``1``..``7``.

    Raises ``ValueError`` naming the accepted spellings.
    """
    cleaned = text.strip().lower().rstrip(".")
    if cleaned.isdigit() and 1 <= int(cleaned) <= 7:
        return int(cleaned) - 1
    if cleaned in _DAYS:
        return _DAYS[cleaned]
    raise ValueError(f"unknown day {text.strip()!r}; use Mon..Sun, Monday..Sunday or 1..7")


_CLOCK = re.compile(r"^(\d{1,2})[:.]?(\d{2})(?::(\d{2}))?$")


def parse_clock(text: str) -> time:
    """A local time from ``08:50``, ``8:50``, ``08.50``, ``0850`` or ``08:50:00``.

    Raises ``ValueError`` for anything else, including ``25:00`` or ``09:60``.
    """
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a time; use HH:MM")
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text.strip()!r} is not a possible time of day")
    return time(hour, minute, second)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str) -> date:
    """A date from ISO ``2025-01-06`` or UK ``06/01/2025``; else ValueError."""
    cleaned = text.strip()
    if _ISO_DATE.match(cleaned):  # the common case, without strptime's cost
        try:
            return date.fromisoformat(cleaned)
        except ValueError:
            pass
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise ValueError(f"{cleaned!r} is not a date; use YYYY-MM-DD or DD/MM/YYYY")


_EVERY_WEEK = {"", "-", "ab", "a/b", "a+b", "both", "all", "every", "weekly", "*"}
_WEEK_A = {"a", "week a", "wk a", "weeka", "wka", "1", "week 1", "wk1", "wk 1", "week1"}
_WEEK_B = {"b", "week b", "wk b", "weekb", "wkb", "2", "week 2", "wk2", "wk 2", "week2"}


def parse_week(text: str) -> WeekLetter | None:
    """``"A"``, ``"B"`` or ``None`` (every week) from the spellings schools use; else ValueError."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in _EVERY_WEEK:
        return None
    if cleaned in _WEEK_A:
        return "A"
    if cleaned in _WEEK_B:
        return "B"
    raise ValueError(f"unknown week {text.strip()!r}; use A, B or leave empty for every week")
