"""Use cases of live sessions: join, resolve a participant's token, record, end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.platform.errors import Conflict, NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import (
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
)
from telepresence.platform.settings import Settings
from telepresence.sessions.domain import (
    EventKind,
    Participant,
    SessionWindow,
    TurnSettings,
    ice_servers,
    window_for,
)
from telepresence.sessions.models import LessonSession, SessionEvent, SessionToken

__all__ = [
    "JoinTicket",
    "TokenHolder",
    "booking_window",
    "end_session",
    "issue_session_token",
    "join_as_pupil",
    "open_session",
    "record_event",
    "resolve_session_token",
    "turn_settings",
]


@dataclass(frozen=True)
class JoinTicket:
    """What a participant needs to join: the session, a token (shown once), ICE servers."""

    session_id: str
    booking_id: str
    token: str
    participant: Participant
    ice_servers: list[dict[str, object]]
    closes_at: datetime
    robot_id: str
    subject: str
    pupil_camera: bool = False


@dataclass(frozen=True)
class TokenHolder:
    """A live session token's session and participant."""

    session: LessonSession
    participant: Participant
    token_id: str
    pupil_camera: bool = False
    joined_before: bool = False  # this end joined the session before (a rejoin)


def turn_settings(settings: Settings) -> TurnSettings:
    """The operator's STUN/TURN configuration."""
    secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
    return TurnSettings(tuple(settings.stun_urls), tuple(settings.turn_urls), secret)


def booking_window(booking: Booking, settings: Settings) -> SessionWindow:
    """The booking's session window under the service's settings."""
    return window_for(
        booking.starts_at,
        booking.ends_at,
        join_before=timedelta(minutes=settings.session_join_before_minutes),
        grace=timedelta(minutes=settings.session_grace_minutes),
    )


async def open_session(
    db: AsyncSession, booking: Booking, now: datetime, settings: Settings
) -> LessonSession:
    """The booking's session, created if needed (its window must be open)."""
    window = booking_window(booking, settings)
    if not window.contains(now):
        raise Conflict(window.explain(now))
    return await _session_for(db, booking, window, now)


_UNLOADED: Any = object()


async def _session_for(
    db: AsyncSession,
    booking: Booking,
    window: SessionWindow,
    now: datetime,
    loaded: LessonSession | None = _UNLOADED,
) -> LessonSession:
    """The booking's session, created or reopened; ``loaded`` is it if the caller read it."""
    session = (
        await db.scalar(select(LessonSession).where(LessonSession.booking_id == booking.id))
        if loaded is _UNLOADED
        else loaded
    )
    if session is None:
        session = LessonSession(
            booking_id=booking.id,
            pupil_id=booking.pupil_id,
            robot_id=booking.classroom_device_id,
            opens_at=window.opens,
            closes_at=window.closes,
            created_at=now,
        )
        try:
            async with db.begin_nested():
                db.add(session)
        except IntegrityError:
            # Both ends raced to open it; the other one won, which is just as good.
            session = await db.scalar(
                select(LessonSession).where(LessonSession.booking_id == booking.id)
            )
            assert session is not None
        else:
            await record_event(db, session.id, None, EventKind.OPENED, {}, now)
    elif session.status == "ended":
        session.status, session.ended_at, session.end_reason = "open", None, None
        await record_event(
            db, session.id, Participant.PUPIL, EventKind.OPENED, {"reopened": True}, now
        )
    return session


