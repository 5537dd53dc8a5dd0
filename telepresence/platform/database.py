"""The database engine, one ``AsyncSession`` per unit of work, and the declarative base."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
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


HOT_READS = 10  # connections of ``Database.driver``'s pool, as the bench's baseline has
POOL_SIZE = 30  # SQLAlchemy's pool on PostgreSQL, all kept open (no overflow)
CONNECTIONS_PER_INSTANCE = POOL_SIZE + HOT_READS + 4
"""At most, on PostgreSQL: both pools, the event bridge's LISTEN, the leader election and
the job store (one or two, on the leader). deploy/ sizes ``max_connections`` from it."""


async def _json(conn: Any) -> None:
    """JSON columns as Python values, as SQLAlchemy's asyncpg connections give them."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def _keep(_conn: Any) -> None:
    """Nothing to reset: ``driver()`` connections only ran autocommit statements."""


class Database:
    """Owns the engine; hands out sessions. ``close()`` is safe to call twice."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            # A server restart leaves dead connections in the pool. They are not pinged
            # on checkout (pool_pre_ping is BEGIN, a query and ROLLBACK with asyncpg: three
            # round trips per unit of work); asyncpg has already seen the server close
            # them, which ``_closed_is_stale`` checks for free. All thirty stay open (no
            # overflow): under load, connections past ``pool_size`` were opened (asyncpg
            # tries TLS first, then a plain connection) and closed per checkout; a 31st
            # unit of work waits for one to be free instead, as asyncpg's own pool does.
            kwargs.update(pool_size=POOL_SIZE, max_overflow=0, pool_pre_ping=False)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine.pool, "checkout", _closed_is_stale)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._closed = False
        self._hot: Any = None  # asyncpg pool of ``driver()``, opened at its first use
        self._hot_lock = asyncio.Lock()

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
        """An asyncpg connection for hot reads in plain SQL, outside any transaction: each
        statement is its own and sees one snapshot. PostgreSQL only.

        From a small asyncpg pool of its own (``HOT_READS`` connections, opened as needed),
        not through SQLAlchemy's: a checkout there cost as much CPU as the statement. Only
        single autocommit statements run on these, so a connection goes back as it came
        (no ``RESET ALL`` round trip); one the server closed (restart, terminated backend)
        is replaced on the next acquire, as ``_closed_is_stale`` does for the other pool.
        """
        if self.dialect != "postgresql":
            raise RuntimeError("driver connections are for PostgreSQL")
        pool = self._hot or await self._hot_pool()
        async with pool.acquire() as conn:
            yield conn

    async def _hot_pool(self) -> Any:
        async with self._hot_lock:
            if self._hot is None:
                if self._closed:
                    raise RuntimeError("the database is closed")
                args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
                self._hot = await asyncpg.create_pool(
                    *args, **kwargs, min_size=1, max_size=HOT_READS, init=_json, reset=_keep
                )
            return self._hot

    async def ping(self) -> float:
        """Round-trip a trivial query; returns the time it took in milliseconds."""
        start = datetime.now(UTC)
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (datetime.now(UTC) - start).total_seconds() * 1000

    async def close(self) -> None:
        """Dispose of the engine's pool (and the hot reads' pool)."""
        if not self._closed:
            self._closed = True
            async with self._hot_lock:
                hot, self._hot = self._hot, None
            if hot is not None:
                await hot.close()
            await self.engine.dispose()
