"""Calendars, timetable import and occurrences through the API and the CLI, on both databases."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import PASSWORD, PUPIL_PIN
from scheduler_factories import (
    FIXTURES,
    calendar_payload,
    oneroster_files,
    zip_bundle,
)
from sqlalchemy import func, select

from scheduler.timetables.models import LessonRow, Timetable
from telepresence.platform.http.context import DATABASE

SIMS_CSV = (FIXTURES / "sims_timetable.csv").read_bytes()
OUTLOOK_ICS = (FIXTURES / "outlook_gmt.ics").read_bytes()


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def set_time(clock, when: datetime) -> None:
    clock.offset = when - datetime.now(UTC)


async def put_calendar(client, org, headers, **kwargs) -> None:
    resp = await client.put(
        f"/api/schools/{org.school_id}/calendar", json=calendar_payload(**kwargs), headers=headers
    )
    assert resp.status == 200, await resp.text()


async def upload(client, pupil_id, data: bytes, headers, **query: str):
    return await client.post(
        f"/api/pupils/{pupil_id}/timetable",
        data=data,
        params=query,
        headers=headers | {"Content-Type": "application/octet-stream"},
    )


async def pupil_headers(client) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def lesson_count(client, pupil_id: str) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(LessonRow).where(LessonRow.pupil_id == pupil_id)
            )
            or 0
        )


@pytest.fixture
async def staff(client, org, login, clock):
    set_time(clock, at(2025, 1, 1, 9))
    headers = await login("hospital_staff")
    await put_calendar(client, org, headers)
    return headers


async def test_calendar_round_trips_and_only_writers_may_replace_it(client, org, login, staff):
    coordinator = await login("coordinator")
    got = await client.get(f"/api/schools/{org.school_id}/calendar", headers=coordinator)
    assert got.status == 200
    body = await got.json()
    assert body["timezone"] == "Europe/London"
    assert body["week_cycle"] == {"week_a_monday": "2025-01-06", "overrides": []}
    assert [c["name"] for c in body["closures"]] == ["February half term", "INSET"]
    assert body["bell_times"][1] == {"name": "P1", "start": "08:50:00", "end": "09:40:00"}
    refused = await client.put(
        f"/api/schools/{org.school_id}/calendar", json=calendar_payload(), headers=coordinator
    )
    assert refused.status == 403
    assistant = await login("assistant")
    assert (
        await client.get(f"/api/schools/{org.school_id}/calendar", headers=assistant)
    ).status == 403
    bad = calendar_payload() | {
        "terms": [{"name": "T", "start": "2025-04-01", "end": "2025-01-01"}]
    }
    wrong = await client.put(f"/api/schools/{org.school_id}/calendar", json=bad, headers=staff)
    assert wrong.status == 422
    assert "ends" in (await wrong.json())["detail"]
    other = await login("other_admin")
    hidden = await client.get(f"/api/schools/{org.school_id}/calendar", headers=other)
    assert hidden.status == 404


async def test_dry_run_previews_and_writes_nothing(client, org, staff):
    resp = await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv", dry_run="true")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["dry_run"] is True
    assert len(body["added"]) == 10
    assert body["changed"] == body["removed"] == []
    assert await lesson_count(client, org.pupil.id) == 0


async def test_import_writes_every_lesson_and_lists_them(client, org, staff):
    resp = await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")
    assert resp.status == 200, await resp.text()
    assert len((await resp.json())["added"]) == 10
    lessons = await (
        await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)
    ).json()
    assert len(lessons) == 10
    maths = next(ls for ls in lessons if ls["lesson_key"] == "A-mon-0850")
    assert (maths["subject"], maths["room"], maths["start_local"]) == (
        "Mathematics",
        "M12",
        "08:50",
    )
    async with client.app[DATABASE].sessions() as session:
        source = await session.get(Timetable, org.pupil.id)
    assert source is not None
    assert (source.source_format, source.lesson_count) == ("csv", 10)


async def test_a_bad_file_is_refused_whole_with_every_problem_and_changes_nothing(
    client, org, staff
):
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    bad = SIMS_CSV.replace(b"A;Tue;P1;Science", b"A;Tue;25:00;Science").replace(
        b"B;Wed;P3;Geography", b"B;Funday;P3;Geography"
    )
    bad = bad.replace(b"A;Mon;P2;English", b"A;Mon;P2;History")
    resp = await upload(client, org.pupil.id, bad, staff, format="csv", file_name="9X.csv")
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert "nothing was changed" in problem["detail"]
    lines = sorted(e["line"] for e in problem["errors"])
    assert lines == [4, 10]
    assert all(e["file"] == "9X.csv" and e["message"] for e in problem["errors"])
    lessons = await (
        await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)
    ).json()
    assert "English" in {ls["subject"] for ls in lessons}
    assert "History" not in {ls["subject"] for ls in lessons}


@pytest.mark.parametrize(
    "data",
    [b"", b"Week;Day;Period;Subject\n", b"<html><body>timetable</body></html>", b"PK\x03\x04zz"],
)
async def test_empty_header_only_html_and_binary_files_are_refused(client, org, staff, data):
    resp = await upload(client, org.pupil.id, data, staff, format="csv")
    assert resp.status == 422
    assert (await resp.json())["errors"]
    assert await lesson_count(client, org.pupil.id) == 0


async def test_reimporting_the_same_file_changes_nothing(client, org, staff):
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    before = await (await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)).json()
    again = await (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).json()
    assert (again["added"], again["changed"], again["removed"]) == ([], [], [])
    assert again["unchanged"] == 10
    after = await (await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)).json()
    assert after == before  # same rows, same ids


async def test_reimport_reports_changes_and_removals(client, org, staff):
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    updated = SIMS_CSV.replace(b"Lab 2\r\nA;Wed", b"Lab 5\r\nA;Wed").replace(
        b";Fri;P4;PSHE;9X;Mrs A Nowak;Hall", b""
    )
    updated = b"\n".join(line for line in updated.split(b"\n") if line.strip())
    body = await (await upload(client, org.pupil.id, updated, staff, format="csv")).json()
    assert [r["lesson_key"] for r in body["removed"]] == ["*-fri-1140"]
    assert [(c["lesson_key"], c["fields"]) for c in body["changed"]] == [("A-tue-0850", ["room"])]
    assert await lesson_count(client, org.pupil.id) == 9


async def test_ical_export_imports_with_its_windows_time_zone(client, org, staff):
    resp = await upload(client, org.pupil.id, OUTLOOK_ICS, staff, format="ical")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["source_format"] == "ical"
    maths = next(ls for ls in body["added"] if ls["subject"] == "Maths")
    assert (maths["start_local"], maths["room"], maths["teacher"]) == ("08:50", "M12", "Mr R Patel")


async def test_format_is_detected_when_not_given(client, org, staff):
    resp = await upload(client, org.pupil.id, OUTLOOK_ICS, staff)
    assert (await resp.json())["source_format"] == "ical"


async def test_oneroster_bundle_needs_the_pupils_roster_id(client, org, staff):
    bundle = zip_bundle(oneroster_files())
    missing = await upload(client, org.pupil.id, bundle, staff, format="oneroster")
    assert missing.status == 422
    assert (await missing.json())["errors"][0]["field"] == "roster_id"
    resp = await upload(client, org.pupil.id, bundle, staff, format="oneroster", roster_id="p-17")
    assert resp.status == 200, await resp.text()
    assert {ls["subject"] for ls in (await resp.json())["added"]} == {
        "Mathematics",
        "English",
        "Science",
    }


async def test_occurrences_keep_local_time_across_the_clock_change_and_skip_half_term(
    client, org, staff
):
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    resp = await client.get(
        f"/api/pupils/{org.pupil.id}/occurrences",
        params={"from": "2025-02-10", "to": "2025-04-04"},
        headers=staff,
    )
    assert resp.status == 200, await resp.text()
    monday_p1 = [
        o
        for o in await resp.json()
        if o["start_local"] == "08:50"
        and o["date"] < "2025-04-01"
        and o["lesson_key"].endswith("mon-0850")
    ]
    dates = [o["date"] for o in monday_p1]
    assert "2025-02-17" not in dates  # half term
    assert "2025-03-03" not in dates  # INSET day
    assert dates == [
        "2025-02-10",
        "2025-02-24",
        "2025-03-10",
        "2025-03-17",
        "2025-03-24",
        "2025-03-31",
    ]
    by_date = {o["date"]: o for o in monday_p1}
    assert by_date["2025-03-24"]["start"] == "2025-03-24T08:50:00Z"  # GMT
    assert by_date["2025-03-31"]["start"] == "2025-03-31T07:50:00Z"  # BST, same wall clock
    assert by_date["2025-03-31"]["end_local"] == "09:40"
    assert (by_date["2025-02-10"]["week"], by_date["2025-03-17"]["week"]) == ("B", "A")
    first = by_date["2025-02-10"]
    assert first["subject"] == "Mathematics"
    assert first["teacher"] == "Mr R Patel"
    assert first["class_group"] == "9X/Ma1"
    assert first["state"] == "bookable"
    assert first["booking"] is None


async def test_occurrence_ranges_are_checked(client, org, staff):
    url = f"/api/pupils/{org.pupil.id}/occurrences"
    backwards = await client.get(
        url, params={"from": "2025-03-01", "to": "2025-02-01"}, headers=staff
    )
    assert backwards.status == 422
    garbage = await client.get(url, params={"from": "soon", "to": "2025-02-01"}, headers=staff)
    assert garbage.status == 422
    too_long = await client.get(
        url, params={"from": "2025-01-01", "to": "2027-01-01"}, headers=staff
    )
    assert too_long.status == 422


async def test_who_may_import_and_read(client, org, login, staff):
    for role in ("assistant", "coordinator"):
        refused = await upload(client, org.pupil.id, SIMS_CSV, await login(role), format="csv")
        assert refused.status == 403, role
    pupil = await pupil_headers(client)
    assert (await upload(client, org.pupil.id, SIMS_CSV, pupil, format="csv")).status == 403
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    query = {"from": "2025-01-06", "to": "2025-01-10"}
    own = await client.get(f"/api/pupils/{org.pupil.id}/occurrences", params=query, headers=pupil)
    assert own.status == 200
    assert len(await own.json()) == 6  # week A: five lessons and PSHE every week
    coordinator = await login("coordinator")
    url = f"/api/pupils/{org.pupil.id}/occurrences"
    assert (await client.get(url, params=query, headers=coordinator)).status == 200
    assert (await client.get(url, params=query, headers=await login("assistant"))).status == 403
    other = await login("other_admin")
    assert (await client.get(url, params=query, headers=other)).status == 404
    assert (await upload(client, org.pupil.id, SIMS_CSV, other, format="csv")).status == 404


def _run_cli(argv: list[str], env: dict[str, str], monkeypatch) -> int:
    from telepresence.cli import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return main(argv)


async def test_cli_imports_through_the_api_by_pupil_code_and_exits_2_on_a_bad_file(
    client, org, staff, tmp_path: Path, monkeypatch, capsys
):
    server = str(client.make_url("/")).rstrip("/")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "CLASSBRIDGE_DATA_DIR": str(tmp_path)}
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    sign_in = ["login", "--server", server, "--email", org.email("hospital_staff")]
    assert await asyncio.to_thread(_run_cli, sign_in, env, monkeypatch) == 0
    assert (tmp_path / "config" / "classbridge" / "token").stat().st_mode & 0o777 == 0o600
    capsys.readouterr()
    good = tmp_path / "9X.csv"
    good.write_bytes(SIMS_CSV)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(SIMS_CSV.replace(b"A;Tue;P1;Science", b"A;Tue;25:00;Science"))
    base = ["import-timetable", "--pupil", org.pupil.pupil_code.lower()]
    code = await asyncio.to_thread(_run_cli, [*base, str(bad)], env, monkeypatch)
    assert code == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "bad.csv:4: period: unknown period '25:00' "
        "(bell times: Registration, P1, P2, P3, P4, P5, P6)"
    ]
    assert "bad.csv" not in out
    assert await lesson_count(client, org.pupil.id) == 0
    code = await asyncio.to_thread(_run_cli, [*base, str(good), "--dry-run"], env, monkeypatch)
    assert code == 0
    assert "10 added" in capsys.readouterr().out
    assert await lesson_count(client, org.pupil.id) == 0
    code = await asyncio.to_thread(_run_cli, [*base, str(good)], env, monkeypatch)
    assert code == 0
    assert await lesson_count(client, org.pupil.id) == 10
    missing = await asyncio.to_thread(
        _run_cli, ["import-timetable", "--pupil", "NOBODY", str(good)], env, monkeypatch
    )
    assert missing == 2
    assert "no pupil with code 'NOBODY'" in capsys.readouterr().err


async def test_cli_takes_a_oneroster_folder_and_a_token_from_the_environment(
    client, org, staff, tmp_path: Path, monkeypatch, capsys
):
    folder = tmp_path / "roster"
    folder.mkdir()
    for name, data in oneroster_files(periods={"c-ma": "MonA:1", "c-en": "Tue-2B"}).items():
        (folder / name).write_bytes(data)
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "empty"),
        "CLASSBRIDGE_TOKEN": staff["Authorization"].removeprefix("Bearer "),
    }
    server = str(client.make_url("/")).rstrip("/")
    argv = ["import-timetable", str(folder), "--server", server, "--pupil", org.pupil.pupil_code]
    code = await asyncio.to_thread(_run_cli, [*argv, "--roster-id", "p-17"], env, monkeypatch)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2 added" in out
    assert "period code MonA:1 = Week A, Mon, P1 08:50-09:40" in out
    assert await lesson_count(client, org.pupil.id) == 2
    env["CLASSBRIDGE_TOKEN"] = "cba_not-a-token"
    refused = await asyncio.to_thread(_run_cli, [*argv, "--roster-id", "p-17"], env, monkeypatch)
    assert refused == 2
    assert "classbridge login" in capsys.readouterr().err


async def test_a_schools_own_period_codes_are_saved_once_and_read_by_every_import(
    client, org, login, staff
):
    url = f"/api/schools/{org.school_id}/period-codes"
    bad = await client.put(
        url, json={"codes": [{"code": "X1", "meaning": "Mon:P9"}]}, headers=staff
    )
    assert bad.status == 422
    assert "unknown period 'P9'" in (await bad.json())["errors"][0]["message"]
    codes = {"codes": [{"code": "X1", "meaning": "A:Mon:1"}, {"code": "X7", "meaning": "Fri-6"}]}
    saved = await client.put(url, json=codes, headers=staff)
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["read_as"] == {
        "x1": "Week A, Mon, P1 08:50-09:40",
        "x7": "Every week, Fri, P6 14:10-15:00",
    }
    coordinator = await login("coordinator")
    listed = await (await client.get(url, headers=coordinator)).json()
    assert listed["codes"] == [
        {"code": "x1", "meaning": "A:Mon:1"},
        {"code": "x7", "meaning": "Fri-6"},
    ]
    bundle = zip_bundle(oneroster_files(periods={"c-ma": "X1", "c-en": "X7"}))
    resp = await upload(
        client, org.pupil.id, bundle, staff, format="oneroster", roster_id="p-17", dry_run="true"
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [ls["lesson_key"].split("@")[0] for ls in body["added"]] == ["*-fri-1410", "A-mon-0850"]
    assert body["period_codes"]["X1"] == "Week A, Mon, P1 08:50-09:40 (the school's code)"
    assert (await lesson_count(client, org.pupil.id)) == 0  # a dry run writes nothing


async def test_a_csv_without_a_room_column_keeps_the_rooms_already_known(client, org, staff):
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    lines = SIMS_CSV.decode("utf-8-sig").splitlines()
    no_room = "\r\n".join(line.rsplit(";", 1)[0] for line in lines).encode()
    preview = await upload(client, org.pupil.id, no_room, staff, format="csv", dry_run="true")
    body = await preview.json()
    assert (body["changed"], body["unchanged"]) == ([], 10)
    assert any("no room column" in w["message"] for w in body["warnings"]), body["warnings"]
    assert (await upload(client, org.pupil.id, no_room, staff, format="csv")).status == 200
    lessons = await (
        await client.get(f"/api/pupils/{org.pupil.id}/timetable", headers=staff)
    ).json()
    assert {ls["lesson_key"]: ls["room"] for ls in lessons}["A-tue-0850"] == "Lab 2"
    assert all(ls["room"] for ls in lessons)
