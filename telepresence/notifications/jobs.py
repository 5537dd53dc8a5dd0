"""Timed jobs of notifications: send a prepared notice at a set time."""

from __future__ import annotations

from telepresence.notifications.services import NotificationService
from telepresence.platform.events.notifier import Notice
from telepresence.platform.jobs.runner import JobContext

__all__ = ["deliver_notice", "resend_stalled_email"]


async def deliver_notice(
    ctx: JobContext,
    *,
    idempotency_key: str,
    kind: str,
    subject: str,
    body: str,
    user_id: str | None = None,
    email: str | None = None,
    link: str | None = None,
) -> bool:
    """Send one notice (for ``JobRunner.schedule_once``); False when its key was already sent."""
    if ctx.notifier is None:
        raise RuntimeError("the job context has no notifier")
    return await ctx.notifier.notify(
        Notice(
            idempotency_key=idempotency_key,
            kind=kind,
            subject=subject,
            body=body,
            user_id=user_id,
            email=email,
            link=link,
        )
    )


async def resend_stalled_email(ctx: JobContext) -> int:
    """Maintenance: email the notices an instance recorded but died before sending."""
    if not isinstance(ctx.notifier, NotificationService):
        return 0
    return await ctx.notifier.resend_stalled()
