"""Real-style Outlook and Google exports of one fortnightly Year 9 timetable.

Expected dates checked by hand against the spring term 2025 calendar of
``school_calendar()``: week A is the week of Mon 6 Jan, February half term
is 17-21 Feb, Mon 3 Mar is an INSET day and the clocks go forward on Sun 30 Mar.
"""

import io
import zipfile
from datetime import UTC, date, datetime, time

import pytest
from scheduler_factories import FIXTURES, SPRING_END, SPRING_START, school_calendar

from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.imports import ImportRejected, import_ical
from scheduler.timetables.occurrences import expand

Dated = tuple[date, time, str, str]


def dated(file: str, calendar: SchoolCalendar) -> list[Dated]:
    """The file's lessons as (date, local start, subject, room), in date order."""
    result = import_ical((FIXTURES / file).read_bytes(), calendar=calendar)
    by_key = {lesson.key: lesson for lesson in result.lessons}
    return [
        (o.date, o.start_local, by_key[o.lesson_key].subject, by_key[o.lesson_key].room)
        for o in expand(result.lessons, calendar, SPRING_START, SPRING_END)
    ]


def _on(days: list[tuple[int, int]], clock: time, subject: str, room: str) -> list[Dated]:
    return [(date(2025, month, day), clock, subject, room) for month, day in days]


OUTLOOK_EXPECTED = sorted(
    # Mondays, less 13 Jan (deleted instance), 17 Feb (half term), 3 Mar (INSET).
    _on(
        [(1, 6), (1, 20), (1, 27), (2, 3), (2, 10), (2, 24), (3, 10), (3, 17), (3, 24), (3, 31)],
        time(8, 50),
        "Maths",
        "M12",
    )
    # Week A Thursdays from 9 Jan; 20 Feb is half term, 3 Apr is the cover lesson.
    + _on([(1, 9), (1, 23), (2, 6), (3, 6), (3, 20)], time(9, 50), "Science", "S3")
    # Week B Thursdays from 16 Jan.
    + _on([(1, 16), (1, 30), (2, 13), (2, 27), (3, 13), (3, 27)], time(9, 50), "History", "H2")
    + _on([(4, 3)], time(9, 50), "Science (cover)", "S9")
)


@pytest.mark.parametrize("cycle", [True, False], ids=["school-ab-cycle", "no-cycle-set-up"])
def test_outlook_fortnightly_with_a_cover_exception_in_week_a(cycle: bool) -> None:
    """The cover lesson is not a clash with week B's History, with or without the A/B set-up."""
    calendar = school_calendar(cycle=cycle)
    assert dated("outlook_fortnightly_exception.ics", calendar) == OUTLOOK_EXPECTED


def test_outlook_cover_lesson_lands_in_summer_time() -> None:
    calendar = school_calendar(cycle=False)
    data = (FIXTURES / "outlook_fortnightly_exception.ics").read_bytes()
    result = import_ical(data, calendar=calendar)
    cover = expand(result.lessons, calendar, SPRING_START, SPRING_END)
    assert cover[-1].date == date(2025, 4, 3)
    assert cover[-1].start == datetime(2025, 4, 3, 8, 50, tzinfo=UTC)  # 09:50 BST
    assert cover[0].start == datetime(2025, 1, 6, 8, 50, tzinfo=UTC)  # 08:50 GMT


GOOGLE_EXPECTED = sorted(
    # Tuesdays less 18 Feb (half term); 4 Mar (new room) and 11 Mar (moved) are overrides.
    _on(
        [(1, 7), (1, 14), (1, 21), (1, 28), (2, 4), (2, 11), (2, 25), (3, 18), (3, 25), (4, 1)],
        time(11, 0),
        "Drama",
        "D1",
    )
    + _on([(3, 4)], time(11, 0), "Drama", "Main hall")
    + _on([(3, 11)], time(13, 20), "Drama", "D1")  # 13:20Z is 13:20 GMT
    + _on([(4, 1)], time(14, 0), "Careers talk", "Library")  # 13:00Z is 14:00 BST
)


@pytest.mark.parametrize("cycle", [True, False], ids=["school-ab-cycle", "no-cycle-set-up"])
def test_google_overrides_before_their_master_are_not_clashes(cycle: bool) -> None:
    calendar = school_calendar(cycle=cycle)
    assert dated("google_overrides_first.ics", calendar) == GOOGLE_EXPECTED


def test_google_overrides_in_any_order_give_the_same_lessons() -> None:
    text = (FIXTURES / "google_overrides_first.ics").read_text()
    head, *events = text.split("BEGIN:VEVENT")
    events[-1], end = events[-1].split("END:VCALENDAR")
    reordered = head + "".join(f"BEGIN:VEVENT{e}" for e in reversed(events)) + "END:VCALENDAR" + end
    calendar = school_calendar()
    result = import_ical(reordered.encode(), calendar=calendar)
    original = import_ical(text.encode(), calendar=calendar)
    assert sorted(result.lessons, key=lambda x: x.key) == sorted(
        original.lessons, key=lambda x: x.key
    )


def test_a_real_clash_between_dated_lessons_names_the_date_and_both_lines() -> None:
    text = (FIXTURES / "outlook_fortnightly_exception.ics").read_text()
    # A one-off trip on a week-B Thursday (27 Mar) across History.
    trip = (
        "BEGIN:VEVENT\r\nDTSTART;TZID=Europe/London:20250327T100000\r\n"
        "DTEND;TZID=Europe/London:20250327T103000\r\nSUMMARY:Museum trip\r\nUID:trip\r\n"
        "END:VEVENT\r\n"
    )
    clashing = text.replace("END:VCALENDAR", trip + "END:VCALENDAR")
    with pytest.raises(ImportRejected) as caught:
        import_ical(clashing.encode(), calendar=school_calendar())
    (problem,) = caught.value.errors
    assert problem.message == (
        "Museum trip 10:00-10:30 overlaps History 09:50-10:50 (line 50) on Thu 27 Mar 2025"
    )
    assert problem.line == 78  # the trip's BEGIN:VEVENT


def test_a_zip_renamed_ics_is_refused_naming_line_one() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("timetable.ics", (FIXTURES / "google_overrides_first.ics").read_bytes())
    with pytest.raises(ImportRejected) as caught:
        import_ical(buffer.getvalue(), calendar=school_calendar(), file_name="9X.ics")
    (problem,) = caught.value.errors
    assert (problem.file, problem.line) == ("9X.ics", 1)
    assert "zip archive" in problem.message


def test_components_nested_thousands_deep_are_refused_once_saying_what_it_is() -> None:
    depth = 3_000
    nested = "".join(f"BEGIN:VEVENT\r\nUID:{n}\r\n" for n in range(depth))
    closing = "END:VEVENT\r\n" * depth
    data = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{nested}{closing}END:VCALENDAR\r\n".encode()
    with pytest.raises(ImportRejected) as caught:
        import_ical(data, calendar=school_calendar())
    (problem,) = caught.value.errors
    assert problem.line == 3 + 2 * 7  # the 8th BEGIN:VEVENT, the 9th component deep
    assert problem.message == (
        "components nested more than 8 deep (BEGIN:VEVENT inside BEGIN:VEVENT): "
        "this is not a calendar export"
    )
