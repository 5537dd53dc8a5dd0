"""``classbridge gateway``: the aiohttp application holding device sockets for the service.

Routes: ``GET /ws/device`` (the device protocol, as the service speaks it),
``GET /healthz`` and ``GET /metrics`` (Prometheus, with the service's metrics
token). The service is reached only through PostgreSQL: the rows the gateway
writes behind, and NOTIFY on the service's event channel both ways.
"""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from device_registry.conversation import converse, device_socket, keepalive_seconds
from device_registry.gateway.store import PgTelemetryStore, plain_dsn
from device_registry.links import (
    CHANGES_TOPIC,
    FLEET_TOPICS,
    LESSONS_TOPIC,
    LinkHub,
    change_key,
    lessons_key,
    refresh_seconds,
)
from telepresence import __version__
from telepresence.platform.clock import SystemClock
from telepresence.platform.errors import problem_response
from telepresence.platform.events.eventbridge import PostgresEventBridge
from telepresence.platform.events.events import EventHub
from telepresence.platform.operations.collector import freeze_startup_objects
from telepresence.platform.security.identity import (
    TokenKind,
    hash_token,
    token_kind,
    token_matches,
)
from telepresence.platform.settings import Settings

__all__ = ["GATEWAY_HUB", "GatewayHub", "create_gateway", "run_gateway"]

log = structlog.get_logger("classbridge.gateway")
SESSION_COOKIE = "cb_session"  # as the service reads it (telepresence.platform.routing)


class GatewayHub(LinkHub):
    """A ``LinkHub`` whose lessons are the service's: asked over ``LESSONS_TOPIC``."""

    def welcomed(self, device_id: str, session_id: str | None) -> None:
        """Ask the service to invite the robot to its lesson where due."""
        self.events.publish(LESSONS_TOPIC, {"device_id": device_id, "hello": session_id})

    async def rejoin(self, device_id: str, session_id: str) -> dict[str, Any] | None:
        """Ask the service; its answer comes back as a message for the device."""
        self.events.publish(LESSONS_TOPIC, {"device_id": device_id, "rejoin": session_id})
        return None


GATEWAY_BRIDGE = web.AppKey("gateway_bridge", PostgresEventBridge)
GATEWAY_HUB = web.AppKey("gateway_hub", GatewayHub)
GATEWAY_SETTINGS = web.AppKey("gateway_settings", Settings)
GATEWAY_STORE = web.AppKey("gateway_store", PgTelemetryStore)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STARTED_AT = round(time.time(), 3)


def _origin_allowed(request: web.Request, settings: Settings) -> bool:
    """The service's rule (``routing.check_origin``): no Origin, or one of the service's."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {f"{request.scheme}://{request.host}"}
    for url in (settings.base_url, *settings.allowed_origins):
        parts = urlsplit(url)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin in allowed


def _presented_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return bearer or request.cookies.get(SESSION_COOKIE, "")


async def serve_device(request: web.Request) -> web.StreamResponse:
    """Authenticate by ``Authorization: Bearer <device credential>``, then speak v1."""
    settings = request.app[GATEWAY_SETTINGS]
    if not _origin_allowed(request, settings):
        origin = request.headers.get("Origin")
        detail = f"Origin {origin!r} is not allowed to connect here."
        return problem_response(403, "Not allowed", detail, instance=request.path)
    token = _presented_token(request)
    login = None
    if token and token_kind(token) is TokenKind.DEVICE:
        login = await request.app[GATEWAY_STORE].login(hash_token(token))
    del token
    if login is None:
        # Only devices connect here: any other token is answered as none at all.
        return problem_response(
            401,
            "Not signed in",
            "Sign in first: this needs a valid session or token.",
            instance=request.path,
            headers={"WWW-Authenticate": 'Bearer realm="classbridge"'},
        )
    ws = device_socket()
    await ws.prepare(request)
    await converse(
        ws,
        request.app[GATEWAY_HUB],
        device_id=login.device_id,
        provider_id=login.provider_id,
        name=login.name,
        heartbeat_seconds=settings.heartbeat_seconds,
        transport=request.transport,
    )
    return ws


async def healthz(request: web.Request) -> web.Response:
    """200 with the number of sockets while the database answers; 503 when it does not.

    ``bridge`` says whether the event bridge to the service is connected (``reconnecting``
    after a database restart); information only, it reconnects by itself.
    """
    hub = request.app[GATEWAY_HUB]
    try:
        await request.app[GATEWAY_STORE].pool.fetchval("SELECT 1")
    except (OSError, TimeoutError) as exc:
        log.warning("gateway_database_unavailable", error=str(exc))
        return web.json_response({"status": "unavailable", "devices": len(hub)}, status=503)
    bridge = "connected" if request.app[GATEWAY_BRIDGE].connected else "reconnecting"
    return web.json_response(
        {"status": "ok", "database": "ok", "bridge": bridge, "devices": len(hub)}
    )


async def metrics(request: web.Request) -> web.Response:
    """The gateway's own figures for Prometheus, behind the service's metrics token.

    404 while ``CLASSBRIDGE_METRICS_TOKEN`` is unset, 401 without it (as the service).
    """
    token = request.app[GATEWAY_SETTINGS].metrics_token
    if token is None or not token.get_secret_value():
        return problem_response(404, "Not Found", "Metrics are off: set CLASSBRIDGE_METRICS_TOKEN.")
    if not token_matches(request.headers.get("Authorization", ""), token.get_secret_value()):
        return problem_response(401, "Unauthorized", "Send the metrics token as a bearer token.")
    app = request.app
    bridge = GATEWAY_BRIDGE in app and app[GATEWAY_BRIDGE].connected
    figures = [
        (
            "classbridge_gateway_device_sockets",
            "gauge",
            "This gateway: robots' and tablets' sockets it holds now.",
            "",
            len(app[GATEWAY_HUB]) if GATEWAY_HUB in app else 0,
        ),
        (
            "classbridge_event_bridge_connected",
            "gauge",
            "This process: 1 while its LISTEN/NOTIFY connection to the instances is up, else 0.",
            "",
            1 if bridge else 0,
        ),
        (
            "classbridge_event_bridge_reconnects_total",
            "counter",
            "This process: times its LISTEN/NOTIFY connection was replaced (then resynced).",
            "",
            app[GATEWAY_BRIDGE].reconnects if GATEWAY_BRIDGE in app else 0,
        ),
        (
            "classbridge_device_commands_redelivered_total",
            "counter",
            "This process: commands handed to its device sockets by a resync.",
            "",
            app[GATEWAY_HUB].resync.redelivered if GATEWAY_HUB in app else 0,
        ),
        (
            "classbridge_build_info",
            "gauge",
            "This process's Classbridge and Python versions (the value is always 1).",
            f'{{version="{__version__}",python="{platform.python_version()}"}}',
            1,
        ),
        *_process_figures(),
    ]
    lines = []
    for name, kind, text, labels, value in figures:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{labels} {value}"]
    body = ("\n".join(lines) + "\n").encode()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def _process_figures() -> list[tuple[str, str, str, str, float]]:
    """What prometheus_client's process collector reports, without loading it (Linux)."""
    times = os.times()
    resident_pages = int(Path("/proc/self/statm").read_bytes().split()[1])
    return [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            "",
            round(times.user + times.system, 3),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            "",
            resident_pages * os.sysconf("SC_PAGE_SIZE"),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            "",
            sum(1 for _ in Path("/proc/self/fd").iterdir()),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            "",
            STARTED_AT,
        ),
    ]


