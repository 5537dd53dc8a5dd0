"""The home-school report: one pupil over a range (default this term), as a printable page and
as PDF, and the form that adds a note to share with the home school.

Every report read (page or PDF) is audited. A pupil with no lessons in the range
gets a report that says so; a bad range shows the page again with what was wrong.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from telepresence.engagement import access
from telepresence.engagement.dashboard import views
from telepresence.engagement.dashboard.pages import READERS, pupil_calendar, template_helpers
from telepresence.engagement.dashboard.pdf import ReportFacts, report_pdf
from telepresence.engagement.dashboard.periods import Period, Range, parse_range
from telepresence.engagement.models import SharedNoteRow
from telepresence.platform.errors import InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["routes"]

routes = Routes("engagement-report")
MAX_NOTE = 2000


async def _report(
    request: web.Request, who: Principal, action: str
) -> tuple[views.PupilPage, Range, list[views.Note], list[views.Note]]:
    """The report's figures and notes for the asked range (``InvalidInput`` for a bad one)."""
    today = request.app[CLOCK].now().date()
    async with request.app[DATABASE].transaction() as db:
        pupil = await access.visible_pupil(db, who, request.match_info["pupil_id"])
        cal = await pupil_calendar(db, pupil.school_id)
        rng = parse_range(dict(request.query), today, cal, default=Period.TERM)
        page = await views.pupil_page(db, who, pupil.id, rng, lessons=False)
        notes = await views.shared_notes(db, pupil.id, rng)
        staff_notes = await views.shared_notes(db, pupil.id, rng, shared=False)
        record_request(
            request, db, who, action, "pupil", pupil.id,
            {"start": rng.start.isoformat(), "end": rng.end.isoformat()},
        )  # fmt: skip
    return page, rng, notes, staff_notes


@routes.page(
    "GET",
    "/engagement/pupils/{pupil_id}/report",
    roles=READERS,
    summary="A pupil's report for the home school (audited)",
)
async def home_school_report(request: web.Request, who: Principal) -> web.Response:
    """Printable: lessons joined per subject, minutes, the weeks chart, shared notes."""
    form = dict(request.query)
    base = template_helpers(request) | {
        "form": form,
        "periods": Period,
        "request_path": request.path,
    }
    try:
        page, rng, notes, staff_notes = await _report(request, who, "engagement.report")
    except InvalidInput as exc:
        context = base | {"title": "Report", "problem": exc.detail, "range": None, "page": None}
        return render(request, who, "report.html", context, status=422, current="/engagement")
    context = base | {
        "title": f"Report: {page.pupil.first_name} {page.pupil.last_name}",
        "page": page,
        "range": rng,
        "notes": notes,
        "staff_notes": staff_notes,
        "problem": "",
        "today": request.app[CLOCK].now().date(),
    }
    return render(request, who, "report.html", context, current="/engagement")


@routes.page(
    "GET",
    "/engagement/pupils/{pupil_id}/report.pdf",
    roles=READERS,
    summary="A pupil's report for the home school as PDF (audited)",
)
async def home_school_report_pdf(request: web.Request, who: Principal) -> web.Response:
    """The same report as an A4 PDF, to send to the home school."""
    page, rng, notes, _ = await _report(request, who, "engagement.report_pdf")
    facts = ReportFacts(
        pupil=f"{page.pupil.first_name} {page.pupil.last_name}",
        school=page.school,
        key_worker=page.key_worker,
        start=rng.start,
        end=rng.end,
        total=page.total,
        subjects=page.subjects,
        weeks=page.weeks,
        notes=notes,
        made_on=request.app[CLOCK].now().date(),
        attended_share=request.app[SETTINGS].engagement_attended_share,
    )
    body = report_pdf(facts)
    name = f"engagement-{page.pupil.last_name}-{rng.start}-{rng.end}.pdf".replace(" ", "-")
    safe = (
        "".join(ch for ch in name if ch.isascii() and (ch.isalnum() or ch in "-_.")) or "report.pdf"
    )
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@routes.page(
    "POST",
    "/engagement/pupils/{pupil_id}/notes",
    roles=READERS,
    summary="Add a note on a pupil, shared with the home school or not (form)",
)
async def add_pupil_note(request: web.Request, who: Principal) -> web.Response:
    """Then back to the report; an empty note changes nothing and says so (422)."""
    fields = await form_fields(request)
    text = fields.get("text", "").strip()
    back = f"/engagement/pupils/{request.match_info['pupil_id']}/report"
    kept = {k: fields[k][:20] for k in ("period", "start", "end") if fields.get(k)}
    if kept:
        back += "?" + urlencode(kept)
    if not text or len(text) > MAX_NOTE:
        raise InvalidInput(
            "Write the note first." if not text else f"Keep a note under {MAX_NOTE} characters.",
            errors=[{"field": "text", "message": "empty or too long"}],
        )
    async with request.app[DATABASE].transaction() as db:
        pupil = await access.visible_pupil(db, who, request.match_info["pupil_id"])
        note = SharedNoteRow(
            pupil_id=pupil.id,
            author_id=who.subject_id,
            text=text,
            shared=fields.get("shared") == "on",
            created_at=request.app[CLOCK].now(),
        )
        db.add(note)
        await db.flush()
        record_request(
            request, db, who, "engagement.note_added", "pupil", pupil.id,
            {"note_id": note.id, "shared": note.shared},
        )  # fmt: skip
    raise web.HTTPSeeOther(back)
