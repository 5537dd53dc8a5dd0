"""The rota's alerts reach the right people once, by email (a real SMTP server) and in the app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import Message

import pytest
from factories import Org, add_device, seed_org
from smtp_server import Mailbox, smtp_server
from sqlalchemy import select

from scheduler.rota.listener import ROTA_ALERTS
from scheduler.rota.models import MoveRow
from telepresence.app import create_app
from telepresence.engagement.operational.hooks import EngagementRotaAlerts
from telepresence.notifications.models import Notification
from telepresence.notifications.rota_alerts import NotifyingRotaAlerts
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Pupil, School


def text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


async def a_move(client, org: Org) -> MoveRow:
    database = client.app[DATABASE]
    robot = await add_device(database, org)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        pupil = await session.get(Pupil, org.pupil.id)
        school = await session.get(School, org.school_id)
        assert pupil is not None
        assert school is not None
        pupil.key_worker_id = org.users["hospital_staff"].id
        school.contact_email = "office@school.example"
        move = MoveRow(
            id="m1",
            school_id=org.school_id,
            local_date=date(2026, 11, 25),
            device_id=robot.id,
            booking_id="b1",
            pupil_id=org.pupil.id,
            reason="between",
            from_room_id="r1",
            from_room_name="S12",
            to_room_id="r2",
            to_room_name="Lab 3",
            earliest=datetime(2026, 11, 25, 9, 55, tzinfo=UTC),
            due=datetime(2026, 11, 25, 10, 5, tzinfo=UTC),
            status="pending",
            status_reason="nobody on duty then",
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(move)
    return move


async def test_moves_nobody_can_do_reach_the_school_and_the_key_worker_once(
    aiohttp_client, settings, clock, smtp
):
    port, mailbox = smtp
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"}
    )
    client = await aiohttp_client(create_app(configured, clock=clock))
    alerts = client.app[ROTA_ALERTS]
    assert isinstance(alerts, EngagementRotaAlerts)  # also opens engagement alerts
    assert isinstance(alerts.inner, NotifyingRotaAlerts)
    org = await seed_org(client.app[DATABASE])
    move = await a_move(client, org)
    for _ in range(2):  # announced twice, sent once
        await alerts.unassignable(org.school_id, [move.id])
    await mailed(mailbox, 2)  # by the background sender
    worker = org.users["hospital_staff"]
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        [worker.email, "office@school.example"]
    )
    body = text(mailbox.messages[0])
    # School time (Europe/London = UTC in November), first name and initial only.
    pupil = org.pupil
    assert f"Robot 'Robbie' · from S12 to Lab 3 · by 10:05 · for {pupil.first_name} " in body
    assert pupil.last_name not in body.replace(f"{pupil.first_name} {pupil.last_name[0]}.", "")
    assert "nobody on duty then" in body

    await alerts.failed(org.school_id, move.id, "lift out of order")
    await alerts.rota_changed(org.school_id, [org.users["assistant"].id])
    async with client.app[DATABASE].sessions() as session:
        rows = (await session.scalars(select(Notification))).all()
    kinds = sorted((r.kind, r.user_id or r.email) for r in rows)
    assert kinds == sorted(
        [
            ("move_unassignable", worker.id),
            ("move_unassignable", "office@school.example"),
            ("move_failed", worker.id),
            ("move_failed", "office@school.example"),
            ("rota_changed", org.users["assistant"].id),
        ]
    )
    await mailed(mailbox, 5)
    assert len(mailbox.messages) == 5
    assert any("lift out of order" in text(m) for m in mailbox.messages)


async def mailed(mailbox: Mailbox, n: int) -> None:
    async with asyncio.timeout(5):
        while len(mailbox.messages) < n:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and no more than that
