"""Retention jobs of the kernel: expired tokens and old audit entries are purged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from telepresence.platform.jobs.runner import JobContext
from telepresence.platform.models import AuditEntry, AuthToken

__all__ = ["purge_expired_tokens", "purge_old_audit"]


async def purge_expired_tokens(ctx: JobContext) -> int:
    """Delete tokens that expired more than a day ago; returns how many."""
    cutoff = ctx.clock.now() - timedelta(days=1)
    async with ctx.database.transaction() as session:
        result = await session.execute(delete(AuthToken).where(AuthToken.expires_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_old_audit(ctx: JobContext) -> int:
    """Delete audit entries past ``audit_retention_days``; returns how many."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.audit_retention_days)
    async with ctx.database.transaction() as session:
        result = await session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
