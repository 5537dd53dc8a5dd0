"""The home-school report as PDF: a real PDF whose text has the pupil's subjects and notes."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader

from telepresence.engagement.dashboard import pdf as report_module
from telepresence.engagement.dashboard.charts import Bar
from telepresence.engagement.dashboard.pdf import ReportFacts, latin1, report_pdf, unicode_font
from telepresence.engagement.schemas import CountsOut


def _counts(key: str, booked: int, joined: int) -> CountsOut:
    share = joined / booked if booked else None
    return CountsOut(
        key=key, booked=booked, joined=joined, attended=joined, partial=0, missed=booked - joined,
        cancelled=0, minutes=joined * 55, booked_minutes=booked * 60, share=share,
    )  # fmt: skip


def _facts(**changes: object) -> ReportFacts:
    values: dict[str, object] = {
        "pupil": "Zoë Łukasiewicz",
        "school": "St Aidan\u2019s",
        "key_worker": "Priya Shah",
        "start": date(2026, 9, 1),
        "end": date(2026, 11, 18),
        "total": _counts("total", 6, 4),
        "subjects": [_counts("Maths", 4, 3), _counts("Design & Technology", 2, 1)],
        "weeks": [Bar("2 Nov", 0.9), Bar("9 Nov", None), Bar("16 Nov", 0.3)],
        "notes": [
            (
                "Priya Shah",
                "Zoë led the group\u2019s plan \u2014 well done.",
                datetime(2026, 11, 3, tzinfo=UTC),
            )
        ],
        "made_on": date(2026, 11, 18),
    }
    return ReportFacts(**(values | changes))  # type: ignore[arg-type]


def _text(pdf: bytes) -> str:
    # Lines are wrapped where the page ends them: compare words, not lines.
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_report_is_a_pdf_with_subjects_minutes_and_shared_notes():
    pdf = report_pdf(_facts())
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    assert "Zoë Łukasiewicz" in text  # written as it is spelt
    assert "Maths" in text
    assert "Design & Technology" in text
    assert "Joined 4 of 6 booked lessons" in text
    assert "Zoë led the group\u2019s plan \u2014 well done." in text
    assert "not an attendance register" in text


def test_a_report_without_lessons_says_so():
    empty = _counts("total", 0, 0).model_copy(update={"share": None, "missed": 0})
    text = _text(report_pdf(_facts(total=empty, subjects=[], weeks=[], notes=[])))
    assert "No lessons in this period" in text
    assert "No notes shared in this period." in text


def test_names_in_other_scripts_are_written_as_they_are():
    assert unicode_font() is not None, "DejaVu Sans (Debian: fonts-dejavu-core) is needed"
    text = _text(report_pdf(_facts(pupil="Амир Хасанов", school="Ελληνική Σχολή")))
    assert "Амир Хасанов" in text
    assert "Ελληνική Σχολή" in text


def test_without_the_font_names_are_transliterated_not_refused(monkeypatch):
    monkeypatch.setattr(report_module, "unicode_font", lambda: None)
    text = _text(report_pdf(_facts()))
    assert "Zoë Lukasiewicz" in text  # Ł has no Latin-1 form
    assert "Zoë led the group's plan - well done." in text


def test_latin1_keeps_what_the_core_font_has():
    assert latin1("café \u201cquoted\u201d \u2013 ok\u2026") == 'café "quoted" - ok...'
    assert latin1("Ωmega") == "?mega"


def test_the_attended_threshold_is_the_configured_one():
    text = _text(report_pdf(_facts(attended_share=0.5)))
    assert "attended 4 in full (50% or more)" in text
    assert "Cancelled" not in text  # nothing was: no sentence about it
