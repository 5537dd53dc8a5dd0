"""Rendering devices for people: names of schools, pupils and rooms, QR codes."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.domain import Capability, DeviceKind, Lifecycle, format_pairing_code
from device_registry.models import Device, DeviceCommandRecord
from device_registry.schemas import DeviceOut
from telepresence.platform.models import Pupil, Room, School

__all__ = ["RoomTest", "device_views", "pair_url", "qr_svg", "room_test"]

TEST_PATIENCE = timedelta(minutes=2)
VERDICTS = {
    "good": "Good for lessons",
    "fair": "Fair: lessons may stutter",
    "poor": "Poor: lessons will struggle here",
}


@dataclass(frozen=True, slots=True)
class RoomTest:
    """The last room connection test a device was asked for, as a person reads it."""

    state: str  # "running", "done" or "failed"
    at: datetime
    verdict: str = ""
    verdict_text: str = ""
    room: str = ""
    rtt_ms: float | None = None
    loss_pct: float | None = None
    bitrate_kbps: float | None = None
    fps: float | None = None
    problem: str = ""


def room_test(command: DeviceCommandRecord | None, now: datetime) -> RoomTest | None:
    """Read a ``readiness_test`` command's acknowledgement (``"good: {json}"``, as the
    agent sends it) into a verdict and figures; ``None`` for no such command.

    A test unanswered after ``TEST_PATIENCE`` counts as failed.
    """
    if command is None:
        return None
    if command.status == "sent":
        if now - command.created_at > TEST_PATIENCE:
            return RoomTest("failed", command.created_at, problem="The device did not answer.")
        return RoomTest("running", command.created_at)
    verdict, _, payload = command.detail.partition(": ")
    try:
        figures = json.loads(payload) if command.status == "done" else None
    except ValueError:
        figures = None
    if not isinstance(figures, dict) or verdict not in VERDICTS:
        problem = command.detail.removeprefix("readiness test failed: ") or command.status
        return RoomTest("failed", command.created_at, problem=problem)

    def number(key: str) -> float | None:
        value = figures.get(key)
        return float(value) if isinstance(value, int | float) else None

    return RoomTest(
        "done",
        command.acked_at or command.created_at,
        verdict=verdict,
        verdict_text=VERDICTS[verdict],
        room=str(figures.get("room") or ""),
        rtt_ms=number("rtt_ms"),
        loss_pct=number("loss_pct"),
        bitrate_kbps=number("bitrate_kbps"),
        fps=number("fps"),
    )


async def device_views(session: AsyncSession, devices: list[Device]) -> list[DeviceOut]:
    """Devices with the names of what they are assigned to (one query per kind of name)."""
    school_ids = {d.school_id for d in devices if d.school_id}
    pupil_ids = {d.pupil_id for d in devices if d.pupil_id}
    room_ids = {d.last_known_room_id for d in devices if d.last_known_room_id}
    schools = dict(
        (
            await session.execute(select(School.id, School.name).where(School.id.in_(school_ids)))
        ).all()
    )
    pupils = {
        pid: f"{first} {last[:1]}."
        for pid, first, last in (
            await session.execute(
                select(Pupil.id, Pupil.first_name, Pupil.last_name).where(Pupil.id.in_(pupil_ids))
            )
        ).all()
    }
    rooms = dict(
        (await session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids)))).all()
    )
    return [
        DeviceOut(
            id=d.id,
            serial=d.serial,
            name=d.name,
            model=d.model,
            kind=DeviceKind(d.kind),
            capabilities=[Capability(c) for c in d.capabilities],
            lifecycle=Lifecycle(d.lifecycle),
            paired=d.paired_at is not None,
            school_id=d.school_id,
            school_name=schools.get(d.school_id or ""),
            pupil_id=d.pupil_id,
            pupil_display_name=pupils.get(d.pupil_id or ""),
            charging_base_room_id=d.charging_base_room_id,
            last_known_room_id=d.last_known_room_id,
            last_known_room=rooms.get(d.last_known_room_id or ""),
            online=d.online,
            last_seen_at=d.last_seen_at,
            battery_pct=d.battery_pct,
            charging=d.charging,
            signal_dbm=d.signal_dbm,
            network_type=d.network_type,
            reported_room=d.reported_room,
            software_version=d.software_version,
        )
        for d in devices
    ]


def pair_url(base_url: str, code: str) -> str:
    """What the pairing QR code encodes: the service and the code in one URL."""
    return f"{base_url}/pair?code={quote(format_pairing_code(code))}"


def qr_svg(data: str) -> str:
    """An SVG QR code (no XML declaration, so it can be inlined in a page)."""
    import segno  # only pages that show a pairing code need it

    out = io.BytesIO()
    segno.make(data, error="m").save(
        out,
        kind="svg",
        scale=6,
        border=2,
        xmldecl=False,
        svgns=True,
        title="Pairing QR code",
        svgclass="qr",
        lineclass=None,
    )
    return out.getvalue().decode()
