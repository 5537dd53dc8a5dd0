"""What the engagement pages show, gathered with aggregate SQL (``engagement.figures``) and the
engagement services: the dashboard's pupils, weeks, subjects, schools, robots and moves; one
pupil's weeks, subjects, lessons and alerts; the home-school report with its shared notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement import access, services
from telepresence.engagement.dashboard.charts import Bar, Segment
from telepresence.engagement.dashboard.periods import Range
from telepresence.engagement.domain import week_monday
from telepresence.engagement.figures import Breakdown, Counts, Scope, breakdown, subject_counts
from telepresence.engagement.models import OutcomeRow, SharedNoteRow
from telepresence.engagement.schemas import (
    AlertOut,
    AlertQuery,
    CountsOut,
    DeviceOut,
    SummaryOut,
)
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil, School, User
from telepresence.platform.security.identity import Principal

__all__ = [
    "Dashboard",
    "Note",
    "PupilLine",
    "PupilPage",
    "dashboard",
    "lesson_segments",
    "move_links",
    "move_rows",
    "moves_link",
    "pupil_page",
    "robot_bars",
    "shared_notes",
    "subject_links",
    "subject_rows",
    "week_label",
    "week_link",
]

Out = OutcomeRow
SHOWN_PUPILS = 100  # the dashboard lists this many, those most in need of attention first
SHOWN_ROBOTS = 30  # and this many robots, the longest unused first


@dataclass(slots=True)
class PupilLine:
    """One pupil's row on the dashboard."""

    id: str
    name: str
    school: str
    counts: CountsOut
    weeks: list[float | None]
    trend: float | None
    alerts: list[AlertOut] = field(default_factory=list)


@dataclass(slots=True)
class Dashboard:
    """Everything the dashboard shows for one range and school."""

    summary: SummaryOut
    alerts: list[AlertOut]
    pupils: list[PupilLine]
    more_pupils: int
    weeks: list[Bar]
    subjects: list[tuple[str, list[Segment]]]
    subject_counts: list[Counts]
    school_names: dict[str, str]
    robots: list[DeviceOut] = field(default_factory=list)
    more_robots: int = 0


@dataclass(slots=True)
class PupilPage:
    """One pupil's engagement over a range."""

    pupil: Pupil
    school: str
    key_worker: str
    total: CountsOut
    weeks: list[Bar]
    week_rows: list[CountsOut]
    subjects: list[CountsOut]
    lessons: list[services.LessonOutcome]
    alerts: list[AlertOut]


def week_label(monday: date) -> str:
    """A school week as people name it: "w/c 3 Mar"."""
    return f"{monday.day} {monday:%b}"


def lesson_segments(c: Counts | CountsOut) -> list[Segment]:
    """A group's lessons split by outcome, for a stacked bar."""
    return [
        Segment("attended", c.attended),
        Segment("partial", c.partial),
        Segment("missed", c.missed),
        Segment("cancelled", c.cancelled),
    ]


def subject_rows(subjects: list[CountsOut]) -> list[tuple[str, list[Segment]]]:
    """Each subject's lessons by outcome, for a stacked bar chart."""
    return [(s.key, lesson_segments(s)) for s in subjects]


def subject_links(subjects: list[CountsOut], base: str, rng: Range) -> list[str]:
    """For each subject of ``subject_rows``, ``base`` (a pupil's page) listing its lessons."""
    return [f"{base}?{rng.dates()}&subject={quote(s.key, safe='')}#lessons-h" for s in subjects]


def _by_name(
    moves: dict[str, dict[str, int]], names: dict[str, str]
) -> list[tuple[str, dict[str, int]]]:
    return sorted(moves.items(), key=lambda kv: (names.get(kv[0], kv[0]), kv[0]))


def move_rows(
    moves: dict[str, dict[str, int]], names: dict[str, str]
) -> list[tuple[str, list[Segment]]]:
    """Each school's robot moves on time / late / failed / still open, for a stacked bar."""
    kinds = ("on_time", "late", "failed", "open")
    return [
        (names.get(school, school), [Segment(k, counts.get(k, 0)) for k in kinds])
        for school, counts in _by_name(moves, names)
    ]


