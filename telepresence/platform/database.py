"""The database engine, one ``AsyncSession`` per unit of work, and the declarative base."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "Database",
    "UTCDateTime",
    "new_id",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A new random identifier (UUID4 as 32 hex characters)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is restored)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table, with constraint names Alembic can diff."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _closed_is_stale(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """On checkout: a connection the server closed while it sat idle is replaced.

    asyncpg reads its socket while a connection is idle, so a server that restarted
    or ended the backend (``pg_terminate_backend``) has already been seen to close it.
    Raising ``DisconnectionError`` makes the pool drop it and hand out a fresh one.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


class Database:
    """Owns the engine; hands out sessions. ``close()`` is safe to call twice."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            # A server restart leaves dead connections in the pool. They are not pinged
            # on checkout (pool_pre_ping is BEGIN, a query and ROLLBACK with asyncpg: three
            # round trips per unit of work); asyncpg has already seen the server close
            # them, which ``_closed_is_stale`` checks for free. Twenty stay open: under
            # load, connections past ``pool_size`` are opened and closed per checkout.
            kwargs.update(pool_size=20, max_overflow=10, pool_pre_ping=False)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine.pool, "checkout", _closed_is_stale)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._closed = False

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """A pooled connection's own driver connection (asyncpg), for hot reads in plain SQL.

        Outside any transaction: each statement is its own, and sees one snapshot.
        PostgreSQL only (the same pool, so the same limits and stale-connection check).
        """
        if self.dialect != "postgresql":
            raise RuntimeError("driver connections are for PostgreSQL")
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            yield raw.driver_connection

    async def ping(self) -> float:
        """Round-trip a trivial query; returns the time it took in milliseconds."""
        start = datetime.now(UTC)
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (datetime.now(UTC) - start).total_seconds() * 1000

    async def close(self) -> None:
        """Dispose of the engine's pool."""
        if not self._closed:
            self._closed = True
            await self.engine.dispose()
