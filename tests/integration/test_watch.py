"""Hospital staff watch a live lesson through the relay: real agent, real aiortc peers.

The pupil is in the lesson (a direct call with the robot); a member of the
hospital school's staff asks to watch; the robot's agent is told over its
device socket to send to the relay as well, and the watcher decodes the
classroom's picture. Runs on SQLite and PostgreSQL, over 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio

import pytest
from factories import add_booking, add_user
from integration.test_lesson_media import _loopback_only, pupil_peer, robot  # noqa: F401
from integration.test_relay_media import Viewer
from sqlalchemy import select

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry
from telepresence.sessions.watching.watch import RELAYS

pytestmark = pytest.mark.e2e


async def offer_to_watch(client, session_id: str, headers: dict[str, str], viewer: Viewer) -> int:
    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    resp = await client.post(
        f"/api/sessions/{session_id}/watch",
        json={"sdp": viewer.pc.localDescription.sdp},
        headers=headers,
    )
    if resp.status == 200:
        from aiortc import RTCSessionDescription

        answer = (await resp.json())["sdp"]
        await viewer.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return resp.status


async def live_lesson(client, org, robot, pupil_peer, login):  # noqa: F811
    """A lesson booked now with the pupil in it: the agent, the session, staff headers."""
    device_id, agent, _ = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    return agent, pupil_peer.session_id, await login("hospital_staff")


async def wait_for(condition, seconds: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), seconds)


async def test_hospital_staff_watch_a_live_lesson_beside_the_pupil(
    client,
    org,
    robot,  # noqa: F811
    pupil_peer,  # noqa: F811
    login,
):
    device_id, agent, hardware = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(5)
    session_id = pupil_peer.session_id
    staff = await login("hospital_staff")

    info = await client.get(f"/api/sessions/{session_id}/watch", headers=staff)
    assert info.status == 200
    body = await info.json()
    assert body["pupil"] == "Sam K."
    assert body["ice_servers"] == []  # nothing configured: no public STUN

    viewer = Viewer()
    try:
        assert await offer_to_watch(client, session_id, staff, viewer) == 200
        await viewer.wait_frames(20, timeout=15)
        assert set(viewer.frames) == {(640, 480)}
        assert session_id in agent.relays  # the robot uploads to the relay as well
        # Nobody is watched without knowing: the pupil's end is told who watches.
        await wait_for(lambda: pupil_peer.watchers == ["Test s."])
        await wait_for(lambda: hardware.watching == ["Test s."])  # and the class sees it
        # The pupil's own call carries on alongside.
        await pupil_peer.wait_frames(10)

        events = await (
            await client.get(f"/api/sessions/{session_id}/events", headers=staff)
        ).json()
        assert "watching" in [e["kind"] for e in events]
        async with client.app[DATABASE].sessions() as db:
            actions = list(await db.scalars(select(AuditEntry.action)))
        assert "session.watch" in actions

        resp = await client.delete(f"/api/sessions/{session_id}/watch", headers=staff)
        assert resp.status == 204
        assert client.app[RELAYS].get(session_id) is None
        await wait_for(lambda: session_id not in agent.relays)
        events = await (
            await client.get(f"/api/sessions/{session_id}/events", headers=staff)
        ).json()
        assert [e["kind"] for e in events].count("stopped_watching") == 1
        await wait_for(lambda: pupil_peer.watchers == [])
        await wait_for(lambda: hardware.watching == [])
    finally:
        await viewer.close()


async def test_the_relay_closes_when_the_lesson_ends(
    client,
    org,
    robot,  # noqa: F811
    pupil_peer,  # noqa: F811
    login,
):
    agent, session_id, staff = await live_lesson(client, org, robot, pupil_peer, login)
    viewer = Viewer()
    try:
        assert await offer_to_watch(client, session_id, staff, viewer) == 200
        await viewer.wait_frames(5, timeout=15)
        resp = await client.post(f"/api/sessions/{session_id}/end", headers=staff)
        assert resp.status == 204
        await wait_for(lambda: client.app[RELAYS].get(session_id) is None)
        await wait_for(lambda: session_id not in agent.relays)
        frames = len(viewer.frames)
        await asyncio.sleep(0.5)
        assert len(viewer.frames) <= frames + 2  # nothing more is forwarded
        again = Viewer()
        try:
            assert await offer_to_watch(client, session_id, staff, again) == 409
        finally:
            await again.close()
    finally:
        await viewer.close()


async def test_only_the_pupils_hospital_staff_may_watch_and_only_the_robot_may_send(
    client,
    org,
    robot,  # noqa: F811
    pupil_peer,  # noqa: F811
    login,
):
    device_id, _agent, _ = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    session_id = pupil_peer.session_id
    async with client.app[DATABASE].transaction() as db:
        await add_user(db, "hospital_staff", org.other_provider_id, email="staff@other.example")
    url = f"/api/sessions/{session_id}/watch"
    assert (await client.get(url, headers=await login("staff@other.example"))).status == 404
    for role in ("coordinator", "assistant", "admin"):
        assert (await client.get(url, headers=await login(role))).status == 403
    pupil_headers = {"Authorization": f"Bearer {pupil_peer.bearer}"}
    assert (await client.get(url, headers=pupil_headers)).status == 403
    # The robot's upload is refused while nobody watches, and is the robot's only.
    robot_headers = {"Authorization": f"Bearer {_agent.credential.credential}"}
    sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    relay_url = f"/api/sessions/{session_id}/relay"
    assert (await client.post(relay_url, json={"sdp": sdp}, headers=robot_headers)).status == 409
    staff = await login("hospital_staff")
    assert (await client.post(relay_url, json={"sdp": sdp}, headers=staff)).status == 403
    # Bad offers are refused with a clear error and leave nothing behind.
    for bad in ("hello", "v=0\r\nno media here\r\n", "v=0\r\n" + "a=x\r\n" * 5000):
        resp = await client.post(url, json={"sdp": bad}, headers=staff)
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
    assert client.app[RELAYS].get(session_id) is None
    assert (await client.delete(url, headers=staff)).status == 404


async def test_nothing_to_watch_outside_a_live_lesson(client, org, login):
    staff = await login("hospital_staff")
    resp = await client.get("/api/sessions/nope/watch", headers=staff)
    assert resp.status == 404
    assert (await resp.json())["detail"] == "There is no such session."


async def test_a_watcher_who_just_goes_away_is_noticed(
    client,
    org,
    robot,  # noqa: F811
    pupil_peer,  # noqa: F811
    login,
):
    agent, session_id, staff = await live_lesson(client, org, robot, pupil_peer, login)
    viewer = Viewer()
    assert await offer_to_watch(client, session_id, staff, viewer) == 200
    await viewer.wait_frames(5, timeout=15)
    await viewer.close()  # the tab closed: no DELETE
    await wait_for(lambda: client.app[RELAYS].get(session_id) is None, 10)
    await wait_for(lambda: session_id not in agent.relays)
    events = await (await client.get(f"/api/sessions/{session_id}/events", headers=staff)).json()
    assert [e["kind"] for e in events].count("stopped_watching") == 1


async def test_a_deactivated_watcher_is_dropped_within_a_second(
    client,
    org,
    robot,  # noqa: F811
    pupil_peer,  # noqa: F811
    login,
):
    import time

    agent, session_id, staff = await live_lesson(client, org, robot, pupil_peer, login)
    viewer = Viewer()
    try:
        assert await offer_to_watch(client, session_id, staff, viewer) == 200
        await viewer.wait_frames(5, timeout=15)
        admin = await login("admin")
        started = time.monotonic()
        deactivate = f"/api/users/{org.users['hospital_staff'].id}/deactivate"
        assert (await client.post(deactivate, headers=admin)).status == 204
        await wait_for(lambda: client.app[RELAYS].get(session_id) is None, 1.5)
        print(f"watcher dropped {time.monotonic() - started:.2f} s after deactivation")
        await wait_for(lambda: session_id not in agent.relays)
        await wait_for(lambda: pupil_peer.watchers == [])  # the pupil is told nobody watches
    finally:
        await viewer.close()
