"""Sending notices (recorded first, each key once) and the signed-in user's in-app list."""

from __future__ import annotations

import asyncio
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
STALLED = timedelta(minutes=10)
"""A notice still unsent this long after it was recorded was cut off mid-send."""


class Mailer(Protocol):
    """Hands an email to a server; raises ``MailFailed`` when it cannot."""

    async def send(self, message: EmailMessage) -> None: ...


def user_topic(user_id: str) -> str:
    """The live-event topic of one user's notifications."""
    return f"notifications:{user_id}"


class NotificationService:
    """The service's ``Notifier``: records every notice, then emails it with bounded retries.

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
        self.delays = retry_delays(attempts, first_retry_seconds)
        self.events = events
        if mailer is None:
            log.warning("smtp_not_configured", effect="notifications are in-app only")

    async def notify(self, notice: Notice) -> bool:
        """Record ``notice`` and email it; False (and nothing sent) when its key was used before.

        The record comes first, inside its own transaction, so two
        instances or two runs of a job racing on one key send one email.
        Raises ``InvalidInput`` for a notice without key or recipient.
        """
        check_notice(notice)
        row_id = await self._record(notice, self.clock.now())
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
            await self._email(row_id, notice)
        return True

    async def resend_stalled(self, older_than: timedelta = STALLED) -> int:
        """Email notices recorded but never sent (the instance died mid-send); returns how many.

        Only notices still ``pending`` after ``older_than`` (far longer than
        a send with all its retries takes) are picked, each claimed by one
        atomic update, so a notice is never emailed by two instances.
        """
        if self.mailer is None:
            return 0
        cutoff = self.clock.now() - older_than
        async with self.database.sessions() as session:
            stalled = (
                await session.scalars(
                    select(Notification)
                    .where(
                        Notification.email_status == EmailStatus.PENDING.value,
                        Notification.email.is_not(None),
                        Notification.created_at < cutoff,
                    )
                    .order_by(Notification.created_at)
                    .limit(100)
                )
            ).all()
        sent = 0
        for row in stalled:
            async with self.database.transaction() as session:
                claimed = await session.execute(
                    update(Notification)
                    .where(
                        Notification.id == row.id,
                        Notification.email_status == EmailStatus.PENDING.value,
                    )
                    .values(email_status=EmailStatus.RETRYING.value)
                )
            if claimed.rowcount:  # type: ignore[attr-defined]
                await self._email(row.id, _notice_of(row))
                sent += 1
        return sent

    async def _record(self, notice: Notice, now: datetime) -> str | None:
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
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id)
        )
        async with self.database.transaction() as session:
            inserted: str | None = (await session.execute(insert)).scalar()
        return inserted

    async def _email(self, row_id: str, notice: Notice) -> None:
        if self.mailer is None:
            raise RuntimeError("no mailer")
        message = email_message(notice, self.sender, self.base_url)
        error = ""
        for attempt, delay in enumerate([0.0, *self.delays], start=1):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self.mailer.send(message)
            except MailFailed as exc:
                error = str(exc)
                log.warning(
                    "email_failed", key=notice.idempotency_key, attempt=attempt, error=error
                )
                continue
            await self._outcome(row_id, EmailStatus.SENT, attempt, None, sent=True)
            return
        await self._outcome(row_id, EmailStatus.FAILED, len(self.delays) + 1, error)

    async def _outcome(
        self,
        row_id: str,
        status: EmailStatus,
        attempts: int,
        error: str | None,
        *,
        sent: bool = False,
    ) -> None:
        values: dict[str, object] = {
            "email_status": status.value,
            "email_attempts": attempts,
            "email_error": error[:300] if error else None,
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
