"""Revoking an identity: its sign-in tokens, and whatever features derived from them.

A pupil whose PIN is reset, a deactivated pupil or person, a robot whose
credential is rotated or revoked: their sign-in tokens stop working at once
(a database write), and every feature that handed them something longer-lived
(a live lesson's token) revokes that too, in the same transaction, through a
hook the composition root installs. The kernel knows no feature: it only
calls the hooks.

Long-lived answers (server-sent event streams) started with a sign-in that is
then revoked end within a second: ``SignedInStreams`` looks at every open
stream's token twice a second, in one query, on every instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.routing import presented_token
from telepresence.platform.models import AuthToken, Pupil, User
from telepresence.platform.security import auth
from telepresence.platform.security.identity import hash_token

__all__ = [
    "REVOCATION_HOOKS",
    "SIGNED_IN_STREAMS",
    "Identity",
    "RevocationHook",
    "SignedInStreams",
    "install_revocation_hooks",
    "revoke_identity",
    "signed_in_streams",
    "until_revoked",
]

log = structlog.get_logger("classbridge.revocation")
SWEEP_SECONDS = 0.5
T = TypeVar("T")


class Identity(enum.StrEnum):
    """Whose access is being revoked."""

    USER = "user"
    PUPIL = "pupil"
    DEVICE = "device"


RevocationHook = Callable[[AsyncSession, Identity, str, datetime], Awaitable[None]]
"""Revokes what a feature derived from an identity (called inside the revoking transaction)."""

REVOCATION_HOOKS: web.AppKey[list[RevocationHook]] = web.AppKey("revocation_hooks")


def install_revocation_hooks(app: web.Application, *hooks: RevocationHook) -> None:
    """The composition root names what features must revoke along with an identity."""
    app[REVOCATION_HOOKS] = list(hooks)


async def revoke_identity(
    app: web.Application,
    session: AsyncSession,
    identity: Identity,
    subject_id: str,
    now: datetime,
) -> None:
    """Revoke a user's or pupil's sign-in tokens and, for any identity, what hooks derive.

    A device's own credentials are the device registry's to revoke; this then
    reaches what was derived from them.
    """
    if identity is Identity.USER:
        await auth.revoke_tokens_of(session, now=now, user_id=subject_id)
    elif identity is Identity.PUPIL:
        await auth.revoke_tokens_of(session, now=now, pupil_id=subject_id)
    for hook in app.get(REVOCATION_HOOKS, []):
        await hook(session, identity, subject_id, now)


class Sweeper:
    """A look every ``every`` seconds, on a task of its own, that never dies of one bad look.

    Subclasses say what one look does (``sweep``); a failing look is logged (the
    database being away as a warning, anything else with its traceback) and the
    next look comes as usual, since a sweep that stops stops revocation.
    """

    task_name = "sweeper"
    failed_event = "sweep_failed"  # the database away: a warning
    crashed_event = "sweep_crashed"  # anything else: with its traceback

    def __init__(self, every: float) -> None:
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start looking (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def close(self) -> None:
        """Stop looking; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep()
            except (SQLAlchemyError, OSError) as exc:
                log.warning(self.failed_event, error=type(exc).__name__)
            except Exception:
                log.exception(self.crashed_event)

    async def sweep(self) -> int:
        """One look; returns how many things it ended."""
        raise NotImplementedError


class SignedInStreams(Sweeper):
    """Open streams that end within a second of the sign-in they started with being revoked.

    A token is live while it is neither revoked nor expired and its person is
    active; signing out, a password change elsewhere, deactivation and expiry
    all end the stream.
    """

    task_name = "signed-in-streams"
    failed_event = "stream_revocation_sweep_failed"
    crashed_event = "stream_revocation_sweep_crashed"

    def __init__(self, database: Database, clock: Clock, every: float = SWEEP_SECONDS) -> None:
        super().__init__(every)
        self.database = database
        self.clock = clock
        self._open: dict[asyncio.Event, str] = {}

    @contextlib.asynccontextmanager
    async def watch(self, request: web.Request) -> AsyncIterator[asyncio.Event]:
        """An event set once this request's sign-in is no longer live."""
        revoked = asyncio.Event()
        self._open[revoked] = hash_token(presented_token(request))
        self.start()
        try:
            yield revoked
        finally:
            self._open.pop(revoked, None)

    async def sweep(self) -> int:
        """One look; returns how many streams it ended."""
        watched = dict(self._open)
        if not watched:
            return 0
        async with self.database.sessions() as db:
            live = set(
                await db.scalars(
                    select(AuthToken.token_hash)
                    .outerjoin(User, User.id == AuthToken.user_id)
                    .outerjoin(Pupil, Pupil.id == AuthToken.pupil_id)
                    .where(
                        AuthToken.token_hash.in_(set(watched.values())),
                        AuthToken.revoked_at.is_(None),
                        AuthToken.expires_at > self.clock.now(),
                        or_(User.active.is_(True), Pupil.active.is_(True)),
                    )
                )
            )
        ended = [event for event, digest in watched.items() if digest not in live]
        for event in ended:
            event.set()
        return len(ended)


async def until_revoked(awaitable: Awaitable[T], revoked: asyncio.Event) -> T | None:
    """The awaitable's result, or None (the awaitable cancelled) once ``revoked`` is set."""
    work: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
    stop: asyncio.Future[Any] = asyncio.ensure_future(revoked.wait())
    try:
        await asyncio.wait([work, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        work.cancel()
        stop.cancel()
    result: T | None = None if revoked.is_set() or not work.done() else work.result()
    return result


SIGNED_IN_STREAMS: web.AppKey[SignedInStreams] = web.AppKey("signed_in_streams")


async def signed_in_streams(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: streams are watched while the app runs (after its database)."""
    app[SIGNED_IN_STREAMS] = streams = SignedInStreams(app[DATABASE], app[CLOCK])
    try:
        yield
    finally:
        await streams.close()
