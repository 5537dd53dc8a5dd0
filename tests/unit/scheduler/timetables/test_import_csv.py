from datetime import date, time, timedelta
from time import process_time

import pytest
from scheduler_factories import FIXTURES, school_calendar

from scheduler.timetables.imports import ImportRejected, escape_for_csv, import_csv
from scheduler.timetables.imports.common import MAX_LESSONS


def rejected(data: bytes) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ImportRejected) as caught:
        import_csv(data, calendar=school_calendar())
    return [(p.line, p.field, p.message) for p in caught.value.errors]


def test_sims_export_with_bom_semicolons_and_periods() -> None:
    result = import_csv((FIXTURES / "sims_timetable.csv").read_bytes(), calendar=school_calendar())
    assert len(result.lessons) == 10
    first = result.lessons[0]
    assert (first.key, first.subject, first.class_group, first.teacher, first.room) == (
        "A-mon-0850",
        "Mathematics",
        "9X/Ma1",
        "Mr R Patel",
        "M12",
    )
    assert result.lessons[4].subject == "Design & Technology"
    pshe = result.lessons[-1]
    assert (pshe.week, pshe.weekday, pshe.start, pshe.end) == (None, 4, time(11, 40), time(12, 30))


def test_comma_file_with_aliases_times_and_day_spellings() -> None:
    data = (
        b"CLASS GROUP,Staff,Day,Start Time,End Time,Subject,Location,Valid From\r\n"
        b"10A,Mr X,Monday,08:50,09:40,Maths,M1,06/01/2025\r\n"
        b"10A,Mr Y,2,9.40,1030,English,E1,\r\n"
        b'10A,Mr Z,thurs,13:20,14:10,"=HYPERLINK(""http://x"")",@room,\r\n'
    )
    lessons = import_csv(data, calendar=school_calendar()).lessons
    assert [(x.weekday, x.start, x.end) for x in lessons] == [
        (0, time(8, 50), time(9, 40)),
        (1, time(9, 40), time(10, 30)),
        (3, time(13, 20), time(14, 10)),
    ]
    assert lessons[0].valid_from == date(2025, 1, 6)
    assert (lessons[2].subject, lessons[2].room) == ('=HYPERLINK("http://x")', "@room")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
     ("Maths", "Maths"), ("", "")],
)  # fmt: skip
def test_escape_for_csv(value: str, expected: str) -> None:
    assert escape_for_csv(value) == expected


def test_every_bad_row_is_reported_at_once() -> None:
    data = (
        b"Day,Start,End,Subject,Week\n"
        b"Mon,25:00,09:40,Maths,\n"
        b"Funday,09:00,09:40,English,\n"
        b"Tue,10:00,09:00,French,\n"
        b"Wed,10:00,11:00,,C\n"
        b"Thu,10:00,11:00,Art,A\n"
    )
    assert rejected(data) == [
        (2, "start", "'25:00' is not a possible time of day"),
        (3, "day", "unknown day 'Funday'; use Mon..Sun, Monday..Sunday or 1..7"),
        (4, None, "lesson must end after it starts (10:00)"),
        (5, "week", "unknown week 'C'; use A, B or leave empty for every week"),
        (5, "subject", "subject is empty"),
    ]


def test_duplicate_overlapping_rows_name_both_lines() -> None:
    data = b"Day,Period,Subject\nMon,P1,Maths\nTue,P1,Art\nMon,1,Maths\n"
    assert rejected(data) == [
        (4, None, "Maths 08:50-09:40 overlaps Maths 08:50-09:40 (line 2) on the same day and week")
    ]


def test_a_and_b_weeks_in_the_same_slot_do_not_overlap() -> None:
    data = b"Week,Day,Period,Subject\nA,Mon,P1,Maths\nB,Mon,P1,Art\n"
    assert [x.key for x in import_csv(data, calendar=school_calendar()).lessons] == [
        "A-mon-0850",
        "B-mon-0850",
    ]


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", None, "file is empty"),
        (b"\xef\xbb\xbf\r\n  \r\n", None, "file is empty"),
        (b"Day,Period,Subject\r\n", None, "header but no lessons"),
        (b"Day,Subject\nMon,Maths\n", 1, "missing column 'period (or start and end)'"),
        (b"Weekday,Period\nMon,P1\n", 1, "missing column 'subject'"),
        (b"Day,Period,Subject\nMon,P9,Maths\n", 2, "unknown period 'P9'"),
        (b"Day,Period,Subject\nMon,P1,Caf\xe9\n", 2, "not UTF-8"),
        (b"<html><table><tr><td>Day</td></tr></table></html>", 1, "web page"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 1, "old Office document"),
        (b'Day,Period,Subject\nMon,P1,"Maths\n', 2, "truncated"),
        (b"Day,Period,Subject\nMon,P1,Maths,extra\n", 2, "row has 4 cells"),
        (b"Day,Day,Period,Subject\nMon,Mon,P1,Maths\n", 1, "appears twice"),
    ],
)
def test_bad_files_are_rejected_naming_the_line(
    data: bytes, line: int | None, message: str
) -> None:
    problems = rejected(data)
    assert problems[0][0] == line
    assert message in problems[0][2]


def test_week_letters_need_a_cycle() -> None:
    with pytest.raises(ImportRejected, match="no A/B week cycle"):
        import_csv(
            b"Week,Day,Period,Subject\nA,Mon,P1,Maths\n", calendar=school_calendar(cycle=False)
        )


def test_unknown_columns_are_ignored_with_a_warning() -> None:
    result = import_csv(
        b"Day,Period,Subject,Notes\nMon,P1,Maths,bring ruler\n", calendar=school_calendar()
    )
    assert [(w.line, w.field) for w in result.warnings] == [(1, "Notes")]
    assert result.lessons[0].subject == "Maths"


def _one_off_rows(count: int) -> bytes:
    """``count`` one-off Monday P1 lessons on successive Mondays (no two on one date)."""
    first = date(2025, 1, 6)
    rows = [
        f"Mon,P1,Maths,{(first + timedelta(weeks=n)).isoformat()},"
        f"{(first + timedelta(weeks=n)).isoformat()}"
        for n in range(count)
    ]
    return ("Day,Period,Subject,Valid from,Valid to\r\n" + "\r\n".join(rows)).encode()


def test_a_whole_school_export_is_refused_quickly_at_the_lesson_cap() -> None:
    started = process_time()
    problems = rejected(_one_off_rows(24_000))
    assert process_time() - started < 2.0  # was 16.8 s of CPU
    assert problems == [
        (
            MAX_LESSONS + 2,
            None,
            f"more than {MAX_LESSONS} lessons: one pupil's timetable is far smaller; "
            "is this the whole school's export?",
        )
    ]


def test_same_slot_on_different_dates_is_no_clash_and_is_checked_in_n_log_n() -> None:
    started = process_time()
    result = import_csv(_one_off_rows(MAX_LESSONS), calendar=school_calendar())
    assert process_time() - started < 3.0  # one slot, 5,000 dates: quadratic took minutes
    assert len(result.lessons) == MAX_LESSONS
