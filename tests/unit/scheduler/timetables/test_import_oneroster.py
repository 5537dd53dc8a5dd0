from dataclasses import replace
from datetime import date, time

import pytest
from scheduler_factories import oneroster_files, school_calendar, zip_bundle

from scheduler.timetables.imports import ImportRejected, import_oneroster


def rejected(data: bytes, pupil_id: str = "p-17") -> list[tuple[str, int | None, str]]:
    with pytest.raises(ImportRejected) as caught:
        import_oneroster(data, calendar=school_calendar(), pupil_id=pupil_id)
    return [(p.file, p.line, p.message) for p in caught.value.errors]


@pytest.mark.parametrize("pupil_id", ["p-17", "UPN-A123"])
def test_pupil_classes_become_lessons(pupil_id: str) -> None:
    bundle = zip_bundle(oneroster_files())
    result = import_oneroster(bundle, calendar=school_calendar(), pupil_id=pupil_id)
    assert [(x.key, x.subject, x.teacher, x.room) for x in result.lessons] == [
        ("A-mon-0850@2025-01-06", "Mathematics", "Rahul Patel", "Room MA"),
        ("B-mon-0940@2025-01-06", "Mathematics", "Rahul Patel", "Room MA"),
        ("*-tue-1050@2025-01-06", "English", "Joy Okafor", "Room EN"),
        ("*-wed-1320@2025-01-06", "Science", "", "Room SC"),
    ]
    assert result.lessons[0].valid_to == date(2025, 4, 4)
    assert result.lessons[3].end == time(14, 10)


def test_enrolment_in_a_missing_class_names_the_enrolment_line() -> None:
    # p-18's only class, c-fr, is absent from classes.csv; p-17's import ignores it.
    assert rejected(zip_bundle(oneroster_files()), pupil_id="UPN-B456") == [
        ("enrollments.csv", 7, "class 'c-fr' is not in classes.csv"),
    ]


def test_every_bad_period_is_reported() -> None:
    files = oneroster_files(periods={"c-ma": "Mon:P1,Funday:P2", "c-en": "Tue:P9,garbage"})
    problems = rejected(zip_bundle(files))
    assert [(f, line) for f, line, _ in problems] == [("classes.csv", 2)] + [("classes.csv", 3)] * 2
    assert "unknown day 'Funday'" in problems[0][2]
    assert "unknown period 'P9'" in problems[1][2]
    assert "not a code we can read" in problems[2][2]
    assert "map it in the school's period codes" in problems[2][2]


def test_overlapping_classes_are_rejected() -> None:
    files = oneroster_files(periods={"c-ma": "Mon:P1", "c-en": "Mon:1"})
    problems = rejected(zip_bundle(files))
    assert problems == [
        ("classes.csv", 3, "English 08:50-09:40 overlaps Mathematics 08:50-09:40 (line 2) "
         "on Mon 6 Jan 2025"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.pop("enrollments.csv"), "bundle has no enrollments.csv"),
        (lambda f: f.update({"classes.csv": b"sourcedId,title\r\nc-ma,Maths\r\n"}),
         "missing column 'periods'"),
        (lambda f: f.update({"users.csv": b"\xff\xfeu"}), "UTF-16"),
        (lambda f: f.update({"manifest.csv": b"propertyName,value\r\noneroster.version,1.0\r\n"}),
         "oneroster.version is '1.0'"),
    ],
)  # fmt: skip
def test_broken_bundles_are_rejected(mutate: object, message: str) -> None:
    files = oneroster_files()
    mutate(files)  # type: ignore[operator]
    assert any(message in text for _, _, text in rejected(zip_bundle(files)))


def test_not_a_zip_unknown_pupil_and_truncated_zip() -> None:
    assert "not a zip file" in rejected(b"sourcedId,title\n")[0][2]
    assert "no pupil" in rejected(zip_bundle(oneroster_files()), pupil_id="nobody")[0][2]
    truncated = zip_bundle(oneroster_files())[:-200]
    assert rejected(truncated)[0][2]


