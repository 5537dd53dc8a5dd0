"""The pupil's camera: the school's setting and the pupil's consent, granted per join, enforced
in the signalling (an offer that would send video without the grant is never forwarded)."""

from __future__ import annotations

from factories import PUPIL_PIN, add_booking
from integration.session_helpers import join_socket, next_of
from integration.test_pages import csrf_of, sign_in
from integration.test_sessions import robot_socket
from sqlalchemy import select

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry, Pupil, School

__all__ = ["robot_socket"]  # the robot's device socket fixture, shared with test_sessions

HEAD = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n"


def offer_sdp(video_direction: str) -> str:
    """A pupil's offer: audio out, and a video section in the given direction."""
    return HEAD + AUDIO + f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na={video_direction}\r\n"


async def pupil_headers(client) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def camera_actions(client) -> list[tuple[str, str, dict[str, object]]]:
    async with client.app[DATABASE].sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["school.pupil_camera", "pupil.camera_consent"]))
            .order_by(AuditEntry.id)
        )
        return [(r.actor_role, r.action, r.details or {}) for r in rows]


async def allow(client, org, login, *, school: bool, pupil: bool) -> None:
    coordinator = await login("coordinator")
    resp = await client.put(
        f"/api/schools/{org.school_id}/pupil-camera", json={"allowed": school}, headers=coordinator
    )
    assert resp.status == 200, await resp.text()
    # Coordinators read; recording consent is hospital staff's (issue 16).
    resp = await client.put(
        f"/api/pupils/{org.pupil.id}/camera-consent",
        json={"consent": pupil, "given_by": "Anna Kowalski, mother", "given_on": "2026-12-01"},
        headers=await login("hospital_staff"),
    )
    assert resp.status == 200, await resp.text()


async def lesson(client, org, paired, robot_socket):
    """Join a lesson now as the pupil; both ends on the session socket."""
    robot_id, _ = paired
    booking_id = await add_booking(client.app[DATABASE], org, robot_id)
    pupil = await pupil_headers(client)
    resp = await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)
    assert resp.status == 200, await resp.text()
    ticket = await resp.json()
    invite = await next_of(robot_socket, "session_invite")
    pupil_ws, joined = await join_socket(client, ticket["token"])
    robot_ws, _ = await join_socket(client, str(invite["token"]))
    await next_of(pupil_ws, "peer_joined")
    return booking_id, ticket, joined, pupil_ws, robot_ws


async def test_cameras_are_off_by_default(client, org, login):
    admin = await login("admin")
    schools = await (await client.get("/api/schools", headers=admin)).json()
    assert [s["allow_pupil_camera"] for s in schools] == [False]
    pupil = await (await client.get(f"/api/pupils/{org.pupil.id}", headers=admin)).json()
    assert pupil["camera_consent"] is False


async def test_who_may_change_the_settings_and_bad_input(client, org, login):
    school_path = f"/api/schools/{org.school_id}/pupil-camera"
    consent_path = f"/api/pupils/{org.pupil.id}/camera-consent"
    for role in ("hospital_staff", "assistant"):
        resp = await client.put(school_path, json={"allowed": True}, headers=await login(role))
        assert resp.status == 403, role
    assert (
        await client.put(consent_path, json={"consent": True}, headers=await login("assistant"))
    ).status == 403
    pupil = await pupil_headers(client)
    assert (await client.put(consent_path, json={"consent": True}, headers=pupil)).status == 403
    admin = await login("admin")
    for body in ({"allowed": "yes"}, {"allowed": 1}, {}, {"allowed": True, "extra": 1}):
        resp = await client.put(school_path, json=body, headers=admin)
        assert resp.status == 422, body
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    bad = await client.put(consent_path, json={"consent": "true"}, headers=admin)
    assert bad.status == 422
    other = await client.put(
        school_path, json={"allowed": True}, headers=await login("admin@other.example")
    )
    assert other.status == 404
    async with client.app[DATABASE].sessions() as session:
        school = await session.get(School, org.school_id)
        sam = await session.get(Pupil, org.pupil.id)
        assert school is not None
        assert sam is not None
        assert (school.allow_pupil_camera, sam.camera_consent) == (False, False)
    assert await camera_actions(client) == []  # nothing changed, nothing audited


