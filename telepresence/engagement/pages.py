"""Pages of engagement: the notifications inbox (every staff role) and an alert's own page.

Forms post here and go through the same services as the API; a refused form
(an alert acknowledged twice, a resolve without a note) shows the page again
with what was wrong and changes nothing.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement import services
from telepresence.engagement.disengagement import alerts
from telepresence.engagement.models import AlertRecipientRow, AlertRow
from telepresence.engagement.schemas import AlertQuery
from telepresence.notifications import services as notices
from telepresence.organisation.zones import provider_zone
from telepresence.platform.errors import DomainError, NotFound
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role

__all__ = ["routes"]

routes = Routes("engagement-pages")
STAFF_ROLES = [Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.ASSISTANT]
ALERT_READERS = [Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF]


async def _inbox(request: web.Request, who: Principal, problem: str = "") -> web.Response:
    async with request.app[DATABASE].sessions() as db:
        items = await notices.list_for_user(db, who.subject_id, limit=100)
        unread = await notices.unread_count(db, who.subject_id)
        open_alerts = []
        if who.role is not Role.ASSISTANT:
            open_alerts = await services.list_alerts(db, who, AlertQuery())
        zone = await provider_zone(db, who.provider_id)
    return render(
        request,
        who,
        "inbox.html",
        {
            "title": "Inbox",
            "items": items,
            "unread": unread,
            "alerts": open_alerts,
            "problem": problem,
            "zone": zone,
        },
        current="/inbox",
    )


@routes.page("GET", "/inbox", roles=STAFF_ROLES, summary="My notifications and open alerts")
async def inbox(request: web.Request, who: Principal) -> web.Response:
    """Newest first; unread ones marked; each links to what it is about."""
    return await _inbox(request, who)


@routes.page(
    "POST", "/inbox/{notification_id}/read", roles=STAFF_ROLES, summary="Mark a notice read"
)
async def mark_read(request: web.Request, who: Principal) -> web.Response:
    """Then back to the inbox (or on to the notice's link with ``open=1``)."""
    fields = await form_fields(request)
    async with request.app[DATABASE].transaction() as db:
        row = await notices.mark_read(
            db, who.subject_id, request.match_info["notification_id"], request.app[CLOCK].now()
        )
    target = row.link if fields.get("open") == "1" and row.link else "/inbox"
    raise web.HTTPSeeOther(target if target.startswith("/") else "/inbox")


async def _alert_page(
    request: web.Request, who: Principal, db: AsyncSession, problem: str = "", status: int = 200
) -> web.Response:
    alert_id = request.match_info["alert_id"]
    alert = await db.get(AlertRow, alert_id)
    if alert is None or alert.provider_id != who.provider_id:
        raise NotFound(f"There is no alert {alert_id!r}.")
    sent = await db.get(AlertRecipientRow, (alert_id, who.subject_id))
    if sent is None and who.role is not Role.ADMIN:
        raise NotFound(f"There is no alert {alert_id!r} for you.")
    pupil = await db.get(Pupil, alert.pupil_id)
    assert pupil is not None
    record_request(
        request, db, who, "engagement.alert_read", "pupil", pupil.id, {"alert": alert_id}
    )
    return render(
        request,
        who,
        "alert.html",
        {
            "title": "Alert",
            "alert": services.alert_out(alert, pupil),
            "can_act": sent is not None,
            "problem": problem,
            "zone": await provider_zone(db, who.provider_id),
        },
        status=status,
        current="/inbox",
    )


@routes.page("GET", "/engagement/alerts/{alert_id}", roles=ALERT_READERS, summary="An alert")
async def alert_page(request: web.Request, who: Principal) -> web.Response:
    """The alert, the figures behind it, and forms to acknowledge or resolve it."""
    async with request.app[DATABASE].transaction() as db:
        return await _alert_page(request, who, db)


@routes.page(
    "POST", "/engagement/alerts/{alert_id}", roles=ALERT_READERS, summary="Act on an alert"
)
async def act_on_alert(request: web.Request, who: Principal) -> web.Response:
    """``action=acknowledge`` (note optional) or ``action=resolve`` (note required)."""
    fields = await form_fields(request)
    note = fields.get("note", "").strip()[:2000]
    alert_id, now = request.match_info["alert_id"], request.app[CLOCK].now()
    try:
        async with request.app[DATABASE].transaction() as db:
            if fields.get("action") == "resolve":
                if not note:
                    raise _Refused("Say what was done before resolving the alert.")
                await alerts.resolve(db, who, alert_id, note, now)
            else:
                await alerts.acknowledge(db, who, alert_id, note, now)
    except (_Refused, DomainError) as exc:
        if isinstance(exc, NotFound):
            raise
        async with request.app[DATABASE].transaction() as db:
            return await _alert_page(request, who, db, str(exc.args[0]), status=409)
    raise web.HTTPSeeOther(f"/engagement/alerts/{alert_id}")


class _Refused(Exception):
    """A form that cannot be accepted as it is."""
