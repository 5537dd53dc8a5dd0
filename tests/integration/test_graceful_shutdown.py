"""SIGTERM on a real ``classbridge serve``: sockets told to reconnect, the process gone in 10 s.

A robot's device socket and a pupil's lesson socket are open, and a timetable
upload is being parsed (for a minute: the parser is slowed down in the
subprocess only). The sockets must get 1001 ("going away": reconnect, through
the proxy, to another instance) at once, and the process must end well within
10 s without waiting for the parse.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from factories import PASSWORD, PUPIL_PIN, add_booking, add_device, seed_org

from telepresence.dbmigrate import upgrade
from telepresence.platform.database import Database

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
HELLO = {"type": "hello", "protocol": [1], "model": "AV1", "software_version": "1"}
CSV = b"Week;Day;Period;Subject;Class;Staff;Room\nA;Mon;P1;Mathematics;9X;Mr R Patel;S12\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'classbridge.sqlite3'}"
    upgrade(url)
    return url


async def start_server(url: str, tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "CLASSBRIDGE_DATABASE_URL": url,
        "CLASSBRIDGE_DATA_DIR": str(tmp_path),
        "CLASSBRIDGE_PORT": str(port),
        "CLASSBRIDGE_SECRET_KEY": "shutdown-test-secret-key-0123456789",
        "CLASSBRIDGE_RUN_JOBS": "true",
        "CLASSBRIDGE_LOG_JSON": "false",
        "SLOW_PARSE_SECONDS": "60",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "support")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests" / "support" / "slow_import_serve.py"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    if process.returncode is None:
        process.kill()
    output = (await process.stdout.read()) if process.stdout else b""
    raise AssertionError(f"the server did not start: {output.decode()[-3000:]}")


async def test_sigterm_tells_sockets_to_reconnect_and_ends_within_10_s(sqlite_url, tmp_path):
    database = Database(sqlite_url)
    org = await seed_org(database)
    robot = await add_device(database, org)
    booking_id = await add_booking(database, org, robot.id)
    await database.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await start_server(sqlite_url, tmp_path, port)
    try:
        async with aiohttp.ClientSession() as http:
            staff = await bearer(http, base, "/api/auth/login", email="hospital_staff@test.example")
            admin = await bearer(http, base, "/api/auth/login", email="admin@test.example")
            pupil = await bearer(http, base, "/api/auth/pupil-login", pupil=True)
            async with http.post(f"{base}/api/devices/{robot.id}/pairing-code", headers=admin) as r:
                code = (await r.json())["code"]
            async with http.post(f"{base}/api/devices/pair", json={"code": code}) as r:
                credential = (await r.json())["credential"]
            device = await http.ws_connect(
                f"{base}/ws/device", headers={"Authorization": f"Bearer {credential}"}
            )
            await device.send_json(HELLO)
            assert (await device.receive_json(timeout=5))["type"] == "welcome"
            async with http.post(f"{base}/api/bookings/{booking_id}/join", headers=pupil) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["token"]
            lesson = await http.ws_connect(f"{base}/ws/session")
            await lesson.send_json({"type": "join", "token": token})
            assert (await lesson.receive_json(timeout=5))["type"] == "joined"

            upload = asyncio.create_task(
                http.post(
                    f"{base}/api/pupils/{org.pupil.id}/timetable?format=csv",
                    data=CSV,
                    headers={**staff, "Content-Type": "text/csv"},
                )
            )
            await wait_for_line(process, "parse_started")

            process.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            for ws in (device, lesson):
                await closed(ws)  # messages already on their way (an invitation) come first
                assert ws.close_code == 1001  # going away: reconnect (to another instance)
                assert time.monotonic() - stopped_at < 2
            await asyncio.wait_for(process.wait(), 10)
            took = time.monotonic() - stopped_at
            assert took < 10
            assert process.returncode == 0
            # The upload was abandoned: its connection dropped (or a 5xx), nothing imported.
            outcome = (await asyncio.gather(upload, return_exceptions=True))[0]
            assert isinstance(outcome, aiohttp.ClientError | aiohttp.ClientResponse)
            assert isinstance(outcome, aiohttp.ClientError) or outcome.status >= 500
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    print(f"SIGTERM to exit with a long import running: {took:.2f} s")


async def bearer(http, base: str, path: str, *, email: str = "", pupil: bool = False):
    body = {"pupil_code": "SAMK42", "pin": PUPIL_PIN} if pupil else {"email": email}
    if not pupil:
        body["password"] = PASSWORD
    async with http.post(f"{base}{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        msg = await ws.receive(timeout=3)
        if msg.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            return
        assert msg.type == aiohttp.WSMsgType.TEXT, msg


async def wait_for_line(process: asyncio.subprocess.Process, text: str) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        if text in line.decode():
            return
    raise AssertionError(f"the server never said {text!r}")
