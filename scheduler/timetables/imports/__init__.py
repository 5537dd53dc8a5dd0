"""Timetable importers: bytes in, validated lessons or ImportRejected out (all pure).

``import_ical`` is loaded on first use: the iCalendar library is only needed
when somebody uploads a file, and a server with 10,000 device sockets should
not carry it from start-up (see docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scheduler.timetables.imports.common import (
    ImportProblem,
    ImportRejected,
    ImportResult,
    escape_for_csv,
)
from scheduler.timetables.imports.csv_timetable import import_csv
from scheduler.timetables.imports.oneroster import import_oneroster

if TYPE_CHECKING:
    from scheduler.timetables.imports.ical import import_ical

__all__ = [
    "ImportProblem",
    "ImportRejected",
    "ImportResult",
    "escape_for_csv",
    "import_csv",
    "import_ical",
    "import_oneroster",
]


def __getattr__(name: str) -> Any:
    if name == "import_ical":
        from scheduler.timetables.imports.ical import import_ical

        return import_ical
    raise AttributeError(name)
