"""The audit log: who read or changed which pupil's record, and every admin action.

A change is audited in its own transaction (``record``): the entry and the change
commit together or not at all. A read changes nothing, so its entry is written
behind (``record_read``): queued and written in batches by ``ReadAudit`` within about
a second, and everything queued is written before the process ends. Readers of the
log in this process flush it first, so they see every read made before theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.database import Database
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.models import AuditEntry
from telepresence.platform.operations.logging import REQUEST_ID
from telepresence.platform.security.identity import Principal

__all__ = [
    "READ_AUDIT",
    "ReadAudit",
    "entries",
    "flush_reads",
    "record",
    "record_read",
    "record_request",
]

log = structlog.get_logger("classbridge.audit")


def record(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: str,
    at: datetime,
    request_id: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the session's transaction (written with the change itself)."""
    session.add(
        AuditEntry(
            at=at,
            provider_id=actor.provider_id,
            actor_role=actor.role.value,
            actor_id=actor.subject_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            request_id=request_id,
            details=details or {},
        )
    )


def record_request(
    request: web.Request,
    session: AsyncSession,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """``record`` with the time and request id of the current request."""
    record(
        session,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        at=request.app[CLOCK].now(),
        request_id=request.get(REQUEST_ID, ""),
        details=details,
    )


# --- reads, written behind ----------------------------------------------------------------


class ReadAudit:
    """Read-audit entries queued (at most ``limit``) and written in batches behind requests.

    ``add`` never drops an entry: with the queue full it says so and the caller writes
    its entry itself. A batch that fails to write (the database gone for a moment)
    stays queued and is tried again. ``close`` writes everything still queued.
    """

    def __init__(
        self, database: Database, *, limit: int = 10_000, every_s: float = 0.5, batch: int = 500
    ) -> None:
        self.database = database
        self.limit = limit
        self.every_s = every_s
        self.batch = batch
        self._queued: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._queued)

    def start(self) -> None:
        """Start the flusher (on the running loop); safe to call twice."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="read-audit")

    def add(self, entry: dict[str, Any]) -> bool:
        """Queue an entry (the columns of ``AuditEntry``); False when full or closed."""
        if self._closed or self._task is None or len(self._queued) >= self.limit:
            return False
        self._queued.append(entry)
        if len(self._queued) >= self.batch:
            self._wake.set()
        return True

    async def flush(self) -> None:
        """Write every entry queued before this call (a reader of the log calls it first)."""
        async with self._lock:
            while self._queued:
                rows = [self._queued.popleft() for _ in range(min(self.batch, len(self._queued)))]
                try:
                    async with self.database.engine.begin() as conn:
                        await conn.execute(insert(AuditEntry), rows)
                except BaseException:
                    self._queued.extendleft(reversed(rows))  # kept, in order, for the next try
                    raise

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every_s)
            self._wake.clear()
            try:
                await self.flush()
            except (SQLAlchemyError, OSError):
                log.warning("read_audit_deferred", queued=len(self._queued), exc_info=True)

    async def close(self) -> None:
        """Stop the flusher and write what is queued (tries three times); safe to call twice."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for attempt in range(3):
            try:
                await self.flush()
            except (SQLAlchemyError, OSError):
                if attempt == 2:
                    log.exception("read_audit_lost", entries=len(self._queued))
                    return
                await asyncio.sleep(0.5)
            else:
                return


READ_AUDIT = web.AppKey("read_audit", ReadAudit)


async def record_read(
    request: web.Request,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit a read of a record: queued for ``ReadAudit``, or written at once if it is full.

    Call it once the read has succeeded (a refused read is not a read).
    """
    entry = {
        "at": request.app[CLOCK].now(),
        "provider_id": actor.provider_id,
        "actor_role": actor.role.value,
        "actor_id": actor.subject_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "request_id": request.get(REQUEST_ID, ""),
        "details": details or {},
    }
    behind = request.app.get(READ_AUDIT)
    if behind is not None and behind.add(entry):
        return
    async with request.app[DATABASE].engine.begin() as conn:
        await conn.execute(insert(AuditEntry), [entry])


async def flush_reads(app: web.Application) -> None:
    """Write this process's queued read entries (before reading the log)."""
    behind = app.get(READ_AUDIT)
    if behind is not None:
        await behind.flush()


async def entries(
    session: AsyncSession,
    *,
    provider_id: str | None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The provider's audit entries, newest first, filtered as asked.

    A caller without a provider sees nothing: entries never cross providers.
    """
    if provider_id is None:
        return []
    query = (
        select(AuditEntry)
        .where(AuditEntry.provider_id == provider_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    return list(await session.scalars(query))
