"""The engagement API: outcomes, weekly figures, the coordinator's summary, alerts, CSV exports.

Every read of a pupil's figures is audited (one entry per pupil, in the same
transaction as the read); assistants are refused by the routes' roles.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement import access, exports, services
from telepresence.engagement.disengagement import alerts
from telepresence.engagement.figures import Scope, counts_by, with_trend
from telepresence.engagement.models import OutcomeRow
from telepresence.engagement.schemas import (
    AlertNote,
    AlertOut,
    AlertQuery,
    MyWeekOut,
    OutcomeOut,
    PupilEngagementOut,
    RangeQuery,
    SummaryOut,
)
from telepresence.platform.errors import InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role

__all__ = ["routes"]

routes = Routes("engagement")
READERS = list(access.READERS)
CSV = "text/csv"


def _today(request: web.Request) -> date:
    return request.app[CLOCK].now().date()


def _range(request: web.Request, query: RangeQuery) -> tuple[date, date]:
    try:
        return query.dates(_today(request))
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "start", "message": str(exc)}]) from exc


def _csv(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=CSV,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.api(
    "GET",
    "/api/engagement/pupils/{pupil_id}/lessons",
    roles=READERS,
    query=RangeQuery,
    response=list[OutcomeOut],
    errors=(404,),
    summary="A pupil's finished lessons and their outcomes",
)
async def pupil_lessons(
    request: web.Request, who: Principal, query: RangeQuery
) -> list[OutcomeOut]:
    """Oldest first; each with "Attended 52 of 60 min"-style words. Audited."""
    start, end = _range(request, query)
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as db:
        rows = await services.pupil_outcomes(db, who, pupil_id, start, end)
        record_request(request, db, who, "engagement.lessons", "pupil", pupil_id)
    return [services.outcome_out(r) for r in rows]


@routes.api(
    "GET",
    "/api/engagement/pupils/{pupil_id}",
    roles=READERS,
    query=RangeQuery,
    response=PupilEngagementOut,
    errors=(404,),
    summary="A pupil's engagement per school week (with trend) and per subject",
)
async def pupil_engagement(
    request: web.Request, who: Principal, query: RangeQuery
) -> PupilEngagementOut:
    """Trend: each week's share of booked time against the pupil's four weeks before. Audited."""
    start, end = _range(request, query)
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as db:
        result = await services.pupil_engagement(db, who, pupil_id, start, end)
        record_request(request, db, who, "engagement.read", "pupil", pupil_id)
    return result


@routes.api(
    "GET",
    "/api/engagement/summary",
    roles=READERS,
    query=RangeQuery,
    response=SummaryOut,
    errors=(404,),
    summary="Engagement per pupil, school, robot and provider; move punctuality; open alerts",
)
async def summary(request: web.Request, who: Principal, query: RangeQuery) -> SummaryOut:
    """Coordinators see their provider's pupils; hospital staff the pupils they key-work."""
    start, end = _range(request, query)
    async with request.app[DATABASE].transaction() as db:
        pupils = None
        if query.pupil_id:
            pupils = frozenset({(await access.visible_pupil(db, who, query.pupil_id)).id})
        scope = Scope(str(who.provider_id), start, end, pupils, query.school_id)
        result = await services.summary(db, who, scope, _today(request))
        record_request(
            request, db, who, "engagement.summary", "provider", str(who.provider_id),
            {"start": start.isoformat(), "end": end.isoformat(), "pupil_id": query.pupil_id},
        )  # fmt: skip
    return result


@routes.api(
    "GET",
    "/api/engagement/alerts",
    roles=READERS,
    query=AlertQuery,
    response=list[AlertOut],
    errors=(404,),
    summary="Disengagement alerts sent to me, newest first",
)
async def list_alerts(request: web.Request, who: Principal, query: AlertQuery) -> list[AlertOut]:
    """Admins see every alert of their provider; others those sent to them."""
    async with request.app[DATABASE].sessions() as db:
        return await services.list_alerts(db, who, query)


async def _alert_change(
    request: web.Request, who: Principal, note: str, *, close: bool
) -> AlertOut:
    alert_id = request.match_info["alert_id"]
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        change = alerts.resolve if close else alerts.acknowledge
        alert = await change(db, who, alert_id, note, now)
        pupil = await db.get(Pupil, alert.pupil_id)
        assert pupil is not None
        action = "engagement.alert_resolved" if close else "engagement.alert_acknowledged"
        record_request(request, db, who, action, "pupil", alert.pupil_id, {"alert_id": alert.id})
        return services.alert_out(alert, pupil)


@routes.api(
    "POST",
    "/api/engagement/alerts/{alert_id}/acknowledge",
    roles=READERS,
    body=AlertNote,
    response=AlertOut,
    errors=(404, 409),
    summary="Acknowledge an open alert sent to me",
)
async def acknowledge_alert(request: web.Request, who: Principal, body: AlertNote) -> AlertOut:
    """An alert not sent to the caller is 404; one no longer open is 409."""
    return await _alert_change(request, who, body.note, close=False)