async def _resources(app: web.Application) -> AsyncIterator[None]:
    import asyncpg  # the one database driver the gateway loads

    settings = app[GATEWAY_SETTINGS]
    dsn = plain_dsn(settings.effective_database_url)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    events = EventHub()
    # Device changes and lesson questions are states of a device: never dropped in a burst.
    events.coalesce(CHANGES_TOPIC, change_key)
    events.coalesce(LESSONS_TOPIC, lessons_key)
    # Heartbeats go to the service's fleet pages only while one is open.
    events.on_demand(FLEET_TOPICS)
    bridge = PostgresEventBridge(dsn, events)
    store = PgTelemetryStore(pool)
    hub = GatewayHub(
        store,
        SystemClock(),
        events,
        keepalive=keepalive_seconds(settings.heartbeat_seconds),
        refresh_every=refresh_seconds(settings.heartbeat_seconds, settings.offline_after_missed),
    )
    app[GATEWAY_STORE], app[GATEWAY_HUB], app[GATEWAY_BRIDGE] = store, hub, bridge
    await bridge.start()
    hub.start()
    log.info("gateway_started", instance=bridge.instance)
    try:
        yield
    finally:
        await hub.close()  # sockets closed (1001: devices reconnect), last flush
        await bridge.close()
        await pool.close()


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, before handlers are waited for: devices hear at once and reconnect."""
    if GATEWAY_HUB in app:
        await app[GATEWAY_HUB].close_sockets()


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "Classbridge"


def create_gateway(settings: Settings) -> web.Application:
    """The gateway as an aiohttp application; the pool and the bridge open on startup."""
    plain_dsn(settings.effective_database_url)  # refuse SQLite before anything starts
    app = web.Application()
    app[GATEWAY_SETTINGS] = settings
    app.router.add_get("/ws/device", serve_device)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.on_response_prepare.append(_server_header)
    app.cleanup_ctx.append(_resources)
    app.on_shutdown.append(_close_sockets)
    return app


async def _quiet_collector(_app: web.Application) -> None:
    """The objects of start-up (modules, models) are never garbage: keep them out of the
    collector's scans (as ``classbridge serve`` does), and collect young objects less
    often. A heartbeat allocates a few dozen short-lived objects; at 670 a second the
    default threshold (700) runs a collection for nearly every one, and the full ones
    walk every socket's objects."""
    await freeze_startup_objects(_app)
    gc.set_threshold(COLLECT_AFTER, *gc.get_threshold()[1:])


COLLECT_AFTER = 20_000
"""Allocations (net) between young-generation collections in the gateway process."""


def run_gateway(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; devices are told to reconnect (1001) on the way out."""
    app = create_gateway(settings)
    app.on_startup.append(_quiet_collector)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log=None,
        shutdown_timeout=settings.shutdown_seconds / 4,
    )
