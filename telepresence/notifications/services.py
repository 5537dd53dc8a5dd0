"""Sending notices (recorded first, each key once) and the signed-in user's in-app list."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.notifications.domain import (
    EmailStatus,
    MailFailed,
    check_notice,
    email_message,
    retry_delays,
)
from telepresence.notifications.models import Notification
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database, new_id
from telepresence.platform.errors import NotFound
from telepresence.platform.events.events import EventHub
from telepresence.platform.events.notifier import Notice

__all__ = ["Mailer", "NotificationService", "list_for_user", "mark_read", "unread_count"]

log = structlog.get_logger("classbridge.notifications")
CLAIM = timedelta(minutes=5)
"""A sender's claim on a due email: longer than a send may take (``smtp_timeout_seconds``
is at most 2 minutes); an instance that died mid-send leaves it due again after this."""
MAX_RETRY = timedelta(minutes=30)
"""The longest wait between two tries of one email (the doubling stops there)."""
POLL_SECONDS = 30.0
"""The sender looks for due emails this often, and at once when a notice is recorded."""
BATCH = 50


class Mailer(Protocol):
    """Hands an email to a server; raises ``MailFailed`` when it cannot."""

    async def send(self, message: EmailMessage) -> None: ...


def user_topic(user_id: str) -> str:
    """The live-event topic of one user's notifications."""
    return f"notifications:{user_id}"


