"""Notifications against a real SMTP server (aiosmtpd) and the real database, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from factories import OPERATOR, Org
from smtp_server import Mailbox, free_port, smtp_server
from sqlalchemy import select, update

from telepresence.app import create_app
from telepresence.notifications.domain import EmailStatus
from telepresence.notifications.models import Notification
from telepresence.notifications.services import NotificationService
from telepresence.notifications.smtp import SmtpMailer
from telepresence.platform.events.notifier import Notice
from telepresence.platform.http.context import DATABASE, NOTIFIER


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


def notice(org: Org, key: str = "move-reminder:m1", *, email: str | None = "ann@school.example"):
    return Notice(
        idempotency_key=key,
        kind="move_reminder",
        subject="Move Robbie to Lab 3 by 10:05",
        body="Robot 'Robbie' from S12 to Lab 3 by 10:05 for Sam K.",
        user_id=org.users["assistant"].id,
        email=email,
        link="/rota",
    )


def service(client, clock, port: int | None, **kwargs) -> NotificationService:
    mailer = SmtpMailer("127.0.0.1", port, tls="none", timeout=5) if port else None
    return NotificationService(
        client.app[DATABASE],
        clock,
        mailer,
        sender="Classbridge <noreply@classbridge.example>",
        base_url="https://classbridge.example",
        **kwargs,
    )


async def rows(client) -> list[Notification]:
    async with client.app[DATABASE].sessions() as session:
        return list((await session.scalars(select(Notification))).all())


async def test_a_notice_is_emailed_once_and_recorded(client, org, clock, smtp):
    port, mailbox = smtp
    notifier = service(client, clock, port)
    assert await notifier.notify(notice(org)) is True
    assert mailbox.messages == []  # queued: notify() never talks to the SMTP server
    assert await notifier.notify(notice(org)) is False  # same key: nothing more
    assert await notifier.send_due() == 1
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == "ann@school.example"
    assert mail["Subject"] == "Move Robbie to Lab 3 by 10:05"
    assert "https://classbridge.example/rota" in mail.get_payload()
    [row] = await rows(client)
    assert row.email_status == EmailStatus.SENT
    assert row.email_attempts == 1
    assert row.emailed_at is not None
    assert row.email_next_at is None
    assert await notifier.send_due() == 0


async def test_racing_sends_of_one_key_send_one_email(client, org, clock, smtp):
    port, mailbox = smtp
    notifier = service(client, clock, port)
    results = await asyncio.gather(*(notifier.notify(notice(org)) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    sent = await asyncio.gather(*(notifier.send_due() for _ in range(3)))  # three instances
    assert sorted(sent) == [0, 0, 1]
    assert len(mailbox.messages) == 1


async def tries(notifier: NotificationService, clock, times: int) -> None:
    """``times`` passes of the sender, the clock moved past each retry's wait."""
    for _ in range(times):
        await notifier.send_due()
        clock.advance(timedelta(minutes=31))


async def test_a_refusing_server_is_retried_a_bounded_number_of_times(client, org, clock):
    with smtp_server(refuse=1) as (port, mailbox):
        notifier = service(client, clock, port, attempts=3, first_retry_seconds=60)
        assert await notifier.notify(notice(org, "k1"))
        await notifier.send_due()
        assert mailbox.messages == []
        clock.advance(timedelta(seconds=55))
        assert await notifier.send_due() == 0  # not due for a few more seconds
        clock.advance(timedelta(seconds=5))
        assert await notifier.send_due() == 1
        assert len(mailbox.messages) == 1
    with smtp_server(refuse=10) as (port, mailbox):
        notifier = service(client, clock, port, attempts=3, first_retry_seconds=60)
        assert await notifier.notify(notice(org, "k2"))
        await tries(notifier, clock, 5)
        assert mailbox.attempts == 3
        assert mailbox.messages == []
        assert notifier.failed == 1
    by_key = {r.idempotency_key: r for r in await rows(client)}
    assert (by_key["k1"].email_status, by_key["k1"].email_attempts) == ("sent", 2)
    assert (by_key["k2"].email_status, by_key["k2"].email_attempts) == ("failed", 3)
    assert "451" in (by_key["k2"].email_error or "")


async def test_an_unreachable_server_is_recorded_as_failed(client, org, clock):
    notifier = service(client, clock, free_port(), attempts=2, first_retry_seconds=1)
    assert await notifier.notify(notice(org))
    await tries(notifier, clock, 3)
    [row] = await rows(client)
    assert row.email_status == EmailStatus.FAILED
    assert row.email_attempts == 2


