from datetime import date, time

from scheduler.timetables.calendar_text import (
    CalendarText,
    calendar_lines,
    implications,
    parse_calendar_text,
    term_dates_from_ics,
)

TERM_DATES = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Hill School//Term dates//EN\r
BEGIN:VEVENT\r
UID:1\r
SUMMARY:Autumn Term\r
DTSTART;VALUE=DATE:20250901\r
DTEND;VALUE=DATE:20251220\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2\r
SUMMARY:October Half Term\r
DTSTART;VALUE=DATE:20251027\r
DTEND;VALUE=DATE:20251101\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3\r
SUMMARY:INSET day\r
DTSTART;VALUE=DATE:20250901\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:4\r
SUMMARY:Harvest festival\r
DTSTART;VALUE=DATE:20251003\r
DTEND;VALUE=DATE:20251004\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_term_dates_from_an_ics_become_terms_and_closures_with_inclusive_ends() -> None:
    text = term_dates_from_ics(TERM_DATES, CalendarText(bell_times="P1, 08:50, 09:40"))
    assert text.terms == "Autumn Term, 2025-09-01, 2025-12-19"
    assert text.closures.splitlines() == [
        "INSET day, 2025-09-01, 2025-09-01",
        "October Half Term, 2025-10-27, 2025-10-31",
    ]
    assert text.notes == ["Ignored 'Harvest festival': neither a term nor a closure."]
    assert text.problems == []
    assert text.bell_times == "P1, 08:50, 09:40"  # the rest of the form is kept


def test_what_a_calendar_implies_is_said_in_sentences() -> None:
    text = term_dates_from_ics(TERM_DATES, CalendarText(week_a_monday="2025-09-03"))
    calendar = parse_calendar_text(text, timezone="Europe/London", school_weekdays=range(5))
    assert calendar is not None
    said = implications(calendar)
    # 16 weeks of 5 days, less the INSET day and the five days of half term.
    assert (
        said[0] == "Autumn Term: Mon 1 Sep to Fri 19 Dec 2025, 74 school days; it starts in week A."
    )
    assert said[1] == "Week A starts Mon 1 Sep 2025."
    assert "October Half Term: Mon 27 to Fri 31 Oct 2025." in said
    assert said[-1].startswith("No bell times yet")


def test_every_bad_line_is_named_and_nothing_is_built() -> None:
    text = CalendarText(
        terms="Autumn, 2025-09-01, 2025-12-19\nSpring, 2026-13-01, 2026-03-27",
        bell_times="P1, 08:50, 09:40\nP2, 10:30, 09:40\nP3 10:30",
        week_overrides="2025-11-03 = C",
        period_codes="X1 = A:Mon:1",
    )
    assert parse_calendar_text(text, timezone="Europe/London", school_weekdays=range(5)) is None
    assert [p.split(":")[0] for p in text.problems] == [
        "Terms, line 2",
        "Bell times, line 2",
        "Bell times, line 3",
        "Week overrides, line 1",
    ]


def test_a_calendar_round_trips_through_its_lines() -> None:
    text = CalendarText(
        terms="Autumn, 2025-09-01, 2025-12-19",
        closures="Half term, 2025-10-27, 2025-10-31",
        week_a_monday="2025-09-01",
        week_overrides="2025-11-03 = A",
        bell_times="P1, 08:50, 09:40",
    )
    calendar = parse_calendar_text(text, timezone="Europe/London", school_weekdays=range(5))
    assert calendar is not None
    assert calendar.week_cycle is not None
    assert calendar.week_cycle.overrides == {date(2025, 11, 3): "A"}
    assert calendar.bell_times[0].start == time(8, 50)
    again = calendar_lines(calendar)
    assert (again.terms, again.closures, again.week_overrides, again.bell_times) == (
        text.terms, text.closures, text.week_overrides, text.bell_times,
    )  # fmt: skip
