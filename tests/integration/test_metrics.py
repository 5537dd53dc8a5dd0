"""/metrics and /readyz on a real server over each database: what an operator's Prometheus sees."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from factories import PUPIL_PIN, add_device
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update

from device_registry.models import Device
from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.operations.metrics import HttpLatencyLog
from telepresence.platform.settings import Settings
from telepresence.sessions.joining.timings import REPORTS_PER_MINUTE

TOKEN = "metrics-token-for-tests"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(settings: Settings, clock) -> web.Application:
    return create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), clock=clock)


@pytest.fixture
async def client(aiohttp_client, app):
    # As `classbridge serve` runs it: requests are timed by the access-log hook.
    server = TestServer(app)
    await server.start_server(
        access_log_class=HttpLatencyLog, access_log=logging.getLogger("classbridge.test")
    )
    return await aiohttp_client(server)


async def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics", headers=SCRAPE)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_token_and_are_off_without_one(client, settings, aiohttp_client):
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    assert wrong.content_type == "application/problem+json"
    assert (await client.get("/metrics", headers=SCRAPE)).status == 200
    off = await aiohttp_client(create_app(settings.model_copy(update={"metrics_token": None})))
    assert (await off.get("/metrics", headers=SCRAPE)).status == 404
    # An empty CLASSBRIDGE_METRICS_TOKEN= (compose's ${X:-}) is no token, not an empty one.
    empty = settings.model_copy(update={"metrics_token": SecretStr("")})
    blank = await aiohttp_client(create_app(empty))
    assert (await blank.get("/metrics", headers={"Authorization": "Bearer "})).status == 404


async def test_devices_online_by_kind_come_from_the_database(client, org):
    database = client.app[DATABASE]
    robot = await add_device(database, org)
    await add_device(database, org, serial="TAB-1", kind="tablet", name="Tab")
    await add_device(database, org, serial="ROBOT-2", name="Retired", lifecycle="retired")
    async with database.transaction() as session:
        await session.execute(update(Device).values(online=True))
    samples = await scrape(client)
    assert value(samples, "classbridge_devices_online", kind="robot") == 1  # not the retired one
    assert value(samples, "classbridge_devices_online", kind="tablet") == 1
    async with database.transaction() as session:
        await session.execute(update(Device).where(Device.id == robot.id).values(online=False))
    samples = await scrape(client)
    assert value(samples, "classbridge_devices_online", kind="robot") == 0
    assert ("classbridge_lessons_live", ()) in samples
    assert value(samples, "classbridge_moves", state="due") == 0
    assert value(samples, "classbridge_db_pool_connections", state="size") >= 0
    assert any(name == "classbridge_db_pool_connections" for name, _ in samples)


async def test_http_latency_is_labelled_by_route_template_not_raw_path(client, org, login):
    admin = await login("admin")
    device = await add_device(client.app[DATABASE], org)
    assert (await client.get(f"/api/devices/{device.id}", headers=admin)).status == 200
    assert (await client.get("/api/devices/does-not-exist", headers=admin)).status == 404
    samples = await scrape(client)
    template = "/api/devices/{device_id}"
    ok = value(
        samples,
        "classbridge_http_request_duration_seconds_count",
        method="GET",
        route=template,
        status="200",
    )
    missing = value(
        samples,
        "classbridge_http_request_duration_seconds_count",
        method="GET",
        route=template,
        status="404",
    )
    assert (ok, missing) == (1, 1)
    assert not any(device.id in str(labels) for _, labels in samples)


async def test_clients_report_join_and_rejoin_times(client, org, paired):
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    _, robot = paired
    report = {"measure": "join_first_frame", "seconds": 1.7}
    assert (await client.post("/api/client-timings", json=report, headers=pupil)).status == 204
    rejoin = {"measure": "rejoin", "seconds": 0.9}
    assert (await client.post("/api/client-timings", json=rejoin, headers=robot)).status == 204
    bad = await client.post(
        "/api/client-timings", json={"measure": "rejoin", "seconds": -1}, headers=pupil
    )
    assert bad.status == 422
    samples = await scrape(client)
    first = "classbridge_join_first_frame_seconds"
    assert value(samples, f"{first}_count", end="pupil") == 1
    assert value(samples, f"{first}_sum", end="pupil") == pytest.approx(1.7)
    assert value(samples, f"{first}_bucket", end="pupil", le="2.0") == 1
    assert value(samples, f"{first}_bucket", end="pupil", le="1.5") == 0
    assert value(samples, "classbridge_rejoin_seconds_count", end="robot") == 1
    assert value(samples, "classbridge_rejoin_seconds_count", end="pupil") == 0  # the 422


async def test_one_caller_cannot_flood_the_timing_histograms(client, org, paired):
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    _, robot = paired
    body = {"measure": "rejoin", "seconds": 0.5}
    answers = [
        (await client.post("/api/client-timings", json=body, headers=pupil)).status
        for _ in range(REPORTS_PER_MINUTE + 5)
    ]
    assert answers == [204] * REPORTS_PER_MINUTE + [429] * 5
    refused = await client.post("/api/client-timings", json=body, headers=pupil)
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    # Only the accepted reports reached the histogram; another caller is not held back.
    samples = await scrape(client)
    assert value(samples, "classbridge_rejoin_seconds_count", end="pupil") == REPORTS_PER_MINUTE
    assert (await client.post("/api/client-timings", json=body, headers=robot)).status == 204


async def test_staff_cannot_report_client_timings(client, login):
    admin = await login("admin")
    body = {"measure": "rejoin", "seconds": 1}
    assert (await client.post("/api/client-timings", json=body, headers=admin)).status == 403
    assert (await client.post("/api/client-timings", json=body)).status == 401


async def test_refused_signalling_and_import_outcomes_are_counted(client, org, login):
    ws = await client.ws_connect("/ws/session")
    await ws.send_json({"type": "join", "token": "cbt_not-a-session-token-at-all"})
    assert (await ws.receive_json(timeout=5))["code"] == "unauthorised"
    await ws.close()
    staff = await login("hospital_staff")
    rejected = await client.post(
        f"/api/pupils/{org.pupil.id}/timetable?format=csv",
        data=b"not,a,timetable\n",
        headers={**staff, "Content-Type": "text/csv"},
    )
    assert rejected.status == 422
    samples = await scrape(client)
    assert value(samples, "classbridge_signalling_messages_total", type="join", outcome="ok") == 0
    assert (
        value(samples, "classbridge_signalling_messages_total", type="join", outcome="unauthorised")
        == 1
    )
    assert value(samples, "classbridge_signalling_errors_total", reason="unauthorised") == 1
    assert value(samples, "classbridge_timetable_imports_total", outcome="rejected") == 1
    assert value(samples, "classbridge_timetable_imports_total", outcome="imported") == 0


async def test_job_runs_and_failures_are_counted_by_name(client):
    runner = client.app[JOBS]

    async def fine(_ctx) -> None:
        return None

    async def broken(_ctx) -> None:
        raise RuntimeError("boom")

    await runner._run("fine-job", fine)
    await runner._run("broken-job", broken)
    await runner._run("broken-job", broken)
    samples = await scrape(client)
    assert value(samples, "classbridge_job_runs_total", timed_job="fine-job") == 1
    assert value(samples, "classbridge_job_failures_total", timed_job="fine-job") == 0
    assert value(samples, "classbridge_job_runs_total", timed_job="broken-job") == 2
    assert value(samples, "classbridge_job_failures_total", timed_job="broken-job") == 2


async def test_moves_are_counted_by_state(client, org):
    from scheduler.rota.models import MoveRow

    now = datetime.now(UTC)
    device = await add_device(client.app[DATABASE], org)

    def move(n: int, status: str, due: datetime, confirmed: datetime | None = None) -> MoveRow:
        return MoveRow(
            id=f"move{n}",
            school_id=org.school_id,
            local_date=due.date(),
            device_id=device.id,
            booking_id=f"b{n}",
            reason="to_lesson",
            from_room_id="a",
            from_room_name="A",
            to_room_id="b",
            to_room_name="B",
            earliest=due - timedelta(minutes=10),
            due=due,
            status=status,
            confirmed_at=confirmed,
            created_at=now,
            updated_at=now,
        )

    async with client.app[DATABASE].transaction() as session:
        session.add_all(
            [
                move(1, "assigned", now + timedelta(hours=1)),  # due
                move(2, "pending", now - timedelta(minutes=5)),  # late: open past its time
                move(3, "done", now - timedelta(hours=1), now - timedelta(hours=2)),  # done
                move(4, "done", now - timedelta(hours=1), now - timedelta(minutes=30)),  # late
                move(5, "failed", now - timedelta(hours=2)),
                move(6, "assigned", now + timedelta(days=3)),  # outside the window
            ]
        )
    samples = await scrape(client)
    counts = {s: value(samples, "classbridge_moves", state=s) for s in ("due", "done", "late")}
    assert counts == {"due": 1, "done": 1, "late": 2}
    assert value(samples, "classbridge_moves", state="failed") == 1


async def test_readyz_says_ready_and_only_the_operator_sees_why(client, database_url):
    anonymous = await client.get("/readyz")
    assert anonymous.status == 200
    assert await anonymous.json() == {"status": "ready"}
    detailed = await (await client.get("/readyz", headers=SCRAPE)).json()
    # The test app runs no jobs (run_jobs=False); SMTP is not configured.
    assert detailed == {
        "status": "ready",
        "database": "ok",
        "leader_election": "disabled",
        "smtp": "not configured",
        # LISTEN/NOTIFY between instances: PostgreSQL only.
        "event_bridge": "connected" if database_url.startswith("postgresql") else "not used",
    }


async def test_readyz_is_503_when_the_database_cannot_be_reached(settings, aiohttp_client):
    unreachable = settings.model_copy(
        update={
            "database_url": "sqlite+aiosqlite:////nonexistent/classbridge/x.sqlite3",
            "metrics_token": SecretStr(TOKEN),
        }
    )
    client = await aiohttp_client(create_app(unreachable))
    resp = await client.get("/readyz", headers=SCRAPE)
    assert resp.status == 503
    assert (await resp.json())["database"] == "unavailable"
    assert (await client.get("/readyz")).status == 503


@pytest.mark.unhandled_error_expected  # aiohttp logs the bad request itself; asserted below
async def test_a_request_aiohttp_cannot_parse_is_not_a_crash_in_the_latency_hook(client, caplog):
    """Found by schemathesis: a NUL in a header made the access-log hook assert."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 400 " in status
    await asyncio.sleep(0.1)
    crashes = [r for r in caplog.records if r.getMessage() == "Unhandled exception"]
    assert crashes == []
    assert (await client.get("/healthz")).status == 200
