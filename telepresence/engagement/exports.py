"""CSV exports: bookings with outcomes, weekly engagement per pupil, alerts.

UTF-8 (with a byte-order mark, so spreadsheets read accents right); every
text cell goes through the project's ``escape_for_csv`` (a leading
``= + - @``, tab or carriage return is neutralised with an apostrophe).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from scheduler.timetables.imports import escape_for_csv
from telepresence.engagement.schemas import AlertOut, CountsOut, OutcomeOut

__all__ = ["alerts_csv", "bookings_csv", "weekly_csv", "write_csv"]

Cell = str | int | float | None


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_for_csv(value)
    return str(value)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A CSV document (UTF-8 with BOM, CRLF line ends) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def bookings_csv(names: dict[str, str], lessons: Iterable[OutcomeOut]) -> bytes:
    """One line per finished booking and its outcome."""
    header = [
        "pupil", "date", "starts_at", "subject", "outcome", "reason", "description",
        "booked_minutes", "present_minutes", "gaps", "reconnects", "hands_raised",
        "camera_minutes", "quality", "booking_id",
    ]  # fmt: skip
    return write_csv(
        header,
        (
            [
                names.get(o.pupil_id, o.pupil_id),
                o.lesson_date.isoformat(),
                o.starts_at.isoformat(),
                o.subject,
                o.outcome,
                o.reason,
                o.description,
                o.booked_minutes,
                o.present_minutes,
                o.gaps,
                o.reconnects,
                o.hands_raised,
                o.camera_minutes,
                o.quality,
                o.booking_id,
            ]
            for o in lessons
        ),
    )


def weekly_csv(rows: Iterable[tuple[str, CountsOut]]) -> bytes:
    """One line per pupil and school week (``key`` is the week's Monday)."""
    header = [
        "pupil", "week", "booked", "joined", "attended", "partial", "missed", "cancelled",
        "minutes", "booked_minutes", "share", "trend",
    ]  # fmt: skip
    return write_csv(
        header,
        (
            [
                name,
                c.key,
                c.booked,
                c.joined,
                c.attended,
                c.partial,
                c.missed,
                c.cancelled,
                c.minutes,
                c.booked_minutes,
                c.share,
                c.trend,
            ]
            for name, c in rows
        ),
    )


def alerts_csv(alerts: Iterable[AlertOut]) -> bytes:
    """One line per alert; ``subject`` is what an operational alert is about (``move:<id>``,
    ``device:<id>``, ``day:<date>``), empty for the disengagement rules."""
    header = [
        "pupil", "rule", "subject", "status", "summary", "opened_at", "acknowledged_at",
        "resolved_at", "note", "alert_id",
    ]  # fmt: skip
    return write_csv(
        header,
        (
            [
                a.pupil_name,
                a.rule,
                a.subject,
                a.status,
                a.summary,
                a.opened_at.isoformat(),
                a.acknowledged_at.isoformat() if a.acknowledged_at else None,
                a.resolved_at.isoformat() if a.resolved_at else None,
                a.note,
                a.id,
            ]
            for a in alerts
        ),
    )
