"""Small builders for move-rota tests: rooms, lessons, robots and assistants on one day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from scheduler.rota.domain.moves import (
    Assistant,
    BookedLesson,
    DeviceDay,
    DutyWindow,
    Move,
    MoveReason,
    RoomRef,
)

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday in winter: London local time is UTC
BASE = RoomRef("base", "main", 0)
S12 = RoomRef("s12", "main", 0)
S14 = RoomRef("s14", "main", 0)
LAB3 = RoomRef("lab3", "main", 1)
GYM = RoomRef("gym", "sports", 0)
PERIODS = ["08:50", "09:45", "11:00", "11:55", "13:40", "14:35"]  # a secondary day's bells


def at(hhmm: str) -> datetime:
    """``"09:45"`` on the test day, in UTC."""
    hours, minutes = hhmm.split(":")
    return DAY.replace(hour=int(hours), minute=int(minutes))


def lesson(
    booking_id: str,
    room: RoomRef,
    start: str,
    minutes: int = 50,
    device_id: str = "robbie",
) -> BookedLesson:
    """A booked lesson of ``minutes`` starting at ``start``."""
    begins = at(start)
    return BookedLesson(booking_id, device_id, room, begins, begins + timedelta(minutes=minutes))


def draw_lessons(
    draw: Callable[..., Any],
    device: str,
    rooms: Sequence[RoomRef],
    *,
    least: int,
    most: int,
    suffix: str = "",
) -> list[BookedLesson]:
    """Some of ``PERIODS`` for ``device`` (drawn, ``least`` to ``most``), each a 50-minute
    lesson in a drawn room; for property tests (``draw``: Hypothesis's draw function)."""
    periods = draw(st.lists(st.sampled_from(PERIODS), min_size=least, max_size=most, unique=True))
    return [
        BookedLesson(
            f"{device}-{p}{suffix}",
            device,
            draw(st.sampled_from(rooms)),
            at(p),
            at(p) + timedelta(minutes=50),
        )
        for p in periods
    ]


def robot(
    device_id: str = "robbie",
    base: RoomRef | None = BASE,
    last_known: RoomRef | None = None,
    battery: float | None = None,
    drain: float | None = None,
) -> DeviceDay:
    """A robot at the start of the test day."""
    return DeviceDay(device_id, base, last_known, battery, drain)


def assistant(
    assistant_id: str,
    start: str = "08:00",
    end: str = "16:00",
    breaks: tuple[tuple[str, str], ...] = (),
    location: RoomRef | None = None,
    cap: int | None = None,
    absent: bool = False,
) -> Assistant:
    """An assistant on duty from ``start`` to ``end`` with the given breaks."""
    window = DutyWindow(at(start), at(end), tuple((at(a), at(b)) for a, b in breaks))
    return Assistant(assistant_id, (window,), location, cap, absent)


def move(
    frm: RoomRef,
    to: RoomRef,
    earliest: str,
    latest: str,
    device_id: str = "robbie",
    reason: MoveReason = "to_lesson",
) -> Move:
    """A move built by hand, for assignment tests that need exact windows."""
    return Move(device_id, reason, frm, to, at(earliest), at(latest), f"b-{device_id}-{latest}")
