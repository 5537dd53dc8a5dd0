"""Revoking an identity: its sign-in tokens, and whatever features derived from them.

A pupil whose PIN is reset, a deactivated pupil or person, a robot whose
credential is rotated or revoked: their sign-in tokens stop working at once
(a database write), and every feature that handed them something longer-lived
(a live lesson's token) revokes that too, in the same transaction, through a
hook the composition root installs. The kernel knows no feature: it only
calls the hooks.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform import auth

__all__ = [
    "REVOCATION_HOOKS",
    "Identity",
    "RevocationHook",
    "install_revocation_hooks",
    "revoke_identity",
]


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
