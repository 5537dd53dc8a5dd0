from datetime import UTC, date, datetime, time

import pytest
from scheduler_factories import FIXTURES, SPRING_END, SPRING_START, school_calendar

from scheduler.timetables.imports import ImportRejected, import_ical
from scheduler.timetables.imports.ical import MAX_EVENTS, resolve_tzid
from scheduler.timetables.occurrences import expand

HEADER = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"


def ics(*events: str, header: str = HEADER) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return f"{header}{body}END:VCALENDAR\r\n".encode()


def event(uid: str = "1", **props: str) -> str:
    fields = {
        "UID": uid,
        "DTSTART;TZID=Europe/London": "20250106T085000",
        "DTEND;TZID=Europe/London": "20250106T094000",
        "SUMMARY": "Maths",
        "RRULE": "FREQ=WEEKLY;UNTIL=20250404T230000Z",
    }
    fields.update({k.replace("__", ";").replace("_", "-"): v for k, v in props.items()})
    return "\r\n".join(f"{k}:{v}" for k, v in fields.items() if v)


def rejected(data: bytes, **options: object) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ImportRejected) as caught:
        import_ical(data, calendar=school_calendar(), **options)  # type: ignore[arg-type]
    return [(p.line, p.field, p.message) for p in caught.value.errors]


def test_outlook_export_with_windows_zone_ab_weeks_and_a_moved_instance() -> None:
    data = (FIXTURES / "outlook_gmt.ics").read_bytes()
    result = import_ical(data, calendar=school_calendar())
    lessons = {lesson.key: lesson for lesson in result.lessons}
    assert sorted(lessons) == [
        "*-mon-0850@2025-01-06",
        "*-thu-1000@2025-01-07",
        "*-tue-1000@2025-01-07",
        "*-tue-1130@2025-01-21",
        "2w-wed-1330@2025-01-08",
        "2w-wed-1330@2025-01-15",
    ]
    maths = lessons["*-mon-0850@2025-01-06"]
    assert (maths.class_group, maths.teacher, maths.room) == ("9X/Ma1", "Mr R Patel", "M12")
    assert maths.excluded_dates == {date(2025, 1, 13), date(2025, 1, 20)}  # EXDATE + moved
    assert lessons["*-thu-1000@2025-01-07"].valid_to == date(2025, 3, 13)  # COUNT=20
    assert lessons["*-tue-1000@2025-01-07"].teacher == "Ms J Okafor"  # ORGANIZER CN
    occurrences = expand(result.lessons, school_calendar(), SPRING_START, SPRING_END)
    mondays = [o for o in occurrences if o.lesson_key == maths.key]
    assert mondays[-1].date == date(2025, 3, 31)
    assert mondays[-1].start == datetime(2025, 3, 31, 7, 50, tzinfo=UTC)  # BST
    assert mondays[0].start == datetime(2025, 1, 6, 8, 50, tzinfo=UTC)  # GMT
    science = [o.date for o in occurrences if o.lesson_key == "2w-wed-1330@2025-01-08"]
    assert science[:3] == [date(2025, 1, 8), date(2025, 1, 22), date(2025, 2, 5)]


def test_google_export_with_x_wr_timezone_utc_floating_and_rdate() -> None:
    result = import_ical((FIXTURES / "google.ics").read_bytes(), calendar=school_calendar())
    lessons = {lesson.key: lesson for lesson in result.lessons}
    assert lessons["2w-fri-0915@2025-01-06"].subject == "History"
    assert lessons["2w-mon-0915@2025-01-06"].teacher == "Mrs A Nowak"
    # 14:00Z on 7 January is 14:00 in London and stays 14:00 local after the change.
    assert lessons["*-tue-1400@2025-01-07"].start == time(14, 0)
    drama = lessons["*-thu-1100@2025-01-09"]
    assert (drama.extra_dates, drama.valid_to) == (frozenset({date(2025, 3, 5)}), date(2025, 3, 13))
    messages = [w.message for w in result.warnings]
    assert "all-day event skipped: it is not a lesson" in messages
    assert any("UTC" in m for m in messages)


def test_folded_lines_crlf_and_bom_are_read() -> None:
    folded = event(SUMMARY="Design and\r\n  Technology", LOCATION="DT\r\n 1")
    result = import_ical(b"\xef\xbb\xbf" + ics(folded), calendar=school_calendar())
    assert (result.lessons[0].subject, result.lessons[0].room) == ("Design and Technology", "DT1")


