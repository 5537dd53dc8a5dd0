"""Operator probes: ``/readyz`` (may this instance take traffic?) and ``/metrics`` (Prometheus).

``/healthz`` says whether the process is alive and its database answers;
``/readyz`` is what a load balancer or an orchestrator should route by: the
database, the leader election (an instance whose election loop died would
never take over the timed jobs) and, for information, the SMTP server.
Anonymous callers get the verdict only; an operator (the metrics token, or an
administrator's session) also sees why.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from telepresence.platform.errors import NotFound, Unauthorized
from telepresence.platform.http.context import CLOCK, DATABASE, EVENT_BRIDGE, JOBS, SETTINGS
from telepresence.platform.http.routing import Routes
from telepresence.platform.operations.metrics import CONTENT_TYPE, METRICS
from telepresence.platform.security.identity import PUBLIC, Principal, Role, token_matches
from telepresence.platform.settings import Settings

__all__ = ["SMTP_PROBE", "SmtpProbe", "is_operator", "routes"]

routes = Routes("probes")
DB_TIMEOUT_S = 2.0


@dataclass
class SmtpProbe:
    """Whether the SMTP server accepts a TCP connection, remembered for ``ttl`` seconds.

    Probes come every few seconds from each load balancer; email is not worth
    a connection each time, and an SMTP outage never makes an instance unready
    (every instance would be unready at once; notices are kept and resent).
    """

    ttl: float = 60.0
    timeout: float = 2.0
    _checked: float = float("-inf")
    _state: str = "not configured"

    async def state(self, settings: Settings) -> str:
        """``not configured``, ``ok`` or ``unreachable``."""
        if not settings.smtp_host:
            return "not configured"
        if time.monotonic() - self._checked < self.ttl:
            return self._state
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(settings.smtp_host, settings.smtp_port), self.timeout
            )
        except (OSError, TimeoutError):
            self._state = "unreachable"
        else:
            writer.close()
            self._state = "ok"
        self._checked = time.monotonic()
        return self._state


SMTP_PROBE = web.AppKey("smtp_probe", SmtpProbe)


class ReadyOut(BaseModel):
    """The verdict; the reasons only for an operator."""

    status: str
    database: str | None = None
    leader_election: str | None = None
    smtp: str | None = None
    event_bridge: str | None = None


def _metrics_bearer(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics_token
    header = request.headers.get("Authorization", "")
    return token is not None and token_matches(header, token.get_secret_value())


def is_operator(request: web.Request, who: Principal | None) -> bool:
    """Whether the caller may see a probe's details: the metrics token or an admin's session.

    Anonymous callers get the verdict only: the version, the leader and the job
    schedule help an attacker more than a load balancer.
    """
    return (who is not None and who.role is Role.ADMIN) or _metrics_bearer(request)


async def _database_state(request: web.Request) -> str:
    try:
        await asyncio.wait_for(request.app[DATABASE].ping(), DB_TIMEOUT_S)
    except (SQLAlchemyError, OSError, TimeoutError):
        return "unavailable"
    return "ok"


def _bridge_state(request: web.Request) -> str:
    # Information only: it reconnects by itself, and a database restart would make
    # every instance unready at once.
    bridge = request.app.get(EVENT_BRIDGE)
    if bridge is None:
        return "not used"
    return "connected" if bridge.connected else "reconnecting"


def _election_state(request: web.Request) -> str:
    jobs = request.app[JOBS]
    if not jobs.enabled:
        return "disabled"
    if not jobs.election.standing:
        return "not standing"
    return "leader" if jobs.is_leader else "follower"


@routes.api(
    "GET",
    "/readyz",
    roles=PUBLIC,
    response=ReadyOut,
    errors=(503,),
    summary="Whether this instance should get traffic (503 when the database or the "
    "leader election is down); details with the metrics token or an admin session",
)
async def readyz(request: web.Request, who: Principal | None) -> web.Response:
    """Ready when the database answers and, if this instance runs jobs, it stands for election."""
    database = await _database_state(request)
    election = _election_state(request)
    smtp = await request.app[SMTP_PROBE].state(request.app[SETTINGS])
    ready = database == "ok" and election != "not standing"
    body: dict[str, str] = {"status": "ready" if ready else "not ready"}
    if is_operator(request, who):
        body |= {"database": database, "leader_election": election, "smtp": smtp}
        body["event_bridge"] = _bridge_state(request)
    return web.json_response(body, status=200 if ready else 503)


@routes.api(
    "GET",
    "/metrics",
    roles=PUBLIC,
    errors=(401, 404),
    summary="Prometheus metrics of this instance and of the fleet (bearer: the metrics token)",
)
async def metrics(request: web.Request, _who: Principal | None) -> web.Response:
    """Text exposition format 0.0.4. Answers 404 while no metrics token is set."""
    token = request.app[SETTINGS].metrics_token
    if token is None or not token.get_secret_value():
        raise NotFound("Metrics are off: set CLASSBRIDGE_METRICS_TOKEN.")
    if not _metrics_bearer(request):
        raise Unauthorized("Send the metrics token as a bearer token.")
    body = await request.app[METRICS].render(request.app[DATABASE], request.app[CLOCK].now())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
