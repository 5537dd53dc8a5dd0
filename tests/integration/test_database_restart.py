"""PostgreSQL restarted under a running service: the next requests are answered, never a 500.

Pooled connections are not pinged on checkout (that is three round trips per unit of
work with asyncpg); one the server closed while it sat idle is replaced instead. The
restart is ``pg_terminate_backend`` of every connection to the test database, which
is what a restart does to them.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from factories import PUPIL_PIN

from telepresence.platform.database import Database
from telepresence.platform.http.context import DATABASE

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _terminate_every_backend(url: str) -> int:
    """End every connection to the database of ``url`` (but this one); how many."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        ended = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    await asyncio.sleep(0.2)  # the clients read the server's goodbye
    return len(ended)


async def test_pooled_connections_ended_by_the_server_are_replaced(settings):
    database = Database(settings.effective_database_url)
    try:

        async def one() -> int:
            async with database.engine.connect() as conn:
                await asyncio.sleep(0.05)  # hold it, so that several are open at once
                return int((await conn.exec_driver_sql("SELECT 1")).scalar_one())

        assert await asyncio.gather(*(one() for _ in range(5))) == [1] * 5
        assert database.engine.pool.checkedin() == 5  # type: ignore[attr-defined]
        assert await _terminate_every_backend(settings.effective_database_url) >= 5
        assert await asyncio.gather(*(one() for _ in range(5))) == [1] * 5
    finally:
        await database.close()


async def test_the_first_requests_after_a_restart_are_answered(client, org, login):
    staff = await login("hospital_staff")
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    week = f"/api/pupils/{org.pupil.id}/occurrences?from=2026-01-19&to=2026-01-23"

    async def burst() -> list[int]:
        calls = [client.get(week, headers=h) for h in (staff, pupil) for _ in range(4)]
        return [r.status for r in await asyncio.gather(*calls)]

    assert await burst() == [200] * 8
    assert await _terminate_every_backend(client.app[DATABASE].url) >= 1
    assert await burst() == [200] * 8
    login_again = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    assert login_again.status == 200
