"""What staff can do about a move before it goes wrong: a walk too short, who else could do it.

Read for the staff rota page only (assistants never see one another's load).
The figures come from the same walking rules, duty and moves the planner
used; ``scheduler.rota.domain.wording`` words them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.rota.domain.moves import AssignmentRules, Assistant
from scheduler.rota.domain.walking import RoomRef
from scheduler.rota.domain.wording import HelperDay, walk_shortfall, who_else
from scheduler.rota.loading import RoomBook, load_assistants, load_rooms, load_walking
from scheduler.rota.reading.views import MoveView
from telepresence.platform.models import School, User

__all__ = ["with_advice"]

OPEN = frozenset({"pending", "assigned", "reminded", "late", "escalated"})


def _ref(rooms: RoomBook, room_id: str) -> RoomRef:
    room = rooms.by_id.get(room_id)
    return RoomBook.ref_of(room) if room else RoomRef(room_id, "?", 0)


def _minutes(span: timedelta) -> int:
    return max(0, round(span.total_seconds() / 60))


def _too_short(view: MoveView, carry: timedelta) -> str | None:
    row = view.row
    short = walk_shortfall(row.earliest, row.due, carry)
    if row.reason != "to_lesson" or short <= timedelta():
        return None
    return (
        f"Too short to walk: {_minutes(row.due - row.earliest)} min between the lessons, "
        f"carrying it from {row.from_room_name} to {row.to_room_name} takes about "
        f"{_minutes(carry)} min. Ask the teacher of the earlier lesson to let the robot "
        f"leave {_minutes(short)} min early, set a shorter walking time if these rooms are "
        f"nearer, or book the later lesson on another robot or a tablet on a stand there."
    )


def _helpers(
    view: MoveView,
    assistants: list[Assistant],
    names: dict[str, str],
    views: list[MoveView],
) -> list[HelperDay]:
    helpers = []
    for a in assistants:
        if a.id in view.decliner_ids:
            continue
        theirs = [
            v.row for v in views if v.row.assistant_id == a.id and v.row.status not in {"failed"}
        ]
        busy = tuple(
            (r.departs_at, r.done_by_plan) for r in theirs if r.departs_at and r.done_by_plan
        )
        stretches = tuple(s for w in a.duty for s in w.segments())
        capped = a.max_moves is not None and len(theirs) >= a.max_moves
        helpers.append(
            HelperDay(names.get(a.id, "An assistant"), a.absent, stretches, busy, capped)
        )
    return helpers


async def with_advice(
    session: AsyncSession, school: School, day: date, views: list[MoveView], users: list[User]
) -> list[MoveView]:
    """``views`` with ``advice`` filled in for open moves: a walk longer than the move's
    window (with what staff can do), and for a move nobody has, what it would cost each
    other assistant of the school to do it (``who_else``)."""
    rooms = await load_rooms(session, school.id)
    walking = await load_walking(session, school.id)
    assistants = await load_assistants(session, school, day, rooms)
    names = {u.id: u.name for u in users}
    handling = AssignmentRules().handling
    out = []
    for view in views:
        if view.status not in OPEN:
            out.append(view)
            continue
        row = view.row
        carry = walking.between(_ref(rooms, row.from_room_id), _ref(rooms, row.to_room_id))
        carry += handling
        advice = [said] if (said := _too_short(view, carry)) else []
        if row.assistant_id is None:
            lines = who_else(
                row.earliest, row.due, carry, _helpers(view, assistants, names, views), view.zone
            )
            advice += [f"Who else could: {line}" for line in lines] or [
                "Who else could: no other assistant at this school; add one on the Staff page."
            ]
        out.append(replace(view, advice=tuple(advice)) if advice else view)
    return out
