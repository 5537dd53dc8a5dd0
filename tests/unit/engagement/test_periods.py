"""The dashboard's and report's date range: this term, the last 4 weeks, your own dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.timetables.calendar import SchoolCalendar, Term
from telepresence.engagement.dashboard.periods import Period, parse_range, term_of
from telepresence.platform.errors import InvalidInput

TODAY = date(2026, 11, 18)


def test_this_term_comes_from_the_calendar_or_the_usual_english_terms():
    cal = SchoolCalendar(terms=(Term("Autumn", date(2026, 9, 3), date(2026, 12, 18)),))
    assert term_of(cal, TODAY) == (date(2026, 9, 3), TODAY)
    assert term_of(None, TODAY) == (date(2026, 9, 1), TODAY)
    assert term_of(None, date(2027, 2, 1)) == (date(2027, 1, 1), date(2027, 2, 1))
    assert term_of(None, date(2027, 5, 1)) == (date(2027, 4, 15), date(2027, 5, 1))
    # In a holiday after a term: that term, to its end.
    cal = SchoolCalendar(terms=(Term("Summer", date(2026, 4, 20), date(2026, 7, 22)),))
    assert term_of(cal, date(2026, 8, 10)) == (date(2026, 4, 20), date(2026, 7, 22))


def test_the_form_gives_a_range():
    assert parse_range({}, TODAY, None).start == date(2026, 10, 26)
    term = parse_range({"period": "term", "school": "s1"}, TODAY, None)
    assert (term.period, term.start, term.school_id) == (Period.TERM, date(2026, 9, 1), "s1")
    own = parse_range({"period": "custom", "start": "2026-10-01"}, TODAY, None)
    assert (own.start, own.end) == (date(2026, 10, 1), TODAY)
    assert own.query() == "period=custom&start=2026-10-01&end=2026-11-18"


def test_a_school_and_a_pupil_are_kept_in_the_query_but_not_in_the_dates():
    rng = parse_range({"period": "4w", "school": "s1", "pupil": " p7 "}, TODAY, None)
    assert (rng.school_id, rng.pupil_id) == ("s1", "p7")
    assert rng.query() == "period=4w&start=2026-10-26&end=2026-11-18&school=s1&pupil=p7"
    assert rng.dates() == "period=4w&start=2026-10-26&end=2026-11-18"
    assert parse_range({"pupil": ""}, TODAY, None).pupil_id is None
    assert parse_range({"pupil": "x" * 99}, TODAY, None).pupil_id == "x" * 32


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"period": "custom", "start": "2026-10-10", "end": "2026-10-01"}, "before it starts"),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-10-01"}, "two years"),
        ({"period": "custom", "start": "soon"}, "not a date"),
        ({"period": "fortnight"}, "Choose this term"),
    ],
)
def test_bad_ranges_are_refused_with_words(form, words):
    with pytest.raises(InvalidInput, match=words):
        parse_range(form, TODAY, None)


@pytest.mark.parametrize("offset", range(7))
def test_the_last_four_weeks_are_four_whole_school_weeks_up_to_today(offset):
    today = date(2026, 12, 7) + timedelta(days=offset)  # Monday 7 Dec .. Sunday 13 Dec
    rng = parse_range({"period": "4w"}, today, None)
    assert (rng.start, rng.end) == (date(2026, 11, 16), today)
    assert rng.start.weekday() == 0
