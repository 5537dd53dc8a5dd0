"""deploy/README.md's backup and restore drill, step by step, with the real tools.

An operator's database (``classbridge db upgrade`` and the demo, through the
installed command) is dumped with ``pg_dump -Fc`` while nothing else is
special about it, restored with ``pg_restore --no-owner`` into a scratch
database, caught up with ``classbridge db upgrade`` and served by one
instance that runs no jobs. The drill passes as the README says: ``/readyz``
ready, the same rows in every table as the original, and an administrator
signs in and opens a pupil. A dump of an older schema (one migration behind)
restores and catches up the same way.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from alembic.script import ScriptDirectory

from telepresence.dbmigrate import alembic_config, upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
ROOT = Path(__file__).parents[2]
PG_SERVER = os.environ.get(
    "CLASSBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CLI = str(Path(sys.executable).parent / "classbridge")
TOKEN = "restore-drill-metrics-token-0123456789"


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (PostgreSQL's client tools) is required for the restore drill")
    return path


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def libpq_url(name: str) -> str:
    return f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"


def service_url(name: str) -> str:
    return libpq_url(name).replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh database names: the operator's and the drill's; both dropped at the end."""
    suffix = f"{os.getpid()}_{os.urandom(3).hex()}"
    names = (f"classbridge_prod_{suffix}", f"classbridge_drill_{suffix}")
    try:
        asyncio.run(admin(f'CREATE DATABASE "{names[0]}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is required: {exc}", pytrace=False)
    yield names
    for name in names:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def classbridge(database: str, data_dir: Path, *args: str) -> str:
    env = os.environ | {
        "CLASSBRIDGE_DATABASE_URL": service_url(database),
        "CLASSBRIDGE_DATA_DIR": str(data_dir),
        "CLASSBRIDGE_SECRET_KEY": "restore-drill-secret-key-0123456789",
    }
    done = subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def dump_and_restore(source: str, target: str, dump: Path) -> None:
    subprocess.run(
        [pg_tool("pg_dump"), "-Fc", "-f", str(dump), libpq_url(source)], check=True, timeout=120
    )
    asyncio.run(admin(f'CREATE DATABASE "{target}"'))
    restore = subprocess.run(
        [pg_tool("pg_restore"), "--no-owner", "-d", libpq_url(target), str(dump)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr


async def row_counts(name: str) -> dict[str, int]:
    conn = await asyncpg.connect(libpq_url(name), timeout=5)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return {
            t["tablename"]: await conn.fetchval(f'SELECT count(*) FROM "{t["tablename"]}"')  # noqa: S608 (names from pg_tables)
            for t in tables
        }
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drill_instance(database: str, data_dir: Path) -> tuple[dict[str, str], int, str]:
    """Start one instance on the drill database as the README does; what an operator checks."""
    port = free_port()
    env = os.environ | {
        "CLASSBRIDGE_DATABASE_URL": service_url(database),
        "CLASSBRIDGE_DATA_DIR": str(data_dir),
        "CLASSBRIDGE_SECRET_KEY": "restore-drill-secret-key-0123456789",
        "CLASSBRIDGE_METRICS_TOKEN": TOKEN,
        "CLASSBRIDGE_RUN_JOBS": "false",
        "CLASSBRIDGE_SMTP_HOST": "",
        "CLASSBRIDGE_PORT": str(port),
        "CLASSBRIDGE_LOG_JSON": "false",
    }
    process = await asyncio.create_subprocess_exec(
        CLI, "serve", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            operator = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(f"{base}/readyz", headers=operator) as resp:
                ready = await resp.json()
            signin = {"email": "admin@riverside.example", "password": "demo-admin-pass"}
            async with http.post(f"{base}/api/auth/login", json=signin) as resp:
                assert resp.status == 200, await resp.text()
                bearer = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            async with http.get(f"{base}/api/pupils", headers=bearer) as resp:
                assert resp.status == 200, await resp.text()
                pupils = await resp.json()
            pupil_id = (pupils["items"] if isinstance(pupils, dict) else pupils)[0]["id"]
            async with http.get(f"{base}/api/pupils/{pupil_id}", headers=bearer) as resp:
                opened = resp.status
            return ready, opened, pupil_id
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)


def test_the_restore_drill_brings_back_every_row_and_a_working_instance(databases, tmp_path):
    production, drill = databases
    classbridge(production, tmp_path, "db", "upgrade")
    assert "admin@riverside.example" in classbridge(production, tmp_path, "demo")

    dump_and_restore(production, drill, tmp_path / "classbridge.dump")
    assert "latest version" in classbridge(drill, tmp_path, "db", "upgrade")

    original = asyncio.run(row_counts(production))
    restored = asyncio.run(row_counts(drill))
    assert restored == original
    assert original["pupils"] > 0
    assert original["bookings"] > 0

    ready, opened, _pupil = asyncio.run(drill_instance(drill, tmp_path))
    assert ready["status"] == "ready"
    assert ready["database"] == "ok"
    assert ready["leader_election"] == "disabled"  # the drill runs no jobs
    assert opened == 200


def test_a_dump_of_the_previous_schema_restores_and_catches_up(databases, tmp_path):
    production, drill = databases
    scripts = ScriptDirectory.from_config(alembic_config(service_url(production)))
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    upgrade(service_url(production), previous)  # the release before this one

    dump_and_restore(production, drill, tmp_path / "older.dump")
    classbridge(drill, tmp_path, "db", "upgrade")

    async def revision() -> str:
        conn = await asyncpg.connect(libpq_url(drill), timeout=5)
        try:
            return str(await conn.fetchval("SELECT version_num FROM alembic_version"))
        finally:
            await conn.close()

    assert asyncio.run(revision()) == head