async def test_changes_are_audited_once_per_change(client, org, login):
    await allow(client, org, login, school=True, pupil=True)
    staff = await login("hospital_staff")
    consent_path = f"/api/pupils/{org.pupil.id}/camera-consent"
    again = await client.put(consent_path, json={"consent": True}, headers=staff)
    assert (await again.json())["camera_consent"] is True
    withdrawn = await client.put(consent_path, json={"consent": False}, headers=staff)
    assert (await withdrawn.json())["camera_consent"] is False
    assert await camera_actions(client) == [
        ("coordinator", "school.pupil_camera", {"allowed": True}),
        ("hospital_staff", "pupil.camera_consent", {"consent": True}),
        ("hospital_staff", "pupil.camera_consent", {"consent": False}),
    ]


async def test_without_the_grant_an_offer_that_sends_video_is_refused_and_not_forwarded(
    client, org, paired, login, robot_socket
):
    await allow(client, org, login, school=True, pupil=False)  # the school alone is not enough
    _, ticket, joined, pupil_ws, robot_ws = await lesson(client, org, paired, robot_socket)
    assert ticket["pupil_camera"] is False
    assert joined["pupil_camera"] is False
    for direction in ("sendrecv", "sendonly"):
        await pupil_ws.send_json({"type": "offer", "sdp": offer_sdp(direction), "id": direction})
        refused = await next_of(pupil_ws, "error")
        assert (refused["code"], refused["id"]) == ("camera_not_allowed", direction)
    # No direction attribute at all means sendrecv.
    bare = HEAD + AUDIO + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"
    await pupil_ws.send_json({"type": "offer", "sdp": bare, "id": "bare"})
    assert (await next_of(pupil_ws, "error"))["code"] == "camera_not_allowed"
    # The allowed offer comes through, and it is the first thing the robot sees.
    await pupil_ws.send_json({"type": "offer", "sdp": offer_sdp("recvonly"), "id": "ok"})
    first = await robot_ws.receive_json(timeout=3)
    assert (first["type"], first["sdp"]) == ("offer", offer_sdp("recvonly"))
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_with_both_allowed_the_camera_is_granted_and_its_offer_forwarded(
    client, org, paired, login, robot_socket
):
    await allow(client, org, login, school=True, pupil=True)
    _, ticket, joined, pupil_ws, robot_ws = await lesson(client, org, paired, robot_socket)
    assert ticket["pupil_camera"] is True
    assert joined["pupil_camera"] is True
    await pupil_ws.send_json({"type": "offer", "sdp": offer_sdp("sendrecv"), "id": "o"})
    assert await next_of(pupil_ws, "ack") == {"type": "ack", "id": "o"}
    assert (await next_of(robot_ws, "offer"))["sdp"] == offer_sdp("sendrecv")
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_a_change_mid_lesson_applies_from_the_next_join(
    client, org, paired, login, robot_socket
):
    await allow(client, org, login, school=True, pupil=True)
    booking_id, _, _, pupil_ws, robot_ws = await lesson(client, org, paired, robot_socket)
    staff = await login("hospital_staff")
    withdrawn = await client.put(
        f"/api/pupils/{org.pupil.id}/camera-consent", json={"consent": False}, headers=staff
    )
    assert withdrawn.status == 200
    # The token issued before the change keeps its grant...
    await pupil_ws.send_json({"type": "offer", "sdp": offer_sdp("sendrecv"), "id": "o"})
    assert (await next_of(robot_ws, "offer"))["sdp"] == offer_sdp("sendrecv")
    await pupil_ws.close()
    # ...and the next join has none.
    again = await client.post(
        f"/api/bookings/{booking_id}/join", headers=await pupil_headers(client)
    )
    ticket = await again.json()
    assert ticket["pupil_camera"] is False
    pupil_ws, joined = await join_socket(client, ticket["token"])
    assert joined["pupil_camera"] is False
    await pupil_ws.send_json({"type": "offer", "sdp": offer_sdp("sendrecv"), "id": "o2"})
    assert (await next_of(pupil_ws, "error"))["code"] == "camera_not_allowed"
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_settings_from_the_school_and_pupil_pages(client, org):
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get("/schools")).text()
    assert "Pupils&#39; cameras off" in page or "Pupils' cameras off" in page
    resp = await client.post(
        f"/schools/{org.school_id}/pupil-camera",
        data={"allowed": "true", "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    assert resp.status == 303
    page = await (await client.get("/schools")).text()
    assert "Stop pupils" in page
    bad = await client.post(
        f"/schools/{org.school_id}/pupil-camera",
        data={"allowed": "maybe", "csrf_token": csrf_of(page)},
    )
    assert bad.status == 422
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("hospital_staff"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert "Camera stays off" in page
    assert "Allow pupils" not in (await (await client.get("/schools")).text())  # staff: view only
    resp = await client.post(
        f"/pupils/{org.pupil.id}/camera-consent",
        data={
            "consent": "true",
            "given_by": "Anna Kowalski, mother",
            "given_on": "2026-12-01",
            "csrf_token": csrf_of(page),
        },
    )
    assert resp.status == 200
    text = await resp.text()
    assert "can turn their camera on" in text
    assert "applies from the pupil" in text
    refused = await client.post(
        f"/schools/{org.school_id}/pupil-camera",
        data={"allowed": "false", "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    assert refused.status == 403
    assert [a for _, a, _ in await camera_actions(client)] == [
        "school.pupil_camera",
        "pupil.camera_consent",
    ]


async def test_the_pupils_camera_going_on_and_off_is_on_the_timeline(
    client, org, paired, login, robot_socket
):
    await allow(client, org, login, school=True, pupil=True)
    _, ticket, _, pupil_ws, robot_ws = await lesson(client, org, paired, robot_socket)
    for on in (True, False):
        await pupil_ws.send_json(
            {"type": "event", "kind": "camera", "detail": {"on": on}, "id": "c"}
        )
        assert await next_of(pupil_ws, "ack") == {"type": "ack", "id": "c"}
    await robot_ws.send_json({"type": "event", "kind": "camera", "detail": {"on": True}, "id": "r"})
    assert (await next_of(robot_ws, "error"))["code"] == "camera_not_allowed"  # the robot has none
    await pupil_ws.send_json({"type": "event", "kind": "camera", "detail": {"on": "yes"}})
    assert (await next_of(pupil_ws, "error"))["code"] == "invalid_message"
    staff = await login("hospital_staff")
    events = await (
        await client.get(f"/api/sessions/{ticket['session_id']}/events", headers=staff)
    ).json()
    camera = [(e["participant"], e["data"]) for e in events if e["kind"] == "camera"]
    assert camera == [("pupil", {"on": True}), ("pupil", {"on": False})]
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_without_the_grant_a_camera_event_is_refused(
    client, org, paired, login, robot_socket
):
    _, ticket, _, pupil_ws, robot_ws = await lesson(client, org, paired, robot_socket)
    await pupil_ws.send_json({"type": "event", "kind": "camera", "detail": {"on": True}})
    assert (await next_of(pupil_ws, "error"))["code"] == "camera_not_allowed"
    staff = await login("hospital_staff")
    events = await (
        await client.get(f"/api/sessions/{ticket['session_id']}/events", headers=staff)
    ).json()
    assert [e for e in events if e["kind"] == "camera"] == []
    for ws in (pupil_ws, robot_ws):
        await ws.close()
