"""Disengagement alerts: opened once per pupil and rule while open, acknowledged and resolved
by the people they were sent to, cleared when their rule no longer holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement.models import AlertRecipientRow, AlertRow
from telepresence.engagement.rules import AlertDraft
from telepresence.platform.errors import Conflict, NotFound
from telepresence.platform.identity import Principal, Role
from telepresence.platform.models import Pupil, User
from telepresence.platform.notifier import Notice

__all__ = [
    "REOPEN_AFTER",
    "OpenedAlert",
    "acknowledge",
    "alert_notices",
    "apply_drafts",
    "recipients_for",
    "resolve",
]

REOPEN_AFTER = timedelta(days=7)
"""After someone resolves an alert by hand, its rule stays quiet this long for the pupil."""
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class OpenedAlert:
    """An alert the job opened, and whom to tell."""

    alert: AlertRow
    recipients: list[User]
    pupil_name: str


async def recipients_for(db: AsyncSession, pupil: Pupil) -> list[User]:
    """The pupil's key worker and the provider's active coordinators."""
    query = select(User).where(
        User.provider_id == pupil.provider_id,
        User.active.is_(True),
        (User.role == Role.COORDINATOR.value) | (User.id == pupil.key_worker_id),
    )
    return list(await db.scalars(query.order_by(User.id)))


async def _unresolved(
    db: AsyncSession, pupil_ids: Sequence[str]
) -> dict[tuple[str, str], AlertRow]:
    rows = await db.scalars(
        select(AlertRow).where(
            AlertRow.pupil_id.in_(list(pupil_ids)), AlertRow.status != "resolved"
        )
    )
    return {(a.pupil_id, a.rule): a for a in rows}


async def _quiet(db: AsyncSession, pupil_ids: Sequence[str], now: datetime) -> set[tuple[str, str]]:
    rows = await db.execute(
        select(AlertRow.pupil_id, AlertRow.rule).where(
            AlertRow.pupil_id.in_(list(pupil_ids)),
            AlertRow.status == "resolved",
            AlertRow.resolved_by != SYSTEM,
            AlertRow.resolved_at > now - REOPEN_AFTER,
        )
    )
    return {(p, r) for p, r in rows.all()}


async def apply_drafts(
    db: AsyncSession,
    provider_id: str,
    drafts: dict[str, list[AlertDraft]],
    now: datetime,
    *,
    evaluated: Sequence[str],
) -> list[OpenedAlert]:
    """Open an alert per draft unless one of its rule is open for the pupil (or was resolved
    by hand lately); clear open ones whose rule no longer holds for a pupil in ``evaluated``."""
    existing = await _unresolved(db, evaluated)
    quiet = await _quiet(db, evaluated, now)
    firing = {(p, d.rule.value) for p, ds in drafts.items() for d in ds}
    for key, alert in existing.items():
        if key not in firing:
            alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, SYSTEM
            alert.note = (alert.note + "\n" if alert.note else "") + "Cleared: no longer applies."
    opened = []
    for pupil_id, pupil_drafts in drafts.items():
        for draft in pupil_drafts:
            key = (pupil_id, draft.rule.value)
            if key in existing or key in quiet:
                continue
            made = await _open(db, provider_id, pupil_id, draft, now)
            if made is not None:
                opened.append(made)
    return opened


async def _open(
    db: AsyncSession, provider_id: str, pupil_id: str, draft: AlertDraft, now: datetime
) -> OpenedAlert | None:
    pupil = await db.get(Pupil, pupil_id)
    if pupil is None:
        return None
    alert = AlertRow(
        pupil_id=pupil_id,
        provider_id=provider_id,
        rule=draft.rule.value,
        status="open",
        summary=draft.summary[:300],
        figures=draft.figures,
        opened_at=now,
        note="",
    )
    try:
        async with db.begin_nested():
            db.add(alert)
    except IntegrityError:  # another run opened it first: one open alert is the point
        return None
    users = await recipients_for(db, pupil)
    db.add_all(AlertRecipientRow(alert_id=alert.id, user_id=u.id) for u in users)
    name = f"{pupil.first_name} {pupil.last_name}"
    return OpenedAlert(alert, users, name)


def alert_notices(opened: OpenedAlert) -> list[Notice]:
    """One in-app notice (and email, when SMTP is set) per recipient of a new alert."""
    alert = opened.alert
    return [
        Notice(
            idempotency_key=f"engagement-alert:{alert.id}:{user.id}",
            kind="engagement_alert",
            subject=f"{opened.pupil_name}: {alert.summary}"[:200],
            body=f"{alert.summary}\n\nOpen the alert to acknowledge it or note what was done.",
            user_id=user.id,
            email=user.email,
            link=f"/engagement/alerts/{alert.id}",
        )
        for user in opened.recipients
    ]


async def _own_alert(db: AsyncSession, who: Principal, alert_id: str) -> AlertRow:
    alert = await db.get(AlertRow, alert_id)
    if alert is None or alert.provider_id != who.provider_id:
        raise NotFound(f"There is no alert {alert_id!r}.")
    sent_to = await db.get(AlertRecipientRow, (alert_id, who.subject_id))
    if sent_to is None:
        raise NotFound(f"There is no alert {alert_id!r} for you.")
    return alert


async def acknowledge(
    db: AsyncSession, who: Principal, alert_id: str, note: str, now: datetime
) -> AlertRow:
    """Acknowledge an open alert sent to the caller; ``Conflict`` when it is not open."""
    alert = await _own_alert(db, who, alert_id)
    if alert.status != "open":
        raise Conflict(f"This alert is already {alert.status}.")
    alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, who.subject_id
    if note:
        alert.note = (alert.note + "\n" if alert.note else "") + note
    return alert


async def resolve(
    db: AsyncSession, who: Principal, alert_id: str, note: str, now: datetime
) -> AlertRow:
    """Resolve an alert sent to the caller, with a note of what was done."""
    alert = await _own_alert(db, who, alert_id)
    if alert.status == "resolved":
        raise Conflict("This alert is already resolved.")
    alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, who.subject_id
    alert.note = (alert.note + "\n" if alert.note else "") + note
    return alert
