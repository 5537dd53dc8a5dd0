"""Rendering pages: the shared layout's context (navigation by role, CSRF, static URLs)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from telepresence.platform.errors import DomainError
from telepresence.platform.http.context import PAGE_BADGES
from telepresence.platform.http.routing import PRINCIPAL, csrf_for
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "NAV",
    "ROLE_LABELS",
    "form_fields",
    "render",
    "render_error_page",
    "render_problem",
    "safe_next",
]

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.COORDINATOR: "Coordinator",
    Role.HOSPITAL_STAFF: "Hospital school staff",
    Role.ASSISTANT: "Classroom assistant",
    Role.SCHOOL_CONTACT: "Home school contact",
    Role.PUPIL: "Pupil",
    Role.DEVICE: "Device",
}
NAV: dict[Role, list[tuple[str, str]]] = {
    Role.ADMIN: [
        ("/devices", "Devices"),
        ("/engagement", "Dashboard"),
        ("/pupils", "Pupils"),
        ("/timetables", "Timetables"),
        ("/rota", "Move rota"),
        ("/schools", "Schools"),
        ("/staff", "Staff"),
        ("/audit", "Audit log"),
        ("/inbox", "Inbox"),
    ],
    Role.COORDINATOR: [
        ("/devices", "Devices"),
        ("/engagement", "Dashboard"),
        ("/pupils", "Pupils"),
        ("/timetables", "Timetables"),
        ("/rota", "Move rota"),
        ("/schools", "Schools"),
        ("/inbox", "Inbox"),
    ],
    Role.HOSPITAL_STAFF: [
        ("/pupils", "Pupils"),
        ("/engagement", "Dashboard"),
        ("/watch", "Live lessons"),
        ("/timetables", "Timetables"),
        ("/rota", "Move rota"),
        ("/devices", "Devices"),
        ("/schools", "Schools"),
        ("/inbox", "Inbox"),
    ],
    Role.ASSISTANT: [("/assistant", "Today"), ("/inbox", "Inbox")],
    Role.SCHOOL_CONTACT: [("/school", "Our pupils")],
    Role.PUPIL: [("/today", "Today")],
    Role.DEVICE: [],
}
HOME = {role: items[0][0] for role, items in NAV.items() if items}
MAX_NEXT = 2000
# What WHATWG URL parsing silently removes from anywhere in a URL...
_URL_IGNORED = re.compile(r"[\t\n\r]")
# ...and what it strips from the ends or refuses, and raw non-ASCII: our own links
# are percent-encoded, so no same-site path needs any of these.
_CONTROL = re.compile(r"[^\x21-\x7e]")


def safe_next(target: str, who: Principal) -> str:
    """A same-site path to go to after signing in (never another site).

    The check is made on the target as a browser will read it: browsers drop
    tabs and line breaks anywhere in a URL and read a backslash as a slash, so
    ``/%09/evil.example`` (a tab) is ``//evil.example``. Anything with another
    control character, a space or raw non-ASCII, a scheme or a host, and anything
    long, goes home instead.
    """
    home = HOME.get(who.role, "/")
    normalised = _URL_IGNORED.sub("", target).replace("\\", "/")
    if (
        len(normalised) > MAX_NEXT
        or _CONTROL.search(normalised)
        or not normalised.startswith("/")
        or normalised.startswith("//")
    ):
        return home
    parts = urlsplit(normalised)
    if parts.scheme or parts.netloc:
        return home
    return normalised


def render(
    request: web.Request,
    who: Principal | None,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    current: str = "",
) -> web.Response:
    """A page in the shared layout."""

    def static(name: str) -> str:
        return str(request.app.router["static"].url_for(filename=name))

    base = {
        "who": who,
        "nav": NAV.get(who.role, []) if who else [],
        "badges": request.get(PAGE_BADGES, {}),
        "role_label": ROLE_LABELS.get(who.role, "") if who else "",
        "csrf": csrf_for(request),
        "current": current or request.path,
        "static": static,
        "errors": [],
    }
    return aiohttp_jinja2.render_template(template, request, base | context, status=status)


def render_problem(request: web.Request, exc: DomainError) -> web.Response:
    """An error page for people (the API answers the same errors as problem+json)."""
    who = request.get(PRINCIPAL)
    home = HOME.get(who.role, "/") if who else "/login"
    return render(
        request,
        who,
        "problem.html",
        {"title": exc.title, "problem": exc, "home": home},
        status=exc.status,
    )


def render_error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    """A friendly page for a browser that met a 404, a 405 or an unexpected 500.

    The person is not looked up again (the request may have failed doing so):
    the page offers the start page, which sends them where their role begins.
    """
    from telepresence.platform.operations.logging import REQUEST_ID

    friendly = {404: "We could not find that page", 500: "Something went wrong"}
    response = aiohttp_jinja2.render_template(
        "error_page.html",
        request,
        {
            "who": None,
            "nav": [],
            "csrf": "",
            "current": "",
            "static": lambda name: str(request.app.router["static"].url_for(filename=name)),
            "errors": [],
            "title": friendly.get(status, title),
            "status": status,
            "detail": detail,
            "reference": request.get(REQUEST_ID, ""),
        },
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def form_fields(request: web.Request) -> dict[str, str]:
    """The text fields of a posted form (uploaded files are left out)."""
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
