"""Booking API throughput on PostgreSQL under 50 concurrent clients, against a bare baseline.

Run from the repository root with the project's venv (PostgreSQL at 127.0.0.1:5432)::

    .venv/bin/python bench/api_throughput.py
    .venv/bin/python bench/api_throughput.py --clients 20 --seconds 5 --pupils 40

A scratch database gets a school with the demo calendar and ``--pupils``
pupils, each with the demo's 25-lesson timetable (imported through the real
service) and an assigned robot and tablet. Then, one after another, each
server a process of its own and the load from this one (``--clients``
concurrent keep-alive connections, ``--seconds`` after a short warm-up):

- **week**: ``classbridge serve``, the pupil's week of occurrences
  (``GET /api/pupils/{id}/occurrences?from=&to=`` with the pupil's token:
  authentication, authorisation, expansion in the school's zone, booking state);
- **booking**: ``classbridge serve``, hospital staff booking one lesson
  (``POST /api/pupils/{id}/bookings``), every request a different occurrence
  (clash checks against the pupil's and both devices' bookings, audit, commit);
- **baseline**: an aiohttp hello-world doing one PostgreSQL query per request
  (asyncpg, a pool of 10, a primary-key lookup of a pupil);
- **booking floor** (not a goal, the floor under the booking's figure): an aiohttp
  app doing, per booking, the statements a correct booking needs in plain asyncpg,
  the service's own two (``BOOKING_READ``: the pupil, school, lesson, unavailability,
  devices and the live bookings near the day, no lock; ``BOOKING_INSERT``: the booking
  and its audit entry if the pupil's and devices' rows, the lesson and the calendar are
  as read; no ``BEGIN``/``COMMIT``: 2 round trips; a changed row counts as an error here,
  where the service reads and decides again),
  without the service's rules, sign-in or JSON schemas, on further occurrences of
  the same list.

Goal per measure: at least half the baseline's throughput and p99 under 50 ms.
The last lines printed are one JSON object per measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG = os.environ.get("CLASSBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench password 1234"  # noqa: S105
PIN = "4321"
GOAL_RATIO, GOAL_P99_MS = 0.5, 50.0

BASELINE = """
import asyncio, os, sys
import asyncpg
from aiohttp import web

async def pool(app):
    app["pool"] = await asyncpg.create_pool(os.environ["DSN"], min_size=10, max_size=10)
    yield
    await app["pool"].close()

async def hello(request):
    pid = request.query.get("id", "")
    name = await request.app["pool"].fetchval("SELECT first_name FROM pupils WHERE id = $1", pid)
    return web.json_response({"hello": name})

