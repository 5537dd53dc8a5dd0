"""The audit log page (admin): who read or changed what, in plain words, with filters.

Page views and exports (reads) are kept apart from changes: an administrator
looking for who changed a pupil's record is not buried under who opened it.
Times are shown in the provider's schools' zone (the first school's; London
without one), with the zone named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import Select, not_, or_, select

from telepresence.organisation import services as org
from telepresence.organisation.zones import provider_zone
from telepresence.platform.http.context import DATABASE
from telepresence.platform.http.rendering import ROLE_LABELS, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import AuditEntry, Pupil, User
from telepresence.platform.security.audit import flush_reads
from telepresence.platform.security.identity import Principal, Role

__all__ = ["describe", "is_read", "routes"]

routes = Routes("audit-pages")
LIMIT = 200
# What a person did, in the words of the log's reader; the code's name stays as a hint.
WORDS = {
    "pupil.read": "opened the record of",
    "pupil.list": "looked at the list of pupils",
    "pupil.add": "put on roll",
    "pupil.update": "changed the details of",
    "pupil.set_pin": "set a new tablet PIN for",
    "pupil.camera_consent": "recorded camera consent for",
    "pupil.off_roll": "took off roll",
    "pupil.on_roll": "put back on roll",
    "pupil.delete": "deleted the record of",
    "pupil.export": "exported everything held about",
    "pupil.unwell_today": "marked too unwell today:",
    "unavailability.read": "looked at the unavailability of",
    "unavailability.add": "added unavailability for",
    "unavailability.change": "changed unavailability of",
    "unavailability.remove": "removed unavailability of",
    "occurrences.read": "looked at the lessons of",
    "bookings.read": "looked at the bookings of",
    "bookings.flagged": "looked at flagged bookings",
    "booking.add": "booked a lesson for",
    "booking.bulk": "booked lessons in bulk for",
    "booking.cancel": "cancelled a lesson of",
    "reintegration.read": "opened the return-to-school plan of",
    "engagement.read": "looked at the engagement of",
    "engagement.lessons": "looked at the lessons attended by",
    "user.add": "created an account for",
    "user.deactivate": "deactivated the account of",
    "user.reactivate": "reactivated the account of",
    "user.password_reset": "reset the password of",
    "user.password_change": "changed their password",
    "device.register": "registered a device:",
    "device.pairing_code": "made a pairing code for",
    "school.add": "added a school:",
    "school.pupil_camera": "changed pupils' cameras at",
    "room.add": "added a room:",
    "move.assign": "assigned a move by hand",
    "move.done": "confirmed a move",
    "move.failed": "said they could not do a move",
    "rota.duty": "set the duty hours of",
    "rota.absence": "recorded days away for",
    "rota.absence_removed": "removed days away of",
    "session.watch": "watched a live lesson of",
    "provider.coordinators_may_change": "changed what coordinators may change",
}
CATEGORIES = {
    "pupils": ("Pupils' records", ("pupil.", "unavailability.", "feed.")),
    "lessons": ("Lessons and bookings", ("booking", "occurrences.", "calendar.", "session.")),
    "plans": ("Plans and engagement", ("reintegration.", "engagement.")),
    "devices": ("Devices", ("device.",)),
    "rota": ("Move rota", ("move.", "rota.")),
    "accounts": ("Accounts and settings", ("user.", "provider.", "school.", "room.")),
}
READ_SUFFIXES = (".read", ".list", ".lessons", ".flagged", ".watch")


def is_read(action: str) -> bool:
    """Whether an action only looked at something (a page view, an export)."""
    return action.endswith(READ_SUFFIXES) or ".export" in action


def describe(action: str) -> str:
    """The action in plain words ("opened the record of"), or a readable fallback."""
    if action in WORDS:
        return WORDS[action]
    noun, _, verb = action.partition(".")
    return f"{verb.replace('_', ' ').replace('.', ' ')} ({noun})" if verb else action


@dataclass(frozen=True, slots=True)
class Filters:
    """What the reader asked for; every value is already checked."""

    kind: str  # "changes" or "views"
    actor: str
    category: str
    pupil: str
    day_from: date | None
    day_to: date | None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(query: Any) -> Filters:
    return Filters(
        kind="views" if query.get("kind") == "views" else "changes",
        actor=query.get("who", "")[:32],
        category=query.get("what", "") if query.get("what") in CATEGORIES else "",
        pupil=(query.get("pupil") or query.get("subject_id") or "")[:64],
        day_from=_day(query.get("from", "")),
        day_to=_day(query.get("to", "")),
    )


def _query(provider_id: str, f: Filters, zone: ZoneInfo) -> Select[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.provider_id == provider_id)
    if f.actor:
        query = query.where(AuditEntry.actor_id == f.actor)
    if f.pupil:
        query = query.where(AuditEntry.subject_id == f.pupil)
    if f.category:
        prefixes = CATEGORIES[f.category][1]
        query = query.where(or_(*(AuditEntry.action.startswith(p) for p in prefixes)))
    reads = or_(
        *(AuditEntry.action.endswith(s) for s in READ_SUFFIXES),
        AuditEntry.action.contains(".export"),
    )
    query = query.where(reads if f.kind == "views" else not_(reads))
    if f.day_from:
        query = query.where(AuditEntry.at >= datetime.combine(f.day_from, time(), tzinfo=zone))
    if f.day_to:
        end = datetime.combine(f.day_to + timedelta(days=1), time(), tzinfo=zone)
        query = query.where(AuditEntry.at < end)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


@routes.page("GET", "/audit", roles=[Role.ADMIN], summary="The audit log (admin)")
async def audit_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Changes by default, or page views; filtered by who, what, pupil and dates."""
    f = _filters(request.query)
    provider_id = who.provider_id or ""
    await flush_reads(request.app)  # reads audited behind, up to this one
    async with request.app[DATABASE].sessions() as session:
        zone = await provider_zone(session, provider_id)
        rows = list(await session.scalars(_query(provider_id, f, zone).limit(LIMIT)))
        users = list(
            await session.scalars(
                select(User).where(User.provider_id == provider_id).order_by(User.name)
            )
        )
        pupils = list(
            await session.scalars(
                select(Pupil).where(Pupil.provider_id == provider_id).order_by(Pupil.first_name)
            )
        )
    names = {p.id: org.display_name(p.first_name, p.last_name) for p in pupils}
    return render(
        request,
        who,
        "audit.html",
        {
            "title": "Audit log",
            "rows": [
                {
                    "entry": r,
                    "when": r.at.astimezone(zone),
                    "did": describe(r.action),
                    "read": is_read(r.action),
                }
                for r in rows[:LIMIT]
            ],
            "limit": LIMIT,
            "filters": f,
            "zone": zone,
            "users": {u.id: u.name for u in users},
            "user_list": users,
            "pupils": names,
            "pupil_list": pupils,
            "categories": {k: label for k, (label, _) in CATEGORIES.items()},
            "role_labels": ROLE_LABELS,
        },
    )
