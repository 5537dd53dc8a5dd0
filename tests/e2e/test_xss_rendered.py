"""Stored XSS: hostile text in every free-text field, rendered by Chromium, runs nothing.

Payloads are stored through the API the way any member of staff could type
them (a pupil's names, a school, a room, a device, a colleague's name, an
unavailability reason, a shared reintegration note, a "Can't do it" reason),
then each role walks its pages in Debian's Chromium (every same-site link from
its start page, up to a bound). On every page: no script ran (``window.__xss``
unset), no element carries an injected event handler or script, and the
Content-Security-Policy saw no violation (a violation means markup got
through and only the policy stopped it). The payloads must show as text on
some page, so a test that never rendered them would fail.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from live_server import DEMO, LiveServer, running_server, sign_in
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

PAYLOAD = "<img src=x onerror=window.__xss=1>\"'><svg/onload=window.__xss=1>"
SHOWN = "<img src=x onerror=window.__xss=1>"  # how the text reads once escaped
PAGES_PER_ROLE = 30
SKIP = ("/logout", "/static/", "/events", "/feeds/", "/ws/", ".ics", ".csv", ".pdf", "/export")
WATCH_CSP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
CHECK = """
(shown) => ({
  xss: window.__xss === undefined ? null : String(window.__xss),
  violations: window.__violations || [],
  handlers: document.querySelectorAll('[onerror], [onload], svg[onload], img[src="x"]').length,
  scripts: [...document.scripts].filter((s) => s.textContent.includes('__xss')).length,
  shown: document.body ? document.body.innerText.split(shown).length - 1 : 0,
})
"""


def _api(server: LiveServer, role: str) -> Any:
    login = DEMO[role]
    body = {"email": login.login, "password": login.secret}
    token = _call(server, "", "POST", "/api/auth/login", body)["token"]

    def call(method: str, path: str, data: Any = None) -> Any:
        return _call(server, token, method, path, data)

    return call


def _call(server: LiveServer, token: str, method: str, path: str, data: Any = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (our own server on 127.0.0.1)
        server.url(path),
        method=method,
        data=json.dumps(data).encode() if data is not None else None,
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    return json.loads(text) if text else {}


def _store_payloads(server: LiveServer) -> list[str]:
    """Every free-text field a payload can go into; returns what was stored where."""
    admin = _api(server, "admin")
    stored = []
    pupil = admin("GET", "/api/pupils")[0]
    admin("PATCH", f"/api/pupils/{pupil['id']}", {"first_name": PAYLOAD, "last_name": PAYLOAD})
    stored.append("pupil names")
    school = admin("GET", "/api/schools")[0]
    admin("POST", f"/api/schools/{school['id']}/rooms", {"name": PAYLOAD, "building": PAYLOAD})
    stored.append("room name and building")
    admin("POST", "/api/schools", {"name": PAYLOAD, "time_zone": "Europe/London"})
    stored.append("school name")
    device = admin("GET", "/api/devices")[0]
    admin("PATCH", f"/api/devices/{device['id']}", {"name": PAYLOAD})
    stored.append("device name")
    admin(
        "POST",
        "/api/users",
        {"email": "xss@riverside.example", "name": PAYLOAD, "role": "coordinator"},
    )
    stored.append("a colleague's name")
    staff = _api(server, "hospital_staff")
    start = datetime.now(UTC) + timedelta(days=1)
    staff(
        "POST",
        f"/api/pupils/{pupil['id']}/unavailability",
        {
            "reason": PAYLOAD,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
    )
    stored.append("unavailability reason")
    plans = staff("GET", "/api/reintegration/plans")
    assert plans, "the demo has reintegration plans"
    staff("POST", f"/api/reintegration/plans/{plans[0]['id']}/notes", {"text": PAYLOAD})
    staff(
        "POST",
        f"/api/reintegration/plans/{plans[0]['id']}/notes",
        {"text": PAYLOAD, "shared": True},
    )
    stored.append("reintegration notes")
    assistant = _api(server, "assistant")
    me = assistant("GET", "/api/me")
    rota = assistant("GET", f"/api/schools/{me['school_id']}/rota")
    mine = [m for m in rota["moves"] if m["assistant_id"] == me["id"] and m["status"] == "assigned"]
    if mine:  # the demo's rota has moves left only during the school day
        assistant("POST", f"/api/moves/{mine[0]['id']}/cant", {"reason": PAYLOAD})
        stored.append("a 'Can't do it' reason")
    return stored


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Its own server: the payloads would upset the other browser tests' expectations."""
    with running_server(
        tmp_path_factory.mktemp("xss"), CLASSBRIDGE_LOGIN_ATTEMPTS_PER_MINUTE="1000"
    ) as server:
        yield server


def _walk(page: Page, server: LiveServer) -> Iterator[str]:
    """The start page, then every same-site page linked from what was seen, breadth first."""
    queue, seen = [urlsplit(page.url).path], set[str]()
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in seen or any(part in path for part in SKIP):
            continue
        seen.add(path)
        page.goto(server.url(path))
        yield path
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target = urlsplit(urljoin(page.url, href))
            if target.netloc == urlsplit(server.base_url).netloc and target.path not in seen:
                queue.append(target.path + (f"?{target.query}" if target.query else ""))


def test_hostile_text_in_every_field_runs_no_script(hostile_server, chromium: Browser):
    stored = _store_payloads(hostile_server)
    assert len(stored) >= 7, stored
    shown_on: list[str] = []
    bad: list[str] = []
    for role in ("admin", "coordinator", "hospital_staff", "assistant"):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        try:
            sign_in(page, hostile_server, role)
            for path in _walk(page, hostile_server):
                found = page.evaluate(CHECK, SHOWN)
                if found["xss"] or found["violations"] or found["handlers"] or found["scripts"]:
                    bad.append(f"{role} {path}: {found}")
                if found["shown"]:
                    shown_on.append(f"{role} {path}")
        finally:
            context.close()
    print(f"payloads stored in: {', '.join(stored)}; shown as text on {len(shown_on)} pages")
    assert bad == []
    assert len(shown_on) >= 8, shown_on  # the payloads were rendered, as text
