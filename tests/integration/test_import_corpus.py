"""The real-style corpus through the HTTP API and the command line, on both databases.

The same Year 9 fortnightly timetable as an Outlook export (a deleted instance,
a week-A cover exception after the clock change), a Google export (overrides
before their masters, UTC one-offs) and a OneRoster folder (three period-code
conventions, a bell-times file beside it, a tutor group with no periods). The
expected dated lessons were written out by hand against the spring term 2025
(half term 17-21 Feb, INSET Mon 3 Mar, clocks forward Sun 30 Mar); the
iCalendar ones are shared with the parser's unit tests.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import date, time
from pathlib import Path

import pytest
from integration import test_timetables
from integration.test_timetables import SIMS_CSV, _run_cli, upload
from scheduler_factories import FIXTURES
from unit.scheduler.timetables.test_import_ical_exports import (
    GOOGLE_EXPECTED,
    OUTLOOK_EXPECTED,
    Dated,
    _on,
)

staff = test_timetables.staff  # the fixture: spring 2025 calendar, staff's bearer headers
ROSTER = FIXTURES / "oneroster_9x"
MONDAYS = [(1, 6), (1, 13), (1, 20), (1, 27), (2, 3), (2, 10), (2, 24), (3, 10), (3, 17)]
ROSTER_EXPECTED = sorted(
    # Every Monday (week A and week B codes) less half term and the INSET day.
    _on([*MONDAYS, (3, 24), (3, 31)], time(8, 50), "Maths", "M12")
    # A:Thu:2 - week A Thursdays, 3 Apr included (week of 31 Mar is A).
    + _on([(1, 9), (1, 23), (2, 6), (3, 6), (3, 20), (4, 3)], time(9, 50), "Science", "S3")
    # Thu-2B - week B Thursdays.
    + _on([(1, 16), (1, 30), (2, 13), (2, 27), (3, 13), (3, 27)], time(9, 50), "History", "H2")
)
CORPUS = {
    "outlook": ("outlook_fortnightly_exception.ics", {}, OUTLOOK_EXPECTED),
    "google": ("google_overrides_first.ics", {}, GOOGLE_EXPECTED),
    "oneroster": ("oneroster_9x", {"roster_id": "UPN-A123"}, ROSTER_EXPECTED),
}


def _zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bundle:
        for file in sorted(folder.iterdir()):
            bundle.write(file, f"export/{file.name}")
    return out.getvalue()


async def _dated(client, pupil_id: str, headers) -> list[Dated]:
    resp = await client.get(
        f"/api/pupils/{pupil_id}/occurrences",
        params={"from": "2025-01-06", "to": "2025-04-04"},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    return sorted(
        (date.fromisoformat(o["date"]), time.fromisoformat(o["start_local"]), o["subject"],
         o["room"])
        for o in await resp.json()
    )  # fmt: skip


@pytest.mark.parametrize("name", list(CORPUS))
async def test_the_corpus_through_the_api(client, org, staff, name):
    file, query, expected = CORPUS[name]
    path = FIXTURES / file
    data = _zipped(path) if path.is_dir() else path.read_bytes()
    params = {"file_name": path.name + (".zip" if path.is_dir() else ""), **query}
    preview = await upload(client, org.pupil.id, data, staff, dry_run="true", **params)
    assert preview.status == 200, await preview.text()
    resp = await upload(client, org.pupil.id, data, staff, **params)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert len(body["added"]) == len((await preview.json())["added"])
    assert await _dated(client, org.pupil.id, staff) == expected
    if name == "oneroster":
        assert any("Tutor 9X" in w["message"] for w in body["warnings"])
        assert body["period_codes"]["Thu-2B"] == "Week B, Thu, 2 09:50-10:50"


@pytest.mark.parametrize("name", list(CORPUS))
async def test_the_corpus_through_the_command_line(client, org, staff, name, tmp_path, monkeypatch):
    file, query, expected = CORPUS[name]
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CLASSBRIDGE_TOKEN": staff["Authorization"].removeprefix("Bearer "),
    }
    argv = ["import-timetable", str(FIXTURES / file), "--pupil", org.pupil.pupil_code]
    argv += ["--server", str(client.make_url("/")).rstrip("/")]
    argv += [f"--{k.replace('_', '-')}={v}" for k, v in query.items()]
    assert await asyncio.to_thread(_run_cli, argv, env, monkeypatch) == 0
    assert await _dated(client, org.pupil.id, staff) == expected


async def test_the_sims_csv_and_the_oneroster_folder_agree_on_the_school_week(client, org, staff):
    """Two exports of differently shaped timetables import whole through the same API."""
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    resp = await upload(
        client, org.pupil.id, _zipped(ROSTER), staff, format="oneroster", roster_id="stu-0917"
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["unchanged"] == 0
    assert len(body["removed"]) == 10  # every SIMS lesson gives way to the roster's four
    assert len(body["added"]) == 4
