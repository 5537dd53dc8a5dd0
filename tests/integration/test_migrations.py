"""Migrations: an empty database upgraded to head matches the models exactly."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from factories import PG_SERVER
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from telepresence.dbmigrate import upgrade
from telepresence.schema import metadata


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
        tables = await conn.run_sync(_tables)
    await engine.dispose()
    return diff, tables


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_sqlite_upgrade_to_head_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    upgrade(url)  # a second upgrade is a no-op
    diff, tables = asyncio.run(_check(url))
    assert diff == []
    assert {"devices", "pupils", "audit_log", "alembic_version"} <= tables


@pytest.mark.postgres
def test_postgres_upgrade_to_head_matches_the_models() -> None:
    name = f"classbridge_migrate_{secrets.token_hex(4)}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required: {exc}", pytrace=False)
    base = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        upgrade(f"{base}/{name}")
        diff, tables = asyncio.run(_check(f"{base}/{name}"))
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert diff == []
    assert {"devices", "pupils", "audit_log", "alembic_version"} <= tables
