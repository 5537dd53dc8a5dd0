"""The staff page that imports a pupil's timetable: upload, preview, confirm.

The preview is a dry run of the same service the API and CLI use; the
confirm form carries the previewed file back (compressed, in a hidden field)
so that no upload is kept on the server between the two steps, and the import
validates it all again: a tampered payload is just another file.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import date, time
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from scheduler.bookings.events import HubBookingEvents
from scheduler.timetables import services
from scheduler.timetables.imports import ImportRejected
from scheduler.timetables.occurrences import Lesson, LessonChange, TimetableDiff
from scheduler.timetables.pages import WRITERS, error_page, form_of, pupil_page
from scheduler.timetables.repository import pupil_display_name, visible_pupil
from telepresence.platform.errors import DomainError, InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["pack_upload", "routes", "unpack_upload"]

routes = Routes("timetable-pages")
FORMATS = {"": "Work it out from the file", "csv": "CSV", "ical": "iCalendar (.ics)"} | {
    "oneroster": "OneRoster 1.2 bundle (.zip)"
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LABELS = {"class_group": "class", "valid_from": "from", "valid_to": "until"}


def pack_upload(data: bytes) -> str:
    """The file as text for a hidden form field (zlib, then URL-safe base64)."""
    return base64.urlsafe_b64encode(zlib.compress(data, 9)).decode()


def unpack_upload(text: str) -> bytes:
    """The file packed by :func:`pack_upload`; ``InvalidInput`` if it is not one."""
    try:
        return zlib.decompress(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, zlib.error, ValueError):
        raise InvalidInput(
            "The previewed file did not come back intact; upload it again."
        ) from None


def _show(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, frozenset):
        return ", ".join(f"{d:%d %b %Y}" for d in sorted(value)) or "—"
    if isinstance(value, date):
        return f"{value:%d %b %Y}"
    return str(value)


def lesson_row(lesson: Lesson) -> dict[str, str]:
    """A lesson as the cells of a preview table."""
    return {
        "week": "Every other" if lesson.interval == 2 else lesson.week or "Every",
        "day": _DAYS[lesson.weekday],
        "time": f"{lesson.start:%H:%M}-{lesson.end:%H:%M}",
        "subject": lesson.subject,
        "class_group": lesson.class_group,
        "teacher": lesson.teacher,
        "room": lesson.room,
    }


def _changes(change: LessonChange) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field a re-import changes."""
    return [
        (
            _LABELS.get(f, f.replace("_", " ")),
            _show(getattr(change.old, f)),
            _show(getattr(change.new, f)),
        )
        for f in change.fields
    ]


def _preview(diff: TimetableDiff) -> dict[str, Any]:
    changed = [lesson_row(c.new) | {"changes": _changes(c)} for c in diff.changed]
    return {
        "added": [lesson_row(lsn) for lsn in diff.added],
        "changed": changed,
        "removed": [lesson_row(lsn) for lsn in diff.removed],
        "unchanged": len(diff.unchanged),
    }


async def _context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    async with request.app[DATABASE].sessions() as session:
        pupil = await visible_pupil(session, who, pupil_id)
    return {
        "title": f"{pupil_display_name(pupil)}: import a timetable",
        "pupil": pupil,
        "pupil_name": pupil_display_name(pupil),
        "formats": FORMATS,
        "form": {"format": "", "roster_id": ""},
        "problems": [],
        "preview": None,
        "payload": "",
        "file_name": "",
        "warnings": [],
    }


@routes.page(
    "GET",
    "/pupils/{pupil_id}/timetable/import",
    roles=WRITERS,
    summary="Import a timetable export (upload, preview, confirm)",
)
async def import_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The upload form."""
    return await pupil_page(request, who, _context, "timetable_import.html")


async def _upload(posted: Any, form: dict[str, str]) -> tuple[bytes, str]:
    """The file to import: the uploaded one on preview, the carried-back one on confirm."""
    if form.get("action") == "import":
        return unpack_upload(form.get("payload", "")), form.get("file_name", "")[:200]
    upload = posted.get("file")
    if not isinstance(upload, FileField) or not upload.filename:
        raise InvalidInput("Choose the timetable file to upload.")
    return upload.file.read(), upload.filename[:200]


@routes.page(
    "POST",
    "/pupils/{pupil_id}/timetable/import",
    roles=WRITERS,
    summary="Preview (dry run) or import an uploaded timetable (form)",
)
async def import_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """``action=preview`` shows what would change; ``action=import`` applies it, all or nothing."""
    pupil_id = request.match_info["pupil_id"]
    posted = await request.post()
    form = form_of(posted)
    fmt = form.get("format", "")
    try:
        context = await _context(request, who, pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    context["form"] = {"format": fmt, "roster_id": form.get("roster_id", "")}
    dry_run = form.get("action") != "import"
    try:
        data, name = await _upload(posted, form)
        async with request.app[DATABASE].transaction() as session:
            outcome = await services.import_timetable(
                session,
                who,
                pupil_id,
                data,
                fmt=fmt if fmt in ("csv", "ical", "oneroster") else None,  # type: ignore[arg-type]
                file_name=name or "upload",
                roster_id=form.get("roster_id") or None,
                dry_run=dry_run,
                now=request.app[CLOCK].now(),
            )
            action = "timetable.preview" if dry_run else "timetable.import"
            details = {"format": outcome.source_format, "added": len(outcome.diff.added)}
            record_request(request, session, who, action, "pupil", pupil_id, details)
    except ImportRejected as exc:
        count = len(exc.errors)
        context["errors"] = [
            f"The timetable was not imported: {count} problem{'s' if count != 1 else ''} found; "
            "nothing was changed. Correct the file and upload it again."
        ]
        context["problems"] = list(exc.errors)
        context["needs_codes"] = any("period codes" in p.message for p in exc.errors)
        return render(
            request, who, "timetable_import.html", context, status=422, current="/timetables"
        )
    except DomainError as exc:
        context["errors"] = [exc.detail]
        return render(
            request, who, "timetable_import.html", context, status=exc.status, current="/timetables"
        )
    if not dry_run:
        HubBookingEvents(request.app[EVENTS]).publish(outcome.events)
        raise web.HTTPSeeOther(f"/pupils/{pupil_id}/timetable?notice=imported")
    context |= {
        "preview": _preview(outcome.diff),
        "payload": pack_upload(data),
        "file_name": name,
        "source_format": outcome.source_format,
        "warnings": [str(w) for w in outcome.warnings],
        "period_codes": list(outcome.period_codes),
        "form": {"format": outcome.source_format, "roster_id": form.get("roster_id", "")},
    }
    return render(request, who, "timetable_import.html", context, current="/timetables")
