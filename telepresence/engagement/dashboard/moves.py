"""The moves behind a school's punctuality on the dashboard: each robot move of the school in
the period, classed as the dashboard counts it (``figures.move_punctuality``): done by the
time due (on time), done later (late), failed or escalated (not done), or still open."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.rota.models import MoveRow
from telepresence.engagement import access
from telepresence.engagement.dashboard.periods import Range
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil, School, zone_of
from telepresence.platform.security.identity import Principal

__all__ = ["SHOWN_MOVES", "Kind", "MoveLine", "SchoolMoves", "kind_of", "school_moves"]

SHOWN_MOVES = 500  # a term of a big school: the newest this many, a kind narrows the list


class Kind(enum.StrEnum):
    """How a move went, as the dashboard's punctuality counts it."""

    ON_TIME = "on_time"
    LATE = "late"
    FAILED = "failed"
    OPEN = "open"


def kind_of(status: str, confirmed_at: datetime | None, due: datetime) -> Kind:
    """The same classes as the dashboard's SQL: done by ``due`` is on time, done after it
    late, failed or escalated not done, anything else still open."""
    if status == "done":
        return Kind.ON_TIME if confirmed_at is not None and confirmed_at <= due else Kind.LATE
    if status in ("failed", "escalated"):
        return Kind.FAILED
    return Kind.OPEN


@dataclass(frozen=True, slots=True)
class MoveLine:
    """One move as the page lists it (times in the school's zone)."""

    id: str
    day: date
    due: datetime
    robot: str
    device_id: str
    from_room: str
    to_room: str
    pupil: str  # first name and initial, or "" for a move to or from the charger
    pupil_id: str | None  # set only when the caller may open the pupil's engagement
    kind: Kind
    minutes_late: int
    reason: str


@dataclass(slots=True)
class SchoolMoves:
    """A school's moves in a range, newest day first, with the count of each kind."""

    school: School
    zone: ZoneInfo
    lines: list[MoveLine]
    counts: dict[Kind, int] = field(default_factory=dict)
    more: int = 0
    pupil: str = ""  # the pupil the moves are narrowed to, if one


async def school_moves(
    db: AsyncSession, who: Principal, school_id: str, rng: Range, kind: Kind | None
) -> SchoolMoves:
    """The school's moves dated in ``rng`` (all kinds counted, ``kind`` alone listed), of the
    pupils the caller may see (of the range's pupil, if it names one); ``NotFound`` for a school
    not of the caller's provider or a pupil not theirs."""
    school = await db.get(School, school_id)
    if school is None or school.provider_id != who.provider_id:
        raise NotFound(f"There is no school {school_id!r} of yours.")
    zone = zone_of(school)
    query = (
        select(MoveRow, Device.name, Pupil)
        .join(Device, Device.id == MoveRow.device_id)
        .outerjoin(Pupil, Pupil.id == MoveRow.pupil_id)
        .where(
            MoveRow.school_id == school.id,
            MoveRow.local_date >= rng.start,
            MoveRow.local_date <= rng.end,
        )
        .order_by(MoveRow.local_date.desc(), MoveRow.due, MoveRow.id)
    )
    visible, chosen = await access.visible_pupil_ids(db, who), None
    if rng.pupil_id:  # one pupil's moves (``NotFound`` for a pupil the caller may not see)
        chosen = await access.visible_pupil(db, who, rng.pupil_id)
        visible = frozenset({chosen.id})
    if visible is not None:  # as the dashboard counts them: the moves of the pupils in view
        query = query.where(MoveRow.pupil_id.in_(sorted(visible)))
    out = SchoolMoves(school, zone, [], dict.fromkeys(Kind, 0))
    out.pupil = f"{chosen.first_name} {chosen.last_name}" if chosen else ""
    for move, robot, pupil in (await db.execute(query)).all():
        k = kind_of(move.status, move.confirmed_at, move.due)
        out.counts[k] += 1
        if kind is not None and k is not kind:
            continue
        if len(out.lines) >= SHOWN_MOVES:
            out.more += 1
            continue
        late = move.confirmed_at - move.due if k is Kind.LATE and move.confirmed_at else None
        may_open = pupil is not None and (visible is None or pupil.id in visible)
        out.lines.append(
            MoveLine(
                id=move.id,
                day=move.local_date,
                due=move.due.astimezone(zone),
                robot=robot,
                device_id=move.device_id,
                from_room=move.from_room_name,
                to_room=move.to_room_name,
                pupil=f"{pupil.first_name} {pupil.last_name[:1]}." if pupil else "",
                pupil_id=pupil.id if may_open and pupil else None,
                kind=k,
                minutes_late=round(late.total_seconds() / 60) if late else 0,
                reason=move.status_reason or "",
            )
        )
    return out
