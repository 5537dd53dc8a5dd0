"""A real ``classbridge serve`` process and a real Chromium, for the e2e tests and screenshots.

Shared by ``conftest.py`` and ``screenshots.py`` so both start the service the
way an operator does: ``db upgrade``, ``demo``, ``serve``, each a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import (
    APIRequestContext,
    APIResponse,
    Browser,
    BrowserContext,
    Page,
    Playwright,
)

__all__ = [
    "AUDIT_JS",
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "DEMO",
    "LiveServer",
    "Tab",
    "classbridge_command",
    "classbridge_env",
    "free_port",
    "launch_chromium",
    "running_server",
    "sign_in",
    "stop_process",
    "watch",
]

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Runs in the page: what a reviewer would otherwise have to find by eye.
AUDIT_JS = """
() => {
  const out = [];
  const doc = document.scrollingElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    out.push(`horizontal overflow: ${doc.scrollWidth}px in ${window.innerWidth}px`);
  }
  const name = (el) => (el.getAttribute('aria-label') || el.labels?.[0]?.textContent
    || el.textContent || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
    if (el.type === 'hidden' || el.closest('[hidden]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const inline = el.tagName === 'A' && el.closest('p, li, dd, td') &&
      !el.closest('nav') && getComputedStyle(el).display === 'inline';
    const small = el.type === 'checkbox' || el.type === 'radio'
      ? (el.closest('label')?.getBoundingClientRect().height || r.height) < 44
      : (r.height < 48 || r.width < 48);
    if (small && !inline) {
      out.push(`small target ${Math.round(r.width)}x${Math.round(r.height)}: ` +
               `${el.tagName.toLowerCase()} "${name(el)}"`);
    }
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && !el.labels?.length
        && !el.getAttribute('aria-label')) {
      out.push(`unlabelled ${el.tagName.toLowerCase()} name=${el.name}`);
    }
  }
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = Number(h.tagName[1]);
    if (level > last + 1) {
      out.push(`heading skips from h${last} to h${level}: "${h.textContent.trim()}"`);
    }
    last = level;
  }
  for (const card of document.querySelectorAll('.card')) {
    const edge = card.getBoundingClientRect().right;
    for (const el of card.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > edge + 1) {
        out.push(`${el.tagName.toLowerCase()} "${name(el)}" sticks out of its card`);
        break;
      }
    }
  }
  if (document.querySelectorAll('h1').length !== 1) out.push('not exactly one h1');
  if (!document.querySelector('main')) out.push('no main landmark');
  return out;
}
"""
STARTUP_SECONDS = 20.0
# Long enough for a clean shutdown. A server that has served the fleet page takes longer
# (its event stream only notices a gone browser at the next re-check or ping), so it is killed.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class DemoLogin:
    """One demo account, as ``classbridge demo`` seeds it."""

    login: str
    secret: str
    start_page: str
    heading: str


# The same logins `classbridge demo` prints; the tests sign in with them as people do.
DEMO = {
    "admin": DemoLogin("admin@riverside.example", "demo-admin-pass", "/devices", "Devices"),
    "coordinator": DemoLogin(
        "coordinator@riverside.example", "demo-coord-pass", "/devices", "Devices"
    ),
    "hospital_staff": DemoLogin(
        "teacher@riverside.example", "demo-staff-pass", "/pupils", "Pupils"
    ),
    "assistant": DemoLogin("assistant@oakfield.example", "demo-assist-pass", "/assistant", "Hello"),
    "pupil": DemoLogin("SAMK42", "2468", "/today", "Hi Sam!"),
}


@dataclass(frozen=True)
class LiveServer:
    """A running service: where it listens and where its data and log are."""

    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    env: Mapping[str, str]

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with a slash)."""
        return f"{self.base_url}{path}"

    def log_text(self) -> str:
        """Everything the server wrote so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")


def classbridge_command() -> Path:
    """The ``classbridge`` script of the interpreter running the tests (the repo's venv)."""
    return Path(sys.executable).parent / "classbridge"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def classbridge_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a service with its own SQLite file, isolated from the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSBRIDGE_")}
    env |= {
        "CLASSBRIDGE_DATA_DIR": str(data_dir),
        "CLASSBRIDGE_HOST": "127.0.0.1",
        "CLASSBRIDGE_PORT": str(port),
        "CLASSBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CLASSBRIDGE_LOG_JSON": "false",
        "NO_COLOR": "1",
    }
    return env | extra


def stop_process(process: subprocess.Popen[Any], timeout: float = STOP_SECONDS) -> None:
    """Terminate, wait, and kill if it does not stop in time; safe to call twice."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _run_step(args: list[str], env: Mapping[str, str], cwd: Path) -> None:
    result = subprocess.run(
        [str(classbridge_command()), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"classbridge {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _wait_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"classbridge serve exited {server.process.returncode}:\n{server.log_text()}"
            )
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
                last_error = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise RuntimeError(
        f"/healthz not 200 within {STARTUP_SECONDS}s ({last_error}):\n{server.log_text()}"
    )


@contextmanager
def running_server(workdir: Path, **settings: str) -> Iterator[LiveServer]:
    """Migrate, seed the demo and serve from ``workdir``; stop the server on exit.

    ``settings`` are extra ``CLASSBRIDGE_*`` environment variables.
    """
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = classbridge_env(data_dir, port, **settings)
    _run_step(["db", "upgrade"], env, workdir)
    _run_step(["demo"], env, workdir)
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(classbridge_command()), "serve"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, log_path, process, env)
    try:
        _wait_healthy(server)
        yield server
    finally:
        stop_process(process)


@dataclass
class Tab:
    """A page in its own browser context (its own cookies), and what went wrong in it.

    ``problems`` collects, for every page of the context: console errors (CSP
    violations land there), uncaught script errors, and responses of 400 and up.
    """

    page: Page
    problems: list[str] = field(default_factory=list)

    @property
    def context(self) -> BrowserContext:
        """The context, to open more pages with the same cookies."""
        return self.page.context


def watch(page: Page, problems: list[str]) -> None:
    """Append what goes wrong in ``page`` to ``problems``."""

    def on_console(message: object) -> None:
        text = getattr(message, "text", "")
        # A failed load is recorded with its URL by on_response; the console says only that.
        if getattr(message, "type", "") == "error" and not text.startswith("Failed to load"):
            problems.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{error.name}: {error.message}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"HTTP {response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)


def sign_in(page: Page, server: LiveServer, role: str) -> None:
    """Sign in through the sign-in form a person of ``role`` uses; lands on their start page."""
    login = DEMO[role]
    if role == "pupil":
        page.goto(server.url("/pupil-login"))
        page.get_by_label("Your pupil code").fill(login.login)
        page.get_by_label("Your PIN").fill(login.secret)
        page.get_by_role("button", name="Let's go").click()
    else:
        page.goto(server.url("/login"))
        page.get_by_label("Email").fill(login.login)
        page.get_by_label("Password").fill(login.secret)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url(login.start_page))


def zone_at_mid_morning(now: datetime) -> str:
    """An ``Etc/GMT±N`` zone in which it is about 10:00 at ``now`` (aware): a school there has
    today's lessons ahead of it at any hour the tests run."""
    east = (10 - now.hour) % 24
    east = east - 24 if east > 14 else east
    return "Etc/GMT" if east == 0 else f"Etc/GMT{'-' if east > 0 else '+'}{abs(east)}"


def ok(response: APIResponse, status: int = 200) -> Any:
    """The JSON of a response that must have ``status`` ({} for an empty body)."""
    assert response.status == status, response.text()
    return response.json() if response.text() else {}


def school_at_mid_morning(api: APIRequestContext, name: str) -> tuple[dict[str, Any], ZoneInfo]:
    """A new school called ``name`` (through the admin ``api``) where it is mid-morning now, in
    a term from a week ago to a week ahead with every weekday a school day; and its zone."""
    zone = ZoneInfo(zone_at_mid_morning(datetime.now(UTC)))
    today = datetime.now(zone).date()
    school = ok(api.post("/api/schools", data={"name": name, "time_zone": zone.key}), 201)
    week = timedelta(days=7)
    term = {"name": "Term", "start": str(today - week), "end": str(today + week)}
    calendar = {"terms": [term], "school_weekdays": list(range(7))}
    ok(api.put(f"/api/schools/{school['id']}/calendar", data=calendar))
    return school, zone
