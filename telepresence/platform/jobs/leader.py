"""Which instance runs the timed jobs: a PostgreSQL session-level advisory lock elects it.

A session-level advisory lock is held until it is unlocked or the session
(the connection) ends, whatever happens to transactions. That is why the
lock lives on a dedicated asyncpg connection that this instance keeps for
its whole life and never shares: taken through the SQLAlchemy pool it would
stay on whichever pooled connection ran the query, be "held" by a connection
that other requests borrow, and only be released when the pool happened to
close that connection. When the leader's connection dies (the process ends,
the network drops, or an operator runs ``pg_terminate_backend``) PostgreSQL
releases the lock, and the next follower to retry takes it.

On SQLite there is one instance by construction, so it simply leads (and
stands again if starting its scheduler failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from telepresence.platform.events.eventbridge import asyncpg_dsn

__all__ = ["LOCK_KEY", "LeaderElection"]

log = structlog.get_logger("classbridge.leader")

LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"classbridge:timed-jobs").digest()[:8], "big", signed=True
)
"""The advisory lock's 64-bit key: stable across versions, unlikely to clash with others'."""

Transition = Callable[[], Awaitable[None]]


class LeaderElection:
    """Keeps trying to lead; calls ``on_elected``/``on_deposed`` as leadership comes and goes.

    Followers retry every ``retry_seconds``; the leader checks its connection
    just as often and steps down at once when PostgreSQL reports it closed.
    ``close()`` steps down, releases the lock and is safe to call twice.
    """

    def __init__(
        self,
        database_url: str,
        *,
        on_elected: Transition,
        on_deposed: Transition,
        retry_seconds: float = 5.0,
    ) -> None:
        self.database_url = database_url
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_seconds = retry_seconds
        self.is_leader = False
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self._nudge = asyncio.Event()
        self._hold_off = False
        self._errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        self._postgres = database_url.startswith("postgresql")

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding (or trying for) the lock; None on SQLite or offline."""
        if self._conn is None or self._conn.is_closed():
            return None
        pid: int = self._conn.get_server_pid()
        return pid

    @property
    def standing(self) -> bool:
        """Whether this instance stands for election now (its background loop is alive)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Try to lead now (on SQLite: lead), and keep trying in the background."""
        if self._postgres:
            import asyncpg  # only deployments on PostgreSQL load the driver

            self._errors = (OSError, TimeoutError, asyncpg.PostgresError)
        await self._attempt()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            if self._hold_off:
                # A deposed leader lets the followers try first, so that a
                # flapping connection hands the jobs over instead of bouncing.
                self._hold_off = False
                await asyncio.sleep(2 * self.retry_seconds)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudge.wait(), self.retry_seconds)
            self._nudge.clear()
            await self._attempt()

    async def _attempt(self) -> None:
        try:
            if self.is_leader:
                await self._check()
            else:
                await self._try_lock()
        except self._errors as exc:
            log.warning("leader_connection_failed", error=str(exc) or type(exc).__name__)
            await self._step_down()

    async def _try_lock(self) -> None:
        if not self._postgres:
            await self._become_leader()  # one instance by construction
            return
        if self._conn is None or self._conn.is_closed():
            import asyncpg

            self._conn = await asyncpg.connect(asyncpg_dsn(self.database_url), timeout=10)
            self._conn.add_termination_listener(self._lost)
        got = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=10)
        if got:
            await self._become_leader()

    async def _check(self) -> None:
        if not self._postgres:
            return
        if self._conn is None or self._conn.is_closed():
            raise ConnectionError("the leader's connection is closed")
        await self._conn.fetchval("SELECT 1", timeout=max(self.retry_seconds, 1.0))

    def _lost(self, _conn: object) -> None:
        # PostgreSQL closed the session: the lock is gone; react now, not at the next tick.
        self._nudge.set()

    async def _become_leader(self) -> None:
        self.is_leader = True
        log.info("leader_elected", backend_pid=self.backend_pid)
        try:
            await self.on_elected()
        except Exception:
            # Leading without a working scheduler would hold the jobs hostage:
            # give the lock back (closing the session) and stand again later.
            log.exception("leader_start_failed")
            await self._step_down()

    async def _step_down(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.terminate()  # first: the lock is free for the others at once
        if self.is_leader:
            self.is_leader = False
            self._hold_off = True
            log.warning("leader_deposed")
            await self.on_deposed()

    async def close(self) -> None:
        """Stop trying, stop leading and release the lock by closing the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            self.is_leader = False
            await self.on_deposed()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(*self._errors):
                await asyncio.wait_for(conn.close(), 5)
