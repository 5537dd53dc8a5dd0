"""Use cases for the organisation: schools and rooms, pupils, staff accounts."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import date, datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.rota.planning import DayOutcome
from scheduler.rota.services import replan_ahead
from telepresence.organisation.schemas import PupilIn, PupilPatch, RoomIn, SchoolIn, UserIn
from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.http.context import CLOCK
from telepresence.platform.models import Pupil, Room, School, User
from telepresence.platform.security.auth import hash_secret
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.platform.security.passwords import password_problems
from telepresence.platform.security.permissions import check_may_change
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = [
    "add_room",
    "add_school",
    "add_user",
    "display_name",
    "get_pupil",
    "get_school",
    "list_pupils",
    "list_rooms",
    "list_schools",
    "new_pupil_code",
    "register_pupil",
    "replan_for",
    "set_camera_consent",
    "set_pupil_camera",
    "set_user_active",
    "update_pupil",
]

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ2345679"


def display_name(first_name: str, last_name: str) -> str:
    """First name and initial: what assistants and the class see."""
    return f"{first_name} {last_name[:1]}." if last_name else first_name


def new_pupil_code() -> str:
    """A short code a child can type: six unambiguous characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


async def list_schools(session: AsyncSession, who: Principal) -> list[School]:
    """The provider's schools (an assistant sees only their own)."""
    query = select(School).where(School.provider_id == who.provider_id).order_by(School.name)
    if who.role is Role.ASSISTANT:
        query = query.where(School.id == who.school_id)
    return list(await session.scalars(query))


async def get_school(session: AsyncSession, who: Principal, school_id: str) -> School:
    """A school of the caller's provider; ``NotFound`` otherwise."""
    school = await session.get(School, school_id)
    visible = (
        school is not None
        and school.provider_id == who.provider_id
        and (who.role is not Role.ASSISTANT or school.id == who.school_id)
    )
    if not visible or school is None:
        raise NotFound(f"There is no school {school_id!r}.")
    return school


async def add_school(
    session: AsyncSession, who: Principal, data: SchoolIn, now: datetime
) -> School:
    """Add a home school to the caller's provider."""
    assert who.provider_id is not None
    school = School(provider_id=who.provider_id, created_at=now, **data.model_dump())
    session.add(school)
    await session.flush()
    return school


async def list_rooms(session: AsyncSession, who: Principal, school_id: str) -> list[Room]:
    """A school's rooms by building, floor and name."""
    await get_school(session, who, school_id)
    return list(
        await session.scalars(
            select(Room)
            .where(Room.school_id == school_id)
            .order_by(Room.building, Room.floor, Room.name)
        )
    )


async def add_room(session: AsyncSession, who: Principal, school_id: str, data: RoomIn) -> Room:
    """Add a room; ``Conflict`` when the school already has one of that name."""
    await get_school(session, who, school_id)
    name = unicodedata.normalize("NFC", data.name)
    clash = Conflict(
        f"This school already has a room called {name!r}.",
        errors=[{"field": "name", "message": "the school has a room of this name"}],
    )
    # Compared in Python: SQLite's lower() knows only ASCII ("Éclair" vs "éclair").
    names = await session.scalars(select(Room.name).where(Room.school_id == school_id))
    if any(room_name_key(n) == room_name_key(name) for n in names):
        raise clash
    room = Room(school_id=school_id, **(data.model_dump() | {"name": name}))
    session.add(room)
    try:
        await session.flush()
    except IntegrityError:  # the same name added at the same moment
        raise clash from None
    return room


def room_name_key(name: str) -> str:
    """What makes two room names the same: Unicode case and composition do not count."""
    return unicodedata.normalize("NFC", name).casefold()


async def list_pupils(session: AsyncSession, who: Principal) -> list[Pupil]:
    """The provider's pupils on roll, by last name."""
    return list(
        await session.scalars(
            select(Pupil)
            .where(Pupil.provider_id == who.provider_id)
            .order_by(Pupil.last_name, Pupil.first_name)
        )
    )


