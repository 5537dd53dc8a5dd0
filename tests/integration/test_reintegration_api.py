"""The reintegration API on SQLite and PostgreSQL: plans, phases, reviews, contacts, visits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from integration.reintegration_helpers import PASSWORD, add_cast, next_school_day, plan_body
from sqlalchemy import func, select

from scheduler.timetables.models import ClosureRow
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry
from telepresence.reintegration.models import PlanEvent, PlanRow

PROBLEM = "application/problem+json"


async def _start(client, org, login) -> tuple[str, dict[str, str]]:
    worker = await login("hospital_staff")
    resp = await client.post("/api/reintegration/plans", json=plan_body(org), headers=worker)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"], worker


async def _count(client, model) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_key_worker_runs_the_phases_and_history_says_who(client, org, login):
    plan_id, worker = await _start(client, org, login)
    again = await client.post("/api/reintegration/plans", json=plan_body(org), headers=worker)
    assert again.status == 409
    assert again.content_type == PROBLEM
    url = f"/api/reintegration/plans/{plan_id}/phase"
    events = await _count(client, PlanEvent)
    skip = await client.post(url, json={"phase": "back_in_school"}, headers=worker)
    assert skip.status == 422
    assert skip.content_type == PROBLEM
    assert "reason" in (await skip.json())["detail"]
    no_days = await client.post(url, json={"phase": "phased_return"}, headers=worker)
    assert no_days.status == 422
    assert await _count(client, PlanEvent) == events  # nothing changed
    phased = await client.post(
        url, json={"phase": "phased_return", "school_weekdays": [0, 2]}, headers=worker
    )
    assert phased.status == 200, await phased.text()
    assert (await phased.json())["school_weekdays"] == [0, 2]
    back = await client.post(
        url, json={"phase": "remote_only", "reason": "Back on the ward"}, headers=worker
    )
    assert (await back.json())["phase"] == "remote_only"
    timeline = await (
        await client.get(f"/api/reintegration/plans/{plan_id}/timeline?kinds=phase", headers=worker)
    ).json()
    assert [i["title"] for i in timeline] == [
        "Phased return → Remote lessons only",
        "Remote lessons only → Phased return",
    ]
    assert timeline[0]["detail"] == "Back on the ward"
    assert timeline[0]["actor"] == "Test hospital staff"
    close = await client.post(url, json={"phase": "closed", "reason": "Moved"}, headers=worker)
    assert close.status == 422  # closing needs an outcome
    bad_kind = await client.get(
        f"/api/reintegration/plans/{plan_id}/timeline?kinds=x", headers=worker
    )
    assert bad_kind.status == 422


async def test_only_the_key_worker_changes_the_plan(client, org, login):
    plan_id, _ = await _start(client, org, login)
    cast = await add_cast(client.app[DATABASE], org)
    colleague = await login(cast.emails["colleague"])
    resp = await client.post(
        f"/api/reintegration/plans/{plan_id}/phase",
        json={"phase": "phased_return", "school_weekdays": [1]},
        headers=colleague,
    )
    assert resp.status == 403
    assert resp.content_type == PROBLEM
    read = await client.get(f"/api/reintegration/plans/{plan_id}", headers=colleague)
    assert read.status == 200
    other = await client.get(
        f"/api/reintegration/plans/{plan_id}", headers=await login("other_admin")
    )
    assert other.status == 404
    assert org.pupil.first_name not in await other.text()


async def test_reviews_show_how_ratings_moved(client, org, login):
    plan_id, worker = await _start(client, org, login)
    factors = await (await client.get("/api/reintegration/factors", headers=worker)).json()
    assert len(factors) == 14
    assert factors[0]["group"] == "child"
    a, b = factors[0]["id"], factors[5]["id"]
    today = datetime.now(UTC).date()
    url = f"/api/reintegration/plans/{plan_id}/reviews"
    first = {
        "held_on": (today - timedelta(days=14)).isoformat(),
        "decisions": "Try two mornings",
        "ratings": [{"factor_id": a, "rating": "not_yet"}, {"factor_id": b, "rating": "yes"}],
    }
    assert (await client.post(url, json=first, headers=worker)).status == 201
    second = {
        "held_on": today.isoformat(),
        "ratings": [{"factor_id": a, "rating": "partly", "note": "Asked about friends"}],
    }
    resp = await client.post(url, json=second, headers=worker)
    assert resp.status == 201, await resp.text()
    review = await resp.json()
    moved = {r["factor_id"]: (r["before"], r["rating"], r["direction"]) for r in review["ratings"]}
    assert moved == {a: ("not_yet", "partly", "up"), b: ("yes", None, "unrated")}
    assert review["engagement"]["since"] == first["held_on"]
    assert review["engagement"]["source"] == "engagement"
    assert review["engagement"]["booked"] == 0
    repeated = {"held_on": today.isoformat(), "ratings": [{"factor_id": a, "rating": "yes"}] * 2}
    assert (await client.post(url, json=repeated, headers=worker)).status == 422
    future = {"held_on": (today + timedelta(days=1)).isoformat(), "ratings": second["ratings"]}
    assert (await client.post(url, json=future, headers=worker)).status == 422
    other = await client.post(url, json=second, headers=await login("other_admin"))
    assert other.status == 404  # a review for a pupil of another provider


async def test_contacts_actions_and_who_may_tick_them(client, org, login):
    plan_id, worker = await _start(client, org, login)
    cast = await add_cast(client.app[DATABASE], org)
    contact = await login(cast.emails["contact"])
    today = datetime.now(UTC).date().isoformat()
    body = {
        "happened_on": today,
        "party": "home_school",
        "people": "Ms Reed (SENCO)",
        "channel": "meeting",
        "summary": "Agreed a quiet room",
        "shared": True,
        "actions": [
            {"text": "Set up the quiet room", "assignee": "school"},
            {"text": "Send the medical care plan summary", "assignee": "key_worker"},
        ],
    }
    resp = await client.post(
        f"/api/reintegration/plans/{plan_id}/contacts", json=body, headers=worker
    )
    assert resp.status == 201, await resp.text()
    school_action, worker_action = (a["id"] for a in (await resp.json())["actions"])
    wrong = await client.post(f"/api/reintegration/actions/{school_action}/done", headers=worker)
    assert wrong.status == 403
    assert wrong.content_type == PROBLEM
    done = await client.post(f"/api/reintegration/actions/{school_action}/done", headers=contact)
    assert done.status == 200
    assert (await done.json())["done_at"]
    twice = await client.post(f"/api/reintegration/actions/{school_action}/done", headers=contact)
    assert twice.status == 409
    theirs = await client.post(f"/api/reintegration/actions/{worker_action}/done", headers=contact)
    assert theirs.status == 403
    internal = body | {"shared": False, "summary": "Mum worried about mornings", "actions": []}
    await client.post(f"/api/reintegration/plans/{plan_id}/contacts", json=internal, headers=worker)
    seen = await (
        await client.get(f"/api/reintegration/plans/{plan_id}/contacts", headers=contact)
    ).json()
    assert [c["summary"] for c in seen] == ["Agreed a quiet room"]
    future = body | {"happened_on": "2099-01-01"}
    assert (
        await client.post(
            f"/api/reintegration/plans/{plan_id}/contacts", json=future, headers=contact
        )
    ).status == 422


async def test_visits_refuse_the_past_and_closed_days(client, org, login):
    plan_id, worker = await _start(client, org, login)
    url = f"/api/reintegration/plans/{plan_id}/visits"
    london = ZoneInfo("Europe/London")
    day = next_school_day(datetime.now(UTC).date(), skip=1)

    def at(d, hour):
        return datetime.combine(d, time(hour), tzinfo=london).isoformat()

    visit = {"starts_at": at(day, 10), "ends_at": at(day, 11)}
    assert (await client.post(url, json=visit, headers=worker)).status == 409  # still remote only
    await client.post(
        f"/api/reintegration/plans/{plan_id}/phase",
        json={"phase": "phased_return", "school_weekdays": [0]},
        headers=worker,
    )
    async with client.app[DATABASE].transaction() as session:
        session.add(
            ClosureRow(school_id=org.school_id, name="INSET day", start_date=day, end_date=day)
        )
    closed = await client.post(url, json=visit, headers=worker)
    assert closed.status == 422
    assert "INSET day" in (await closed.json())["detail"]
    past = {
        "starts_at": at(day - timedelta(days=30), 10),
        "ends_at": at(day - timedelta(days=30), 11),
    }
    assert (await client.post(url, json=past, headers=worker)).status == 422
    later = next_school_day(day)
    made = await client.post(
        url, json={"starts_at": at(later, 10), "ends_at": at(later, 11)}, headers=worker
    )
    assert made.status == 201, await made.text()
    visit_id = (await made.json())["id"]
    moved = await client.patch(
        f"/api/reintegration/visits/{visit_id}",
        json={"starts_at": at(later, 13), "ends_at": at(later, 14)},
        headers=worker,
    )
    assert (await moved.json())["revision"] == 1
    feed = await (await client.post("/api/reintegration/visit-feed", headers=worker)).json()
    ics = await client.get(feed["url"])
    text = await ics.text()
    assert ics.status == 200
    assert "SUMMARY:After-care visit: Sam K." in text
    assert "SEQUENCE:1" in text


async def test_invitation_sign_in_and_only_what_is_shared(client, org, login):
    plan_id, worker = await _start(client, org, login)
    await client.post(
        f"/api/reintegration/plans/{plan_id}/notes",
        json={"text": "Shared: loves art", "shared": True},
        headers=worker,
    )
    await client.post(
        f"/api/reintegration/plans/{plan_id}/notes",
        json={"text": "Internal: medication change", "shared": False},
        headers=worker,
    )
    url = f"/api/reintegration/pupils/{org.pupil.id}/school-contacts"
    resp = await client.post(
        url, json={"email": "Head@School.example", "name": "Ms Head"}, headers=worker
    )
    assert resp.status == 201, await resp.text()
    link = (await resp.json())["invite_link"]
    in_use = await client.post(
        url, json={"email": org.email("assistant"), "name": "X"}, headers=worker
    )
    assert in_use.status == 409
    assert in_use.content_type == PROBLEM
    page = await client.get(link)
    assert page.status == 200
    form = {"password": "a good long password", "confirm": "a good long password"}
    done = await client.post(link, data=form, allow_redirects=False)
    assert done.status == 303
    assert (await client.post(link, data=form, allow_redirects=False)).status == 410
    token = await client.post(
        "/api/auth/login", json={"email": "head@school.example", "password": form["password"]}
    )
    contact = {"Authorization": f"Bearer {(await token.json())['token']}"}
    notes = await (
        await client.get(f"/api/reintegration/plans/{plan_id}/notes", headers=contact)
    ).json()
    assert [n["text"] for n in notes] == ["Shared: loves art"]
    timeline = await (
        await client.get(f"/api/reintegration/plans/{plan_id}/timeline", headers=contact)
    ).text()
    assert "medication" not in timeline
    assert "loves art" in timeline
    assert (
        await client.get(f"/api/reintegration/plans/{plan_id}/reviews", headers=contact)
    ).status == 403
    assert (await client.get(f"/api/pupils/{org.pupil.id}", headers=contact)).status == 403
    async with client.app[DATABASE].sessions() as session:
        reads = await session.scalar(
            select(func.count()).where(
                AuditEntry.subject_id == org.pupil.id, AuditEntry.action.like("reintegration.%")
            )
        )
    assert reads
    assert reads >= 2
    async with client.app[DATABASE].transaction() as session:
        pupil = await session.get(type(org.pupil), org.pupil.id)
        assert pupil is not None
        pupil.active = False  # off roll: the contact's account stops working
    off = await client.get(f"/api/reintegration/plans/{plan_id}", headers=contact)
    assert off.status == 403
    assert "on the roll" in (await off.json())["detail"]
    assert PASSWORD  # the org's users keep their own password


async def test_the_plan_row_keeps_the_school_of_the_placement(client, org, login):
    plan_id, _ = await _start(client, org, login)
    async with client.app[DATABASE].sessions() as session:
        plan = await session.get(PlanRow, plan_id)
    assert plan is not None
    assert plan.school_id == org.school_id
    assert plan.key_worker_id == org.users["hospital_staff"].id


async def test_a_phased_return_cancels_lessons_in_school_and_guards_those_days(client, org, login):
    from factories import add_booking, add_device

    from scheduler.bookings.models import Booking, UnavailabilityRow
    from telepresence.reintegration.bookings import IN_SCHOOL

    plan_id, worker = await _start(client, org, login)
    robot = await add_device(client.app[DATABASE], org)
    now = datetime.now(UTC)
    monday = now.date() + timedelta(days=7 - now.weekday())
    at = {
        day: datetime.combine(monday + timedelta(days=day), time(10), tzinfo=UTC) - now
        for day in (0, 1)
    }
    on_monday = await add_booking(client.app[DATABASE], org, robot.id, starts_in=at[0])
    on_tuesday = await add_booking(client.app[DATABASE], org, robot.id, starts_in=at[1])
    url = f"/api/reintegration/plans/{plan_id}/phase"
    body = {"phase": "phased_return", "school_weekdays": [0]}
    assert (await client.post(url, json=body, headers=worker)).status == 200
    async with client.app[DATABASE].sessions() as session:
        monday_row = await session.get(Booking, on_monday)
        tuesday_row = await session.get(Booking, on_tuesday)
        guards = list(
            await session.scalars(
                select(UnavailabilityRow).where(UnavailabilityRow.pupil_id == org.pupil.id)
            )
        )
    assert monday_row is not None
    assert (monday_row.status, monday_row.cancel_reason) == ("cancelled", IN_SCHOOL)
    assert tuesday_row is not None
    assert tuesday_row.status == "booked"
    assert [(g.reason, g.weekdays, g.valid_to) for g in guards] == [(IN_SCHOOL, [0], None)]
    back = {"phase": "remote_only", "reason": "Unwell again"}
    assert (await client.post(url, json=back, headers=worker)).status == 200
    async with client.app[DATABASE].sessions() as session:
        left = list(
            await session.scalars(
                select(UnavailabilityRow).where(UnavailabilityRow.pupil_id == org.pupil.id)
            )
        )
    assert left == []  # the guard began today: gone, remote bookings allowed again


async def test_a_review_shows_the_engagement_figures_since_the_last(client, org, login):
    from factories import add_device
    from integration.engagement_helpers import past_lesson, past_weekdays

    from telepresence.engagement.jobs import compute_finished_outcomes
    from telepresence.platform.http.context import JOBS

    worker = await login("hospital_staff")
    started = (datetime.now(UTC) - timedelta(days=14)).date().isoformat()
    body = plan_body(org, starts_on=started)
    plan = await (await client.post("/api/reintegration/plans", json=body, headers=worker)).json()
    robot = await add_device(client.app[DATABASE], org)
    two_days = past_weekdays(2)
    await past_lesson(client.app[DATABASE], org, robot.id, two_days[0], present=[(0, 60)])
    await past_lesson(client.app[DATABASE], org, robot.id, two_days[1], present=[])
    await compute_finished_outcomes(client.app[JOBS].context)
    factors = await (await client.get("/api/reintegration/factors", headers=worker)).json()
    review = {
        "held_on": datetime.now(UTC).date().isoformat(),
        "ratings": [{"factor_id": factors[0]["id"], "rating": "partly"}],
    }
    url = f"/api/reintegration/plans/{plan['id']}/reviews"
    made = await (await client.post(url, json=review, headers=worker)).json()
    figures = made["engagement"]
    assert (figures["booked"], figures["attended"], figures["missed"]) == (2, 1, 1)
    assert figures["since"] == started
