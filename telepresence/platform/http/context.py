"""Typed application state (``web.AppKey``) shared by every package's routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events.eventbridge import PostgresEventBridge
from telepresence.platform.events.events import EventHub
from telepresence.platform.events.notifier import Notifier
from telepresence.platform.jobs.background import Background
from telepresence.platform.jobs.runner import JobRunner
from telepresence.platform.security.identity import Principal, TokenKind
from telepresence.platform.security.ratelimit import RateLimiter
from telepresence.platform.settings import Settings

__all__ = [
    "ACCOUNT_LIMITER",
    "BACKGROUND",
    "CLOCK",
    "DATABASE",
    "EVENTS",
    "EVENT_BRIDGE",
    "JOBS",
    "LOGIN_LIMITER",
    "NAV_BADGES",
    "NOTIFIER",
    "PAGE_BADGES",
    "RESOLVERS",
    "SETTINGS",
    "NavBadges",
    "TokenResolver",
]

TokenResolver = Callable[[AsyncSession, str, datetime], Awaitable[Principal | None]]
"""Looks a token digest up at a time; returns the principal or None."""

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)
EVENTS = web.AppKey("events", EventHub)
EVENT_BRIDGE = web.AppKey("event_bridge", PostgresEventBridge)  # on PostgreSQL only
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
ACCOUNT_LIMITER = web.AppKey("account_limiter", RateLimiter)
RESOLVERS: web.AppKey[dict[TokenKind, TokenResolver]] = web.AppKey("token_resolvers")
JOBS = web.AppKey("jobs", JobRunner)
NOTIFIER: web.AppKey[Notifier] = web.AppKey("notifier")
BACKGROUND = web.AppKey("background", Background)
"""Work requests start and do not wait for; drained (bounded) at shutdown."""

NavBadges = Callable[[web.Request, Principal], Awaitable[dict[str, int]]]
"""Counts to show beside navigation entries (href -> count, e.g. unread notices), set by the
composition root so that the kernel imports no feature."""
NAV_BADGES: web.AppKey[NavBadges] = web.AppKey("nav_badges")
PAGE_BADGES: web.RequestKey[dict[str, int]] = web.RequestKey("page_badges")
