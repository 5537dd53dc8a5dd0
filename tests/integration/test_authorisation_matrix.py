"""Authorisation matrix: every route of the route table, every role, own and other provider.

The expected callers of each route are written down here (TABLE), in the
letters below. The test fails when

- a route is added, removed or changes its roles without this table changing
  with it (so a new route is reviewed here, by a person, before it ships);
- a caller outside the table gets anything but a refusal (401/403; a page sends
  anonymous callers to sign in), or a caller inside it is refused;
- any call answers 5xx (every route is called with made-up ids and an empty
  body, so this is also a hostile-input sweep);
- the other provider's administrator, naming this provider's real ids, gets an
  answer that differs from the one for ids that do not exist (no existence
  oracle across providers).

Sockets are in the table too (their upgrade request is authorised like any
route); the messages on them are covered by test_device_socket.py and
test_sessions.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import ClientTimeout
from factories import PASSWORD, PUPIL_PIN, add_device, add_user, seed_org

from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE
from telepresence.platform.http.routing import ENDPOINTS
from telepresence.platform.security.identity import Public
from telepresence.platform.settings import Settings

PUBLIC = "public"
LETTERS = {
    "A": "admin",
    "C": "coordinator",
    "H": "hospital_staff",
    "S": "assistant",
    "K": "school_contact",
    "P": "pupil",
    "D": "device",
}
CALLERS = ["anonymous", *LETTERS.values()]
FAKE = "0" * 32
# Authorised by its first message (a lesson token), not by the upgrade request: any
# caller may open it, nobody gets further without a token (tests/integration/test_sessions.py).
BY_FIRST_MESSAGE = {("GET", "/ws/session")}
# Called last in the sweep: they end the caller's own token.
SIGN_OUT = {("POST", "/api/auth/logout"), ("POST", "/logout")}
PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")

TABLE: dict[tuple[str, str], str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/account/password"): "ACHKS",
    ("POST", "/account/password"): "ACHKS",
    ("GET", "/api/assistants/{user_id}/absences"): "ACHS",
    ("POST", "/api/assistants/{user_id}/absences"): "ACH",
    ("PUT", "/api/assistants/{user_id}/base-room"): "ACH",
    ("GET", "/api/assistants/{user_id}/duty"): "ACHS",
    ("PUT", "/api/assistants/{user_id}/duty"): "ACH",
    ("DELETE", "/api/assistants/{user_id}/feed"): "AS",
    ("POST", "/api/assistants/{user_id}/feed"): "AS",
    ("GET", "/api/audit"): "A",
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): "ACHKPS",
    ("POST", "/api/auth/pupil-login"): PUBLIC,
    ("GET", "/api/bookings/flagged"): "ACH",
    ("POST", "/api/bookings/{booking_id}/cancel"): "AH",
    ("GET", "/api/bookings/{booking_id}/robot-room"): "ACHP",
    ("POST", "/api/bookings/{booking_id}/keep"): "AH",
    ("POST", "/api/bookings/{booking_id}/join"): "P",
    ("POST", "/api/client-timings"): "DP",
    ("GET", "/api/devices"): "ACH",
    ("POST", "/api/devices"): "A",
    ("POST", "/api/devices/pair"): PUBLIC,
    ("GET", "/api/devices/{device_id}"): "ACH",
    ("PATCH", "/api/devices/{device_id}"): "A",
    ("GET", "/api/devices/{device_id}/commands"): "ACH",
    ("POST", "/api/devices/{device_id}/commands"): "AC",
    ("POST", "/api/devices/{device_id}/credential/revoke"): "A",
    ("POST", "/api/devices/{device_id}/credential/rotate"): "A",
    ("POST", "/api/devices/{device_id}/pairing-code"): "A",
    ("GET", "/api/devices/{device_id}/telemetry"): "ACH",
    ("GET", "/api/engagement/alerts"): "ACH",
    ("POST", "/api/engagement/alerts/{alert_id}/acknowledge"): "ACH",
    ("POST", "/api/engagement/alerts/{alert_id}/resolve"): "ACH",
    ("GET", "/api/engagement/exports/alerts.csv"): "ACH",
    ("GET", "/api/engagement/exports/lessons.csv"): "ACH",
    ("GET", "/api/engagement/exports/weekly.csv"): "ACH",
    ("GET", "/api/engagement/me"): "P",
    ("GET", "/api/engagement/pupils/{pupil_id}"): "ACH",
    ("GET", "/api/engagement/pupils/{pupil_id}/lessons"): "ACH",
    ("GET", "/api/engagement/summary"): "ACH",
    ("GET", "/api/me"): "ACDHKPS",
    ("POST", "/api/me/password"): "ACHKS",
    ("PUT", "/api/moves/{move_id}/assignment"): "ACH",
    ("POST", "/api/moves/{move_id}/cant"): "ACHS",
    ("POST", "/api/moves/{move_id}/done"): "ACHS",
    ("POST", "/api/moves/{move_id}/undo"): "ACHS",
    ("GET", "/api/notifications"): "ACHKS",
    ("POST", "/api/notifications/{notification_id}/read"): "ACHKS",
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/pupils"): "ACH",
    ("POST", "/api/pupils"): "AH",
    ("GET", "/api/pupils/{pupil_id}"): "ACH",
    ("PATCH", "/api/pupils/{pupil_id}"): "AH",
    ("GET", "/api/pupils/{pupil_id}/bookings"): "ACHP",
    ("POST", "/api/pupils/{pupil_id}/bookings"): "AH",
    ("POST", "/api/pupils/{pupil_id}/bookings/bulk"): "AH",
    ("GET", "/api/pupils/{pupil_id}/export"): "A",
    ("PUT", "/api/pupils/{pupil_id}/camera-consent"): "ACH",
    ("GET", "/api/pupils/{pupil_id}/occurrences"): "ACHP",
    ("PUT", "/api/pupils/{pupil_id}/pin"): "AH",
    ("GET", "/api/pupils/{pupil_id}/timetable"): "ACHP",
    ("POST", "/api/pupils/{pupil_id}/timetable"): "AH",
    ("GET", "/api/pupils/{pupil_id}/unavailability"): "ACHP",
    ("POST", "/api/pupils/{pupil_id}/unavailability"): "AH",
    ("POST", "/api/pupils/{pupil_id}/unwell-today"): "AHP",
    ("GET", "/api/readiness"): "ACH",
    ("POST", "/api/readiness"): "D",
    ("POST", "/api/readiness/{check_id}/offer"): "D",
    ("POST", "/api/readiness/{check_id}/result"): "D",
    ("POST", "/api/reintegration/actions/{action_id}/done"): "AHK",
    ("GET", "/api/reintegration/factors"): "ACH",
    ("POST", "/api/reintegration/factors"): "AC",
    ("PATCH", "/api/reintegration/factors/{factor_id}"): "AC",
    ("GET", "/api/reintegration/plans"): "ACHK",
    ("POST", "/api/reintegration/plans"): "AH",
    ("GET", "/api/reintegration/plans/{plan_id}"): "ACHK",
    ("PATCH", "/api/reintegration/plans/{plan_id}"): "AH",
    ("GET", "/api/reintegration/plans/{plan_id}/actions"): "ACHK",
    ("GET", "/api/reintegration/plans/{plan_id}/contacts"): "ACHK",
    ("POST", "/api/reintegration/plans/{plan_id}/contacts"): "AHK",
    ("GET", "/api/reintegration/plans/{plan_id}/notes"): "ACHK",
    ("POST", "/api/reintegration/plans/{plan_id}/notes"): "AH",
    ("POST", "/api/reintegration/plans/{plan_id}/phase"): "AH",
    ("GET", "/api/reintegration/plans/{plan_id}/reviews"): "ACH",
    ("POST", "/api/reintegration/plans/{plan_id}/reviews"): "AH",
    ("GET", "/api/reintegration/plans/{plan_id}/timeline"): "ACHK",
    ("GET", "/api/reintegration/plans/{plan_id}/visits"): "ACHK",
    ("POST", "/api/reintegration/plans/{plan_id}/visits"): "AH",
    ("GET", "/api/reintegration/pupils/{pupil_id}/plan"): "ACHK",
    ("POST", "/api/reintegration/pupils/{pupil_id}/school-contacts"): "AH",
    ("GET", "/api/reintegration/reviews/{review_id}"): "ACH",
    ("GET", "/api/reintegration/rules"): "ACH",
    ("PUT", "/api/reintegration/rules"): "AC",
    ("POST", "/api/reintegration/visit-feed"): "H",
    ("PATCH", "/api/reintegration/visits/{visit_id}"): "AH",
    ("POST", "/api/reintegration/visits/{visit_id}/record"): "AH",
    ("GET", "/api/schools"): "ACHS",
    ("POST", "/api/schools"): "A",
    ("GET", "/api/schools/{school_id}/calendar"): "ACH",
    ("PUT", "/api/schools/{school_id}/calendar"): "AH",
    ("GET", "/api/schools/{school_id}/period-codes"): "ACH",
    ("PUT", "/api/schools/{school_id}/period-codes"): "AH",
    ("PUT", "/api/schools/{school_id}/pupil-camera"): "AC",
    ("GET", "/api/schools/{school_id}/rooms"): "ACHS",
    ("POST", "/api/schools/{school_id}/rooms"): "A",
    ("GET", "/api/schools/{school_id}/rota"): "ACHS",
    ("POST", "/api/schools/{school_id}/rota/replan"): "ACH",
    ("PUT", "/api/schools/{school_id}/walking"): "ACH",
    ("GET", "/api/sessions/{session_id}"): "ACHP",
    ("POST", "/api/sessions/{session_id}/end"): "AH",
    ("GET", "/api/sessions/{session_id}/events"): "ACH",
    ("POST", "/api/sessions/{session_id}/relay"): "D",
    ("DELETE", "/api/sessions/{session_id}/watch"): "H",
    ("GET", "/api/sessions/{session_id}/watch"): "H",
    ("POST", "/api/sessions/{session_id}/watch"): "H",
    ("GET", "/api/users"): "A",
    ("POST", "/api/users"): "A",
    ("POST", "/api/users/{user_id}/deactivate"): "A",
    ("POST", "/api/users/{user_id}/password-reset"): "A",
    ("POST", "/api/users/{user_id}/reactivate"): "A",
    ("GET", "/assistant"): "S",
    ("GET", "/audit"): "A",
    ("GET", "/devices"): "ACH",
    ("POST", "/devices"): "A",
    ("GET", "/devices/events"): "ACH",
    ("GET", "/devices/{device_id}"): "ACH",
    ("POST", "/devices/{device_id}/command"): "AC",
    ("POST", "/devices/{device_id}/lifecycle"): "A",
    ("POST", "/devices/{device_id}/pairing-code"): "A",
    ("GET", "/engagement"): "ACH",
    ("GET", "/engagement/alerts/{alert_id}"): "ACH",
    ("POST", "/engagement/alerts/{alert_id}"): "ACH",
    ("GET", "/engagement/pupils/{pupil_id}"): "ACH",
    ("POST", "/engagement/pupils/{pupil_id}/notes"): "ACH",
    ("GET", "/engagement/pupils/{pupil_id}/report"): "ACH",
    ("GET", "/engagement/pupils/{pupil_id}/report.pdf"): "ACH",
    ("GET", "/engagement/schools/{school_id}/moves"): "ACH",
    ("GET", "/feeds/assistants/{token}.ics"): PUBLIC,
    ("GET", "/feeds/pupils/{token}.ics"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/inbox"): "ACHS",
    ("POST", "/inbox/{notification_id}/read"): "ACHS",
    ("GET", "/invitations/{token}"): PUBLIC,
    ("POST", "/invitations/{token}"): PUBLIC,
    ("GET", "/lessons/{booking_id}"): "P",
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): "ACHKPS",
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/pair"): PUBLIC,
    ("GET", "/pupil-login"): PUBLIC,
    ("POST", "/pupil-login"): PUBLIC,
    ("GET", "/pupils"): "ACH",
    ("POST", "/pupils"): "AH",
    ("GET", "/pupils/{pupil_id}"): "ACH",
    ("GET", "/pupils/{pupil_id}/calendar-feed"): "ACH",
    ("POST", "/pupils/{pupil_id}/calendar-feed"): "AH",
    ("POST", "/pupils/{pupil_id}/calendar-feed/revoke"): "AH",
    ("POST", "/pupils/{pupil_id}/camera-consent"): "ACH",
    ("POST", "/pupils/{pupil_id}/pin"): "AH",
    ("POST", "/pupils/{pupil_id}/details"): "AH",
    ("GET", "/pupils/{pupil_id}/off-roll"): "AH",
    ("POST", "/pupils/{pupil_id}/off-roll"): "AH",
    ("POST", "/pupils/{pupil_id}/on-roll"): "AH",
    ("POST", "/pupils/{pupil_id}/delete"): "AH",
    ("GET", "/pupils/{pupil_id}/reintegration"): "ACH",
    ("POST", "/pupils/{pupil_id}/reintegration"): "AH",
    ("POST", "/pupils/{pupil_id}/reintegration/invite"): "AH",
    ("GET", "/pupils/{pupil_id}/timetable"): "ACH",
    ("POST", "/pupils/{pupil_id}/timetable/book"): "AH",
    ("GET", "/pupils/{pupil_id}/timetable/bulk"): "AH",
    ("POST", "/pupils/{pupil_id}/timetable/bulk"): "AH",
    ("POST", "/pupils/{pupil_id}/timetable/cancel"): "AH",
    ("GET", "/pupils/{pupil_id}/timetable/import"): "AH",
    ("POST", "/pupils/{pupil_id}/timetable/import"): "AH",
    ("GET", "/pupils/{pupil_id}/unavailability"): "ACH",
    ("POST", "/pupils/{pupil_id}/unavailability"): "AH",
    ("PUT", "/api/pupils/{pupil_id}/unavailability/{entry_id}"): "AH",
    ("DELETE", "/api/pupils/{pupil_id}/unavailability/{entry_id}"): "AH",
    ("GET", "/api/pupils/{pupil_id}/off-roll"): "AH",
    ("POST", "/api/pupils/{pupil_id}/off-roll"): "AH",
    ("POST", "/pupils/{pupil_id}/unavailability/{entry_id}"): "AH",
    ("POST", "/pupils/{pupil_id}/unavailability/{entry_id}/delete"): "AH",
    ("POST", "/pupils/{pupil_id}/unwell-today"): "AH",
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/reintegration/actions/{action_id}/done"): "AHK",
    ("POST", "/reintegration/plans/{plan_id}/contacts"): "AHK",
    ("POST", "/reintegration/plans/{plan_id}/notes"): "AH",
    ("POST", "/reintegration/plans/{plan_id}/phase"): "AH",
    ("POST", "/reintegration/plans/{plan_id}/reviews"): "AH",
    ("POST", "/reintegration/plans/{plan_id}/visits"): "AH",
    ("GET", "/reintegration/reviews/{review_id}"): "ACH",
    ("GET", "/reintegration/visits/{token}.ics"): PUBLIC,
    ("GET", "/rota"): "ACH",
    ("GET", "/rota/events"): "ACHS",
    ("POST", "/rota/feed"): "S",
    ("POST", "/rota/moves/{move_id}/cant"): "ACHS",
    ("POST", "/rota/moves/{move_id}/done"): "ACHS",
    ("POST", "/rota/moves/{move_id}/undo"): "ACHS",
    ("GET", "/school"): "K",
    ("GET", "/school/pupils/{pupil_id}"): "K",
    ("GET", "/schools"): "ACH",
    ("POST", "/schools"): "A",
    ("POST", "/schools/{school_id}/pupil-camera"): "AC",
    ("POST", "/schools/{school_id}/rooms"): "A",
    ("GET", "/schools/{school_id}/rota"): "ACH",
    ("POST", "/schools/{school_id}/rota/assign"): "ACH",
    ("POST", "/schools/{school_id}/rota/base-room"): "ACH",
    ("POST", "/schools/{school_id}/rota/walking"): "ACH",
    ("GET", "/staff"): "A",
    ("POST", "/staff"): "A",
    ("POST", "/staff/{user_id}/password-reset"): "A",
    ("POST", "/staff/{user_id}/active"): "A",
    ("POST", "/staff/coordinators"): "A",
    ("GET", "/assistants/{user_id}/duty"): "ACH",
    ("POST", "/assistants/{user_id}/duty"): "ACH",
    ("POST", "/assistants/{user_id}/absences"): "ACH",
    ("POST", "/assistants/{user_id}/absences/{absence_id}/remove"): "ACH",
    ("GET", "/timetables"): "ACH",
    ("POST", "/bookings/{booking_id}/flagged"): "AH",
    ("GET", "/schools/{school_id}/calendar"): "ACH",
    ("POST", "/schools/{school_id}/calendar"): "AH",
    ("GET", "/today"): "P",
    ("POST", "/today/unwell"): "P",
    ("GET", "/watch"): "H",
    ("GET", "/watch/{session_id}"): "H",
    ("GET", "/ws/device"): "D",
    ("GET", "/ws/session"): "DP",
}


def _declared(app) -> dict[tuple[str, str], str]:
    letters = {role: letter for letter, role in LETTERS.items()}
    out = {}
    for e in app[ENDPOINTS]:
        if isinstance(e.roles, Public):
            out[(e.method, e.path)] = PUBLIC
        else:
            out[(e.method, e.path)] = "".join(sorted(letters[r.value] for r in e.roles))
    return out


def _allowed(spec: str) -> set[str]:
    return set(CALLERS) if spec == PUBLIC else {LETTERS[c] for c in spec}


def _path(template: str, ids: dict[str, str]) -> str:
    return PARAM.sub(lambda m: ids.get(m.group(1), FAKE), template)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """One backend is enough here: authorisation happens before any query differs."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    from telepresence.schema import metadata

    url = f"sqlite+aiosqlite:///{tmp_path / 'matrix.sqlite3'}"

    async def schema() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await engine.dispose()

    asyncio.run(schema())
    return Settings(
        _env_file=None,
        database_url=url,
        data_dir=tmp_path,
        run_jobs=False,
        secret_key="test-secret-key-test-secret-key",
        log_json=False,
        login_attempts_per_minute=100_000,
        login_attempts_per_account=100_000,
    )


