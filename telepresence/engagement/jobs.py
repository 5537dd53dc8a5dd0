"""Timed jobs of engagement (run by the leader's ``JobRunner``, registered in ``app.py``).

- ``compute_finished_outcomes`` every two minutes: outcomes of lessons just over, then
  the operational alerts only time reveals (moves escalated, robots still offline as
  their lesson nears) and those whose cause has gone (``operational.store.sync``).
- ``nightly_engagement`` every quarter hour; once a day, from the configured
  hour (UTC), it claims the day, recomputes the last fortnight's outcomes (late
  events), runs the disengagement rules, tells the recipients of new alerts
  and, with SMTP set, emails each recipient a digest of their open alerts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from telepresence.engagement.disengagement import alerts
from telepresence.engagement.disengagement.rules import RuleSettings, evaluate
from telepresence.engagement.disengagement.signals import gather_signals
from telepresence.engagement.models import AlertRecipientRow, AlertRow, EngagementRunRow
from telepresence.engagement.operational import store as operational
from telepresence.engagement.outcomes import compute_outcomes, finished_bookings
from telepresence.platform.database import Database
from telepresence.platform.events.notifier import Notice
from telepresence.platform.jobs.runner import JobContext
from telepresence.platform.models import Provider, Pupil, User

__all__ = ["claim_day", "compute_finished_outcomes", "nightly_engagement", "run_alert_rules"]

log = structlog.get_logger("classbridge.engagement")
NIGHTLY = "nightly"


async def compute_finished_outcomes(ctx: JobContext) -> int:
    """Outcomes of bookings whose lesson (and its grace) is over and that have none yet."""
    now, settings = ctx.clock.now(), ctx.settings
    grace = timedelta(minutes=settings.session_grace_minutes)
    async with ctx.database.transaction() as db:
        due = await finished_bookings(db, now, grace=grace)
        count = await compute_outcomes(
            db, due, now, attended_share=settings.engagement_attended_share
        )
    async with ctx.database.transaction() as db:
        synced = await operational.sync(db, now)
    if synced.opened or synced.cleared:
        log.info("engagement_operational", opened=synced.opened, cleared=synced.cleared)
    return count


async def claim_day(database: Database, name: str, day: date, now: datetime) -> bool:
    """Claim ``day`` for a daily job, atomically; False when it ran that day already."""
    async with database.transaction() as db:
        moved = await db.execute(
            update(EngagementRunRow)
            .where(EngagementRunRow.name == name, EngagementRunRow.last_day < day)
            .values(last_day=day, ran_at=now)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            return True
        dialect = postgresql if database.dialect == "postgresql" else sqlite
        inserted = await db.execute(
            dialect.insert(EngagementRunRow)
            .values(name=name, last_day=day, ran_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return bool(inserted.rowcount)  # type: ignore[attr-defined]


async def nightly_engagement(ctx: JobContext, *, force: bool = False) -> bool:
    """Once a day (from ``engagement_nightly_hour`` UTC): outcomes again, rules, notices."""
    now, settings = ctx.clock.now(), ctx.settings
    if not force and now.hour < settings.engagement_nightly_hour:
        return False
    if not await claim_day(ctx.database, NIGHTLY, now.date(), now):
        return False
    since = now - timedelta(days=settings.engagement_recompute_days)
    async with ctx.database.transaction() as db:
        due = await finished_bookings(
            db,
            now,
            grace=timedelta(minutes=settings.session_grace_minutes),
            recompute_since=since,
            attended_share=settings.engagement_attended_share,
        )
        count = await compute_outcomes(
            db, due, now, attended_share=settings.engagement_attended_share
        )
    opened = await run_alert_rules(ctx, now)
    digests = await send_digests(ctx, now)
    log.info("engagement_nightly", outcomes=count, alerts_opened=opened, digests=digests)
    return True


async def run_alert_rules(ctx: JobContext, now: datetime) -> int:
    """Evaluate every provider's pupils; open (and tell) new alerts; returns how many opened."""
    rules = RuleSettings(drop_margin=ctx.settings.engagement_drop_margin)
    async with ctx.database.sessions() as db:
        providers = list(await db.scalars(select(Provider.id)))
    opened_total = 0
    for provider_id in providers:
        async with ctx.database.transaction() as db:
            signals = await gather_signals(db, provider_id, now.date())
            drafts = {s.pupil_id: evaluate(s, rules) for s in signals}
            opened = await alerts.apply_drafts(
                db, provider_id, drafts, now, evaluated=[s.pupil_id for s in signals]
            )
        opened_total += len(opened)
        if ctx.notifier is not None:
            for item in opened:
                for notice in alerts.alert_notices(item):
                    await ctx.notifier.notify(notice)
    return opened_total


async def send_digests(ctx: JobContext, now: datetime) -> int:
    """Email each recipient one digest of their open alerts (only when SMTP is set), and of
    the operational alerts that cleared by themselves in the last day (a "too unwell today"
    clears at the pupil's midnight, before the digest goes)."""
    if not ctx.settings.smtp_host or ctx.notifier is None:
        return 0
    cleared_lately = and_(
        AlertRow.subject_key != "",
        AlertRow.resolved_by == alerts.SYSTEM,
        AlertRow.resolved_at > now - timedelta(days=1),
    )
    async with ctx.database.sessions() as db:
        rows = (
            await db.execute(
                select(User, AlertRow, Pupil)
                .join(AlertRecipientRow, AlertRecipientRow.user_id == User.id)
                .join(AlertRow, AlertRow.id == AlertRecipientRow.alert_id)
                .join(Pupil, Pupil.id == AlertRow.pupil_id)
                .where(or_(AlertRow.status != "resolved", cleared_lately), User.active.is_(True))
                .order_by(User.id, AlertRow.opened_at)
            )
        ).all()
    by_user: dict[str, tuple[User, list[str], list[str]]] = {}
    for user, alert, pupil in rows:
        _user, open_lines, cleared = by_user.setdefault(user.id, (user, [], []))
        name = f"{pupil.first_name} {pupil.last_name}"
        if alert.status == "resolved":
            cleared.append(f"- {name}: {alert.summary}")
        else:
            open_lines.append(f"- {name}: {alert.summary} ({alert.status})")
    sent = 0
    for user, lines, cleared in by_user.values():
        body = "Open alerts about your pupils:\n\n" + ("\n".join(lines) or "- none")
        if cleared:
            body += "\n\nCleared by themselves since yesterday:\n\n" + "\n".join(cleared)
        notice = Notice(
            idempotency_key=f"engagement-digest:{now.date().isoformat()}:{user.id}",
            kind="engagement_digest",
            subject=f"Classbridge: {len(lines)} open engagement alert(s)",
            body=body,
            email=user.email,
            link="/inbox",
        )
        sent += int(await ctx.notifier.notify(notice))
    return sent
