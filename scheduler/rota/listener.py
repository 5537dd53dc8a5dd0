"""Keeping the rota right as bookings change: a task that re-plans on booking events.

``rota_planner`` is an aiohttp ``cleanup_ctx``: it starts one task that
listens on the ``bookings`` topic, coalesces the events that arrived
together by school day, re-plans each such day once and announces the
result. ``ROTA_ALERTS`` holds who is told about moves nobody can do (the
notifications package installs its own; the default logs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from device_registry.hub import CHANGES_TOPIC
from scheduler.bookings.events import BOOKINGS_TOPIC
from scheduler.rota.jobs import MORNING_TOPIC, schedule_day_jobs
from scheduler.rota.planning import DayOutcome
from scheduler.rota.services import (
    LoggedRotaAlerts,
    RotaAlerts,
    announce,
    busy_today,
    check_reported_room,
    devices_with_done_moves,
    replan_days,
    replan_device,
)
from telepresence.platform.errors import DomainError
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, JOBS

__all__ = [
    "ROTA_ALERTS",
    "ROTA_TASK",
    "alerts_of",
    "announce_outcomes",
    "on_battery_readings",
    "on_device_change",
    "on_device_changes",
    "on_morning_plan",
    "replan_for",
    "rota_planner",
]

log = structlog.get_logger("classbridge.rota")
ROTA_ALERTS = web.AppKey("rota_alerts", RotaAlerts)
ROTA_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("rota_task")
SETTLE_SECONDS = 0.5
"""How long device changes are gathered before the rota acts on them."""


def alerts_of(app: web.Application) -> RotaAlerts:
    """The installed alerts, or the logging default."""
    return app.get(ROTA_ALERTS) or LoggedRotaAlerts()


async def announce_outcomes(app: web.Application, outcomes: Iterable[DayOutcome]) -> None:
    """Publish re-plans to pages, raise their alerts and (re)schedule reminders and
    escalations of the days they touched (call after the commit)."""
    outcomes = list(outcomes)
    await announce(app[EVENTS], alerts_of(app), outcomes)
    if JOBS in app:
        for school_id, day in sorted({(o.school_id, o.day) for o in outcomes}):
            await schedule_day_jobs(app[JOBS], school_id, day)


async def replan_for(app: web.Application, days: Iterable[tuple[str, date]]) -> list[DayOutcome]:
    """Re-plan these (school id, local date) days, one transaction each, and announce them.

    A day that fails to re-plan (a database error) is logged and skipped: the
    next change or the next look at that day plans it again.
    """
    outcomes: list[DayOutcome] = []
    for school_id, day in sorted(set(days)):
        try:
            async with app[DATABASE].transaction() as session:
                outcomes += await replan_days(session, school_id, [day], app[CLOCK].now())
        except (SQLAlchemyError, DomainError) as exc:
            log.warning("rota.replan_failed", school_id=school_id, day=str(day), error=str(exc))
    await announce_outcomes(app, outcomes)
    return outcomes


def _day_of(event: dict[str, Any]) -> tuple[str, date] | None:
    try:
        return str(event["school_id"]), date.fromisoformat(str(event["lesson_date"]))
    except (KeyError, ValueError):
        return None


async def _listen(app: web.Application) -> None:
    async with app[EVENTS].subscribe(BOOKINGS_TOPIC) as queue:
        while True:
            events = [await queue.get()]
            while not queue.empty():  # a bulk booking: one re-plan per day, not per lesson
                events.append(queue.get_nowait())
            await replan_for(app, (d for d in map(_day_of, events) if d is not None))


async def on_device_change(app: web.Application, change: dict[str, Any]) -> None:
    """A device left or rejoined service, got a charging base, reported a room or a battery
    level: keep the rota true to it (a new base gives its day the trip back to charge)."""
    device_id, now = str(change.get("device_id", "")), app[CLOCK].now()
    if _is_reading(change):  # the battery rule projects from this reading
        await on_battery_readings(app, [device_id])
        return
    try:
        async with app[DATABASE].transaction() as session:
            if "lifecycle" in change or "charging_base_room_id" in change:
                outcomes = await replan_device(session, device_id, now)
                flagged = None
            else:
                outcomes = []
                flagged = await check_reported_room(
                    session, device_id, change.get("reported_room"), now
                )
    except (SQLAlchemyError, DomainError) as exc:
        log.warning("rota.device_change_failed", device_id=device_id, error=str(exc))
        return
    await announce_outcomes(app, outcomes)
    if flagged is not None:
        app[EVENTS].publish(
            f"rota:{flagged.school_id}", {"kind": "contradiction", "move": flagged.id}
        )


async def on_morning_plan(app: web.Application, event: dict[str, Any]) -> None:
    """The leader's morning plan of a school day: flag moves nobody can do, schedule reminders.

    The assistants hear about their day from the morning message itself.
    """
    school_id, day = str(event.get("school_id", "")), event.get("date")
    try:
        when = date.fromisoformat(str(day))
    except ValueError:
        return
    unassigned = [str(m) for m in event.get("unassigned", [])]
    if unassigned:
        await alerts_of(app).unassignable(school_id, unassigned)
    if JOBS in app:
        await schedule_day_jobs(app[JOBS], school_id, when)


async def _listen_mornings(app: web.Application) -> None:
    async with app[EVENTS].subscribe(MORNING_TOPIC) as queue:
        while True:
            await on_morning_plan(app, await queue.get())


async def on_battery_readings(app: web.Application, device_ids: Iterable[str]) -> None:
    """Fresh battery readings from these devices: each of their schools' today is re-planned
    once, however many of its robots reported."""
    try:
        async with app[DATABASE].sessions() as session:
            days = await busy_today(session, device_ids, app[CLOCK].now())
    except SQLAlchemyError as exc:
        log.warning("rota.battery_readings_failed", error=str(exc))
        return
    await replan_for(app, days)


def _is_reading(change: dict[str, Any]) -> bool:
    """A battery reading (a new 10 % band, charging on or off), not a lifecycle change."""
    return "battery_pct" in change and "lifecycle" not in change


def _is_room_report(change: dict[str, Any]) -> bool:
    """Only a room the device reports (nothing staff changed)."""
    return set(change) == {"device_id", "reported_room"}


async def on_device_changes(app: web.Application, changes: Iterable[dict[str, Any]]) -> None:
    """A batch of device changes in order; rooms and battery readings are taken together.

    A room a device reports can only contradict a move that was done, so one query
    first picks the devices that have one: a fleet connecting for the first time
    (10,000 new rooms) costs one query, not a transaction per device.
    """
    readings: dict[str, None] = {}  # devices that reported, in order, once each
    rooms: dict[str, dict[str, Any]] = {}  # the latest room report of each device
    for change in changes:
        if _is_reading(change):
            readings[str(change.get("device_id", ""))] = None
        elif _is_room_report(change):
            rooms[str(change["device_id"])] = change
        else:
            await on_device_change(app, change)
    if rooms:
        try:
            async with app[DATABASE].sessions() as session:
                moved = await devices_with_done_moves(session, list(rooms))
        except SQLAlchemyError as exc:
            log.warning("rota.room_reports_failed", error=str(exc))
            moved = set(rooms)
        for device_id, change in rooms.items():
            if device_id in moved:
                await on_device_change(app, change)
    if readings:
        await on_battery_readings(app, readings)


async def _listen_devices(app: web.Application) -> None:
    async with app[EVENTS].subscribe(CHANGES_TOPIC) as queue:
        while True:
            changes = [await queue.get()]
            # After a restart every robot reconnects and reports its battery within a few
            # seconds: gather them, so that a school is re-planned once, not once per robot.
            await asyncio.sleep(SETTLE_SECONDS)
            while not queue.empty():
                changes.append(queue.get_nowait())
            await on_device_changes(app, changes)


async def rota_planner(app: web.Application) -> AsyncIterator[None]:
    """Run the re-planning tasks for the application's lifetime (a ``cleanup_ctx``)."""
    task = asyncio.create_task(_listen(app), name="rota-planner")
    devices = asyncio.create_task(_listen_devices(app), name="rota-devices")
    mornings = asyncio.create_task(_listen_mornings(app), name="rota-mornings")
    app[ROTA_TASK] = task
    await asyncio.sleep(0)  # subscribed before the first request can book anything
    try:
        yield
    finally:
        for running in (task, devices, mornings):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