@pytest.fixture
async def world(aiohttp_client, sqlite_settings):
    """A client, bearer headers per caller, this provider's real ids."""
    client = await aiohttp_client(create_app(sqlite_settings))
    database = client.app[DATABASE]
    org = await seed_org(database)
    async with database.transaction() as session:
        await add_user(
            session, "school_contact", org.provider_id, org.school_id, email="k@school.example"
        )
    device = await add_device(database, org)
    code = await (
        await client.post(
            f"/api/devices/{device.id}/pairing-code", headers=await _admin(client, org)
        )
    ).json()
    pair = await (await client.post("/api/devices/pair", json={"code": code["code"]})).json()
    headers: dict[str, dict[str, str]] = {}

    async def sign_in_everyone() -> None:
        headers["anonymous"] = {}
        for role, email in [
            *((r, org.email(r)) for r in ("admin", "coordinator", "hospital_staff", "assistant")),
            ("school_contact", "k@school.example"),
            ("other_admin", org.email("other_admin")),
        ]:
            resp = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            assert resp.status == 200, (role, await resp.text())
            headers[role] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        resp = await client.post(
            "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
        )
        headers["pupil"] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        headers["device"] = {"Authorization": f"Bearer {pair['credential']}"}

    await sign_in_everyone()
    ids = {
        "pupil_id": org.pupil.id,
        "school_id": org.school_id,
        "device_id": device.id,
        "user_id": org.users["assistant"].id,
        "room_id": org.room_ids[0],
    }
    return client, headers, ids, sign_in_everyone


