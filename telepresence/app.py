"""The composition root: ``create_app(settings)`` puts every package together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

import device_registry.web
from device_registry import pages as device_pages
from device_registry.conversation import keepalive_seconds
from device_registry.hub import DeviceHub
from device_registry.jobs import mark_silent_devices_offline, purge_old_telemetry
from device_registry.links import (
    CHANGES_TOPIC,
    FLEET_TOPICS,
    LESSONS_TOPIC,
    change_key,
    lessons_key,
    refresh_seconds,
)
from device_registry.services import resolve_device_token
from device_registry.socket import DEVICE_HUB
from scheduler.bookings import pages as booking_pages
from scheduler.bookings import web as booking_web
from scheduler.bookings.feeds import pages as feed_pages
from scheduler.bookings.ports import LESSON_OUTCOMES, PUPIL_UNWELL
from scheduler.bookings.unavailability import pages as unavailability_pages
from scheduler.rota.battery import learn_drain_rates
from scheduler.rota.duty import routes as rota_duty_routes
from scheduler.rota.jobs import send_morning_rotas
from scheduler.rota.listener import ROTA_ALERTS, rota_planner
from scheduler.rota.pages import routes as rota_page_routes
from scheduler.rota.retention import purge_old_rota
from scheduler.rota.web import routes as rota_api_routes
from scheduler.timetables import calendar_pages, import_pages
from scheduler.timetables import pages as timetable_pages
from scheduler.timetables import web as timetable_web
from telepresence import __version__, audit_pages, pages, subject_access
from telepresence.engagement import pages as engagement_pages
from telepresence.engagement import web as engagement_web
from telepresence.engagement.dashboard import pages as engagement_dashboard
from telepresence.engagement.dashboard import report as engagement_report
from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.operational.hooks import EngagementRotaAlerts, EngagementUnwell
from telepresence.engagement.past_lessons import StoredLessonOutcomes
from telepresence.fleet_metrics import FLEET_SOURCES
from telepresence.notifications import NotificationService, SmtpMailer
from telepresence.notifications import services as notification_services
from telepresence.notifications import web as notifications_web
from telepresence.notifications.jobs import resend_stalled_email
from telepresence.notifications.rota_alerts import NotifyingRotaAlerts
from telepresence.organisation import pages as organisation_pages
from telepresence.organisation import pupil_pages
from telepresence.organisation import web as organisation_web
from telepresence.organisation.passwords import routes as password_routes
from telepresence.platform import web as platform_web
from telepresence.platform.clock import Clock, SystemClock
from telepresence.platform.database import Database
from telepresence.platform.errors import error_middleware
from telepresence.platform.events.eventbridge import PostgresEventBridge
from telepresence.platform.events.events import EventHub
from telepresence.platform.http.answers import AnswerCache
from telepresence.platform.http.context import (
    ACCOUNT_LIMITER,
    BACKGROUND,
    CLOCK,
    DATABASE,
    EVENT_BRIDGE,
    EVENTS,
    JOBS,
    LOGIN_LIMITER,
    NAV_BADGES,
    NOTIFIER,
    RESOLVERS,
    SETTINGS,
    TokenResolver,
)
from telepresence.platform.http.rendering import NAV
from telepresence.platform.http.routing import ENDPOINTS, PRINCIPALS
from telepresence.platform.jobs.background import Background
from telepresence.platform.jobs.maintenance import purge_expired_tokens, purge_old_audit
from telepresence.platform.jobs.runner import Job, JobContext, JobRunner
from telepresence.platform.operations.logging import REQUEST_ID, request_id_middleware
from telepresence.platform.operations.metrics import METRICS, Metrics
from telepresence.platform.operations.probes import SMTP_PROBE, SmtpProbe
from telepresence.platform.operations.probes import routes as probe_routes
from telepresence.platform.security.audit import READ_AUDIT, ReadAudit
from telepresence.platform.security.auth import PrincipalCache, resolve_person_token
from telepresence.platform.security.identity import Principal, TokenKind
from telepresence.platform.security.ratelimit import RateLimiter
from telepresence.platform.security.revocation import install_revocation_hooks, signed_in_streams
from telepresence.platform.settings import Settings
from telepresence.reintegration import pages as reintegration_pages
from telepresence.reintegration import records_web as reintegration_records
from telepresence.reintegration import web as reintegration_web
from telepresence.reintegration.jobs import no_contact_alerts, review_reminders
from telepresence.sessions import web as session_web
from telepresence.sessions.call.signalling import SESSION_ROOMS, SessionRooms
from telepresence.sessions.jobs import end_finished_sessions, prepare_sessions
from telepresence.sessions.joining import readiness
from telepresence.sessions.joining import timings as session_timings
from telepresence.sessions.joining.invitations import RobotInvitations
from telepresence.sessions.joining.readiness import ECHOES, EchoPeers
from telepresence.sessions.revocation import lesson_revocation, revoke_lesson_tokens
from telepresence.sessions.watching import watch as session_watch
from telepresence.sessions.watching.watch import RELAYS, RelayHub
from telepresence.tablet import pages as tablet_pages
from telepresence.tablet import web as tablet_web

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response carries: its request id, and no framing or inline script.

    A signal rather than a middleware, so that long-lived sockets do not each
    keep one more suspended frame for their whole life.
    """
    response.headers.setdefault("X-Request-ID", request.get(REQUEST_ID, ""))
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # No software versions for strangers (aiohttp would name Python's and its own).
    response.headers["Server"] = "Classbridge"
    if not request.path.startswith("/static/"):
        # API answers and pages carry pupils' data: never kept by a browser or a proxy.
        response.headers.setdefault("Cache-Control", "no-store")


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, before handlers are waited for: close long-lived sockets (1001).

    Their handlers then finish normally (recording who left) while the
    database is still open; clients reconnect to the next instance.
    """
    if SESSION_ROOMS in app:
        await app[SESSION_ROOMS].close_all()
    if DEVICE_HUB in app:
        await app[DEVICE_HUB].close_sockets()


async def _nav_badges(request: web.Request, who: Principal) -> dict[str, int]:
    """The unread notices beside "Inbox" in the navigation of the roles that have one."""
    if not any(href == "/inbox" for href, _ in NAV.get(who.role, [])):
        return {}
    async with request.app[DATABASE].sessions() as db:
        return {"/inbox": await notification_services.unread_count(db, who.subject_id)}


def _periodic_jobs(settings: Settings) -> list[tuple[float, Job, str]]:
    """Every package's maintenance jobs: (every how many seconds, job, name)."""
    return [
        (settings.heartbeat_seconds, mark_silent_devices_offline, "device-presence"),
        (30, end_finished_sessions, "end-sessions"),
        (20, prepare_sessions, "prepare-sessions"),
        (3600, purge_old_telemetry, "purge-telemetry"),
        (3600, purge_expired_tokens, "purge-tokens"),
        (24 * 3600, purge_old_audit, "purge-audit"),
        (24 * 3600, purge_old_rota, "purge-rota"),
        (6 * 3600, learn_drain_rates, "rota-drain-rates"),
        (300, resend_stalled_email, "resend-stalled-email"),
        (300, send_morning_rotas, "morning-rota"),
        (120, compute_finished_outcomes, "engagement-outcomes"),
        (900, nightly_engagement, "engagement-nightly"),
        (3600, review_reminders, "reintegration-reviews"),
        (3600, no_contact_alerts, "reintegration-no-contact"),
    ]