@routes.api(
    "POST",
    "/api/engagement/alerts/{alert_id}/resolve",
    roles=READERS,
    body=AlertNote,
    response=AlertOut,
    errors=(404, 409, 422),
    summary="Resolve an alert sent to me, with a note of what was done",
)
async def resolve_alert(request: web.Request, who: Principal, body: AlertNote) -> AlertOut:
    """The note is required: it is what the next person reads."""
    if not body.note:
        raise InvalidInput(
            "Say what was done.", errors=[{"field": "note", "message": "a note is required"}]
        )
    return await _alert_change(request, who, body.note, close=True)


@routes.api(
    "GET",
    "/api/engagement/me",
    roles=[Role.PUPIL],
    response=MyWeekOut,
    summary="The pupil's own week so far, in friendly words",
)
async def my_week(request: web.Request, who: Principal) -> MyWeekOut:
    """For the tablet: "You joined 9 lessons this week"."""
    async with request.app[DATABASE].sessions() as db:
        pupil = await db.get(Pupil, who.subject_id)
        provider = pupil.provider_id if pupil else ""
        return await services.my_week(db, who.subject_id, provider, _today(request))


@routes.api(
    "GET",
    "/api/engagement/exports/lessons.csv",
    roles=READERS,
    query=RangeQuery,
    raw_response=(CSV,),
    errors=(404,),
    summary="CSV: bookings with their outcomes (one pupil, or all I may see)",
)
async def export_lessons(request: web.Request, who: Principal, query: RangeQuery) -> web.Response:
    """UTF-8, formula cells neutralised; every pupil in it is an audited read."""
    start, end = _range(request, query)
    async with request.app[DATABASE].transaction() as db:
        names = await _names(db, who, query.pupil_id)
        rows = []
        for pupil_id in names:
            rows += await services.pupil_outcomes(db, who, pupil_id, start, end)
            record_request(request, db, who, "engagement.export_lessons", "pupil", pupil_id)
    rows.sort(key=lambda r: (r.starts_at, r.pupil_id))
    body = exports.bookings_csv(names, (services.outcome_out(r) for r in rows))
    return _csv(body, f"lessons-{start}-{end}.csv")


@routes.api(
    "GET",
    "/api/engagement/exports/weekly.csv",
    roles=READERS,
    query=RangeQuery,
    raw_response=(CSV,),
    errors=(404,),
    summary="CSV: engagement per pupil and school week, with trend",
)
async def export_weekly(request: web.Request, who: Principal, query: RangeQuery) -> web.Response:
    """One line per pupil and week; every pupil in it is an audited read."""
    start, end = _range(request, query)
    async with request.app[DATABASE].transaction() as db:
        names = await _names(db, who, query.pupil_id)
        scope = Scope(str(who.provider_id), start, end, frozenset(names), query.school_id)
        weeks = with_trend(await counts_by(db, scope, OutcomeRow.pupil_id, OutcomeRow.week_monday))
        for pupil_id in {w.key[0] for w in weeks}:
            record_request(request, db, who, "engagement.export_weekly", "pupil", pupil_id)
    rows = [(names[w.key[0]], services.counts_out(w, w.key[1].isoformat())) for w in weeks]
    return _csv(exports.weekly_csv(rows), f"weekly-{start}-{end}.csv")


@routes.api(
    "GET",
    "/api/engagement/exports/alerts.csv",
    roles=READERS,
    query=AlertQuery,
    raw_response=(CSV,),
    errors=(404,),
    summary="CSV: the alerts sent to me",
)
async def export_alerts(request: web.Request, who: Principal, query: AlertQuery) -> web.Response:
    """The same alerts as ``GET /api/engagement/alerts``, as CSV."""
    async with request.app[DATABASE].transaction() as db:
        rows = await services.list_alerts(db, who, query)
        for pupil_id in {a.pupil_id for a in rows}:
            record_request(request, db, who, "engagement.export_alerts", "pupil", pupil_id)
    return _csv(exports.alerts_csv(rows), "alerts.csv")


async def _names(db: AsyncSession, who: Principal, pupil_id: str | None) -> dict[str, str]:
    """The pupils an export covers (one, or all the caller may see): id -> full name."""
    if pupil_id:
        pupil = await access.visible_pupil(db, who, pupil_id)
        return {pupil.id: f"{pupil.first_name} {pupil.last_name}"}
    allowed = await access.visible_pupil_ids(db, who)
    query = select(Pupil).where(Pupil.provider_id == who.provider_id)
    if allowed is not None:
        query = query.where(Pupil.id.in_(sorted(allowed)))
    return {p.id: f"{p.first_name} {p.last_name}" for p in await db.scalars(query)}