app = web.Application()
app.cleanup_ctx.append(pool)
app.router.add_get("/hello", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


BOOKING_FLOOR = """
import os, sys, uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo
import asyncpg
from aiohttp import web

READ, INSERT = os.environ["BOOKING_READ"], os.environ["BOOKING_INSERT"]

async def pool(app):
    app["pool"] = await asyncpg.create_pool(os.environ["DSN"], min_size=10, max_size=10)
    yield
    await app["pool"].close()

async def book(request):
    pupil_id = request.match_info["pupil_id"]
    body = await request.json()
    day = datetime.strptime(body["date"], "%Y-%m-%d").date()
    now = datetime.now(UTC)
    midnight = datetime.combine(day, time(), UTC)
    near = (midnight - timedelta(days=1), midnight + timedelta(days=2))
    async with request.app["pool"].acquire() as conn:
        read = await conn.fetchrow(READ, pupil_id, body["lesson_id"], [], True, *near)
        provider_id, school_id, _, _, zone, stamp, pupil_version, lesson, _, devices, seen = read
        robot = next(d for d in devices if d[3] == "robot")
        tablet = next((d for d in devices if d[3] == "tablet"), None)
        chosen = sorted([d for d in (robot, tablet) if d is not None], key=lambda d: d[0])
        starts = datetime.combine(day, lesson[4], ZoneInfo(zone)).astimezone(UTC)
        ends = datetime.combine(day, lesson[5], ZoneInfo(zone)).astimezone(UTC)
        if any(b[6] < ends and b[7] > starts for b in seen):
            return web.json_response({"detail": "clash"}, status=409)
        booking_id = uuid.uuid4().hex
        status = await conn.execute(
            INSERT, booking_id, pupil_id, school_id, lesson[1], day, starts, ends, lesson[2],
            lesson[8], robot[0], tablet[0] if tablet else None, now, "floor", provider_id,
            "hospital_staff", body["lesson_id"], lesson[14], [d[0] for d in chosen], stamp, "",
            pupil_version, [d[7] for d in chosen],
        )
        if status != "INSERT 0 1":  # changed since read: a correct booking asks again
            return web.json_response({"detail": "changed"}, status=409)
    return web.json_response({"id": booking_id, "start": starts.isoformat()}, status=201)

app = web.Application()
app.cleanup_ctx.append(pool)
app.router.add_post("/api/pupils/{pupil_id}/bookings", book)
app.router.add_get("/hello", lambda r: web.json_response({}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def admin_sql(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(url: str, pupils: int) -> tuple[str, list[str]]:
    """The school, pupils, timetables and devices (untimed); the school's id and pupil ids."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert

    from device_registry.models import Device
    from scheduler.timetables import repository as repo
    from scheduler.timetables.services import import_timetable
    from telepresence.demo_timetables import demo_calendar, demo_timetable_csv
    from telepresence.platform.database import Database, new_id
    from telepresence.platform.models import Provider, Pupil, School, User
    from telepresence.platform.security.identity import Principal, Role

    now = datetime.now(UTC)
    hashed_pin, hashed_password = PasswordHasher().hash(PIN), PasswordHasher().hash(PASSWORD)
    database = Database(url)
    async with database.transaction() as session:
        provider = Provider(name="Bench provider", created_at=now)
        session.add(provider)
        await session.flush()
        school = School(provider_id=provider.id, name="Bench School", created_at=now)
        session.add(school)
        await session.flush()
        await repo.save_calendar(session, school.id, demo_calendar(now.date()), by="b", now=now)
        session.add(
            User(email="staff@bench.example", name="Bench Staff", role="hospital_staff",
                 password_hash=hashed_password, provider_id=provider.id, created_at=now)
        )  # fmt: skip
        rows = [
            {"id": new_id(), "provider_id": provider.id, "school_id": school.id,
             "first_name": "Pat", "last_name": f"P{p}", "pupil_code": f"B{p:05d}",
             "pin_hash": hashed_pin, "created_at": now}
            for p in range(pupils)
        ]  # fmt: skip
        await session.execute(insert(Pupil), rows)
        devices = [
            {"id": new_id(), "provider_id": provider.id, "serial": f"{kind}-{p}",
             "name": f"{kind} {p}", "model": "bench", "kind": kind, "capabilities": [],
             "school_id": school.id, "pupil_id": row["id"], "created_at": now}
            for p, row in enumerate(rows) for kind in ("robot", "tablet")
        ]  # fmt: skip
        await session.execute(insert(Device), devices)
    who = Principal(Role.HOSPITAL_STAFF, "bench", "Bench", provider_id=provider.id)
    for p, row in enumerate(rows):
        async with database.transaction() as session:
            await import_timetable(
                session, who, row["id"], demo_timetable_csv(p, p % 2, "Year 9"),
                fmt="csv", file_name="t.csv", roster_id=None, dry_run=False, now=now,
            )  # fmt: skip
    await database.close()
    return school.id, [row["id"] for row in rows]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


async def token(http: aiohttp.ClientSession, base: str, path: str, body: dict[str, str]) -> str:
    async with http.post(f"{base}{path}", json=body) as resp:
        resp.raise_for_status()
        return str((await resp.json())["token"])


Request = tuple[str, str, dict[str, str], Any]


async def load(
    requests: list[Request] | None, make: Any, clients: int, seconds: float
) -> dict[str, float]:
    """``clients`` workers sending ``make()`` requests for ``seconds`` (after 1.5 s of warm-up)."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        measuring = False
        stop_at = time.monotonic() + 1.5 + seconds

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                method, url, headers, body = make()
                started = time.perf_counter()
                async with http.request(method, url, headers=headers, json=body) as resp:
                    await resp.read()
                    ok = resp.status < 400
                if measuring:
                    latencies.append(time.perf_counter() - started)
                    errors += 0 if ok else 1

        tasks = [asyncio.create_task(worker()) for _ in range(clients)]
        await asyncio.sleep(1.5)
        measuring, begun = True, time.monotonic()
        await asyncio.gather(*tasks)
        took = time.monotonic() - begun
    latencies.sort()
    return {
        "rps": len(latencies) / took,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


def school_week(after: date) -> tuple[date, date]:
    """Monday and Friday of a full school week at least two weeks after ``after`` (January)."""
    monday = date(after.year + (after.month >= 8), 1, 18)
    return monday, monday + timedelta(days=4)


async def occurrences_to_book(base: str, staff: dict[str, str], pupils: list[str]) -> list[Request]:
    """Every future occurrence of every pupil in the spring term, shuffled: one per booking."""
    today = datetime.now(UTC).date()
    first = date(today.year + (today.month >= 8), 1, 5)
    todo: list[Request] = []
    async with aiohttp.ClientSession() as http:
        for pid in pupils:
            url = (
                f"{base}/api/pupils/{pid}/occurrences?from={first}&to={first + timedelta(days=90)}"
            )
            async with http.get(url, headers=staff) as resp:
                for o in await resp.json():
                    body = {"lesson_id": o["lesson_id"], "date": o["date"]}
                    todo.append(("POST", f"{base}/api/pupils/{pid}/bookings", staff, body))
    random.Random(7).shuffle(todo)
    return todo


async def booking_floor(
    args: argparse.Namespace, base: str, dsn: str, todo: list[Request]
) -> dict[str, float]:
    """The booking's statements in plain asyncpg (``BOOKING_FLOOR``), on more of ``todo``."""
    from scheduler.bookings.repository import BOOKING_INSERT, BOOKING_READ

    port = free_port()
    statements = {"BOOKING_READ": BOOKING_READ, "BOOKING_INSERT": BOOKING_INSERT}
    floor = start([sys.executable, "-c", BOOKING_FLOOR, str(port)], {"DSN": dsn} | statements)
    try:
        await wait_up(f"http://127.0.0.1:{port}/hello")
        old, new = f"{base}/api/pupils/", f"http://127.0.0.1:{port}/api/pupils/"

        def floor_booking() -> Request:
            method, url, headers, body = todo.pop()
            return (method, url.replace(old, new, 1), headers, body)

        return await load(None, floor_booking, args.clients, args.seconds)
    finally:
        floor.terminate()
        floor.wait(15)


async def measure(args: argparse.Namespace, url: str, dsn: str) -> dict[str, dict[str, float]]:
    school_id, pupils = await seed(url, args.pupils)
    figures: dict[str, dict[str, float]] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"CLASSBRIDGE_DATABASE_URL": url, "CLASSBRIDGE_PORT": str(port),
           "CLASSBRIDGE_RUN_JOBS": "false", "CLASSBRIDGE_LOG_LEVEL": "WARNING",
           "CLASSBRIDGE_SECRET_KEY": secrets.token_urlsafe(32)}  # fmt: skip
    service = start([str(Path(sys.executable).parent / "classbridge"), "serve"], env)
    try:
        await wait_up(f"{base}/healthz")
        async with aiohttp.ClientSession() as http:
            login = {"email": "staff@bench.example", "password": PASSWORD}
            staff_token = await token(http, base, "/api/auth/login", login)
            readers = []
            for p, pid in enumerate(pupils[: min(20, len(pupils))]):
                t = await token(http, base, "/api/auth/pupil-login",
                                {"pupil_code": f"B{p:05d}", "pin": PIN})  # fmt: skip
                readers.append((pid, {"Authorization": f"Bearer {t}"}))
        staff = {"Authorization": f"Bearer {staff_token}"}
        monday, friday = school_week(datetime.now(UTC).date())
        rng = random.Random(1)

        def week() -> Request:
            pid, headers = rng.choice(readers)
            url = f"{base}/api/pupils/{pid}/occurrences?from={monday}&to={friday}"
            return ("GET", url, headers, None)

        figures["week"] = await load(None, week, args.clients, args.seconds)
        todo = await occurrences_to_book(base, staff, pupils)
        needed = int(args.seconds * 4000) + 10_000
        if len(todo) < needed:
            print(f"warning: {len(todo)} occurrences to book; the run may exhaust them")
        figures["booking"] = await load(None, todo.pop, args.clients, args.seconds)
    finally:
        service.terminate()
        service.wait(15)
    figures["booking_floor"] = await booking_floor(args, base, dsn, todo)
    port = free_port()
    bare = start([sys.executable, "-c", BASELINE, str(port)], {"DSN": dsn})
    try:
        await wait_up(f"http://127.0.0.1:{port}/hello")
        hello = f"http://127.0.0.1:{port}/hello?id={pupils[0]}"
        figures["baseline"] = await load(
            None, lambda: ("GET", hello, {}, None), args.clients, args.seconds
        )
    finally:
        bare.terminate()
        bare.wait(15)
    del school_id
    return figures