@pytest.mark.parametrize(
    ("code", "keys"),
    [
        ("MonA:1", ["A-mon-0850"]),
        ("A:Mon:1", ["A-mon-0850"]),
        ("Mon-1A", ["A-mon-0850"]),
        ("Mon-2B", ["B-mon-0940"]),
        ("1Mon:2", ["A-mon-0940"]),
        ("Wk2 Mon P1", ["B-mon-0850"]),
        ("Monday - Period 1", ["*-mon-0850"]),
        ("Mon1", ["*-mon-0850"]),
        ("Mon:Registration", ["*-mon-0840"]),
        ("1", ["*-mon-0850", "*-tue-0850", "*-wed-0850", "*-thu-0850", "*-fri-0850"]),
    ],
)
def test_the_period_code_shapes_schools_use(code: str, keys: list[str]) -> None:
    files = oneroster_files(periods={"c-ma": code})
    result = import_oneroster(zip_bundle(files), calendar=school_calendar(), pupil_id="p-17")
    assert [lsn.key.split("@")[0] for lsn in result.lessons] == keys
    assert len(result.period_codes) == 1
    assert result.period_codes[0][0] == code


def test_the_schools_own_codes_are_mapped_and_shown_in_the_preview() -> None:
    calendar = replace(school_calendar(), period_codes=(("x1", "A:Mon:1"), ("x7", "Fri-P6")))
    files = oneroster_files(periods={"c-ma": "X1", "c-en": "x7"})
    result = import_oneroster(zip_bundle(files), calendar=calendar, pupil_id="p-17")
    assert [lsn.key.split("@")[0] for lsn in result.lessons] == ["A-mon-0850", "*-fri-1410"]
    assert dict(result.period_codes) == {
        "X1": "Week A, Mon, P1 08:50-09:40 (the school's code)",
        "x7": "Every week, Fri, P6 14:10-15:00 (the school's code)",
    }
    # Without the school's mapping the same codes are refused, naming the way out.
    problems = rejected(zip_bundle(files))
    assert all("map it in the school's period codes" in m for _, _, m in problems)


def test_bell_times_given_with_the_bundle_replace_the_calendars() -> None:
    files = oneroster_files(periods={"c-ma": "Mon:1", "c-en": "Tue:Lunch club"})
    files["bell_times.csv"] = b"period,start,end\r\n1,09:00,10:00\r\nLunch club,12:30,13:00\r\n"
    result = import_oneroster(zip_bundle(files), calendar=school_calendar(), pupil_id="p-17")
    assert [(lsn.weekday, lsn.start, lsn.end) for lsn in result.lessons] == [
        (0, time(9), time(10)),
        (1, time(12, 30), time(13)),
    ]
    files["bell_times.csv"] = b"period,start,end\r\n1,09:00,08:00\r\n"
    assert rejected(zip_bundle(files))[0][:2] == ("bell_times.csv", 2)


def test_a_tutor_group_without_periods_is_a_note_and_the_title_is_the_subject() -> None:
    files = oneroster_files(
        periods={"c-ma": "Mon:1", "c-tu": ""}, titles={"c-ma": "Maths 9X1", "c-tu": "Tutor 9X"}
    )
    result = import_oneroster(zip_bundle(files), calendar=school_calendar(), pupil_id="p-17")
    assert [lsn.subject for lsn in result.lessons] == ["Maths 9X1"]
    assert ["Tutor 9X" in w.message and "no periods" in w.message for w in result.warnings] == [
        True
    ]


def test_the_course_title_stands_in_for_an_empty_class_title() -> None:
    files = oneroster_files(periods={"c-ma": "Mon:1"}, titles={"c-ma": ""})
    result = import_oneroster(zip_bundle(files), calendar=school_calendar(), pupil_id="p-17")
    assert [lsn.subject for lsn in result.lessons] == ["Mathematics"]
