"""Roles, the authenticated caller (``Principal``) and opaque tokens.

Tokens are random, carry a prefix naming their kind (so a resolver can be
chosen without a lookup) and are stored only as SHA-256 digests: they have
256 bits of entropy, so a slow hash would add cost without adding safety.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "PUBLIC",
    "STAFF",
    "Principal",
    "Public",
    "Role",
    "TokenKind",
    "csrf_token",
    "hash_token",
    "new_token",
    "token_kind",
    "token_matches",
]


class Role(enum.StrEnum):
    """Who the caller is; every route and socket message names the roles it admits."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    HOSPITAL_STAFF = "hospital_staff"
    ASSISTANT = "assistant"
    SCHOOL_CONTACT = "school_contact"
    PUPIL = "pupil"
    DEVICE = "device"


STAFF = frozenset({Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF})


class Public(enum.Enum):
    """Marker for routes that anyone may call (login, health, the OpenAPI document)."""

    ANYONE = "anyone"


PUBLIC = Public.ANYONE


class TokenKind(enum.StrEnum):
    """What a token is for; its value is the token's prefix."""

    SESSION = "cbs"
    API = "cba"
    DEVICE = "cbd"
    LESSON = "cbl"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or socket."""

    role: Role
    subject_id: str
    display_name: str
    provider_id: str | None = None
    school_id: str | None = None
    token_id: str | None = None
    expires_at: datetime | None = None  # when the token it came with expires

    @property
    def is_staff(self) -> bool:
        """Admin, coordinator or hospital staff."""
        return self.role in STAFF


def new_token(kind: TokenKind) -> str:
    """A fresh opaque token of the given kind (shown once, never stored)."""
    return f"{kind.value}_{secrets.token_urlsafe(32)}"


def token_kind(token: str) -> TokenKind | None:
    """The kind named by a token's prefix, or None for a malformed token."""
    prefix, sep, rest = token.partition("_")
    if not sep or len(rest) < 20 or len(token) > 200:
        return None
    try:
        return TokenKind(prefix)
    except ValueError:
        return None


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(header: str, expected: str) -> bool:
    """Whether an ``Authorization`` header carries exactly ``Bearer <expected>`` (constant time)."""
    scheme, _, sent = header.partition(" ")
    if scheme.lower() != "bearer" or not expected:
        return False
    return hmac.compare_digest(sent.strip().encode(), expected.encode())


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token bound to one login session (HMAC, so it needs no storage)."""
    return hmac.new(secret.encode(), session_token.encode(), hashlib.sha256).hexdigest()[:40]