async def test_without_smtp_the_app_runs_and_says_so(client, org, login):
    health = await (await client.get("/healthz", headers=OPERATOR)).json()
    assert health["smtp"] == "not configured"
    assert await client.app[NOTIFIER].notify(notice(org))
    [row] = await rows(client)
    assert row.email_status == EmailStatus.NOT_CONFIGURED
    headers = await login("assistant")
    listed = await (await client.get("/api/notifications", headers=headers)).json()
    assert [n["subject"] for n in listed] == ["Move Robbie to Lab 3 by 10:05"]


async def test_the_app_emails_through_the_configured_server(aiohttp_client, settings, clock, smtp):
    port, mailbox = smtp
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"}
    )
    client = await aiohttp_client(create_app(configured, clock=clock))
    from factories import seed_org

    org = await seed_org(client.app[DATABASE])
    health = await (await client.get("/healthz", headers=OPERATOR)).json()
    assert health["smtp"] == "configured"
    assert await client.app[NOTIFIER].notify(notice(org))
    await mailed(mailbox, 1)  # by the instance's background sender, within moments
    assert [m["Subject"] for m in mailbox.messages] == ["Move Robbie to Lab 3 by 10:05"]
    metrics = await client.get("/metrics", headers=OPERATOR)
    text = await metrics.text()
    assert "classbridge_emails_sent_total 1.0" in text
    assert "classbridge_emails_failed_total 0.0" in text
    assert "classbridge_emails_queued 0.0" in text


async def test_users_see_and_mark_only_their_own_notifications(client, org, clock, login):
    notifier = service(client, clock, None)
    await notifier.notify(notice(org, "a", email=None))
    await notifier.notify(notice(org, "b", email=None))
    assistant, admin = await login("assistant"), await login("admin")
    listed = await (await client.get("/api/notifications", headers=assistant)).json()
    assert len(listed) == 2
    assert await (await client.get("/api/notifications", headers=admin)).json() == []
    target = listed[0]["id"]
    refused = await client.post(f"/api/notifications/{target}/read", headers=admin)
    assert refused.status == 404
    for _ in range(2):  # idempotent
        done = await client.post(f"/api/notifications/{target}/read", headers=assistant)
        assert done.status == 200
        assert (await done.json())["read_at"] is not None
    unread = await (await client.get("/api/notifications?unread=true", headers=assistant)).json()
    assert [n["id"] for n in unread] == [listed[1]["id"]]


async def test_a_notice_cut_off_before_its_email_is_sent_later_once(client, org, clock, smtp):
    port, mailbox = smtp
    notifier = service(client, clock, port)
    assert await notifier.notify(notice(org, "stalled"))
    # An instance claimed it and died before sending it: its claim holds for a while.
    async with client.app[DATABASE].transaction() as db:
        await db.execute(
            update(Notification).values(email_next_at=clock.now() + timedelta(minutes=5))
        )
    assert await notifier.resend_stalled() == 0  # it may still be sending: wait
    clock.advance(timedelta(minutes=5))
    results = await asyncio.gather(notifier.resend_stalled(), notifier.resend_stalled())
    assert sorted(results) == [0, 1]
    assert [m["To"] for m in mailbox.messages] == ["ann@school.example"]
    by_key = {r.idempotency_key: r for r in await rows(client)}
    assert by_key["stalled"].email_status == EmailStatus.SENT


async def test_smtp_down_then_up_the_email_is_sent_later_once(client, org, clock):
    port = free_port()
    notifier = service(client, clock, port, attempts=6, first_retry_seconds=60)
    assert await notifier.notify(notice(org, "down"))
    assert await notifier.send_due() == 1  # refused: nobody listens
    [row] = await rows(client)
    assert (row.email_status, row.email_attempts) == (EmailStatus.RETRYING, 1)
    assert row.email_next_at is not None
    assert timedelta(seconds=55) < row.email_next_at - clock.now() <= timedelta(seconds=60)
    assert "Connect" in (row.email_error or "") or "refused" in (row.email_error or "")
    clock.advance(timedelta(seconds=60))
    assert await notifier.send_due() == 1  # still down: next in 120 s
    with smtp_server(port=port) as (_, mailbox):
        clock.advance(timedelta(seconds=115))
        assert await notifier.send_due() == 0
        clock.advance(timedelta(seconds=5))
        assert await notifier.send_due() == 1
        for _ in range(3):  # and never again
            clock.advance(timedelta(hours=1))
            assert await notifier.send_due() == 0
    assert [m["Subject"] for m in mailbox.messages] == ["Move Robbie to Lab 3 by 10:05"]
    [row] = await rows(client)
    assert (row.email_status, row.email_attempts, row.email_next_at) == ("sent", 3, None)
    assert (notifier.sent, notifier.failed) == (1, 0)


async def mailed(mailbox: Mailbox, n: int) -> None:
    async with asyncio.timeout(5):
        while len(mailbox.messages) < n:
            await asyncio.sleep(0.02)
