"""Inviting the home school's contact by email, and their first password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Conflict, Gone, InvalidInput, NotFound
from telepresence.platform.events.notifier import Notice
from telepresence.platform.models import Pupil, User
from telepresence.platform.security.auth import hash_secret
from telepresence.platform.security.identity import Principal, Role, hash_token
from telepresence.reintegration.access import pupil_for_staff
from telepresence.reintegration.models import Invitation, SchoolContactLink

__all__ = ["Invited", "accept_invitation", "invitation_notice", "invite_contact", "open_invitation"]

LIFETIME = timedelta(days=7)
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class Invited:
    """The outcome of an invitation: the account, and the link when a new one was made."""

    user: User
    pupil: Pupil
    token: str | None


async def invite_contact(
    session: AsyncSession, who: Principal, pupil_id: str, email: str, name: str, now: datetime
) -> Invited:
    """Invite ``email`` as the school contact for the pupil.

    A new address gets an account of role ``school_contact`` at the pupil's
    school and a one-time link to set a password. The same school's contact
    may be linked to a further pupil (no new link). Any other account with
    that address is a ``Conflict``, as is inviting the same contact twice.
    """
    pupil = await pupil_for_staff(session, who, pupil_id)
    address = email.strip().lower()
    # Only the pupil's provider's accounts: another provider's addresses are never told.
    user = await session.scalar(
        select(User).where(User.email == address, User.provider_id == pupil.provider_id)
    )
    token: str | None = None
    if user is not None:
        same_school = (
            user.role == Role.SCHOOL_CONTACT.value
            and user.school_id == pupil.school_id
            and user.provider_id == pupil.provider_id
        )
        if not same_school:
            raise Conflict("That email address is already in use by another account.")
        linked = await session.scalar(
            select(SchoolContactLink).where(
                SchoolContactLink.user_id == user.id, SchoolContactLink.pupil_id == pupil.id
            )
        )
        if linked is not None:
            raise Conflict("That contact has already been invited for this pupil.")
    else:
        user = User(
            email=address,
            name=name,
            role=Role.SCHOOL_CONTACT.value,
            password_hash=await hash_secret(secrets.token_urlsafe(32)),
            provider_id=pupil.provider_id,
            school_id=pupil.school_id,
            active=True,
            created_at=now,
        )
        session.add(user)
        await session.flush()
        token = secrets.token_urlsafe(32)
        session.add(
            Invitation(token_hash=hash_token(token), user_id=user.id, expires_at=now + LIFETIME)
        )
    session.add(
        SchoolContactLink(
            user_id=user.id, pupil_id=pupil.id, invited_by=who.subject_id, invited_at=now
        )
    )
    await session.flush()
    return Invited(user, pupil, token)


def invitation_notice(invited: Invited, inviter: str) -> Notice:
    """The email (and in-app notice) that carries the invitation link."""
    pupil = f"{invited.pupil.first_name} {invited.pupil.last_name[:1]}."
    link = f"/invitations/{invited.token}" if invited.token else "/school"
    body = (
        f"{inviter} of the hospital school has invited you to follow {pupil}'s plan for "
        "returning to school in Classbridge: the plan, the actions agreed with your school "
        "and the notes shared with you."
    )
    if invited.token:
        body += " Open the link below to choose your password (it works for 7 days)."
    return Notice(
        idempotency_key=f"reintegration-invite:{invited.user.id}:{invited.pupil.id}",
        kind="reintegration_invitation",
        subject=f"Classbridge: {pupil}'s return to school",
        body=body,
        user_id=invited.user.id,
        email=invited.user.email,
        link=link,
    )


async def open_invitation(session: AsyncSession, token: str, now: datetime) -> Invitation:
    """The live invitation behind a link; ``NotFound`` or ``Gone`` otherwise."""
    row = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if row is None:
        raise NotFound("This invitation link is not known.")
    if row.used_at is not None or row.expires_at <= now:
        raise Gone("This invitation link has been used or has expired; ask for a new one.")
    return row


async def accept_invitation(
    session: AsyncSession, token: str, password: str, now: datetime
) -> User:
    """Set the invited contact's password once; the link then stops working."""
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise InvalidInput(f"Choose a password of at least {MIN_PASSWORD} characters.")
    row = await open_invitation(session, token, now)
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise Gone("This account is no longer active.")
    user.password_hash = await hash_secret(password)
    row.used_at = now
    return user
