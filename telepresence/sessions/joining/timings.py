"""``POST /api/client-timings``: the ends of a lesson report how long joining took.

Only the clients can see a first video frame or media coming back after a
drop, so they measure and report; the server keeps nothing but the
Prometheus histograms (no per-pupil record: a duration is not a pupil's data).
Each caller may report at most ``REPORTS_PER_MINUTE`` durations a minute: an
honest end reports once per join and once per media drop, so a flood can only
be an end (or a stolen credential) trying to skew the histograms.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from telepresence.platform.http.context import CLOCK
from telepresence.platform.http.routing import Routes, Schema
from telepresence.platform.operations.metrics import METRICS
from telepresence.platform.security.identity import Principal, Role
from telepresence.platform.security.ratelimit import RateLimiter

__all__ = ["REPORTS_PER_MINUTE", "TIMING_LIMITER", "ClientTimingIn", "routes", "timing_limiter"]

routes = Routes("sessions")
MAX_SECONDS = 600.0
REPORTS_PER_MINUTE = 30
TIMING_LIMITER = web.AppKey("timing_limiter", RateLimiter)


def timing_limiter() -> RateLimiter:
    """Every report counts (not only failures): ``REPORTS_PER_MINUTE`` per caller."""
    return RateLimiter(REPORTS_PER_MINUTE, window_s=60.0)


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
    """Recorded in this instance's ``classbridge_*_seconds`` histograms, labelled by end.

    Refused with 429 and ``Retry-After`` past ``REPORTS_PER_MINUTE`` a minute for one caller.
    """
    limiter, now = request.app[TIMING_LIMITER], request.app[CLOCK].now()
    key = f"{who.role.value}:{who.subject_id}"
    limiter.check(key, now)
    limiter.fail(key, now)
    end = "pupil" if who.role is Role.PUPIL else "robot"
    request.app[METRICS].observe_client(body.measure, end, body.seconds)
