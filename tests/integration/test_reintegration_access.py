"""Who may call each reintegration route: every route, every role, own and other school/provider.

The table names, for the org pupil's plan and records, the callers that get
through (anything but 401/403/404, e.g. 200, 201, 303, or a 409/422 about the
request itself); every other caller must be refused with 401, 403 or 404 and
see nothing of the pupil. A route missing from the table fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from factories import PASSWORD, PUPIL_PIN
from integration.reintegration_helpers import add_cast, next_school_day, plan_body

from telepresence.platform.http.context import DATABASE
from telepresence.platform.http.routing import ENDPOINTS
from telepresence.platform.security.identity import Public

STAFF = {"admin", "coordinator", "hospital_staff", "colleague"}
KW = {"hospital_staff"}
READ = STAFF | {"contact"}
CALLERS = [
    "anonymous",
    "admin",
    "coordinator",
    "hospital_staff",
    "colleague",
    "assistant",
    "contact",
    "other_contact",
    "other_admin",
    "pupil",
]
TABLE: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/reintegration/plans"): {"hospital_staff", "admin"},
    ("GET", "/api/reintegration/plans"): READ | {"other_contact", "other_admin"},
    ("GET", "/api/reintegration/pupils/{pupil_id}/plan"): READ,
    ("GET", "/api/reintegration/plans/{plan_id}"): READ,
    ("PATCH", "/api/reintegration/plans/{plan_id}"): KW,
    ("POST", "/api/reintegration/plans/{plan_id}/phase"): KW,
    ("GET", "/api/reintegration/plans/{plan_id}/timeline"): READ,
    ("POST", "/api/reintegration/plans/{plan_id}/notes"): KW,
    ("GET", "/api/reintegration/plans/{plan_id}/notes"): READ,
    ("POST", "/api/reintegration/pupils/{pupil_id}/school-contacts"): {
        "hospital_staff",
        "admin",
        "colleague",
    },
    ("GET", "/api/reintegration/rules"): STAFF | {"other_admin"},
    ("PUT", "/api/reintegration/rules"): {"admin", "coordinator", "other_admin"},
    ("GET", "/api/reintegration/factors"): STAFF | {"other_admin"},
    ("POST", "/api/reintegration/factors"): {"admin", "coordinator", "other_admin"},
    ("PATCH", "/api/reintegration/factors/{factor_id}"): {"admin", "coordinator"},
    ("POST", "/api/reintegration/plans/{plan_id}/reviews"): KW,
    ("GET", "/api/reintegration/plans/{plan_id}/reviews"): STAFF,
    ("GET", "/api/reintegration/reviews/{review_id}"): STAFF,
    ("POST", "/api/reintegration/plans/{plan_id}/contacts"): KW | {"contact"},
    ("GET", "/api/reintegration/plans/{plan_id}/contacts"): READ,
    ("GET", "/api/reintegration/plans/{plan_id}/actions"): READ,
    ("POST", "/api/reintegration/actions/{action_id}/done"): {"contact"},
    ("POST", "/api/reintegration/plans/{plan_id}/visits"): KW,
    ("GET", "/api/reintegration/plans/{plan_id}/visits"): READ,
    ("PATCH", "/api/reintegration/visits/{visit_id}"): KW,
    ("POST", "/api/reintegration/visits/{visit_id}/record"): KW,
    ("POST", "/api/reintegration/visit-feed"): {"hospital_staff", "colleague"},
    ("GET", "/pupils/{pupil_id}/reintegration"): STAFF,
    ("POST", "/pupils/{pupil_id}/reintegration"): {"hospital_staff", "admin"},
    ("POST", "/reintegration/plans/{plan_id}/phase"): KW,
    ("POST", "/reintegration/plans/{plan_id}/reviews"): KW,
    ("POST", "/reintegration/plans/{plan_id}/contacts"): KW | {"contact"},
    ("POST", "/reintegration/plans/{plan_id}/notes"): KW,
    ("POST", "/reintegration/plans/{plan_id}/visits"): KW,
    ("POST", "/reintegration/actions/{action_id}/done"): {"contact"},
    ("POST", "/pupils/{pupil_id}/reintegration/invite"): {"hospital_staff", "admin", "colleague"},
    ("GET", "/reintegration/reviews/{review_id}"): STAFF,
    ("GET", "/school"): {"contact", "other_contact"},
    ("GET", "/school/pupils/{pupil_id}"): {"contact"},
}
REFUSED = {401, 403, 404}


async def _headers(client, org, cast) -> dict[str, dict[str, str]]:
    emails = {role: org.email(role) for role in ("admin", "coordinator", "hospital_staff")}
    emails |= {"assistant": org.email("assistant"), "other_admin": org.email("other_admin")}
    emails |= cast.emails
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    for name, email in emails.items():
        resp = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        out[name] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    out["pupil"] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    return out


async def _records(client, org, worker) -> dict[str, str]:
    """A plan in phased return with a review, a contact with a school action, a visit."""
    plan = await (
        await client.post("/api/reintegration/plans", json=plan_body(org), headers=worker)
    ).json()
    base = f"/api/reintegration/plans/{plan['id']}"
    await client.post(
        f"{base}/phase", json={"phase": "phased_return", "school_weekdays": [0]}, headers=worker
    )
    factors = await (await client.get("/api/reintegration/factors", headers=worker)).json()
    today = datetime.now(UTC).date().isoformat()
    review = await (
        await client.post(
            f"{base}/reviews",
            json={"held_on": today, "ratings": [{"factor_id": factors[0]["id"], "rating": "yes"}]},
            headers=worker,
        )
    ).json()
    contact = await (
        await client.post(f"{base}/contacts", json=_contact(today), headers=worker)
    ).json()
    visit = await (await client.post(f"{base}/visits", json=_visit(), headers=worker)).json()
    return {
        "plan_id": plan["id"],
        "pupil_id": org.pupil.id,
        "review_id": review["id"],
        "action_id": contact["actions"][0]["id"],
        "visit_id": visit["id"],
        "factor_id": factors[1]["id"],
    }


def _contact(today: str) -> dict[str, Any]:
    action = {"text": "Quiet room", "assignee": "school"}
    return {
        "happened_on": today,
        "party": "home_school",
        "people": "SENCO",
        "channel": "call",
        "shared": True,
        "actions": [action],
    }


def _visit() -> dict[str, str]:
    day = next_school_day(datetime.now(UTC).date(), skip=1)
    zone = ZoneInfo("Europe/London")
    start = datetime.combine(day, time(10), tzinfo=zone)
    return {"starts_at": start.isoformat(), "ends_at": start.replace(hour=11).isoformat()}


def _body(path: str, org, ids: dict[str, str]) -> dict[str, Any]:
    """A valid JSON body (API) or form (pages) for each changing route."""
    today = datetime.now(UTC).date().isoformat()
    day = next_school_day(datetime.now(UTC).date(), skip=1).isoformat()
    bodies: dict[str, Any] = {
        "/api/reintegration/plans": plan_body(org),
        "/api/reintegration/plans/{plan_id}": {"expected_weeks": 10},
        "/api/reintegration/plans/{plan_id}/phase": {"phase": "back_in_school"},
        "/api/reintegration/plans/{plan_id}/notes": {"text": "hello"},
        "/api/reintegration/pupils/{pupil_id}/school-contacts": {
            "email": "new.contact@test.example",
            "name": "New",
        },
        "/api/reintegration/rules": {"no_contact_days": 14, "review_remind_days": 2},
        "/api/reintegration/factors": {"group": "child", "label": "Sleeps well"},
        "/api/reintegration/factors/{factor_id}": {"label": "Renamed"},
        "/api/reintegration/plans/{plan_id}/reviews": {
            "held_on": today,
            "ratings": [{"factor_id": ids["factor_id"], "rating": "partly"}],
        },
        "/api/reintegration/plans/{plan_id}/contacts": _contact(today),
        "/api/reintegration/plans/{plan_id}/visits": _visit(),
        "/api/reintegration/visits/{visit_id}": _visit(),
        "/api/reintegration/visits/{visit_id}/record": {"status": "cancelled"},
        "/pupils/{pupil_id}/reintegration": {
            "goal": "home_school",
            "starts_on": today,
            "expected_weeks": "4",
        },
        "/reintegration/plans/{plan_id}/phase": {"phase": "back_in_school"},
        "/reintegration/plans/{plan_id}/reviews": {
            "held_on": today,
            f"rating_{ids['factor_id']}": "yes",
        },
        "/reintegration/plans/{plan_id}/contacts": {
            "happened_on": today,
            "party": "home_school",
            "people": "SENCO",
            "channel": "call",
        },
        "/reintegration/plans/{plan_id}/notes": {"text": "hello"},
        "/reintegration/plans/{plan_id}/visits": {"day": day, "start": "10:00", "end": "11:00"},
        "/reintegration/actions/{action_id}/done": {"pupil_id": org.pupil.id},
        "/pupils/{pupil_id}/reintegration/invite": {"email": "x@test.example", "name": "X"},
    }
    return bodies.get(path, {})


async def test_every_reintegration_route_for_every_role(client, org, login):
    cast = await add_cast(client.app[DATABASE], org)
    headers = await _headers(client, org, cast)
    ids = await _records(client, org, headers["hospital_staff"])
    declared = {
        (e.method, e.path)
        for e in client.app[ENDPOINTS]
        if e.tags[0].startswith("reintegration") and not isinstance(e.roles, Public)
    }
    assert declared == set(TABLE), f"routes without a row: {declared - set(TABLE)}"
    wrong = []
    for (method, path), allowed in TABLE.items():
        url = path.format(**{k: ids[k] for k in ids if "{" + k + "}" in path})
        body = _body(path, org, ids)
        for caller in CALLERS:
            kwargs: dict[str, Any] = {"headers": headers[caller], "allow_redirects": False}
            if method != "GET":
                kwargs["json" if path.startswith("/api/") else "data"] = body
            resp = await client.request(method, url, **kwargs)
            text = await resp.text()
            through = resp.status not in REFUSED and not (
                resp.status == 303 and resp.headers.get("Location", "").startswith("/login")
            )
            if resp.status >= 500 or through != (caller in allowed):
                wrong.append(f"{method} {path} as {caller}: {resp.status}")
            if not through and caller not in {"contact", *STAFF}:
                assert "Kowalski" not in text
    assert wrong == []
