"""One timeline of a pupil's way back: phases, reviews, contacts, visits, lessons, alerts, notes."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.models import Booking
from telepresence.platform.errors import InvalidInput
from telepresence.reintegration.models import PlanRow
from telepresence.reintegration.schemas import TimelineItem
from telepresence.reintegration.services import history, notes_of

__all__ = ["KINDS", "parse_kinds", "timeline"]

KINDS = ("phase", "review", "contact", "visit", "lesson", "alert", "note", "plan")
JOINED = ("attended", "partial")
LIMIT = 500


def parse_kinds(text: str) -> frozenset[str]:
    """The kinds named in a comma-separated filter (all kinds when empty)."""
    asked = {k.strip() for k in text.split(",") if k.strip()}
    unknown = asked - set(KINDS)
    if unknown:
        raise InvalidInput(
            f"Unknown timeline kind(s): {', '.join(sorted(unknown))}; use {', '.join(KINDS)}.",
            errors=[{"field": "kinds", "message": "unknown kind"}],
        )
    return frozenset(asked or KINDS)


async def _lessons(session: AsyncSession, plan: PlanRow) -> list[TimelineItem]:
    start = datetime.combine(plan.starts_on, time(0), tzinfo=UTC)
    rows = await session.scalars(
        select(Booking)
        .where(
            Booking.pupil_id == plan.pupil_id,
            Booking.starts_at >= start,
            Booking.outcome.in_(JOINED),
        )
        .order_by(Booking.starts_at.desc())
        .limit(LIMIT)
    )
    return [
        TimelineItem(
            at=b.starts_at,
            kind="lesson",
            title=f"Joined {b.subject} remotely",
            detail=f"{b.outcome}; room {b.room}" if b.room else str(b.outcome),
            actor="",
            shared=True,
        )
        for b in rows
    ]


async def timeline(
    session: AsyncSession, plan: PlanRow, kinds: frozenset[str], *, shared_only: bool
) -> list[TimelineItem]:
    """The plan's entries of the given kinds, newest first (what is shared, for the home school)."""
    items = [
        TimelineItem(
            at=e.at,
            kind=e.kind,
            title=e.summary,
            detail=e.reason,
            actor=e.actor_name,
            shared=e.shared,
        )
        for e in await history(session, plan, shared_only=shared_only)
        if e.kind in kinds
    ]
    if "note" in kinds:
        items += [
            TimelineItem(
                at=n.at,
                kind="note",
                title="Note" + (" (shared with the school)" if n.shared else " (internal)"),
                detail=n.text,
                actor=n.author_name,
                shared=n.shared,
            )
            for n in await notes_of(session, plan, shared_only=shared_only)
        ]
    if "lesson" in kinds:
        items += await _lessons(session, plan)
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:LIMIT]
