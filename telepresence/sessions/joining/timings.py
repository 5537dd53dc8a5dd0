"""``POST /api/client-timings``: the ends of a lesson report how long joining took.

Only the clients can see a first video frame or media coming back after a
drop, so they measure and report; the server keeps nothing but the
Prometheus histograms (no per-pupil record: a duration is not a pupil's data).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from telepresence.platform.http.routing import Routes, Schema
from telepresence.platform.operations.metrics import METRICS
from telepresence.platform.security.identity import Principal, Role

__all__ = ["ClientTimingIn", "routes"]

routes = Routes("sessions")
MAX_SECONDS = 600.0


class ClientTimingIn(Schema):
    """One duration a lesson's end measured, in seconds."""

    measure: Literal["join_first_frame", "rejoin"] = Field(
        description="join_first_frame: from asking to join to the first media (pupil: first "
        "decoded video frame; robot: media connected). rejoin: from losing the media to "
        "having it again."
    )
    seconds: float = Field(gt=0, le=MAX_SECONDS)


@routes.api(
    "POST",
    "/api/client-timings",
    roles=[Role.PUPIL, Role.DEVICE],
    body=ClientTimingIn,
    status=204,
    summary="Report how long joining (or rejoining) a lesson took on this end",
)
async def report_timing(request: web.Request, who: Principal, body: ClientTimingIn) -> None:
    """Recorded in this instance's ``classbridge_*_seconds`` histograms, labelled by end."""
    end = "pupil" if who.role is Role.PUPIL else "robot"
    request.app[METRICS].observe_client(body.measure, end, body.seconds)
