"""Timetable importers: bytes in, validated lessons or ImportRejected out (all pure)."""

from scheduler.imports.common import (
    ImportProblem,
    ImportRejected,
    ImportResult,
    escape_for_csv,
)
from scheduler.imports.csv_timetable import import_csv
from scheduler.imports.ical import import_ical
from scheduler.imports.oneroster import import_oneroster

__all__ = [
    "ImportProblem",
    "ImportRejected",
    "ImportResult",
    "escape_for_csv",
    "import_csv",
    "import_ical",
    "import_oneroster",
]
