"""The assistant's calendar feed neutralises formula cells and bare CRs, as the pupil's does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from scheduler.rota.reading.ical import moves_calendar
from scheduler.rota.reading.views import MoveView

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _move(from_room: str, to_room: str, device: str) -> MoveView:
    row = SimpleNamespace(
        id="m1",
        status="assigned",
        departs_at=None,
        earliest=NOW,
        due=NOW + timedelta(minutes=20),
        from_room_name=from_room,
        to_room_name=to_room,
        version=1,
    )
    return MoveView(
        row,  # type: ignore[arg-type]
        ZoneInfo("Europe/London"),
        device,
        "robot",
        "Jo",
        "Sam K.",
        None,
        "assigned",
        20,
    )


def test_formula_cells_and_bare_carriage_returns_are_neutralised() -> None:
    feed = moves_calendar(
        "Jo", [_move('=HYPERLINK("http://evil.example")', "Lab\r3", "+Robbie")], NOW
    )
    assert "\r" not in feed.replace("\r\n", "")
    fields = [line.split(":", 1) for line in feed.split("\r\n") if ":" in line]
    values = [v for k, v in fields if k != "PRODID"]
    assert not [v for v in values if v[:1] in {"=", "+", "-", "@"}]
    assert "LOCATION:'=HYPERLINK" in feed
