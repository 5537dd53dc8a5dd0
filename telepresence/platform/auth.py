"""Sign-in and tokens: passwords and PINs (argon2), sessions and API tokens (hashed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Unauthorized
from telepresence.platform.identity import (
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
)
from telepresence.platform.models import AuthToken, Pupil, User

__all__ = [
    "hash_secret",
    "issue_token",
    "login_pupil",
    "login_user",
    "resolve_person_token",
    "revoke_token",
    "revoke_tokens_of",
    "verify_secret",
]

_hasher = PasswordHasher()
# A hash of a random string, verified when the email is unknown so that a
# wrong email and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash("classbridge-no-such-user")
SIGN_IN_FAILED = "The email or password is not right."


async def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or PIN (computed off the event loop)."""
    return await asyncio.to_thread(_hasher.hash, secret)


async def verify_secret(hashed: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``hashed`` (False for a missing or malformed hash)."""
    try:
        return await asyncio.to_thread(_hasher.verify, hashed or _DUMMY_HASH, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def issue_token(
    session: AsyncSession,
    *,
    kind: TokenKind,
    role: Role,
    now: datetime,
    lifetime: timedelta,
    user_id: str | None = None,
    pupil_id: str | None = None,
) -> tuple[str, AuthToken]:
    """Create a session or API token; returns the token (shown once) and its row."""
    token = new_token(kind)
    row = AuthToken(
        token_hash=hash_token(token),
        kind=kind.value,
        role=role.value,
        user_id=user_id,
        pupil_id=pupil_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return token, row


async def login_user(session: AsyncSession, email: str, password: str) -> User:
    """The active user with this email and password; raises ``Unauthorized`` otherwise."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    ok = await verify_secret(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise Unauthorized(SIGN_IN_FAILED)
    return user


async def login_pupil(session: AsyncSession, code: str, pin: str) -> Pupil:
    """The active pupil with this pupil code and PIN; raises ``Unauthorized`` otherwise."""
    pupil = await session.scalar(select(Pupil).where(Pupil.pupil_code == code.strip().upper()))
    ok = await verify_secret(pupil.pin_hash if pupil else None, pin)
    if pupil is None or not ok or not pupil.active:
        raise Unauthorized("That pupil code and PIN do not match. Ask your teacher for help.")
    return pupil


async def resolve_person_token(
    session: AsyncSession, digest: str, now: datetime
) -> Principal | None:
    """The principal behind a live session or API token digest, or None.

    One round trip: the token with its user or pupil (every authenticated request
    pays it). Plain columns, not ORM objects: nothing here is changed.
    """
    found = (
        await session.execute(
            select(
                AuthToken.id,
                AuthToken.revoked_at,
                AuthToken.expires_at,
                AuthToken.user_id,
                AuthToken.pupil_id,
                User.role,
                User.name,
                User.active,
                User.provider_id,
                User.school_id,
                Pupil.first_name,
                Pupil.last_name,
                Pupil.active,
                Pupil.provider_id,
                Pupil.school_id,
            )
            .outerjoin(User, User.id == AuthToken.user_id)
            .outerjoin(Pupil, Pupil.id == AuthToken.pupil_id)
            .where(AuthToken.token_hash == digest)
        )
    ).first()
    if found is None:
        return None
    (token_id, revoked_at, expires_at, user_id, pupil_id, role, name, user_active) = found[:8]
    if revoked_at is not None or expires_at <= now:
        return None
    if user_id is not None:
        if role is None or not user_active:
            return None
        return Principal(
            role=Role(role),
            subject_id=user_id,
            display_name=name,
            provider_id=found[8],
            school_id=found[9],
            token_id=token_id,
        )
    if pupil_id is not None:
        first, last, pupil_active, provider_id, school_id = found[10:]
        if first is None or not pupil_active:
            return None
        return Principal(
            role=Role.PUPIL,
            subject_id=pupil_id,
            display_name=f"{first} {last[:1]}.",
            provider_id=provider_id,
            school_id=school_id,
            token_id=token_id,
        )
    return None


async def revoke_token(session: AsyncSession, token_id: str, now: datetime) -> None:
    """Revoke one token at once."""
    await session.execute(
        update(AuthToken)
        .where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_tokens_of(
    session: AsyncSession,
    *,
    now: datetime,
    user_id: str | None = None,
    pupil_id: str | None = None,
) -> int:
    """Revoke every live token of a user or pupil; returns how many."""
    query = update(AuthToken).where(AuthToken.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(AuthToken.user_id == user_id)
    elif pupil_id is not None:
        query = query.where(AuthToken.pupil_id == pupil_id)
    else:
        raise ValueError("name a user or a pupil")
    result = await session.execute(query.values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
