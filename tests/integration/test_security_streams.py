"""Revocation reaches open event streams within a second, as it reaches lesson sockets.

The live fleet table (``/devices/events``) and the live rota (``/rota/events``)
are long-lived answers: a person deactivated (or signed out) while one is open
stops getting updates within a second, not at the stream's next periodic check.
"""

from __future__ import annotations

import asyncio
import time

from telepresence.platform.http.context import EVENTS


async def _ends_within(stream, seconds: float) -> float:
    """Seconds until the stream's answer ends (fails after ``seconds``)."""
    started = time.monotonic()
    await asyncio.wait_for(stream.content.read(), seconds)
    return time.monotonic() - started


async def test_deactivating_a_person_ends_their_event_streams_within_a_second(client, org, login):
    admin = await login("admin")
    coordinator = await login("coordinator")
    assistant = await login("assistant")
    fleet = await client.get("/devices/events", headers=coordinator)
    rota = await client.get(f"/rota/events?school={org.school_id}", headers=assistant)
    assert fleet.status == rota.status == 200
    assert fleet.headers["Content-Type"].startswith("text/event-stream")
    await asyncio.sleep(0.1)
    # Still live before: an update arrives.
    client.app[EVENTS].publish(f"fleet:{org.provider_id}", {"device_id": "d1", "online": True})
    assert await asyncio.wait_for(fleet.content.readline(), 2) == b"event: device\r\n"

    for role in ("coordinator", "assistant"):
        resp = await client.post(f"/api/users/{org.users[role].id}/deactivate", headers=admin)
        assert resp.status == 204
    took = await asyncio.gather(_ends_within(fleet, 1.5), _ends_within(rota, 1.5))
    print(f"streams ended {took[0]:.2f} s and {took[1]:.2f} s after deactivation")
    fleet.close()
    rota.close()


async def test_signing_out_ends_the_stream_started_with_that_sign_in(client, org, login):
    coordinator = await login("coordinator")
    other = await login("coordinator")  # the same person on another device
    fleet = await client.get("/devices/events", headers=coordinator)
    kept = await client.get("/devices/events", headers=other)
    await asyncio.sleep(0.1)
    assert (await client.post("/api/auth/logout", headers=coordinator)).status == 204
    await _ends_within(fleet, 1.5)
    # The other sign-in's stream goes on.
    client.app[EVENTS].publish(f"fleet:{org.provider_id}", {"device_id": "d1", "online": True})
    assert await asyncio.wait_for(kept.content.readline(), 2) == b"event: device\r\n"
    fleet.close()
    kept.close()


async def test_the_sweep_outlives_an_unexpected_error(client, org, login, monkeypatch):
    """A sweep that died on one unexpected error would stop revocation on its instance."""
    from telepresence.platform.security.revocation import SignedInStreams

    real, calls = SignedInStreams.sweep, []

    async def fails_once(self: SignedInStreams) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one look")
        return await real(self)

    monkeypatch.setattr(SignedInStreams, "sweep", fails_once)
    coordinator = await login("coordinator")
    fleet = await client.get("/devices/events", headers=coordinator)
    await asyncio.sleep(0.7)  # the first look has failed by now
    assert (await client.post("/api/auth/logout", headers=coordinator)).status == 204
    await _ends_within(fleet, 1.5)
    assert len(calls) >= 2
    fleet.close()
