"""Hostile input stays harmless: zip bombs, oversized and deeply nested bodies, formula cells.

Each answer is a clear 4xx (never a 5xx), quickly, and nothing changes; every
CSV export neutralises cells a spreadsheet would run as a formula. The
exports are found in the OpenAPI document, so a new export is checked too.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import timedelta

from factories import add_device
from integration.engagement_helpers import past_lesson, past_weekdays
from sqlalchemy import update

from telepresence.engagement.jobs import compute_finished_outcomes
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import Pupil

FORMULA_STARTS = ("=", "+", "@", "\t", "\r")
PAYLOADS = ('=HYPERLINK("http://evil.example","x")', "+SUM(1,2)", "@cmd", "-2+3")


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return out.getvalue()


async def _upload(client, org, headers, data: bytes, fmt: str):
    started = time.monotonic()
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/timetable?format={fmt}&roster_id=u1",
        data=io.BytesIO(data),
        headers=headers | {"Content-Type": "application/octet-stream"},
    )
    return resp, time.monotonic() - started


async def test_zip_bombs_are_refused_quickly(client, org, login):
    staff = await login("hospital_staff")
    one_huge = _zip({"users.csv": b"0" * (200 * 1024 * 1024)})
    many_big = _zip({f"bells{i}.csv": b"0" * (5 * 1024 * 1024 - 1) for i in range(40)})
    assert len(one_huge) < 1024 * 1024
    assert len(many_big) < 1024 * 1024
    for bomb in (one_huge, many_big):
        resp, took = await _upload(client, org, staff, bomb, "oneroster")
        assert resp.status == 422, await resp.text()
        assert "larger than" in (await resp.json())["detail"]
        print(f"zip bomb refused in {took:.2f} s")
        assert took < 5
    lessons = await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)
    assert await lessons.json() == []  # nothing changed


async def test_an_oversized_upload_is_413(client, org, login):
    resp, _ = await _upload(client, org, await login("hospital_staff"), b"x" * (7 << 20), "csv")
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"


async def test_deeply_nested_bodies_are_refused(client, org, login):
    admin = await login("admin")
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/schools", f"/api/schools/{org.school_id}/rooms"):
        resp = await client.post(
            path,
            data='{"name": ' + deep + "}",
            headers=admin | {"Content-Type": "application/json"},
        )
        assert resp.status == 422, (path, resp.status, await resp.text())
    ical = "BEGIN:VCALENDAR\r\n" + "BEGIN:VEVENT\r\n" * 20_000 + "END:VCALENDAR\r\n"
    resp, _ = await _upload(client, org, await login("hospital_staff"), ical.encode(), "ical")
    assert resp.status == 422, (resp.status, await resp.text())


async def test_every_csv_export_neutralises_formula_cells(client, org, login):
    database = client.app[DATABASE]
    async with database.transaction() as session:
        await session.execute(
            update(Pupil)
            .where(Pupil.id == org.pupil.id)
            .values(first_name=PAYLOADS[0], last_name=PAYLOADS[1])
        )
    robot = await add_device(database, org)
    days = past_weekdays(3)
    for day, subject in zip(days, PAYLOADS[1:], strict=True):
        await past_lesson(database, org, robot.id, day, subject=subject, present=[(0, 5)])
    await compute_finished_outcomes(client.app[JOBS].context)
    coordinator = await login("coordinator")
    doc = await (await client.get("/api/openapi.json")).json()
    exports = {
        path: {p["name"] for p in ops["get"]["parameters"]}
        for path, ops in doc["paths"].items()
        if "text/csv" in ops.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
    }
    assert len(exports) >= 3, exports
    start = (days[0] - timedelta(days=7)).isoformat()
    neutralised = 0
    for path, takes in exports.items():
        query = {"start": start, "status": "all"}
        params = {k: v for k, v in query.items() if k in takes}
        resp = await client.get(path, params=params, headers=coordinator)
        assert resp.status == 200, (path, await resp.text())
        rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
        for row in rows:
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS), (path, cell)
                if cell.startswith("-"):
                    float(cell)  # a negative number is the only cell that starts with '-'
                neutralised += cell.startswith(("'=", "'+", "'@", "'-"))
    assert neutralised >= 3  # the payloads were exported, neutralised
