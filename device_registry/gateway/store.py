"""The gateway's database work, through asyncpg: credentials, write-behind, acknowledgements.

The same statements the service runs through SQLAlchemy (``device_registry.hub``,
``device_registry.services``), written out: the gateway does not import the ORM.
"""

from __future__ import annotations

import json
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

from device_registry.links import Written

__all__ = ["DeviceLogin", "PgTelemetryStore", "plain_dsn"]

# Columns LinkHub writes to ``devices`` (rows name only these; checked before any SQL).
DEVICE_COLUMNS = frozenset(
    {
        "online",
        "last_seen_at",
        "battery_pct",
        "charging",
        "signal_dbm",
        "network_type",
        "reported_room",
        "reported_model",
        "software_version",
    }
)
SAMPLE_COLUMNS = (
    "device_id",
    "at",
    "battery_pct",
    "charging",
    "signal_dbm",
    "network_type",
    "room",
)


class DeviceLogin(NamedTuple):
    """The device behind a live credential."""

    device_id: str
    provider_id: str
    name: str


def plain_dsn(database_url: str) -> str:
    """The ``postgresql://`` DSN asyncpg takes, from the service's SQLAlchemy URL.

    Raises ``ValueError`` for anything but PostgreSQL (the gateway needs LISTEN/NOTIFY).
    """
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in {"postgresql", "postgres"}:
        raise ValueError("The device gateway needs PostgreSQL (CLASSBRIDGE_DATABASE_URL).")
    return f"postgresql://{rest}"


class PgTelemetryStore:
    """Implements ``device_registry.links.TelemetryStore`` on an asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def login(self, digest: str) -> DeviceLogin | None:
        """The device behind a live credential digest, or None (revoked, retired, unknown).

        The same rule as ``services.resolve_device_token``.
        """
        row = await self.pool.fetchrow(
            "SELECT d.id, d.provider_id, d.name, d.lifecycle FROM devices d "
            "JOIN device_credentials c ON c.device_id = d.id "
            "WHERE c.token_hash = $1 AND c.revoked_at IS NULL",
            digest,
        )
        if row is None or row["lifecycle"] == "retired":
            return None
        return DeviceLogin(row["id"], row["provider_id"], row["name"])

    async def write(
        self,
        rows: list[dict[str, Any]],
        samples: list[dict[str, Any]],
        first_rooms: dict[str, str],
        revoked_since: datetime,
    ) -> Written:
        """One transaction: rows, samples, the first rooms compared, the revocations read."""
        async with self.pool.acquire() as conn, conn.transaction():
            moved: dict[str, str] = {}
            if first_rooms:
                stored = await conn.fetch(
                    "SELECT id, reported_room FROM devices WHERE id = ANY($1::varchar[])",
                    list(first_rooms),
                )
                known = {r["id"]: r["reported_room"] for r in stored}
                moved = {d: room for d, room in first_rooms.items() if known.get(d) != room}
            for columns, batch in _grouped(rows).items():
                sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
                await conn.executemany(
                    f"UPDATE devices SET {sets} WHERE id = $1",  # noqa: S608 (whitelisted)
                    list(map(itemgetter("id", *columns), batch)),
                )
            if samples:
                await conn.executemany(
                    "INSERT INTO telemetry_samples (device_id, at, battery_pct, charging, "
                    "signal_dbm, network_type, room) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    list(map(_sample_values, samples)),
                )
            revoked = await conn.fetch(
                "SELECT device_id, revoked_at FROM device_credentials WHERE revoked_at >= $1",
                revoked_since,
            )
        revoked_at: dict[str, datetime] = {}
        for r in revoked:
            when = r["revoked_at"]
            revoked_at[r["device_id"]] = max(when, revoked_at.get(r["device_id"], when))
        return Written(moved=moved, revoked=revoked_at)

    async def record_ack(
        self, device_id: str, command_id: str, *, ok: bool, detail: str, now: datetime
    ) -> bool:
        """Store a device's acknowledgement (the first one counts); False if not its command."""
        async with self.pool.acquire() as conn, conn.transaction():
            acked = await conn.fetchrow(
                "SELECT acked_at FROM device_commands WHERE id = $1 AND device_id = $2 FOR UPDATE",
                command_id,
                device_id,
            )
            if acked is None:
                return False
            if acked["acked_at"] is None:
                await conn.execute(
                    "UPDATE device_commands SET status = $2, detail = $3, acked_at = $4 "
                    "WHERE id = $1",
                    command_id,
                    "done" if ok else "failed",
                    detail,
                    now,
                )
        return True

    async def pending_commands(
        self, device_ids: list[str], since: datetime
    ) -> list[dict[str, Any]]:
        """Unacknowledged commands to these devices since ``since``, oldest first."""
        rows = await self.pool.fetch(
            "SELECT id, device_id, command, args FROM device_commands "
            "WHERE device_id = ANY($1::varchar[]) AND acked_at IS NULL AND created_at >= $2 "
            "ORDER BY created_at",
            device_ids,
            since,
        )
        return [
            {
                "device_id": r["device_id"],
                "type": "command",
                "command_id": r["id"],
                "command": r["command"],
                "args": json.loads(r["args"]) if isinstance(r["args"], str) else r["args"],
            }
            for r in rows
        ]


_sample_values = itemgetter(*SAMPLE_COLUMNS)


def _grouped(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Rows by the columns they set (each group is one executemany).

    The rows of a flush have a handful of shapes (keys in the order they were set):
    each shape is sorted and checked once.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shape = tuple(row)
        group = shapes.get(shape)
        if group is None:
            columns = tuple(sorted(c for c in shape if c != "id"))
            if not DEVICE_COLUMNS.issuperset(columns):
                raise ValueError(f"not a device column: {set(columns) - DEVICE_COLUMNS}")
            group = shapes[shape] = groups.setdefault(columns, [])
        group.append(row)
    return groups
