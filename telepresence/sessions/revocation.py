"""Revocation reaches live lessons: a revoked pupil's or robot's lesson end is closed.

Two halves, like the device socket's (``device_registry.hub``):

- ``revoke_lesson_tokens`` is the kernel's revocation hook: in the transaction
  that resets a PIN, deactivates a pupil or rotates a robot's credential, the
  lesson tokens of that end in every open session are revoked, so they cannot
  be used to join again;
- ``RevokedLessonSweep`` runs on every instance (and drops relay watchers
  whose account has no live sign-in left): twice a second it asks which
  ends of open sessions with a socket here hold no unrevoked lesson token any
  more, and closes those sockets (4401). Revoking on one
  instance thus closes the socket on whichever instance holds it within a
  second, with no message to cross. (An ended session's tokens are revoked too;
  its sockets are closed by the ``ended`` event with 4410, not here.)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.database import Database
from telepresence.platform.http.context import DATABASE
from telepresence.platform.security.revocation import Identity, Sweeper
from telepresence.sessions.call.signalling import CLOSE_AUTH, SESSION_ROOMS, SessionRooms
from telepresence.sessions.domain import Participant
from telepresence.sessions.models import LessonSession, SessionToken
from telepresence.sessions.watching.watch import drop_revoked_watchers

__all__ = ["RevokedLessonSweep", "lesson_revocation", "revoke_lesson_tokens"]

SWEEP_SECONDS = 0.5


async def revoke_lesson_tokens(
    db: AsyncSession, identity: Identity, subject_id: str, now: datetime
) -> None:
    """Revoke the lesson tokens of a pupil's (or a robot's) end in every open session."""
    if identity is Identity.PUPIL:
        participant, owner = Participant.PUPIL, LessonSession.pupil_id
    elif identity is Identity.DEVICE:
        participant, owner = Participant.ROBOT, LessonSession.robot_id
    else:
        return  # staff hold no lesson tokens
    sessions = select(LessonSession.id).where(owner == subject_id, LessonSession.status == "open")
    await db.execute(
        update(SessionToken)
        .where(
            SessionToken.session_id.in_(sessions),
            SessionToken.participant == participant.value,
            SessionToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


async def revoked_ends(
    db: AsyncSession, ends: list[tuple[str, Participant]]
) -> list[tuple[str, Participant]]:
    """Which of these ends of open sessions hold no unrevoked lesson token any more.

    Joining again revokes an end's older token and issues a new one in one
    transaction, so an end that merely rejoined always holds one.
    """
    session_ids = sorted({session_id for session_id, _ in ends})
    open_ids = set(
        await db.scalars(
            select(LessonSession.id).where(
                LessonSession.id.in_(session_ids), LessonSession.status == "open"
            )
        )
    )
    live = {
        (session_id, Participant(participant))
        for session_id, participant in await db.execute(
            select(SessionToken.session_id, SessionToken.participant).where(
                SessionToken.session_id.in_(session_ids), SessionToken.revoked_at.is_(None)
            )
        )
    }
    return [end for end in ends if end[0] in open_ids and end not in live]


class RevokedLessonSweep(Sweeper):
    """Closes this instance's session sockets whose lesson token was revoked anywhere."""

    task_name = "revoked-lesson-sweep"
    failed_event = "revocation_sweep_failed"
    crashed_event = "revocation_sweep_crashed"

    def __init__(
        self,
        database: Database,
        rooms: SessionRooms,
        every: float = SWEEP_SECONDS,
        watchers: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        super().__init__(every)
        self.database = database
        self.rooms = rooms
        self.watchers = watchers

    async def sweep(self) -> int:
        """One look; returns how many sockets it closed (and relay watchers it dropped)."""
        dropped = await self.watchers() if self.watchers is not None else 0
        return dropped + await self._close_revoked_ends()

    async def _close_revoked_ends(self) -> int:
        sockets = self.rooms.ends()
        if not sockets:
            return 0
        async with self.database.sessions() as db:
            revoked = await revoked_ends(db, list(sockets))
        for end in revoked:
            ws = sockets[end]
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json({"type": "ended", "reason": "access revoked"})
            await ws.close(code=CLOSE_AUTH, message=b"access revoked")
        return len(revoked)


async def lesson_revocation(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the sweep runs while the app does (after its database and rooms)."""
    sweep = RevokedLessonSweep(
        app[DATABASE], app[SESSION_ROOMS], watchers=partial(drop_revoked_watchers, app)
    )
    sweep.start()
    try:
        yield
    finally:
        await sweep.close()