@pytest.mark.parametrize(
    ("events", "line", "field", "message"),
    [
        ([event(**{"DTEND;TZID=Europe/London": "20250106T080000"})], 7, "DTEND", "not after"),
        ([event(**{"DTSTART;TZID=Europe/London": ""})], 4, None, "no DTSTART"),
        (
            [
                event(
                    **{"DTSTART;TZID=Europe/London": "", "DTSTART;TZID=Mars/Base": "20250106T0850"}
                )
            ],
            9,
            "DTSTART",
            "cannot read DTSTART",
        ),
        (
            [
                event(
                    **{
                        "DTSTART;TZID=Europe/London": "",
                        "DTSTART;TZID=Mars/Base": "20250106T085000",
                    }
                )
            ],
            9,
            "DTSTART",
            "unknown time zone 'Mars/Base'",
        ),
        ([event(**{"DTSTART": "20250106T090000"})], 6, "DTSTART", "more than once"),
        ([event(RRULE="FREQ=HOURLY")], 9, "RRULE", "FREQ=HOURLY is not supported"),
        ([event(RRULE="FREQ=MINUTELY;COUNT=5")], 9, "RRULE", "FREQ=MINUTELY"),
        ([event(RRULE="FREQ=DAILY")], 9, "RRULE", "FREQ=DAILY"),
        ([event(RRULE="FREQ=WEEKLY;COUNT=100000")], 9, "RRULE", "COUNT=100000"),
        ([event(RRULE="FREQ=WEEKLY;INTERVAL=3")], 9, "RRULE", "INTERVAL=3"),
        ([event(RRULE="FREQ=WEEKLY;BYMONTH=1")], 9, "RRULE", "BYMONTH"),
        ([event(SUMMARY="")], 4, "SUMMARY", "no SUMMARY"),
        (
            [event(**{"DTEND;TZID=Europe/London": "20250107T094000"})],
            7,
            "DTEND",
            "on the day it starts",
        ),
        ([event(**{"DTEND;TZID=Europe/London": "20250106T250000"})], 7, "DTEND", "cannot read"),
    ],
)
def test_bad_events_are_rejected_naming_the_line(
    events: list[str], line: int, field: str | None, message: str
) -> None:
    problems = rejected(ics(*events))
    assert len(problems) == 1
    got_line, got_field, got_message = problems[0]
    assert (got_line, got_field) == (line, field)
    assert message in got_message


def test_all_problems_at_once_not_just_the_first() -> None:
    bad_end = event("2", **{"DTEND;TZID=Europe/London": "20250106T080000"})
    no_start = event("3", **{"DTSTART;TZID=Europe/London": ""})
    problems = rejected(ics(event("1"), bad_end, no_start, event("4", RRULE="FREQ=SECONDLY")))
    assert [(line, field) for line, field, _ in problems] == [
        (14, "DTEND"),
        (18, None),
        (29, "RRULE"),
    ]


def test_duplicate_overlapping_events_are_rejected() -> None:
    problems = rejected(ics(event("1"), event("2", SUMMARY="English")))
    assert problems == [
        (
            11,
            None,
            "English 08:50-09:40 overlaps Maths 08:50-09:40 (line 4) on Mon 6 Jan 2025",
        )
    ]


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", None, "file is empty"),
        (HEADER.encode() + b"BEGIN:VEVENT\r\nUID:1\r\nDTSTART:2025", 4, "looks truncated"),
        (b"\xff\xfe\x00B\x00E", None, "UTF-16"),
        (HEADER.encode() + b"SUMMARY:Caf\xe9\r\nEND:VCALENDAR\r\n", 4, "not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", 1, "zip archive"),
        (b"\x00\x01\x02binary", 1, "binary data"),
        (b"<!DOCTYPE html>\n<html><body>Sign in</body></html>", 1, "web page"),
        (b"Subject,Day\r\nMaths,Mon\r\n", 1, "must start with BEGIN:VCALENDAR"),
        (HEADER.encode() + b"END:VCALENDAR\r\n", None, "no timed events"),
        (HEADER.encode() + b"END:VEVENT\r\nEND:VCALENDAR\r\n", 4, "does not close"),
    ],
)
def test_bad_files_are_rejected_as_a_whole(data: bytes, line: int | None, message: str) -> None:
    problems = rejected(data)
    assert problems[0][0] == line
    assert message in problems[0][2]


def test_limits_are_enforced_before_parsing() -> None:
    many = ics(*(event(str(n)) for n in range(MAX_EVENTS + 1)))
    assert f"more than {MAX_EVENTS} events" in rejected(many)[0][2]
    huge = HEADER.encode() + b"X-PAD:" + b"x" * (6 * 1024 * 1024)
    assert "larger than 5 MB" in rejected(huge)[0][2]


def test_interval_two_is_complete_without_a_week_cycle() -> None:
    calendar = school_calendar(cycle=False)
    result = import_ical(ics(event(RRULE="FREQ=WEEKLY;INTERVAL=2;COUNT=3")), calendar=calendar)
    (maths,) = result.lessons
    assert (maths.key, maths.week, maths.interval) == ("2w-mon-0850@2025-01-06", None, 2)
    days = [o.date for o in expand(result.lessons, calendar, SPRING_START, SPRING_END)]
    assert days == [date(2025, 1, 6), date(2025, 1, 20), date(2025, 2, 3)]


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("GMT Standard Time", "Europe/London"),
        ('"GMT Standard Time"', "Europe/London"),
        ("Europe/London", "Europe/London"),
        ("/mozilla.org/20050126_1/Europe/London", "Europe/London"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Customized Time Zone", None),
    ],
)
def test_resolve_tzid(tzid: str, expected: str | None) -> None:
    assert resolve_tzid(tzid) == expected
