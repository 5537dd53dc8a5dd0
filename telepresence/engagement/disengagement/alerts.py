"""Disengagement alerts: opened once per pupil and rule while open, acknowledged and resolved
by the people they were sent to, cleared when their rule no longer holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement.disengagement.rules import AlertDraft
from telepresence.engagement.models import AlertRecipientRow, AlertRow
from telepresence.platform.database import new_id
from telepresence.platform.errors import Conflict, NotFound
from telepresence.platform.events.notifier import Notice
from telepresence.platform.models import Pupil, User
from telepresence.platform.security.identity import Principal, Role

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
            AlertRow.pupil_id.in_(list(pupil_ids)),
            AlertRow.status != "resolved",
            AlertRow.subject_key == "",  # operational alerts clear by their own causes
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
            AlertRow.subject_key == "",
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
    wanted = [
        (pupil_id, draft)
        for pupil_id, pupil_drafts in drafts.items()
        for draft in pupil_drafts
        if (pupil_id, draft.rule.value) not in existing
        and (pupil_id, draft.rule.value) not in quiet
    ]
    return await _open_all(db, provider_id, wanted, now) if wanted else []


async def _open_all(
    db: AsyncSession, provider_id: str, wanted: list[tuple[str, AlertDraft]], now: datetime
) -> list[OpenedAlert]:
    """Insert the alerts in one statement, skipping any another run opened meanwhile (the
    partial unique index: one unresolved alert per pupil, rule and subject), and their
    recipients."""
    pupils = {
        p.id: p
        for p in await db.scalars(
            select(Pupil).where(Pupil.id.in_(sorted({pupil_id for pupil_id, _d in wanted})))
        )
    }
    rows = [
        {
            "id": new_id(),
            "pupil_id": pupil_id,
            "provider_id": provider_id,
            "rule": draft.rule.value,
            "subject_key": "",
            "status": "open",
            "summary": draft.summary[:300],
            "figures": draft.figures,
            "opened_at": now,
            "note": "",
        }
        for pupil_id, draft in wanted
        if pupil_id in pupils
    ]
    if not rows:
        return []
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), 1000):  # 10 parameters a row, well under the drivers' cap
        await db.execute(
            dialect.insert(AlertRow.__table__)
            .values(rows[start : start + 1000])
            .on_conflict_do_nothing(
                index_elements=["pupil_id", "rule", "subject_key"],
                index_where=text("status != 'resolved'"),
            )
        )
    made = list(await db.scalars(select(AlertRow).where(AlertRow.id.in_([r["id"] for r in rows]))))
    people = await _recipients(db, provider_id, [pupils[a.pupil_id] for a in made])
    recipients = [
        {"alert_id": alert.id, "user_id": user.id}
        for alert in made
        for user in people[alert.pupil_id]
    ]
    if recipients:
        await db.execute(insert(AlertRecipientRow), recipients)
    return [
        OpenedAlert(
            alert,
            people[alert.pupil_id],
            f"{pupils[alert.pupil_id].first_name} {pupils[alert.pupil_id].last_name}",
        )
        for alert in made
    ]


async def _recipients(
    db: AsyncSession, provider_id: str, pupils: list[Pupil]
) -> dict[str, list[User]]:
    """Per pupil: their key worker and the provider's active coordinators (two queries)."""
    workers = sorted({p.key_worker_id for p in pupils if p.key_worker_id})
    query = select(User).where(
        User.provider_id == provider_id,
        User.active.is_(True),
        (User.role == Role.COORDINATOR.value) | User.id.in_(workers),
    )
    users = list(await db.scalars(query.order_by(User.id)))
    coordinators = [u for u in users if u.role == Role.COORDINATOR.value]
    by_id = {u.id: u for u in users}
    out = {}
    for pupil in pupils:
        worker = by_id.get(pupil.key_worker_id or "")
        chosen = {u.id: u for u in coordinators}
        if worker is not None:
            chosen[worker.id] = worker
        out[pupil.id] = [chosen[k] for k in sorted(chosen)]
    return out


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
