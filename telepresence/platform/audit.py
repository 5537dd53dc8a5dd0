"""The audit log: who read or changed which pupil's record, and every admin action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.context import CLOCK
from telepresence.platform.identity import Principal
from telepresence.platform.logging import REQUEST_ID
from telepresence.platform.models import AuditEntry

__all__ = ["entries", "record", "record_request"]


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
