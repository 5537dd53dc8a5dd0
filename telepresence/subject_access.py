"""Subject access: everything held about one pupil, as one JSON document.

Part of the composition root: it reads every feature's tables through the
assembled metadata. It starts from the pupil's row and follows foreign keys
*into* what it has gathered (the pupil's bookings, then each booking's
session, then each session's events, ...), three steps deep, keeping only
rows of this pupil where a table names a pupil, so a feature's new
table keyed by the pupil is exported without changing this module. Secrets
(hashes of PINs, passwords and tokens) and security material are left out;
the audit entries about the pupil are added.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.organisation import services as org
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import AuditEntry
from telepresence.platform.security.audit import flush_reads, record_request
from telepresence.platform.security.identity import Principal, Role
from telepresence.schema import metadata

__all__ = ["SubjectAccessOut", "gather", "routes"]

routes = Routes("subject-access")
DEPTH = 3
# Security material, not information about the person.
LEFT_OUT = {
    "auth_tokens",
    "session_tokens",
    "device_credentials",
    "pairing_codes",
    "calendar_feeds",
    "scheduled_jobs",
    "reintegration_invitations",
    "reintegration_visit_feeds",
    "rota_feed_tokens",
    "audit_log",
}


class SubjectAccessOut(BaseModel):
    """Every row held about one pupil, table by table (secrets left out)."""

    pupil_id: str
    exported_at: str
    tables: dict[str, list[dict[str, Any]]]


def _row(table: Table, row: Any) -> dict[str, Any]:
    return {
        c.name: to_jsonable_python(getattr(row, c.name))
        for c in table.columns
        if not c.name.endswith("_hash")
    }


def _children(parent: str) -> list[tuple[Table, str]]:
    """(table, column) pairs whose column refers to ``parent``'s id."""
    out = []
    for table in metadata.sorted_tables:
        if table.name in LEFT_OUT:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == parent and fk.column.name == "id":
                out.append((table, fk.parent.name))
    return out


async def gather(session: AsyncSession, pupil_id: str) -> dict[str, list[dict[str, Any]]]:
    """Rows about the pupil: their own, and what refers to them, three steps on."""
    pupils = metadata.tables["pupils"]
    found: dict[str, list[dict[str, Any]]] = {
        "pupils": [
            _row(pupils, r)
            for r in await session.execute(select(pupils).where(pupils.c.id == pupil_id))
        ]
    }
    frontier = {"pupils": {pupil_id}}
    for _ in range(DEPTH):
        following: dict[str, set[str]] = {}
        for parent, ids in frontier.items():
            for table, column in _children(parent):
                rows = await session.execute(select(table).where(table.c[column].in_(sorted(ids))))
                for row in rows:
                    data = _row(table, row)
                    if data.get("pupil_id", pupil_id) != pupil_id:
                        continue  # e.g. another pupil's booking on the same robot
                    if data not in found.setdefault(table.name, []):
                        found[table.name].append(data)
                    if "id" in data:
                        following.setdefault(table.name, set()).add(str(data["id"]))
        frontier = following
    audit = await session.scalars(
        select(AuditEntry).where(
            AuditEntry.subject_type == "pupil", AuditEntry.subject_id == pupil_id
        )
    )
    audit_table = metadata.tables["audit_log"]
    found["audit_log"] = [_row(audit_table, a) for a in audit]
    return found


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/export",
    roles=[Role.ADMIN],
    response=SubjectAccessOut,
    errors=(404,),
    summary="Everything held about one pupil (subject access; audited)",
)
async def export_pupil(request: web.Request, who: Principal) -> SubjectAccessOut:
    """For a subject access request: one document, answered by the provider's admin."""
    now = request.app[CLOCK].now()
    await flush_reads(request.app)  # the reads of this pupil audited behind belong in it
    async with request.app[DATABASE].transaction() as session:
        pupil = await org.get_pupil(session, who, request.match_info["pupil_id"])
        tables = await gather(session, pupil.id)
        record_request(request, session, who, "pupil.export", "pupil", pupil.id)
    return SubjectAccessOut(pupil_id=pupil.id, exported_at=now.isoformat(), tables=tables)