def moves_link(school_id: str, rng: Range, kind: str = "") -> str:
    """The page of a school's moves in the range (of its pupil, if it names one; of one kind:
    on_time, late, failed, open)."""
    text = f"/engagement/schools/{school_id}/moves?{rng.dates()}"
    text += f"&pupil={rng.pupil_id}" if rng.pupil_id else ""
    return text + (f"&kind={kind}" if kind else "")


def move_links(moves: dict[str, dict[str, int]], names: dict[str, str], rng: Range) -> list[str]:
    """The moves page of each row of ``move_rows``, in the same order."""
    return [moves_link(school, rng) for school, _ in _by_name(moves, names)]


def robot_bars(devices: list[DeviceOut]) -> list[Bar]:
    """Each robot's utilisation, for a bar chart, linking to the robot's page."""
    return [Bar(d.name, d.utilisation, href=f"/devices/{d.device_id}") for d in devices]


def week_link(base: str, monday: date, rng: Range, *, keep: bool = True) -> str:
    """``base`` (a page with a period filter) for one school week, Monday to Sunday;
    ``keep`` keeps the range's school and pupil."""
    text = f"{base}?period=custom&start={monday}&end={monday + timedelta(days=6)}"
    if keep and rng.school_id:
        text += f"&school={rng.school_id}"
    if keep and rng.pupil_id:
        text += f"&pupil={rng.pupil_id}"
    return text


def _mondays(first: date, last: date) -> list[date]:
    monday, out = week_monday(first), []
    while monday <= last:
        out.append(monday)
        monday += timedelta(weeks=1)
    return out


def _bar(monday: date, c: Counts | None, href: str = "") -> Bar:
    if c is None or c.share is None:
        return Bar(week_label(monday), None, href=href)
    return Bar(week_label(monday), c.share, f"{c.joined} of {c.booked} lessons joined", href)


async def _pupil_lines(
    db: AsyncSession,
    scope: Scope,
    totals: dict[str, CountsOut],
    alerts: list[AlertOut],
    schools: dict[str, str],
    figures: Breakdown,
) -> list[PupilLine]:
    mondays = _mondays(scope.first, scope.last)
    ids = set(totals) | {a.pupil_id for a in alerts}
    alerts_of: dict[str, list[AlertOut]] = {}
    for a in alerts:
        alerts_of.setdefault(a.pupil_id, []).append(a)
    names = select(Pupil.id, Pupil.first_name, Pupil.last_name, Pupil.school_id).where(
        Pupil.provider_id == scope.provider_id
    )
    if scope.school_id:
        names = names.where(Pupil.school_id == scope.school_id)
    people = {row[0]: row for row in await db.execute(names) if row[0] in ids}
    lines = []
    for pupil_id, first_name, last_name, school_id in people.values():
        # Their weeks (four more before the range, for the trend): (share, trend) by monday.
        mine = figures.weeks.get(pupil_id, {})
        shown = [mine[m] for m in mondays if m in mine]
        lines.append(
            PupilLine(
                id=pupil_id,
                name=f"{first_name} {last_name}",
                school=schools.get(school_id, ""),
                counts=totals.get(pupil_id) or services.counts_out(Counts((pupil_id,))),
                weeks=[mine[m][0] if m in mine else None for m in mondays],
                trend=shown[-1][1] if shown else None,
                alerts=alerts_of.get(pupil_id, []),
            )
        )
    # Open alerts first, then the steepest fall, then the lowest share.
    lines.sort(
        key=lambda p: (
            -len(p.alerts),
            p.trend if p.trend is not None else 0.0,
            p.counts.share if p.counts.share is not None else 1.0,
            p.name,
        )
    )
    return lines