async def _admin(client, org) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _call(client, method: str, path: str, headers: dict[str, str]) -> int:
    kind = "json" if path.startswith("/api/") else "data"
    body: dict[str, dict[str, str]] = {kind: {}} if method in {"POST", "PUT", "PATCH"} else {}
    async with client.request(
        method,
        path,
        headers=headers,
        allow_redirects=False,
        timeout=ClientTimeout(total=10),
        **body,
    ) as resp:
        to_sign_in = resp.headers.get("Location", "").startswith("/login")
        if resp.status == 303 and to_sign_in and "Authorization" not in headers:
            return 401  # a page's way of telling an anonymous caller to sign in first
        return resp.status


def test_every_route_is_in_the_table(sqlite_settings) -> None:
    declared = _declared(create_app(sqlite_settings))
    missing = sorted(set(declared) - set(TABLE))
    gone = sorted(set(TABLE) - set(declared))
    changed = sorted(k for k in set(TABLE) & set(declared) if TABLE[k] != declared[k])
    assert not missing, f"routes not in the authorisation table (add them, reviewed): {missing}"
    assert not gone, f"routes in the table that no longer exist: {gone}"
    assert not changed, [(k, TABLE[k], declared[k]) for k in changed]


async def test_every_route_refuses_every_caller_it_should(world) -> None:
    client, headers, _, sign_in_everyone = world
    wrong: list[str] = []
    for (method, template), spec in sorted(TABLE.items(), key=lambda kv: (kv[0] in SIGN_OUT, kv)):
        path = _path(template, {})
        allowed = set(CALLERS) if (method, template) in BY_FIRST_MESSAGE else _allowed(spec)
        for caller in CALLERS:
            status = await _call(client, method, path, headers[caller])
            refused = status in {401, 403}
            if status >= 500:
                wrong.append(f"{method} {template} as {caller}: {status}")
            elif (
                caller in allowed
                and refused
                and spec != PUBLIC
                and (method, template) not in BY_FIRST_MESSAGE
            ):
                wrong.append(f"{method} {template} as {caller}: refused ({status})")
            elif caller not in allowed and not refused:
                wrong.append(f"{method} {template} as {caller}: let through ({status})")
            if (method, template) in SIGN_OUT:
                await sign_in_everyone()
    assert wrong == [], "\n".join(wrong)


async def test_the_other_provider_cannot_tell_real_ids_from_made_up_ones(world) -> None:
    client, headers, ids, _ = world
    oracle: list[str] = []
    for (method, template), spec in sorted(TABLE.items()):
        params = PARAM.findall(template)
        if not params or not set(params) <= set(ids) or "A" not in spec:
            continue
        real = await _call(client, method, _path(template, ids), headers["other_admin"])
        made_up = await _call(client, method, _path(template, {}), headers["other_admin"])
        if real != made_up or real < 400:
            oracle.append(f"{method} {template}: real ids {real}, made-up ids {made_up}")
    assert oracle == []
