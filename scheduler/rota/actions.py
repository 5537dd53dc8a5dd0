"""What an assistant does to a move, for both doors in: the API and the phone page's forms.

Each runs the service in a transaction with its audit entry, then, after the
commit, what others must hear: the rota pages, the timed jobs, the assistants
whose day changed, and the escalation when nobody else can do a move.
"""

from __future__ import annotations

from aiohttp import web

from scheduler.rota import services as rota_services
from scheduler.rota.jobs import cancel_move_jobs
from scheduler.rota.listener import alerts_of, announce_outcomes
from scheduler.rota.planning import rota_topic
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, JOBS
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["confirm", "report_cant", "undo"]


async def confirm(request: web.Request, who: Principal, move_id: str, version: int | None) -> None:
    """Confirm the move done (idempotent); its reminder and escalation jobs go."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        row, changed = await rota_services.confirm_done(session, who, move_id, version, now)
        if changed:
            record_request(request, session, who, "move.done", "move", row.id)
    if changed:
        request.app[EVENTS].publish(rota_topic(row.school_id), {"kind": "done", "move": row.id})
        await cancel_move_jobs(request.app[JOBS], row.id)


async def report_cant(
    request: web.Request, who: Principal, move_id: str, reason: str, version: int | None
) -> None:
    """Say the move cannot be done: offered to someone else at once, or escalated."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        row, outcome, escalate = await rota_services.cant_do(
            session, who, move_id, reason, version, now
        )
        record_request(request, session, who, "move.failed", "move", row.id, {"reason": reason})
    await announce_outcomes(request.app, [outcome])
    if escalate is not None:
        await alerts_of(request.app).failed(row.school_id, row.id, escalate)


async def undo(request: web.Request, who: Principal, move_id: str, version: int | None) -> None:
    """Take back a "Done" made a moment ago: the day is re-planned, its jobs re-armed."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        row, outcome = await rota_services.undo_done(session, who, move_id, version, now)
        record_request(request, session, who, "move.undone", "move", row.id)
    request.app[EVENTS].publish(rota_topic(row.school_id), {"kind": "undone", "move": row.id})
    await announce_outcomes(request.app, [outcome])