async def issue_session_token(
    db: AsyncSession,
    session: LessonSession,
    participant: Participant,
    now: datetime,
    *,
    pupil_camera: bool = False,
    revoke_earlier: bool = True,
) -> str:
    """A new token for one end; unless told otherwise the end's earlier tokens stop working.

    ``pupil_camera`` is the grant the token carries for the whole of its life: whether
    this end may offer to send video (only ever true for the pupil's end).
    ``revoke_earlier=False`` is for robots: two invitations that cross (a robot's
    hello and the pupil's join at the same moment) must not refuse each other's token.
    """
    if revoke_earlier:
        await db.execute(
            update(SessionToken)
            .where(
                SessionToken.session_id == session.id,
                SessionToken.participant == participant.value,
                SessionToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    token = new_token(TokenKind.LESSON)
    db.add(
        SessionToken(
            session_id=session.id,
            participant=participant.value,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=session.closes_at,
            pupil_camera=pupil_camera and participant is Participant.PUPIL,
        )
    )
    await db.flush()
    return token


async def join_as_pupil(
    db: AsyncSession, who: Principal, booking_id: str, now: datetime, settings: Settings
) -> tuple[JoinTicket, LessonSession]:
    """Open or resume the booking's session for its pupil; raises a clear error otherwise.

    One query reads the booking, its robot's state, its session if any and the
    pupil's camera grant (each was a round trip of its own: the join is on the
    path from the pupil's tap to the first frame).
    """
    row = (
        await db.execute(
            select(
                Booking,
                Device.lifecycle,
                LessonSession,
                Pupil.camera_consent,
                School.allow_pupil_camera,
            )
            .outerjoin(Device, Device.id == Booking.classroom_device_id)
            .outerjoin(LessonSession, LessonSession.booking_id == Booking.id)
            .outerjoin(Pupil, Pupil.id == Booking.pupil_id)
            .outerjoin(School, School.id == Pupil.school_id)
            .where(Booking.id == booking_id)
        )
    ).first()
    booking = row[0] if row is not None else None
    if booking is None or who.role is not Role.PUPIL or booking.pupil_id != who.subject_id:
        raise NotFound("There is no such lesson for you.")
    _, lifecycle, existing, consent, school_allows = row  # type: ignore[misc]
    if booking.status != "booked":
        raise Conflict(f"This lesson was {booking.status}; it cannot be joined.")
    window = booking_window(booking, settings)
    if not window.contains(now):
        raise Conflict(window.explain(now))
    if lifecycle != "active":
        raise Conflict("The classroom robot for this lesson is not in service today.")
    session = await _session_for(db, booking, window, now, existing)
    camera = bool(consent and school_allows)
    token = await issue_session_token(db, session, Participant.PUPIL, now, pupil_camera=camera)
    ticket = JoinTicket(
        session_id=session.id,
        booking_id=booking.id,
        token=token,
        participant=Participant.PUPIL,
        ice_servers=ice_servers(turn_settings(settings), session.id, session.closes_at),
        closes_at=session.closes_at,
        robot_id=session.robot_id,
        subject=booking.subject,
        pupil_camera=camera,
    )
    return ticket, session


def is_live(session: LessonSession, now: datetime) -> bool:
    """Whether the session is open and ``now`` is inside its window."""
    return session.status == "open" and session.opens_at <= now < session.closes_at


async def resolve_session_token(db: AsyncSession, token: str, now: datetime) -> TokenHolder | None:
    """The open session and end behind a live token, or None (revoked, expired, ended).

    One round trip: the token, its session and whether this end joined before.
    """
    earlier = (
        exists()
        .where(
            SessionEvent.session_id == SessionToken.session_id,
            SessionEvent.participant == SessionToken.participant,
            SessionEvent.kind.in_([EventKind.JOINED.value, EventKind.RECONNECTED.value]),
        )
        .correlate(SessionToken)
    )
    found = (
        await db.execute(
            select(SessionToken, LessonSession, earlier)
            .join(LessonSession, LessonSession.id == SessionToken.session_id)
            .where(SessionToken.token_hash == hash_token(token))
        )
    ).first()
    if found is None:
        return None
    row, session, joined_before = found
    if row.revoked_at is not None or row.expires_at <= now or not is_live(session, now):
        return None
    return TokenHolder(
        session=session,
        participant=Participant(row.participant),
        token_id=row.id,
        pupil_camera=row.pupil_camera,
        joined_before=bool(joined_before),
    )


async def token_is_live(db: AsyncSession, token_id: str, now: datetime) -> bool:
    """Whether a token is still unrevoked, unexpired and its session open."""
    row = await db.get(SessionToken, token_id)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return False
    session = await db.get(LessonSession, row.session_id)
    return session is not None and session.status == "open" and now < session.closes_at


async def record_event(
    db: AsyncSession,
    session_id: str,
    participant: Participant | None,
    kind: EventKind,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """Add one entry to the session's timeline."""
    db.add(
        SessionEvent(
            session_id=session_id,
            at=now,
            participant=participant.value if participant else None,
            kind=kind.value,
            data=data,
        )
    )


async def end_session(db: AsyncSession, session_id: str, reason: str, now: datetime) -> bool:
    """End a session once (tokens revoked); False if it had ended already."""
    result = await db.execute(
        update(LessonSession)
        .where(LessonSession.id == session_id, LessonSession.status == "open")
        .values(status="ended", ended_at=now, end_reason=reason)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await db.execute(
        update(SessionToken)
        .where(SessionToken.session_id == session_id, SessionToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await record_event(db, session_id, None, EventKind.ENDED, {"reason": reason}, now)
    return True
