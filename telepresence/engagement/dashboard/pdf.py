"""The home-school report as PDF, written with fpdf2 (pure Python: no system libraries).

The PDF says what the HTML report says: the pupil, the period, lessons joined
per subject with minutes, the weekly chart (drawn as bars) and the notes the
key worker shared. Text is set in DejaVu Sans where the machine has it (Debian's
fonts-dejavu-core; the Dockerfile installs it), which covers Latin, Greek, Cyrillic
and more, so "Łucja", "Amélie" and "Амир" are written as they are. Without it the PDF
core font Helvetica (Latin-1) is used and other characters are transliterated where
Unicode allows it (ś -> s, ł -> l; what has no Latin form becomes "?"), so a report
never fails on a name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from telepresence.engagement.dashboard.charts import Bar, number, percent
from telepresence.engagement.schemas import CountsOut

__all__ = ["ReportFacts", "latin1", "report_pdf", "unicode_font"]

# Where Debian (fonts-dejavu-core), Fedora and Alpine put DejaVu Sans.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)

# Typographic punctuation the core font lacks, by code point (quotes, dashes, ellipsis, ...).
_PUNCTUATION = {
    0x2018: "'",
    0x2019: "'",
    0x201C: '"',
    0x201D: '"',
    0x2013: "-",
    0x2014: "-",
    0x2026: "...",
    0x2022: "-",
    0x0141: "L",
    0x0142: "l",
    0x0110: "D",
    0x0111: "d",
    0x0152: "OE",
    0x0153: "oe",
}
INK = (29, 36, 51)
MUTED = (90, 100, 120)
BRAND = (47, 91, 211)
GRID = (221, 226, 236)
GOOD = (31, 122, 77)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What goes into one report."""

    pupil: str
    school: str
    key_worker: str
    start: date
    end: date
    total: CountsOut
    subjects: Sequence[CountsOut]
    weeks: Sequence[Bar]
    notes: Sequence[tuple[str, str, datetime]]
    made_on: date
    attended_share: float = 0.8


def latin1(text: str) -> str:
    """``text`` in what the core font can show (Latin-1), transliterating what it can."""
    text = text.translate(_PUNCTUATION)
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


@cache
def unicode_font() -> tuple[Path, Path] | None:
    """DejaVu Sans (regular, bold) if the machine has it."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


class _Report(FPDF):
    """A4 pages in a font that can write the pupil's name; ``clean`` fits text to it."""

    def __init__(self) -> None:
        super().__init__(format="A4")
        font = unicode_font()
        self.family: str = "Helvetica"
        self.clean: Callable[[str], str] = latin1
        if font is not None:
            self.add_font("Body", "", str(font[0]))
            self.add_font("Body", "B", str(font[1]))
            self.family, self.clean = "Body", str

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"Classbridge engagement report - page {self.page_no()}", align="C")


def _heading(pdf: _Report, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(pdf.family, "B", 13)
    pdf.set_text_color(*INK)
    pdf.cell(0, 8, pdf.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _para(pdf: _Report, text: str, size: int = 10, colour: tuple[int, int, int] = INK) -> None:
    pdf.set_font(pdf.family, "", size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, 5, pdf.clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _subjects(pdf: _Report, subjects: Sequence[CountsOut]) -> None:
    widths = (70, 25, 25, 25, 25)
    heads = ("Subject", "Booked", "Joined", "Attended", "Minutes")
    pdf.set_font(pdf.family, "B", 10)
    pdf.set_fill_color(238, 241, 247)
    pdf.set_draw_color(*GRID)
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(w, 7, h, border="B", fill=True)
    pdf.ln()
    pdf.set_font(pdf.family, "", 10)
    for s in subjects:
        cells = (s.key, s.booked, s.joined, s.attended, number(s.minutes))
        for w, value in zip(widths, cells, strict=True):
            pdf.cell(w, 7, pdf.clean(str(value))[:40], border="B")
        pdf.ln()


def _weeks(pdf: _Report, weeks: Sequence[Bar], goal: float) -> None:
    if pdf.will_page_break(60):
        pdf.add_page()
    left, top, plot = pdf.l_margin + 10, pdf.get_y() + 4, 40.0
    slot = min(16.0, (pdf.epw - 12) / max(len(weeks), 1))
    pdf.set_draw_color(*GRID)
    pdf.set_font(pdf.family, "", 7)
    pdf.set_text_color(*MUTED)
    for pct in (0, 50, 100):
        y = top + plot - plot * pct / 100
        pdf.line(left, y, left + slot * len(weeks), y)
        pdf.text(pdf.l_margin, y + 1, f"{pct}%")
    goal_y = top + plot - plot * goal
    pdf.set_draw_color(*GOOD)
    pdf.set_dash_pattern(dash=1.5, gap=1)
    pdf.line(left, goal_y, left + slot * len(weeks), goal_y)
    pdf.set_dash_pattern()
    for i, bar in enumerate(weeks):
        x = left + slot * i + 1
        pdf.set_text_color(*MUTED)
        pdf.text(x, top + plot + 5, pdf.clean(bar.label))
        if bar.value is None:
            continue
        h = plot * min(max(bar.value, 0.0), 1.0)
        pdf.set_fill_color(*(GOOD if bar.value >= goal else BRAND))
        pdf.rect(x, top + plot - h, slot - 3, h, style="F")
        pdf.set_text_color(*INK)
        pdf.text(x, top + plot - h - 1.5, percent(bar.value))
    pdf.set_y(top + plot + 9)


def report_pdf(facts: ReportFacts) -> bytes:
    """The report as PDF bytes (A4, text extractable)."""
    pdf = _Report()
    pdf.set_title(pdf.clean(f"Engagement report: {facts.pupil}"))
    pdf.set_author("Classbridge")
    pdf.set_creation_date(datetime.combine(facts.made_on, datetime.min.time()))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 18)
    pdf.set_text_color(*INK)
    pdf.cell(0, 10, pdf.clean(facts.pupil), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    period = f"{facts.start:%d %B %Y} to {facts.end:%d %B %Y}"
    _para(pdf, f"Engagement report for {facts.school}, {period}.", 11)
    if facts.key_worker:
        _para(pdf, f"Key worker: {facts.key_worker}. Made on {facts.made_on:%d %B %Y}.", 10, MUTED)
    _para(
        pdf,
        "What the pupil joined of their lessons remotely, through the classroom robot. "
        "It is evidence of engagement, not an attendance register: the school keeps its own.",
        9,
        MUTED,
    )
    t = facts.total
    _heading(pdf, "Summary")
    if not t.booked and not t.cancelled:
        _para(pdf, "No lessons in this period: nothing was booked for the pupil to join.")
    else:
        _para(
            pdf,
            f"Joined {t.joined} of {t.booked} booked lessons; attended {t.attended} in full "
            f"({percent(facts.attended_share)} or more), {t.partial} in part; "
            f"{number(t.minutes)} minutes in lessons "
            f"({percent(t.share)} of booked time)."
            + (f" Cancelled: {t.cancelled}." if t.cancelled else ""),
        )
        _heading(pdf, "Lessons per subject")
        _subjects(pdf, facts.subjects)
        _heading(pdf, "Share of booked time attended, per week")
        _weeks(pdf, facts.weeks, facts.attended_share)
    _heading(pdf, "Notes from the key worker")
    if not facts.notes:
        _para(pdf, "No notes shared in this period.", 10, MUTED)
    for author, text, at in facts.notes:
        _para(pdf, f"{at:%d %B %Y}, {author}:", 9, MUTED)
        _para(pdf, text)
        pdf.ln(1)
    return bytes(pdf.output())