def _start_notifier(app: web.Application, database: Database) -> NotificationService:
    """The notifier (``app[NOTIFIER]``), its background email sender started, and what it
    sent and gave up in this instance's metrics (queued: ``fleet_metrics``)."""
    settings = app[SETTINGS]
    notifier = NotificationService(
        database,
        app[CLOCK],
        SmtpMailer.from_settings(settings),
        sender=settings.smtp_from,
        base_url=settings.base_url,
        attempts=settings.smtp_attempts,
        first_retry_seconds=settings.smtp_retry_seconds,
        events=app[EVENTS],
    )
    app[NOTIFIER] = notifier
    notifier.start()
    app[METRICS].instance_counter(
        "classbridge_emails_sent",
        "This process: emails the SMTP server took.",
        lambda: notifier.sent,
    )
    app[METRICS].instance_counter(
        "classbridge_emails_failed",
        "This process: emails given up after every try (recorded as failed).",
        lambda: notifier.failed,
    )
    return notifier


def _watch_bridge(app: web.Application, bridge: PostgresEventBridge, hub: DeviceHub) -> None:
    """The event bridge's state and resyncs in this instance's metrics."""
    app[METRICS].instance_gauge(
        "classbridge_event_bridge_connected",
        "This instance: 1 while its LISTEN/NOTIFY connection to the other instances "
        "and the device gateway is up, else 0 (it reconnects by itself).",
        lambda: 1.0 if bridge.connected else 0.0,
    )
    app[METRICS].instance_counter(
        "classbridge_event_bridge_reconnects",
        "This process: times its LISTEN/NOTIFY connection was replaced (ended by the "
        "server, or silent past the check); each is followed by a resync.",
        lambda: float(bridge.reconnects),
    )
    app[METRICS].instance_counter(
        "classbridge_device_commands_redelivered",
        "This process: commands handed to its device sockets by a resync (their NOTIFY "
        "was lost while its LISTEN connection was down).",
        lambda: float(hub.resync.redelivered),
    )


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    app[DATABASE] = database
    reads = ReadAudit(database)
    app[READ_AUDIT] = reads
    reads.start()
    hub = DeviceHub(
        database,
        app[CLOCK],
        app[EVENTS],
        keepalive=keepalive_seconds(settings.heartbeat_seconds),
        refresh_every=refresh_seconds(settings.heartbeat_seconds, settings.offline_after_missed),
    )
    app[DEVICE_HUB] = hub
    invitations = RobotInvitations(database, app[CLOCK], settings, hub)
    hub.lessons = invitations
    notifier = _start_notifier(app, database)
    app[BACKGROUND] = Background()
    app[ROTA_ALERTS] = EngagementRotaAlerts(
        NotifyingRotaAlerts(database, notifier, app[CLOCK]), database, app[CLOCK]
    )
    context = JobContext(
        settings=settings,
        database=database,
        clock=app[CLOCK],
        events=app[EVENTS],
        notifier=notifier,
    )
    app[METRICS].watch_pool(database)
    jobs = JobRunner(
        context,
        metrics=app[METRICS],
        enabled=settings.run_jobs,
        retry_seconds=settings.leader_check_seconds,
        poll_seconds=settings.leader_check_seconds,
    )
    for seconds, job, name in _periodic_jobs(settings):
        jobs.every(seconds, job, name=name)
    app[JOBS] = jobs
    app[METRICS].instance_gauge(
        "classbridge_leader",
        "This instance: 1 while it holds the leader lock and runs the timed jobs, else 0.",
        lambda: 1.0 if jobs.is_leader else 0.0,
    )
    app[SESSION_ROOMS] = SessionRooms()
    app[ECHOES] = EchoPeers()
    app[RELAYS] = RelayHub()
    bridge = None
    if database.dialect == "postgresql":
        bridge = PostgresEventBridge(settings.effective_database_url, app[EVENTS])
        await bridge.start()
        app[EVENT_BRIDGE] = bridge
        _watch_bridge(app, bridge, hub)
        # Devices may be on other instances or on a device gateway: messages and
        # disconnects for them go over the bridge, and the leader answers gateways.
        hub.shared = True
        hub.answers_gateways = lambda: jobs.is_leader
    hub.start()
    await jobs.start()
    try:
        yield
    finally:
        await jobs.stop()
        # Sockets first: a robot or tablet must hear at once that this instance is going
        # (to rejoin another); work still telling people gets its grace after, with the
        # database still open.
        await app[SESSION_ROOMS].close_all()
        await app[ECHOES].close()
        await app[RELAYS].close_all()
        await invitations.close()
        await hub.close()
        await notifier.close()
        await app[BACKGROUND].close()
        if bridge is not None:
            await bridge.close()
        await reads.close()  # every read audited so far, before the database goes
        await database.close()


