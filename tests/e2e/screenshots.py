"""Screenshots of every role's main pages at phone, tablet and desktop sizes.

Not a test: a tool for looking at the pages. It starts the service the way the
e2e tests do (``db upgrade``, ``demo``, ``serve`` as subprocesses), pairs a
synthetic agent with the demo robot so that live status shows, and writes one
PNG per page and viewport, plus ``report.txt`` listing what a machine can spot:
horizontal overflow, touch targets under 48 px, unlabelled controls, skipped
heading levels.

    .venv/bin/python tests/e2e/screenshots.py /tmp/classbridge-shots
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import (
    AUDIT_JS,
    LiveServer,
    classbridge_command,
    launch_chromium,
    running_server,
    sign_in,
    stop_process,
)
from playwright.sync_api import Browser, Page, sync_playwright

VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}
PUBLIC_PAGES = ["/login", "/pupil-login", "/pair?code=ABCD-2345"]
ROLE_PAGES = {
    "admin": [
        "/devices",
        "device:Robbie",
        "pairing:Robbie",
        "/pupils",
        "pupil:Sam",
        "/schools",
        "/staff",
    ],
    "coordinator": ["/devices"],
    "hospital_staff": ["/pupils"],
    "assistant": ["/assistant", "/devices"],
    "pupil": ["/today"],
}


def slug(path: str) -> str:
    """A file-name-safe version of a page path."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def device_id(page: Page, server: LiveServer, name: str) -> str:
    """The id of the demo device called ``name``, from the fleet table."""
    page.goto(server.url("/devices"))
    href = page.get_by_role("link", name=name, exact=True).get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def pupil_id(page: Page, server: LiveServer, first_name: str) -> str:
    """The id of the demo pupil whose first name is ``first_name``."""
    page.goto(server.url("/pupils"))
    href = page.get_by_role("link", name=re.compile(f"^{first_name} ")).get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def visit(page: Page, server: LiveServer, target: str) -> None:
    """Open ``target``: a path, or ``device:NAME``, ``pairing:NAME``, ``pupil:NAME``."""
    kind, _, name = target.partition(":")
    if kind == "device":
        page.goto(server.url(f"/devices/{device_id(page, server, name)}"))
    elif kind == "pairing":
        page.goto(server.url(f"/devices/{device_id(page, server, name)}"))
        page.get_by_role("button", name=re.compile("pairing code")).click()
        page.wait_for_selector("#pairing-code")
    elif kind == "pupil":
        page.goto(server.url(f"/pupils/{pupil_id(page, server, name)}"))
    else:
        page.goto(server.url(target))
    if page.locator("#fleet").count():
        page.wait_for_selector("#fleet[data-live=open]")


@contextmanager
def robot_online(browser: Browser, server: LiveServer, workdir: Path) -> Iterator[None]:
    """Pair a synthetic agent with the demo robot "Robbie" and keep it connected."""
    page = browser.new_page()
    sign_in(page, server, "admin")
    visit(page, server, "pairing:Robbie")
    code = page.locator("#pairing-code").inner_text()
    page.close()
    log = (workdir / "agent.log").open("wb")
    agent = subprocess.Popen(
        [
            str(classbridge_command()),
            "agent",
            "--server",
            server.base_url,
            "--pair",
            code,
            "--credential-file",
            str(workdir / "robbie.cred"),
        ],
        env=dict(server.env),
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3)  # pairing, hello and a couple of heartbeats
        yield
    finally:
        stop_process(agent)
        log.close()


def capture(browser: Browser, server: LiveServer, outdir: Path) -> list[str]:
    """Every page at every viewport; returns the audit findings."""
    findings: list[str] = []
    jobs: list[tuple[str | None, list[str]]] = [(None, PUBLIC_PAGES), *ROLE_PAGES.items()]
    for viewport, (width, height) in VIEWPORTS.items():
        for role, targets in jobs:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            if role:
                sign_in(page, server, role)
            for target in targets:
                visit(page, server, target)
                name = f"{viewport}-{role or 'public'}-{slug(target)}"
                page.screenshot(path=str(outdir / f"{name}.png"), full_page=True)
                findings += [f"{name}: {f}" for f in page.evaluate(AUDIT_JS)]
            context.close()
    return findings


def main() -> int:
    """Write the screenshots and report.txt into OUTDIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args()
    outdir: Path = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="classbridge-shots-") as tmp:
        workdir = Path(tmp)
        with (
            running_server(workdir, CLASSBRIDGE_LOGIN_ATTEMPTS_PER_MINUTE="1000") as server,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            try:
                with robot_online(browser, server, workdir):
                    findings = capture(browser, server, outdir)
            finally:
                browser.close()
    (outdir / "report.txt").write_text("\n".join(findings) + "\n")
    print(f"{len(list(outdir.glob('*.png')))} screenshots in {outdir}")
    print("\n".join(findings) or "no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