async def dashboard(db: AsyncSession, who: Principal, rng: Range, today: date) -> Dashboard:
    """The coordinator's page, for one school or pupil if the range names one: ``NotFound``
    for a school not of the caller's provider or a pupil they may not see."""
    schools = {
        s.id: s.name
        for s in await db.scalars(select(School).where(School.provider_id == who.provider_id))
    }
    if rng.school_id and rng.school_id not in schools:
        raise NotFound(f"There is no school {rng.school_id!r} of yours.")
    chosen = None
    if rng.pupil_id:  # ``NotFound`` for a pupil the caller may not see
        chosen = frozenset({(await access.visible_pupil(db, who, rng.pupil_id)).id})
    scope = Scope(str(who.provider_id), rng.start, rng.end, chosen, rng.school_id)
    scope = await access.narrowed(db, who, scope)
    figures = await breakdown(db, scope)  # the outcomes read once for all but subjects
    summary = await services.summary(db, who, scope, today, figures)
    alerts = await services.list_alerts(db, who, AlertQuery(status="unresolved"))
    visible = scope.pupil_ids
    alerts = [a for a in alerts if visible is None or a.pupil_id in visible]
    totals = {c.key: c for c in summary.pupils}
    lines = await _pupil_lines(db, scope, totals, alerts, schools, figures)
    if rng.school_id:
        kept = {p.id for p in lines}
        alerts = [a for a in alerts if a.pupil_id in kept]
    alerts.sort(key=lambda a: (a.status != "open", -a.opened_at.timestamp()))
    robots = sorted(
        summary.devices, key=lambda d: (-d.unused_school_days, d.utilisation or 0.0, d.name)
    )
    weekly = {c.key[0]: c for c in figures.mondays}
    subjects = await subject_counts(db, scope)
    return Dashboard(
        summary=summary,
        alerts=alerts,
        pupils=lines[:SHOWN_PUPILS],
        more_pupils=max(len(lines) - SHOWN_PUPILS, 0),
        weeks=[
            _bar(m, weekly.get(m), week_link("/engagement", m, rng))
            for m in _mondays(rng.start, rng.end)
        ],
        subjects=[(str(c.key[0]), lesson_segments(c)) for c in subjects],
        subject_counts=subjects,
        school_names=schools,
        robots=robots[:SHOWN_ROBOTS],
        more_robots=max(len(robots) - SHOWN_ROBOTS, 0),
    )


async def pupil_page(
    db: AsyncSession, who: Principal, pupil_id: str, rng: Range, *, lessons: bool = True
) -> PupilPage:
    """One pupil's weeks, subjects, lessons and unresolved alerts (``NotFound`` if not
    theirs). With ``lessons`` (the pupil's page, not the report) each week's bar links to
    the page for that week."""
    pupil = await access.visible_pupil(db, who, pupil_id)
    if lessons:
        figures, rows = await services.pupil_report(db, who, pupil.id, rng.start, rng.end)
    else:
        figures, rows = await services.pupil_engagement(db, who, pupil.id, rng.start, rng.end), []
    school = await db.get(School, pupil.school_id)
    worker = await db.get(User, pupil.key_worker_id) if pupil.key_worker_id else None
    by_week = {date.fromisoformat(w.key): w for w in figures.weeks}
    bars = []
    for monday in _mondays(rng.start, rng.end):
        w = by_week.get(monday)
        note = f"{w.joined} of {w.booked} lessons joined" if w else ""
        # Listed lessons: each week links to this page for that week (its lessons).
        href = (
            week_link(f"/engagement/pupils/{pupil.id}", monday, rng, keep=False) if lessons else ""
        )
        bars.append(Bar(week_label(monday), w.share if w else None, note, href))
    alerts = await services.list_alerts(db, who, AlertQuery(pupil_id=pupil.id))
    return PupilPage(
        pupil=pupil,
        school=school.name if school else "",
        key_worker=worker.name if worker else "",
        total=figures.total,
        weeks=bars,
        week_rows=figures.weeks,
        subjects=figures.subjects,
        lessons=rows,
        alerts=alerts,
    )


Note = tuple[str, str, datetime]
"""A note as the report shows it: author's name, text, when."""


async def shared_notes(
    db: AsyncSession, pupil_id: str, rng: Range, *, shared: bool = True
) -> list[Note]:
    """Notes written in the range, oldest first: those shared with the home school (or, with
    ``shared=False``, those kept for staff)."""
    first = datetime.combine(rng.start, time(), tzinfo=UTC)
    last = datetime.combine(rng.end + timedelta(days=1), time(), tzinfo=UTC)
    query = (
        select(SharedNoteRow, User.name)
        .join(User, User.id == SharedNoteRow.author_id)
        .where(
            SharedNoteRow.pupil_id == pupil_id,
            SharedNoteRow.shared.is_(shared),
            SharedNoteRow.created_at >= first,
            SharedNoteRow.created_at < last,
        )
        .order_by(SharedNoteRow.created_at)
    )
    return [(name, note.text, note.created_at) for note, name in (await db.execute(query)).all()]