def _metrics() -> Metrics:
    metrics = Metrics(version=__version__)
    metrics.fleet_sources.extend(FLEET_SOURCES)
    # Uploads are counted by their route and status, where every format's import ends.
    metrics.import_routes |= {
        ("POST", "/api/pupils/{pupil_id}/timetable"),
        ("POST", "/pupils/{pupil_id}/timetable/import"),
    }
    return metrics


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The whole service as one aiohttp application; resources open on startup."""
    app = web.Application(
        middlewares=[request_id_middleware, error_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app.on_response_prepare.append(response_headers)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[EVENTS] = EventHub()
    # The rota acts on each device's latest battery, room and state: never dropped in a flood.
    app[EVENTS].coalesce(CHANGES_TOPIC, change_key)
    app[EVENTS].coalesce(LESSONS_TOPIC, lessons_key)
    # Fleet pages are live views: devices' heartbeats are built and sent only while one is open.
    app[EVENTS].on_demand(FLEET_TOPICS)
    app[LOGIN_LIMITER] = RateLimiter(settings.login_attempts_per_minute)
    app[ACCOUNT_LIMITER] = RateLimiter(
        settings.login_attempts_per_account, window_s=60.0 * settings.login_account_window_minutes
    )
    app[session_timings.TIMING_LIMITER] = session_timings.timing_limiter()
    app[ENDPOINTS] = []
    app[METRICS] = _metrics()
    app[SMTP_PROBE] = SmtpProbe()
    app[LESSON_OUTCOMES] = StoredLessonOutcomes()
    if settings.week_cache_mb > 0:
        app[booking_web.WEEK_ANSWERS] = AnswerCache(settings.week_cache_mb * 2**20)
    app[PUPIL_UNWELL] = EngagementUnwell()
    resolvers: dict[TokenKind, TokenResolver] = {
        TokenKind.SESSION: resolve_person_token,
        TokenKind.API: resolve_person_token,
        TokenKind.DEVICE: resolve_device_token,
    }
    app[RESOLVERS] = resolvers
    app[NAV_BADGES] = _nav_badges
    app[PRINCIPALS] = PrincipalCache()
    install_revocation_hooks(app, revoke_lesson_tokens)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("telepresence", "templates"),
                jinja2.PackageLoader("telepresence.engagement", "templates"),
                jinja2.PackageLoader("device_registry", "templates"),
                jinja2.PackageLoader("scheduler", "templates"),
                jinja2.PackageLoader("telepresence.reintegration", "templates"),
            ]
        ),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(signed_in_streams)
    app.cleanup_ctx.append(lesson_revocation)
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(rota_planner)
    for routes in (
        platform_web.routes,
        probe_routes,
        session_timings.routes,
        organisation_web.routes,
        organisation_pages.routes,
        pupil_pages.routes,
        audit_pages.routes,
        password_routes,
        subject_access.routes,
        device_registry.web.routes,
        pages.routes,
        device_pages.routes,
        session_web.routes,
        tablet_pages.routes,
        tablet_web.routes,
        readiness.routes,
        session_watch.routes,
        timetable_web.routes,
        booking_web.routes,
        rota_api_routes,
        rota_page_routes,
        rota_duty_routes,
        booking_pages.routes,
        import_pages.routes,
        calendar_pages.routes,
        timetable_pages.routes,
        unavailability_pages.routes,
        notifications_web.routes,
        engagement_web.routes,
        engagement_pages.routes,
        engagement_dashboard.routes,
        engagement_report.routes,
        feed_pages.routes,
        reintegration_web.routes,
        reintegration_records.routes,
        reintegration_pages.routes,
    ):
        routes.install(app)
    app.router.add_static("/static", STATIC, name="static", append_version=True)
    return app
