"""The review reminder, the overdue flag and the no-contact alert, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integration.reintegration_helpers import plan_body
from sqlalchemy import select

from telepresence.notifications.models import Notification
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.reintegration.jobs import no_contact_alerts, review_reminders


async def _kinds(client, user_id: str) -> list[str]:
    async with client.app[DATABASE].sessions() as session:
        rows = await session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at)
        )
        return list(rows)


async def _alerts(client, plan_id: str, login) -> list[str]:
    """The plan's alerts (signed in afresh: the clock may have moved past a token's life)."""
    resp = await client.get(
        f"/api/reintegration/plans/{plan_id}/timeline?kinds=alert",
        headers=await login("hospital_staff"),
    )
    return [item["title"] for item in await resp.json()]


async def test_review_reminder_then_overdue_each_once(client, org, login, clock):
    worker = await login("hospital_staff")
    today = datetime.now(UTC).date()
    body = plan_body(org, review_dates=[(today + timedelta(days=5)).isoformat()])
    plan = await (await client.post("/api/reintegration/plans", json=body, headers=worker)).json()
    ctx = client.app[JOBS].context
    worker_id = org.users["hospital_staff"].id
    assert await review_reminders(ctx) == 0  # five days ahead, reminders start at three
    clock.advance(timedelta(days=3))
    assert await review_reminders(ctx) == 1
    assert await review_reminders(ctx) == 0  # told once
    assert await _kinds(client, worker_id) == ["reintegration_review_due"]
    assert await _alerts(client, plan["id"], login) == []
    clock.advance(timedelta(days=3))
    assert await review_reminders(ctx) == 1
    assert await _kinds(client, worker_id) == [
        "reintegration_review_due",
        "reintegration_review_overdue",
    ]
    due = (today + timedelta(days=5)).strftime("%d %b %Y")
    assert await _alerts(client, plan["id"], login) == [f"Review of {due} overdue"]


async def test_a_held_review_stops_the_overdue_flag(client, org, login, clock):
    worker = await login("hospital_staff")
    today = datetime.now(UTC).date()
    body = plan_body(org, review_dates=[(today + timedelta(days=1)).isoformat()])
    plan = await (await client.post("/api/reintegration/plans", json=body, headers=worker)).json()
    factors = await (await client.get("/api/reintegration/factors", headers=worker)).json()
    review = {
        "held_on": today.isoformat(),
        "ratings": [{"factor_id": factors[0]["id"], "rating": "yes"}],
    }
    url = f"/api/reintegration/plans/{plan['id']}/reviews"
    assert (await client.post(url, json=review, headers=worker)).status == 201
    clock.advance(timedelta(days=4))
    assert await review_reminders(client.app[JOBS].context) == 0


async def test_no_contact_with_the_home_school_raises_one_alert(client, org, login, clock):
    worker = await login("hospital_staff")
    plan = await (
        await client.post("/api/reintegration/plans", json=plan_body(org), headers=worker)
    ).json()
    ctx = client.app[JOBS].context
    clock.advance(timedelta(days=20))
    assert await no_contact_alerts(ctx) == 0
    contact = {
        "happened_on": (datetime.now(UTC) + timedelta(days=20)).date().isoformat(),
        "party": "parent_carer",  # a call with the family is not contact with the school
        "people": "Mum",
        "channel": "call",
    }
    url = f"/api/reintegration/plans/{plan['id']}/contacts"
    worker = await login("hospital_staff")
    assert (await client.post(url, json=contact, headers=worker)).status == 201
    clock.advance(timedelta(days=1))
    assert await no_contact_alerts(ctx) == 1
    assert await no_contact_alerts(ctx) == 0
    assert await _alerts(client, plan["id"], login) == [
        "No contact with the home school for 21+ days"
    ]
    school = contact | {
        "party": "home_school",
        "people": "SENCO",
        "happened_on": (datetime.now(UTC) + timedelta(days=21)).date().isoformat(),
    }
    worker = await login("hospital_staff")
    assert (await client.post(url, json=school, headers=worker)).status == 201
    clock.advance(timedelta(days=20))
    assert await no_contact_alerts(ctx) == 0
    await client.put(
        "/api/reintegration/rules",
        json={"no_contact_days": 14, "review_remind_days": 3},
        headers=await login("admin"),
    )
    assert await no_contact_alerts(ctx) == 1  # the provider's shorter period applies
