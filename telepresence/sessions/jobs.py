"""Timed job of live sessions: end those whose window has closed."""

from __future__ import annotations

from sqlalchemy import select

from telepresence.platform.jobs import JobContext
from telepresence.sessions import services
from telepresence.sessions.models import LessonSession
from telepresence.sessions.signalling import topic

__all__ = ["end_finished_sessions"]


async def end_finished_sessions(ctx: JobContext) -> int:
    """End every open session past its window (a lesson's end plus the grace)."""
    now = ctx.clock.now()
    ended = []
    async with ctx.database.transaction() as db:
        due = list(
            await db.scalars(
                select(LessonSession.id).where(
                    LessonSession.status == "open", LessonSession.closes_at <= now
                )
            )
        )
        for session_id in due:
            if await services.end_session(db, session_id, "lesson over", now):
                ended.append(session_id)
    for session_id in ended:
        ctx.events.publish(topic(session_id, "all"), {"type": "ended", "reason": "lesson over"})
    return len(ended)
