"""A school contact reads the notices sent to them in the app, as staff do (both databases)."""

from __future__ import annotations

from integration.reintegration_helpers import add_cast
from sqlalchemy import select

from telepresence.platform.events.notifier import Notice
from telepresence.platform.http.context import DATABASE, NOTIFIER
from telepresence.platform.models import User


async def test_a_school_contact_lists_and_reads_their_own_notices(client, org, login):
    cast = await add_cast(client.app[DATABASE], org)
    async with client.app[DATABASE].sessions() as session:
        contact_id = await session.scalar(
            select(User.id).where(User.email == cast.emails["contact"])
        )
        other_id = await session.scalar(
            select(User.id).where(User.email == cast.emails["other_contact"])
        )
    assert contact_id
    assert other_id
    notifier = client.app[NOTIFIER]
    for key, user in (("mine", contact_id), ("theirs", other_id)):
        await notifier.notify(
            Notice(
                idempotency_key=f"test:{key}",
                kind="reintegration_review_due",
                subject=f"Review due ({key})",
                body="The review is in three days.",
                user_id=user,
            )
        )
    contact = await login(cast.emails["contact"])
    resp = await client.get("/api/notifications", headers=contact)
    assert resp.status == 200, await resp.text()
    notices = await resp.json()
    assert [n["subject"] for n in notices] == ["Review due (mine)"]
    read = await client.post(f"/api/notifications/{notices[0]['id']}/read", headers=contact)
    assert read.status == 200
    assert (await read.json())["read_at"] is not None
    unread = await client.get("/api/notifications?unread=true", headers=contact)
    assert await unread.json() == []