async def get_pupil(session: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """A pupil of the caller's provider; ``NotFound`` otherwise."""
    pupil = await session.get(Pupil, pupil_id)
    if pupil is None or pupil.provider_id != who.provider_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    return pupil


async def _check_key_worker(session: AsyncSession, who: Principal, user_id: str | None) -> None:
    if user_id is None:
        return
    user = await session.get(User, user_id)
    if user is None or user.provider_id != who.provider_id or Role(user.role) not in STAFF:
        raise InvalidInput(
            "The key worker must be a member of the hospital school's staff.",
            errors=[{"field": "key_worker_id", "message": "not a member of staff"}],
        )


async def register_pupil(
    session: AsyncSession, who: Principal, data: PupilIn, now: datetime
) -> Pupil:
    """Put a pupil on roll with a fresh pupil code (no PIN until staff set one)."""
    await get_school(session, who, data.school_id)
    await _check_key_worker(session, who, data.key_worker_id)
    code = new_pupil_code()
    while await session.scalar(select(Pupil.id).where(Pupil.pupil_code == code)):
        code = new_pupil_code()
    assert who.provider_id is not None
    pupil = Pupil(provider_id=who.provider_id, pupil_code=code, created_at=now, **data.model_dump())
    session.add(pupil)
    await session.flush()
    return pupil


async def update_pupil(
    session: AsyncSession, who: Principal, pupil_id: str, patch: PupilPatch
) -> Pupil:
    """Apply a patch to a pupil's record."""
    pupil = await get_pupil(session, who, pupil_id)
    changes = patch.model_dump(exclude_unset=True)
    if "key_worker_id" in changes:
        await _check_key_worker(session, who, changes["key_worker_id"])
    for key, value in changes.items():
        if value is not None or key == "key_worker_id":
            setattr(pupil, key, value)
    await session.flush()
    return pupil


async def set_pupil_camera(
    session: AsyncSession, who: Principal, school_id: str, allowed: bool
) -> tuple[School, bool]:
    """Allow (or stop) pupils' cameras at a school; returns the school and whether it changed.

    Applies from each pupil's next join: tokens already issued keep their grant.
    """
    school = await get_school(session, who, school_id)
    changed = school.allow_pupil_camera != allowed
    school.allow_pupil_camera = allowed
    await session.flush()
    return school, changed


async def set_camera_consent(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    consent: bool,
    *,
    given_by: str | None = None,
    given_on: date | None = None,
) -> tuple[Pupil, bool]:
    """Record the pupil's camera consent (with who gave it and when); returns the pupil and
    whether it changed. Withdrawing clears who and when (the audit log keeps the history).

    Raises ``NotFound`` first, then ``Forbidden`` for a coordinator without the provider's leave.
    """
    pupil = await get_pupil(session, who, pupil_id)
    await check_may_change(session, who, "record consent")
    by, on = (given_by, given_on) if given_by or given_on else (None, None)
    if consent and by is None and pupil.camera_consent:  # the same consent again: keep its record
        by, on = pupil.camera_consent_by, pupil.camera_consent_on
    changed = (pupil.camera_consent, pupil.camera_consent_by, pupil.camera_consent_on) != (
        consent,
        by if consent else None,
        on if consent else None,
    )
    pupil.camera_consent = consent
    pupil.camera_consent_by = by if consent else None
    pupil.camera_consent_on = on if consent else None
    await session.flush()
    return pupil, changed


async def add_user(
    session: AsyncSession, provider_id: str | None, data: UserIn, now: datetime
) -> tuple[User, str | None]:
    """Create an account; returns it and the generated password (None if one was given)."""
    email = str(data.email).lower()
    # Only this provider's accounts: another provider's addresses are never told.
    same = select(User.id).where(User.provider_id == provider_id, User.email == email)
    if await session.scalar(same):
        raise Conflict(f"There is already an account for {email}.")
    if data.school_id is not None:
        school = await session.get(School, data.school_id)
        if school is None or school.provider_id != provider_id:
            raise InvalidInput(
                "No such school.", errors=[{"field": "school_id", "message": "no such school"}]
            )
    problems = (
        password_problems(data.password, email=email, name=data.name) if data.password else []
    )
    if problems:
        raise InvalidInput(
            "Choose a stronger password.",
            errors=[{"field": "password", "message": p} for p in problems],
        )
    if data.role is Role.ASSISTANT and data.school_id is None:
        raise InvalidInput(
            "A classroom assistant belongs to a school.",
            errors=[{"field": "school_id", "message": "required for assistants"}],
        )
    generated = None if data.password else secrets.token_urlsafe(12)
    password = data.password or generated
    assert password is not None
    user = User(
        email=email,
        name=data.name,
        role=data.role.value,
        provider_id=provider_id,
        school_id=data.school_id,
        password_hash=await hash_secret(password),
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user, generated


async def set_user_active(
    app: web.Application, session: AsyncSession, who: Principal, user_id: str, active: bool
) -> User:
    """Deactivate (every session revoked at once) or reactivate an account of the provider.

    Raises ``NotFound`` for another provider's account and ``Conflict`` for one's own
    (an administrator cannot lock themself out).
    """
    user = await session.get(User, user_id)
    if user is None or user.provider_id != who.provider_id:
        raise NotFound("There is no such account.")
    if user.id == who.subject_id and not active:
        raise Conflict("You cannot deactivate your own account; ask another administrator.")
    user.active = active
    if not active:
        await revoke_identity(app, session, Identity.USER, user.id, app[CLOCK].now())
    await session.flush()
    return user


async def replan_for(session: AsyncSession, user: User, now: datetime) -> list[DayOutcome]:
    """An assistant who stops or starts again changes who can carry robots: the school's
    planned days are planned again (publish the outcomes after the commit)."""
    if user.role != Role.ASSISTANT.value:
        return []
    return await replan_ahead(session, user.school_id, now)
