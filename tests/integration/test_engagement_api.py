"""The engagement API on each database: role scoping, audit, bad input, alerts, CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from factories import PUPIL_PIN, add_device, add_user
from integration.engagement_helpers import past_lesson, past_weekdays
from sqlalchemy import func, select

from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.models import AlertRow
from telepresence.engagement.operational.rules import OpsDraft, OpsRule
from telepresence.engagement.operational.store import open_alert
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import AuditEntry, Pupil, School, zone_of


async def _seed(client, org) -> dict[str, str]:
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    d = past_weekdays(4)
    ids = {
        "attended": await past_lesson(database, org, robot.id, d[0], present=[(0, 52)]),
        "formula": await past_lesson(
            database, org, robot.id, d[1], subject='=HYPERLINK("x")', present=[(0, 10)]
        ),
        "missed1": await past_lesson(database, org, robot.id, d[2], failed_move=True),
        "missed2": await past_lesson(database, org, robot.id, d[3]),
    }
    await compute_finished_outcomes(client.app[JOBS].context)
    return ids


async def _audits(client, action: str) -> int:
    async with client.app[DATABASE].sessions() as db:
        count = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
    return int(count or 0)


async def test_lessons_say_what_happened_and_reads_are_audited(client, org, login):
    await _seed(client, org)
    url = f"/api/engagement/pupils/{org.pupil.id}/lessons"
    for role in ("coordinator", "hospital_staff", "admin"):
        resp = await client.get(url, headers=await login(role))
        assert resp.status == 200, await resp.text()
    lessons = await resp.json()
    assert [x["description"] for x in lessons] == [
        "Attended 52 of 60 min",  # 52/60 is over 80 %
        "Partly attended: 10 of 60 min",
        "Missed: robot not moved",
        "Missed",
    ]
    assert await _audits(client, "engagement.lessons") == 3
    weeks = await (
        await client.get(f"/api/engagement/pupils/{org.pupil.id}", headers=await login("admin"))
    ).json()
    assert weeks["total"]["booked"] == 4
    assert weeks["total"]["joined"] == 2
    assert weeks["total"]["minutes"] == 62
    assert {s["key"] for s in weeks["subjects"]} == {"Maths", '=HYPERLINK("x")'}


async def test_who_may_not_see_and_bad_input(client, org, login):
    await _seed(client, org)
    url = f"/api/engagement/pupils/{org.pupil.id}/lessons"
    resp = await client.get(url, headers=await login("assistant"))
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"
    assert (await client.get(url, headers=await login("other_admin"))).status == 404
    # Hospital staff who are not the pupil's key worker see nothing of them.
    async with client.app[DATABASE].transaction() as db:
        await add_user(db, "hospital_staff", org.provider_id, email="nurse@test.example")
    assert (await client.get(url, headers=await login("nurse@test.example"))).status == 404
    summary = await client.get("/api/engagement/summary", headers=await login("nurse@test.example"))
    assert (await summary.json())["pupils"] == []
    coord = await login("coordinator")
    for query, status in (
        ("?start=2026-03-10&end=2026-03-01", 422),
        ("?start=2020-01-01&end=2026-03-01", 422),
        ("?start=2001-01-01", 422),
        ("?start=yesterday", 422),
        ("?colour=red", 422),
    ):
        resp = await client.get(url + query, headers=coord)
        assert resp.status == status, query
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["detail"]
    assert (await client.get("/api/engagement/pupils/nope/lessons", headers=coord)).status == 404
    assert await _audits(client, "engagement.lessons") == 0  # refused reads leave no trace


async def test_alerts_acknowledge_once_by_recipients_and_resolve_with_a_note(client, org, login):
    await _seed(client, org)
    database = client.app[DATABASE]
    robot = await add_device(database, org, serial="R2")
    await past_lesson(database, org, robot.id, past_weekdays(1)[0], hour=13)  # a third miss
    await compute_finished_outcomes(client.app[JOBS].context)
    await nightly_engagement(client.app[JOBS].context, force=True)
    coord, admin = await login("coordinator"), await login("admin")
    alerts = await (await client.get("/api/engagement/alerts", headers=coord)).json()
    missed = next(a for a in alerts if a["rule"] == "missed_in_a_row")
    assert missed["figures"] == {"missed_in_a_row": 3}
    ack = f"/api/engagement/alerts/{missed['id']}/acknowledge"
    assert (await client.post(ack, json={}, headers=admin)).status == 404  # not sent to them
    resp = await client.post(ack, json={"note": "Called the ward"}, headers=coord)
    assert resp.status == 200
    assert (await resp.json())["status"] == "acknowledged"
    again = await client.post(ack, json={"note": "again"}, headers=await login("hospital_staff"))
    assert again.status == 409
    resolve = f"/api/engagement/alerts/{missed['id']}/resolve"
    assert (await client.post(resolve, json={"note": ""}, headers=coord)).status == 422
    async with database.sessions() as db:
        row = await db.get(AlertRow, missed["id"])
    assert row.status == "acknowledged"
    assert row.note == "Called the ward"
    resp = await client.post(resolve, json={"note": "Back on Monday"}, headers=coord)
    assert (await resp.json())["status"] == "resolved"
    exported = await client.get("/api/engagement/exports/alerts.csv?status=all", headers=coord)
    rows = list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert missed["id"] in {r["alert_id"] for r in rows}


async def test_alerts_csv_names_each_alerts_subject_neutralised(client, org, login):
    """Operational alerts are one per pupil, rule and subject: the CSV says which subject."""
    await _seed(client, org)
    database = client.app[DATABASE]
    robot = await add_device(database, org, serial="R2")
    await past_lesson(database, org, robot.id, past_weekdays(1)[0], hour=13)  # a third miss
    await compute_finished_outcomes(client.app[JOBS].context)
    await nightly_engagement(client.app[JOBS].context, force=True)  # a disengagement alert
    unwell = await client.post(
        f"/api/pupils/{org.pupil.id}/unwell-today", headers=await login("hospital_staff")
    )
    assert unwell.status == 200, await unwell.text()
    now = datetime.now(UTC)
    crafted = OpsDraft(OpsRule.DEVICE_OFFLINE, "=cmd|' /C calc'!A0", "Robot '@x' is offline.")
    async with database.transaction() as db:
        assert await open_alert(db, org.pupil.id, crafted, now) is not None
    coord = await login("coordinator")
    resp = await client.get("/api/engagement/exports/alerts.csv?status=all", headers=coord)
    assert resp.status == 200
    text = (await resp.read()).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:4] == ["pupil", "rule", "subject", "status"]
    rows = list(csv.DictReader(io.StringIO(text)))
    by_rule = {r["rule"]: r for r in rows}
    assert by_rule["missed_in_a_row"]["subject"] == ""  # a disengagement rule: no subject
    async with database.sessions() as db:
        school = await db.get(School, org.school_id)
    day = now.astimezone(zone_of(school)).date()
    assert by_rule["unwell_today"]["subject"] == f"day:{day.isoformat()}"
    assert by_rule["device_offline"]["subject"] == "'=cmd|' /C calc'!A0"  # neutralised
    assert by_rule["device_offline"]["summary"] == "Robot '@x' is offline."
    api = await (await client.get("/api/engagement/alerts?status=all", headers=coord)).json()
    assert {a["rule"]: a["subject"] for a in api}["unwell_today"] == f"day:{day.isoformat()}"


async def test_csv_exports_parse_back_with_formulas_neutralised(client, org, login):
    ids = await _seed(client, org)
    coord = await login("coordinator")
    resp = await client.get(
        f"/api/engagement/exports/lessons.csv?pupil_id={org.pupil.id}", headers=coord
    )
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    assert resp.charset == "utf-8"
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    by_id = {r["booking_id"]: r for r in rows}
    assert set(by_id) == set(ids.values())
    assert by_id[ids["formula"]]["subject"] == '\'=HYPERLINK("x")'
    assert by_id[ids["missed1"]]["description"] == "Missed: robot not moved"
    assert by_id[ids["attended"]]["present_minutes"] == "52"
    weekly = await client.get("/api/engagement/exports/weekly.csv", headers=coord)
    lines = list(csv.DictReader(io.StringIO((await weekly.read()).decode("utf-8-sig"))))
    assert sum(int(x["booked"]) for x in lines) == 4
    assert {x["pupil"] for x in lines} == {"Sam Kowalski"}
    assert await _audits(client, "engagement.export_lessons") == 1
    assert await _audits(client, "engagement.export_weekly") == 1
    assert (
        await client.get("/api/engagement/exports/weekly.csv", headers=await login("assistant"))
    ).status == 403


async def test_the_pupil_hears_about_their_own_week(client, org):
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    now = datetime.now(UTC)
    monday = now.date() - timedelta(days=now.weekday())
    if now.date() > monday:  # a lesson earlier this week, if the week has begun
        await past_lesson(database, org, robot.id, monday, present=[(0, 60)])
    await compute_finished_outcomes(client.app[JOBS].context)
    login = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "samk42", "pin": PUPIL_PIN}
    )
    token = (await login.json())["token"]
    resp = await client.get("/api/engagement/me", headers={"Authorization": f"Bearer {token}"})
    body = await resp.json()
    if now.date() > monday:
        assert body["text"] == "You joined 1 lesson this week (60 minutes)."
    else:
        assert body["joined"] == 0
    async with database.sessions() as db:
        assert await db.get(Pupil, org.pupil.id) is not None
