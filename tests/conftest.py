"""Shared fixtures: a database per test on SQLite and on the real PostgreSQL, the app, a clock.

PostgreSQL is not optional: when it cannot be reached the PostgreSQL half of
the integration suite fails (never skips), because CI must prove both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from factories import OPERATOR_TOKEN, PG_SERVER

# Test-only helpers (e.g. the loopback ICE patch) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent / "support"))
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from telepresence.platform.settings import Settings
from telepresence.schema import metadata


class TestClock:
    """The real time plus an offset that tests can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


async def _create_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, with the schema; dropped at the end."""
    name = f"classbridge_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is required for these tests: {exc}", pytrace=False)
    base = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    asyncio.run(_create_schema(url))
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with the current schema, on each backend in turn."""
    if request.param == "sqlite":
        sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        asyncio.run(_create_schema(sqlite_url))
        return sqlite_url
    pg_url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(pg_url))
    return pg_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test app: its own database, no timed jobs, a fixed secret."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path,
        run_jobs=False,
        secret_key="test-secret-key-test-secret-key",
        log_json=False,
        login_attempts_per_minute=1000,
        metrics_token=OPERATOR_TOKEN,
    )


@pytest.fixture
def clock() -> TestClock:
    """A clock the test can move forward."""
    return TestClock()
