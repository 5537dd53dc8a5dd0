from datetime import UTC, date, datetime, time

import pytest
from scheduler_factories import SPRING_END, SPRING_START, lesson, school_calendar

from scheduler.timetables.calendar import CalendarError, SchoolCalendar
from scheduler.timetables.occurrences import Lesson, diff_timetables, expand


def test_weekly_lesson_skips_half_term_and_inset() -> None:
    mondays = expand([lesson()], school_calendar(), SPRING_START, SPRING_END)
    dates = [occ.date for occ in mondays]
    assert len(dates) == 11  # 13 Mondays in term minus half term and the INSET Monday
    assert date(2025, 2, 17) not in dates
    assert date(2025, 3, 3) not in dates
    assert all(occ.lesson_key == "*-mon-0850" for occ in mondays)


def test_local_time_is_kept_across_the_clock_change() -> None:
    occurrences = expand([lesson()], school_calendar(), date(2025, 3, 24), date(2025, 3, 31))
    before, after = occurrences
    assert before.start == datetime(2025, 3, 24, 8, 50, tzinfo=UTC)
    assert after.start == datetime(2025, 3, 31, 7, 50, tzinfo=UTC)
    assert after.end == datetime(2025, 3, 31, 8, 40, tzinfo=UTC)
    assert (after.start_local, after.end_local) == (time(8, 50), time(9, 40))


def test_nonexistent_and_ambiguous_local_times_follow_the_documented_policy() -> None:
    sundays = SchoolCalendar(school_weekdays=frozenset(range(7)))
    night = lesson(weekday=6, start=time(1, 30), end=time(2, 45))
    spring = expand([night], sundays, date(2025, 3, 30), date(2025, 3, 30))[0]
    autumn = expand([night], sundays, date(2025, 10, 26), date(2025, 10, 26))[0]
    # 01:30 does not exist on 30 March: placed with the pre-change offset (GMT).
    assert spring.start == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert spring.end == datetime(2025, 3, 30, 1, 45, tzinfo=UTC)
    # 01:30 happens twice on 26 October: the first one (BST) is taken.
    assert autumn.start == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert autumn.end == datetime(2025, 10, 26, 2, 45, tzinfo=UTC)


def test_ab_weeks_validity_and_excluded_and_extra_dates() -> None:
    lessons = [
        lesson(week="A", subject="Science"),
        lesson(week="B", subject="Art"),
        lesson(weekday=1, valid_from=date(2025, 3, 1), valid_to=date(2025, 3, 14)),
        lesson(
            weekday=2,
            excluded_dates=frozenset({date(2025, 1, 8)}),
            extra_dates=frozenset({date(2025, 1, 10), date(2025, 2, 18), date(2025, 1, 8)}),
        ),
    ]
    occurrences = expand(lessons, school_calendar(), date(2025, 1, 6), date(2025, 3, 14))
    by_key: dict[str, list[date]] = {}
    for occ in occurrences:
        by_key.setdefault(occ.lesson_key, []).append(occ.date)
    assert by_key["A-mon-0850"][:3] == [date(2025, 1, 6), date(2025, 1, 20), date(2025, 2, 3)]
    assert by_key["B-mon-0850"][:2] == [date(2025, 1, 13), date(2025, 1, 27)]
    assert by_key["*-tue-0850@2025-03-01"] == [date(2025, 3, 4), date(2025, 3, 11)]
    wednesday = by_key["*-wed-0850"]
    assert date(2025, 1, 8) not in wednesday  # excluded beats extra
    assert date(2025, 1, 10) in wednesday  # extra date on a Friday
    assert date(2025, 2, 18) not in wednesday  # extra date in half term is still closed
    assert [occ.week for occ in occurrences[:2]] == ["A", "A"]


def test_result_is_sorted_by_start() -> None:
    lessons = [
        lesson(weekday=d, start=time(h, 0), end=time(h, 50)) for d in (4, 0) for h in (14, 9)
    ]
    starts = [occ.start for occ in expand(lessons, school_calendar(), SPRING_START, SPRING_END)]
    assert starts == sorted(starts)
    # 13 Mondays less half term and INSET, 13 Fridays less half term; two lessons each.
    assert len(starts) == 2 * 11 + 2 * 12


def test_ab_lessons_need_a_cycle() -> None:
    with pytest.raises(CalendarError, match="no A/B week cycle"):
        expand([lesson(week="A")], school_calendar(cycle=False), SPRING_START, SPRING_END)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"weekday": 7}, "weekday"),
        ({"start": time(10), "end": time(9)}, "end after it starts"),
        ({"week": "C"}, "week must be"),
        ({"valid_from": date(2025, 2, 1), "valid_to": date(2025, 1, 1)}, "valid_to"),
        ({"subject": "  "}, "subject"),
        ({"start": time(9, tzinfo=UTC)}, "naive"),
    ],
)
def test_contradictory_lessons_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lesson(**overrides)


def test_a_whole_term_for_one_pupil_expands_the_same_every_time() -> None:
    # Its speed is measured by bench/occurrences.py (timed tests are noisy on shared machines).
    periods = [
        (time(8, 50), time(9, 40)),
        (time(9, 40), time(10, 30)),
        (time(10, 50), time(11, 40)),
    ]
    periods += [(time(11, 40), time(12, 30)), (time(13, 20), time(14, 10))]
    lessons = [
        lesson(weekday=d, start=s, end=e, week=("A", "B", None)[i % 3])
        for d in range(5)
        for i, (s, e) in enumerate(periods)
    ]
    calendar = school_calendar()
    first = expand(lessons, calendar, SPRING_START, SPRING_END)
    assert len(first) > 150
    assert expand(lessons, calendar, SPRING_START, SPRING_END) == first


def test_diff_timetables_by_key() -> None:
    old = [lesson(), lesson(weekday=1, room="E4"), lesson(weekday=2)]
    new = [lesson(), lesson(weekday=1, room="E7"), lesson(weekday=3)]
    diff = diff_timetables(old, new)
    assert [x.key for x in diff.added] == ["*-thu-0850"]
    assert [x.key for x in diff.removed] == ["*-wed-0850"]
    assert [x.key for x in diff.unchanged] == ["*-mon-0850"]
    assert [(c.new.key, c.fields, c.old.room, c.new.room) for c in diff.changed] == [
        ("*-tue-0850", ("room",), "E4", "E7")
    ]
    assert not diff.is_empty
    assert diff_timetables(new, new).is_empty


def test_diff_refuses_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="share the key"):
        diff_timetables([lesson(), lesson(room="X")], [])


def test_lesson_key_is_stable_and_names_the_slot() -> None:
    assert lesson(week="B", weekday=4, start=time(13, 20), end=time(14, 10)).key == "B-fri-1320"
    assert Lesson("Art", 0, time(9), time(10), valid_from=date(2025, 1, 6)).key == (
        "*-mon-0900@2025-01-06"
    )
