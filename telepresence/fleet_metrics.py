"""Fleet-wide gauges for ``/metrics``, read from the database at each scrape.

Part of the composition root (it reads every package's tables): each
instance reports the same fleet figures, so Prometheus needs no "which one
leads" logic; take ``max`` (not ``sum``) of these across instances.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.rota.models import MoveRow
from telepresence.notifications.models import Notification
from telepresence.platform.operations.metrics import FleetSource
from telepresence.sessions.models import LessonSession

__all__ = ["FLEET_SOURCES", "MOVE_WINDOW"]

MOVE_WINDOW = timedelta(hours=24)
"""Moves counted: those due within a day either side of now."""
OPEN_MOVES = ("pending", "assigned", "escalated")


async def devices_online(session: AsyncSession, _now: datetime) -> list[Metric]:
    """Active devices whose heartbeats arrive, by kind (robot, tablet)."""
    gauge = GaugeMetricFamily(
        "classbridge_devices_online", "Fleet: active devices online, by kind.", labels=["kind"]
    )
    counts = dict.fromkeys(("robot", "tablet"), 0)
    rows = await session.execute(
        select(Device.kind, func.count())
        .where(Device.online.is_(True), Device.lifecycle == "active")
        .group_by(Device.kind)
    )
    for kind, count in rows:
        counts[kind] = count
    for kind, count in sorted(counts.items()):
        gauge.add_metric([kind], count)
    return [gauge]


async def lessons_live(session: AsyncSession, now: datetime) -> list[Metric]:
    """Sessions open now (inside their window, not ended)."""
    count = await session.scalar(
        select(func.count())
        .select_from(LessonSession)
        .where(
            LessonSession.status == "open",
            LessonSession.opens_at <= now,
            LessonSession.closes_at > now,
        )
    )
    return [
        GaugeMetricFamily("classbridge_lessons_live", "Fleet: lessons live now.", value=count or 0)
    ]


async def moves(session: AsyncSession, now: datetime) -> list[Metric]:
    """Robot moves due within a day either side of now, by where they stand.

    ``due``: not done yet and not late; ``late``: still open past its time, or
    confirmed after it; ``done``: confirmed in time; ``failed``: said impossible.
    """
    state = case(
        (MoveRow.status == "failed", "failed"),
        (
            and_(
                MoveRow.status == "done",
                or_(MoveRow.confirmed_at.is_(None), MoveRow.confirmed_at <= MoveRow.due),
            ),
            "done",
        ),
        (MoveRow.status == "done", "late"),
        (and_(MoveRow.status.in_(OPEN_MOVES), MoveRow.due <= now), "late"),
        (MoveRow.status.in_(OPEN_MOVES), "due"),
        else_="other",
    )
    rows = await session.execute(
        select(state, func.count())
        .where(MoveRow.due >= now - MOVE_WINDOW, MoveRow.due <= now + MOVE_WINDOW)
        .group_by(state)
    )
    counts = dict.fromkeys(("due", "done", "late", "failed"), 0)
    for name, count in rows:
        if name in counts:
            counts[name] = count
    gauge = GaugeMetricFamily(
        "classbridge_moves",
        "Fleet: robot moves due within 24 h either side of now, by state.",
        labels=["state"],
    )
    for name, count in counts.items():
        gauge.add_metric([name], count)
    return [gauge]


async def alerts_open(session: AsyncSession, _now: datetime) -> list[Metric]:
    """Notices (alerts, reminders, escalations) nobody has read yet, by kind."""
    rows = await session.execute(
        select(Notification.kind, func.count())
        .where(Notification.read_at.is_(None))
        .group_by(Notification.kind)
    )
    gauge = GaugeMetricFamily(
        "classbridge_alerts_open", "Fleet: unread notices (alerts) by kind.", labels=["kind"]
    )
    for kind, count in sorted((str(k), int(n)) for k, n in rows):
        gauge.add_metric([kind], count)
    return [gauge]


async def emails_queued(session: AsyncSession, _now: datetime) -> list[Metric]:
    """Emails waiting to be sent: due now, being sent, or to be tried again later."""
    count = await session.scalar(
        select(func.count()).where(Notification.email_next_at.is_not(None))
    )
    text = "Fleet: emails queued (due, being sent or waiting for their next try)."
    return [GaugeMetricFamily("classbridge_emails_queued", text, value=count or 0)]


FLEET_SOURCES: tuple[FleetSource, ...] = (
    devices_online,
    lessons_live,
    moves,
    alerts_open,
    emails_queued,
)
