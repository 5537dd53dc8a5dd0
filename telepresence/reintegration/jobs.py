"""Timed jobs: remind the key worker of a review, flag an overdue one, and no contact with school.

Both run periodically on the leader and may run any number of times: every
notice carries an idempotency key naming its occasion, so each is sent once,
and the alert goes on the plan's timeline only when its notice was new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import select

from telepresence.platform.events.notifier import Notice
from telepresence.platform.jobs.runner import JobContext
from telepresence.platform.models import Pupil, User
from telepresence.reintegration.domain import Phase, contact_overdue, review_dues
from telepresence.reintegration.home_school.contacts import last_school_contact
from telepresence.reintegration.models import PlanEvent, PlanRow, ReviewRow
from telepresence.reintegration.services import rules_of

__all__ = ["no_contact_alerts", "review_reminders"]

log = structlog.get_logger("classbridge.reintegration")


@dataclass(frozen=True, slots=True)
class _Alert:
    plan_id: str
    notice: Notice
    summary: str
    timeline: bool


async def _open_plans(ctx: JobContext) -> list[tuple[PlanRow, User, Pupil]]:
    async with ctx.database.sessions() as session:
        rows = await session.execute(
            select(PlanRow, User, Pupil)
            .join(User, User.id == PlanRow.key_worker_id)
            .join(Pupil, Pupil.id == PlanRow.pupil_id)
            .where(PlanRow.phase != Phase.CLOSED.value, Pupil.active.is_(True))
        )
        return [(p, u, pu) for p, u, pu in rows.all()]


async def _send(ctx: JobContext, alerts: list[_Alert], now: datetime) -> int:
    """Send each alert once; put the new ones that ask for it on their plan's timeline."""
    if ctx.notifier is None:
        raise RuntimeError("the job context has no notifier")
    sent = 0
    for alert in alerts:
        if not await ctx.notifier.notify(alert.notice):
            continue
        sent += 1
        if alert.timeline:
            async with ctx.database.transaction() as session:
                session.add(
                    PlanEvent(
                        plan_id=alert.plan_id,
                        at=now,
                        actor_id="system",
                        actor_name="Classbridge",
                        kind="alert",
                        summary=alert.summary,
                        details={"key": alert.notice.idempotency_key},
                        shared=False,
                    )
                )
    return sent


def _name(pupil: Pupil) -> str:
    return f"{pupil.first_name} {pupil.last_name[:1]}."


async def review_reminders(ctx: JobContext) -> int:
    """Remind key workers of reviews due within the reminder days; flag overdue ones.

    Returns how many notices were sent this run.
    """
    now = ctx.clock.now()
    alerts: list[_Alert] = []
    for plan, worker, pupil in await _open_plans(ctx):
        async with ctx.database.sessions() as session:
            rules = await rules_of(session, plan.provider_id)
            held = list(
                await session.scalars(select(ReviewRow.held_on).where(ReviewRow.plan_id == plan.id))
            )
        planned = [date.fromisoformat(d) for d in plan.review_dates]
        for due in review_dues(planned, held, now.date(), remind_days=rules.review_remind_days):
            state = "overdue" if due.overdue else "due"
            verb = "was due" if due.overdue else "is due"
            text = f"{_name(pupil)}'s reintegration review {verb} on {due.on:%A %d %B %Y}."
            title = f"Review of {due.on:%d %b %Y} " + ("overdue" if due.overdue else "due soon")
            alerts.append(
                _Alert(
                    plan.id,
                    Notice(
                        idempotency_key=f"reintegration-review:{plan.id}:{due.on}:{state}",
                        kind=f"reintegration_review_{state}",
                        subject=f"Review {state}: {_name(pupil)}",
                        body=text,
                        user_id=worker.id,
                        email=worker.email,
                        link=f"/pupils/{pupil.id}/reintegration",
                    ),
                    title,
                    due.overdue,
                )
            )
    return await _send(ctx, alerts, now)


async def no_contact_alerts(ctx: JobContext) -> int:
    """Alert the key worker when an open plan had no contact with the home school for too long.

    The period is the provider's ``no_contact_days`` (default 21); one alert
    per silence (keyed by the last contact's date). Returns notices sent.
    """
    now = ctx.clock.now()
    alerts: list[_Alert] = []
    for plan, worker, pupil in await _open_plans(ctx):
        async with ctx.database.sessions() as session:
            rules = await rules_of(session, plan.provider_id)
            last = await last_school_contact(session, plan.id)
        if not contact_overdue(last, plan.starts_on, now.date(), days=rules.no_contact_days):
            continue
        since = last or plan.starts_on
        text = (
            f"There has been no recorded contact with {_name(pupil)}'s home school since "
            f"{since:%d %B %Y} ({(now.date() - since).days} days)."
        )
        alerts.append(
            _Alert(
                plan.id,
                Notice(
                    idempotency_key=f"reintegration-no-contact:{plan.id}:{since}",
                    kind="reintegration_no_contact",
                    subject=f"No contact with the home school: {_name(pupil)}",
                    body=text,
                    user_id=worker.id,
                    email=worker.email,
                    link=f"/pupils/{pupil.id}/reintegration",
                ),
                f"No contact with the home school for {rules.no_contact_days}+ days",
                True,
            )
        )
    sent = await _send(ctx, alerts, now)
    log.info("reintegration_no_contact", alerts=sent)
    return sent
