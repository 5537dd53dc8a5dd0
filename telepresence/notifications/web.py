"""The signed-in user's in-app notifications: list them, mark one read."""

from __future__ import annotations

from aiohttp import web

from telepresence.notifications import services
from telepresence.notifications.schemas import NotificationOut, NotificationQuery
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.identity import Principal, Role

__all__ = ["routes"]

routes = Routes("notifications")
# Every staff account has an inbox, school contacts too (their no-contact and review notices).
USERS = [Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.ASSISTANT, Role.SCHOOL_CONTACT]


@routes.api(
    "GET",
    "/api/notifications",
    roles=USERS,
    query=NotificationQuery,
    response=list[NotificationOut],
    summary="My notifications, newest first",
)
async def my_notifications(
    request: web.Request, who: Principal, query: NotificationQuery
) -> list[NotificationOut]:
    """Only the caller's own; ``unread=true`` for the unread ones."""
    async with request.app[DATABASE].sessions() as session:
        rows = await services.list_for_user(
            session, who.subject_id, unread_only=query.unread, limit=query.limit
        )
    return [NotificationOut.model_validate(r, from_attributes=True) for r in rows]


@routes.api(
    "POST",
    "/api/notifications/{notification_id}/read",
    roles=USERS,
    response=NotificationOut,
    errors=(404,),
    summary="Mark one of my notifications read",
)
async def read_notification(request: web.Request, who: Principal) -> NotificationOut:
    """Idempotent; someone else's notification is 404, as if it did not exist."""
    async with request.app[DATABASE].transaction() as session:
        row = await services.mark_read(
            session, who.subject_id, request.match_info["notification_id"], request.app[CLOCK].now()
        )
        return NotificationOut.model_validate(row, from_attributes=True)
