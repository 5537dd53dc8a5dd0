"""Sign-in and tokens: passwords and PINs (argon2), sessions and API tokens (hashed)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from telepresence.platform.errors import Unauthorized
from telepresence.platform.models import AuthToken, Pupil, User
from telepresence.platform.security.identity import (
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
)

__all__ = [
    "PrincipalCache",
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
MIN_CHECKS = 2


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
    """The active user with this email and password; raises ``Unauthorized`` otherwise.

    An address may have an account at more than one provider (creating one never
    tells an administrator that another provider has it): the password says
    which. At least ``MIN_CHECKS`` hashes are checked, so the time a sign-in
    takes tells nobody whether an address has no, one or two accounts.
    """
    users = list(
        await session.scalars(
            select(User)
            .where(User.email == email.strip().lower())
            .order_by(User.created_at, User.id)
        )
    )
    hashes: list[str | None] = [u.password_hash for u in users]
    hashes += [None] * (MIN_CHECKS - len(hashes))
    matches = [await verify_secret(hashed, password) for hashed in hashes]
    for user, ok in zip(users, matches, strict=False):
        if ok and user.active:
            return user
    raise Unauthorized(SIGN_IN_FAILED)


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
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    return _person(found)


def _person(found: Any) -> Principal | None:
    (token_id, _, expires_at, user_id, pupil_id, role, name, user_active) = found[:8]
    if user_id is not None and role is not None and user_active:
        return Principal(
            role=Role(role),
            subject_id=user_id,
            display_name=name,
            provider_id=found[8],
            school_id=found[9],
            token_id=token_id,
            expires_at=expires_at,
        )
    first, last, pupil_active, provider_id, school_id = found[10:]
    if user_id is None and pupil_id is not None and first is not None and pupil_active:
        return Principal(
            role=Role.PUPIL,
            subject_id=pupil_id,
            display_name=f"{first} {last[:1]}.",
            provider_id=provider_id,
            school_id=school_id,
            token_id=token_id,
            expires_at=expires_at,
        )
    return None


# --- recently resolved sign-in tokens ------------------------------------------------------

PRINCIPAL_TTL_S = 2.0
_changes = [0]  # bumped when a commit in this process may have revoked a sign-in


class PrincipalCache:
    """Sign-in tokens resolved in the last ``ttl`` seconds, so a burst of requests pays once.

    Revocation is honoured: a commit in this process that revokes or deletes a token,
    or changes or deletes a user or pupil, empties the cache at once (SQLAlchemy session
    events below); a revocation on another instance takes effect here within ``ttl``.
    An entry never outlives its token's ``expires_at``.
    """

    def __init__(self, ttl: float = PRINCIPAL_TTL_S, size: int = 20_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[Principal, float, int]] = {}

    def get(self, digest: str, now: datetime) -> Principal | None:
        """The cached principal of a token digest, or None (look it up)."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, until, generation = entry
        expires = principal.expires_at
        if generation != _changes[0] or time.monotonic() >= until or (expires and expires <= now):
            del self._entries[digest]
            return None
        return principal

    def put(self, digest: str, principal: Principal) -> None:
        """Remember a principal resolved just now."""
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl, _changes[0])


_WATCHED = frozenset({"auth_tokens", "users", "pupils", "schools", "providers"})


def _touches_people(session: Session) -> bool:
    return any(
        getattr(obj, "__tablename__", None) in _WATCHED
        for obj in (*session.dirty, *session.deleted)
    )


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    if _touches_people(session):
        session.info["people_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if not (state.is_update or state.is_delete):
        return
    table = getattr(getattr(statement, "table", None), "name", None)
    if state.is_delete and table is not None:
        state.session.info["people_changed"] = True  # cascades reach tokens through any table
    elif table in _WATCHED and not _only_locks(statement):
        state.session.info["people_changed"] = True


def _only_locks(statement: Any) -> bool:
    """``UPDATE t SET c = c`` (a row lock, as ``lock_pupil`` takes) changes nothing."""
    values = getattr(statement, "_values", None) or {}
    return bool(values) and all(
        getattr(value, "key", None) == getattr(column, "key", column)
        for column, value in values.items()
    )


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("people_changed", False):
        _changes[0] += 1


@event.listens_for(Session, "after_soft_rollback")
def _keep_on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("people_changed", None)


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
