"""Reads of a pupil's record are audited behind the request, and none is ever lost.

A read's entry is queued and written in batches (``ReadAudit``) within about a
second; the audit log's readers in this process flush it first; a full queue
means the request writes its own entry; a graceful shutdown writes whatever is
still queued; a batch the database refused stays queued.
"""

from __future__ import annotations

import asyncio
import functools

import pytest
from aiohttp.test_utils import TestClient, TestServer
from factories import PUPIL_PIN, seed_org
from sqlalchemy import func, select

import telepresence.app
from telepresence.app import create_app
from telepresence.platform.database import Database
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry
from telepresence.platform.security.audit import READ_AUDIT, ReadAudit

WEEK = {"from": "2026-01-19", "to": "2026-01-23"}


async def _reads(database: Database, action: str = "occurrences.read") -> int:
    async with database.sessions() as db:
        return int(
            await db.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
            or 0
        )


async def _week(client, org, headers) -> None:
    resp = await client.get(f"/api/pupils/{org.pupil.id}/occurrences", params=WEEK, headers=headers)
    assert resp.status == 200, await resp.text()


async def test_a_read_is_written_behind_within_a_second(client, org, login):
    staff = await login("hospital_staff")
    client.app[READ_AUDIT].every_s = 0.2
    await _week(client, org, staff)
    for _ in range(30):
        if await _reads(client.app[DATABASE]) == 1:
            break
        await asyncio.sleep(0.1)
    assert await _reads(client.app[DATABASE]) == 1
    async with client.app[DATABASE].sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "occurrences.read"))
    assert entry is not None
    assert (entry.subject_id, entry.actor_id) == (org.pupil.id, org.users["hospital_staff"].id)
    assert entry.provider_id == org.provider_id
    assert len(entry.request_id) >= 8


async def test_the_audit_log_shows_reads_made_just_before(client, org, login):
    staff, admin = await login("hospital_staff"), await login("admin")
    client.app[READ_AUDIT].every_s = 3600  # only the reader's flush can write it
    client.app[READ_AUDIT]._wake.set()
    await asyncio.sleep(0)
    await _week(client, org, staff)
    resp = await client.get("/api/audit", params={"subject_id": org.pupil.id}, headers=admin)
    assert resp.status == 200
    assert "occurrences.read" in [e["action"] for e in await resp.json()]


async def test_a_refused_read_is_not_audited(client, org, login):
    admin_elsewhere = await login("admin@other.example")
    resp = await client.get(
        f"/api/pupils/{org.pupil.id}/occurrences", params=WEEK, headers=admin_elsewhere
    )
    assert resp.status == 404
    await client.app[READ_AUDIT].flush()
    assert await _reads(client.app[DATABASE]) == 0


async def test_a_full_queue_means_the_request_writes_its_own_entry(
    aiohttp_client, settings, clock, monkeypatch
):
    monkeypatch.setattr(telepresence.app, "ReadAudit", functools.partial(ReadAudit, limit=0))
    client = await aiohttp_client(create_app(settings, clock=clock))
    org = await seed_org(client.app[DATABASE])
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    await _week(client, org, pupil)
    assert await _reads(client.app[DATABASE]) == 1  # no flush: written by the request


async def test_a_graceful_shutdown_writes_every_queued_read(settings, clock, monkeypatch):
    monkeypatch.setattr(
        telepresence.app, "ReadAudit", functools.partial(ReadAudit, every_s=3600, batch=10_000)
    )
    client = TestClient(TestServer(create_app(settings, clock=clock)))
    await client.start_server()
    org = await seed_org(client.app[DATABASE])
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    for _ in range(25):
        await _week(client, org, pupil)
    assert len(client.app[READ_AUDIT]) == 25  # all still queued
    await client.close()  # the app's cleanup: as on SIGTERM
    database = Database(settings.effective_database_url)
    try:
        assert await _reads(database) == 25
    finally:
        await database.close()


async def test_a_batch_the_database_refused_stays_queued():
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    behind = ReadAudit(database)
    behind.start()
    entry: dict[str, object] = {
        "at": None, "actor_role": "admin", "actor_id": "a", "action": "x.read",
        "subject_type": "pupil", "subject_id": "p", "request_id": "", "details": {},
    }  # fmt: skip
    assert behind.add(dict(entry))
    assert behind.add(dict(entry))
    with pytest.raises(OSError, match="onnect"):
        await behind.flush()
    assert len(behind) == 2
    behind._closed = True  # close without its retries against a port nobody listens on
    if behind._task is not None:
        behind._task.cancel()
        await asyncio.gather(behind._task, return_exceptions=True)
    await database.close()