def report(figures: dict[str, dict[str, float]], clients: int) -> list[dict[str, Any]]:
    base = figures["baseline"]
    out = []
    for name, what in (("week", "pupil's week of occurrences"), ("booking", "booking a lesson")):
        f = figures[name]
        ratio = f["rps"] / base["rps"]
        out.append({
            "bench": f"api_throughput_{name}",
            "value": round(f["rps"], 1),
            "baseline": round(base["rps"], 1),
            "ratio": round(ratio, 3),
            "unit": "req/s",
            "goal": f">={GOAL_RATIO}x and p99<{GOAL_P99_MS:.0f} ms at {clients} clients",
            "met": ratio >= GOAL_RATIO and f["p99_ms"] < GOAL_P99_MS and f["errors"] == 0,
            "p50_ms": round(f["p50_ms"], 1),
            "p99_ms": round(f["p99_ms"], 1),
            "baseline_p99_ms": round(base["p99_ms"], 1),
            "errors": int(f["errors"]),
            "what": what,
        })  # fmt: skip
        if name == "booking":
            floor = figures["booking_floor"]
            out[-1] |= {
                "floor_rps": round(floor["rps"], 1),
                "floor_ratio": round(floor["rps"] / base["rps"], 3),
                "floor_p99_ms": round(floor["p99_ms"], 1),
                "floor_errors": int(floor["errors"]),
            }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pupils", type=int, default=100)
    args = parser.parse_args()
    name = f"classbridge_bench_api_{os.getpid()}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    dsn = f"{PG.rsplit('/', 1)[0]}/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        from telepresence.dbmigrate import upgrade

        await asyncio.to_thread(upgrade, url)
        figures = await measure(args, url, dsn)
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{'':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, f in figures.items():
        print(
            f"{label:10} {f['rps']:8.0f} {f['p50_ms']:8.1f} {f['p99_ms']:8.1f} {f['errors']:7.0f}"
        )
    for line in report(figures, args.clients):
        print(json.dumps(line))


if __name__ == "__main__":
    asyncio.run(main())
