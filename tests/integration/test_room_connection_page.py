"""The room connection test (issue 16): filed under the room the school's list shows, and read
on the schools page as a verdict with figures, when (local time) and where."""

from __future__ import annotations

from integration.test_pages import sign_in
from sqlalchemy import update

from device_registry.models import Device
from telepresence.platform.http.context import DATABASE


async def test_a_test_from_a_device_that_names_no_room_updates_its_rooms_line(client, org, paired):
    device_id, device = paired
    async with client.app[DATABASE].transaction() as session:
        await session.execute(
            update(Device).where(Device.id == device_id).values(last_known_room_id=org.room_ids[0])
        )
    started = await client.post("/api/readiness", json={}, headers=device)
    assert started.status == 201, await started.text()
    check_id = (await started.json())["check_id"]
    result = await client.post(
        f"/api/readiness/{check_id}/result",
        json={"rtt_ms": 41.0, "loss_pct": 0.2, "bitrate_kbps": 800, "fps": 24},
        headers=device,
    )
    assert result.status == 200
    assert (await result.json())["room"] == "S12"
    await sign_in(client, org.email("hospital_staff"))
    page = await (await client.get("/schools")).text()
    s12 = page[page.index("<li>S12") : page.index("</li>", page.index("<li>S12"))]
    assert "Connection: Good for lessons" in s12
    assert "41 ms delay · 0.2% lost · 24 frames/s · tested" in s12
    assert "Times here are local: Europe/London" in page
