"""An assistant's moves as an iCalendar (RFC 5545) feed for their phone's calendar.

Written by hand rather than with the ``icalendar`` package: a feed of a few
VEVENTs needs only escaping and line folding, and start-up stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from scheduler.rota.reading.views import MoveView
from scheduler.timetables.imports import escape_for_csv

__all__ = ["moves_calendar"]


# Control characters (a bare CR would end the line early) go, except newline (escaped).
_CONTROL = {code: None for code in range(32) if code != 10}


def _escape(text: str) -> str:
    """A text value: no control characters, no formula start (as the pupil's feed), escaped."""
    text = escape_for_csv(text.translate(_CONTROL))
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(len(data), start + (75 if not parts else 74))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 character
            end -= 1
        parts.append(data[start:end].decode())
        start = end
    return "\r\n ".join(parts)


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def moves_calendar(name: str, moves: Iterable[MoveView], now: datetime) -> str:
    """A VCALENDAR with one VEVENT per open or done move (from ``earliest`` to due time)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Classbridge//Move rota//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(f'Robot moves · {name}')}",
    ]
    for move in moves:
        row = move.row
        if row.status == "failed":
            continue
        start = row.departs_at or row.earliest
        lines += [
            "BEGIN:VEVENT",
            f"UID:{row.id}@classbridge",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(min(start, row.due))}",
            f"DTEND:{_stamp(row.due)}",
            f"SUMMARY:{_escape(move.summary)}",
            f"LOCATION:{_escape(row.from_room_name)}",
            f"DESCRIPTION:{_escape(f'Take it to {row.to_room_name} by {move.local(row.due)}.')}",
            "STATUS:CONFIRMED",
            f"SEQUENCE:{row.version}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