class NotificationService:
    """The service's ``Notifier``: records every notice; its email is queued in the row.

    ``notify`` never talks to the SMTP server: the row is due at once and the
    background sender (``start``) sends it within moments, on any instance; a
    failed try is due again after ``first_retry_seconds``, doubling (at most
    ``MAX_RETRY``), until ``attempts`` tries have failed. ``send_due`` is one pass.
    Without a mailer (no SMTP configured) notices are in-app only; that is
    logged once, when the service is built.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        mailer: Mailer | None,
        *,
        sender: str,
        base_url: str,
        attempts: int = 3,
        first_retry_seconds: float = 1.0,
        events: EventHub | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.mailer = mailer
        self.sender = sender
        self.base_url = base_url
        self.attempts = attempts
        self.delays = retry_delays(attempts, first_retry_seconds)
        self.events = events
        self.sent = 0
        self.failed = 0
        """Emails sent, and given up after every try, by this process."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if mailer is None:
            log.warning("smtp_not_configured", effect="notifications are in-app only")

    async def notify(self, notice: Notice) -> bool:
        """Record ``notice`` and queue its email; False (and nothing more) when its key was
        used before.

        The record is one transaction, so two instances or two runs of a job racing
        on one key send one email. Raises ``InvalidInput`` for a notice without key or
        recipient.
        """
        check_notice(notice)
        queued = bool(notice.email) and self.mailer is not None
        row_id = await self._record(notice, self.clock.now(), queued=queued)
        if row_id is None:
            log.info("notification_duplicate", key=notice.idempotency_key)
            return False
        if notice.user_id is not None and self.events is not None:
            self.events.publish(user_topic(notice.user_id), {"id": row_id, "kind": notice.kind})
        if not notice.email:
            await self._outcome(row_id, EmailStatus.NO_ADDRESS, 0, None)
        elif self.mailer is None:
            await self._outcome(row_id, EmailStatus.NOT_CONFIGURED, 0, None)
        else:
            self._wake.set()
        return True

    def start(self) -> None:
        """Send queued emails in the background from now on (each instance may: claims)."""
        if self._task is None and self.mailer is not None:
            self._task = asyncio.get_running_loop().create_task(self._sender())

    async def close(self) -> None:
        """Stop the background sender (what is due stays queued for the next one)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sender(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                while await self.send_due() == BATCH:
                    pass
            except Exception:
                # A database hiccup: the emails stay queued, the next pass tries again.
                log.exception("email_sender_failed")

    async def send_due(self) -> int:
        """Try once each email due now (at most ``BATCH``), each claimed by one atomic
        update so that no two instances send it; how many were tried."""
        if self.mailer is None:
            return 0
        now = self.clock.now()
        async with self.database.sessions() as session:
            due = (
                await session.scalars(
                    select(Notification)
                    .where(Notification.email_next_at <= now)
                    .order_by(Notification.email_next_at)
                    .limit(BATCH)
                )
            ).all()
        tried = 0
        for row in due:
            async with self.database.transaction() as session:
                claimed = await session.execute(
                    update(Notification)
                    .where(Notification.id == row.id, Notification.email_next_at <= now)
                    .values(email_next_at=now + CLAIM)
                )
            if claimed.rowcount:  # type: ignore[attr-defined]
                await self._try(row.id, _notice_of(row), row.email_attempts + 1)
                tried += 1
        return tried

    async def resend_stalled(self) -> int:
        """The maintenance job's pass (a safety net beside the background sender)."""
        return await self.send_due()

    async def queued(self) -> int:
        """Emails waiting to be sent (due or retrying later), across instances."""
        async with self.database.sessions() as session:
            query = select(func.count()).where(Notification.email_next_at.is_not(None))
            return int((await session.execute(query)).scalar_one())

    async def _record(self, notice: Notice, now: datetime, *, queued: bool) -> str | None:
        dialect = postgresql if self.database.dialect == "postgresql" else sqlite
        row_id = new_id()
        insert = (
            dialect.insert(Notification)
            .values(
                id=row_id,
                idempotency_key=notice.idempotency_key,
                kind=notice.kind,
                user_id=notice.user_id,
                email=notice.email or None,
                subject=notice.subject,
                body=notice.body,
                link=notice.link,
                created_at=now,
                email_status=EmailStatus.PENDING.value,
                email_attempts=0,
                email_next_at=now if queued else None,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id)
        )
        async with self.database.transaction() as session:
            inserted: str | None = (await session.execute(insert)).scalar()
        return inserted

    async def _try(self, row_id: str, notice: Notice, attempt: int) -> None:
        """One try of a claimed email: sent, due again later, or failed for good."""
        if self.mailer is None:
            raise RuntimeError("no mailer")
        try:
            await self.mailer.send(email_message(notice, self.sender, self.base_url))
        except MailFailed as exc:
            error = str(exc)
            log.warning("email_failed", key=notice.idempotency_key, attempt=attempt, error=error)
            if attempt > len(self.delays):
                self.failed += 1
                await self._outcome(row_id, EmailStatus.FAILED, attempt, error)
                return
            wait = min(timedelta(seconds=self.delays[attempt - 1]), MAX_RETRY)
            later = self.clock.now() + wait
            await self._outcome(row_id, EmailStatus.RETRYING, attempt, error, next_at=later)
            return
        self.sent += 1
        await self._outcome(row_id, EmailStatus.SENT, attempt, None, sent=True)

    async def _outcome(
        self,
        row_id: str,
        status: EmailStatus,
        attempts: int,
        error: str | None,
        *,
        sent: bool = False,
        next_at: datetime | None = None,
    ) -> None:
        values: dict[str, object] = {
            "email_status": status.value,
            "email_attempts": attempts,
            "email_error": error[:300] if error else None,
            "email_next_at": next_at,
        }
        if sent:
            values["emailed_at"] = self.clock.now()
        async with self.database.transaction() as session:
            await session.execute(
                update(Notification).where(Notification.id == row_id).values(**values)
            )


def _notice_of(row: Notification) -> Notice:
    return Notice(
        idempotency_key=row.idempotency_key,
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        user_id=row.user_id,
        email=row.email,
        link=row.link,
    )


async def list_for_user(
    session: AsyncSession, user_id: str, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """The user's in-app notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id).limit(limit)
    return list((await session.scalars(query)).all())


async def unread_count(session: AsyncSession, user_id: str) -> int:
    """How many of the user's notifications are unread."""
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int((await session.execute(query)).scalar_one())


async def mark_read(
    session: AsyncSession, user_id: str, notification_id: str, now: datetime
) -> Notification:
    """Mark one of the user's notifications read (idempotent); ``NotFound`` if not theirs."""
    row = await session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound("No such notification.")
    if row.read_at is None:
        row.read_at = now
    return row
